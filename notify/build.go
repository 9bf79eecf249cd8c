package notify

import (
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"

	"github.com/crierd/crier"
)

// Deps are what notifiers may need from the process around them.
type Deps struct {
	Client   *http.Client // shared HTTP client; each notifier bounds its own sends
	Stdout   io.Writer    // where console notifiers print
	StateDir string       // relative jsonl paths are resolved against it
	Log      *slog.Logger
	// UserAgent is sent when crier downloads an item's picture (Pushover,
	// email); "" is crier's default, as for feeds.
	UserAgent string
}

// BuildAll builds every notifier of cfg, keyed by name. The daemon runs
// what it returns and `crier check` calls it too, so that a config check
// accepts is one run can start. What a constructor refuses (a token of the
// wrong shape, say) is a crier.ConfigErrors at the notifier's line.
func BuildAll(cfg *crier.Config, deps Deps) (map[string]Notifier, error) {
	deps.StateDir = cfg.StateDir
	if deps.UserAgent == "" {
		deps.UserAgent = cfg.HTTP.UserAgent
	}
	notifiers := make(map[string]Notifier, len(cfg.Notifiers))
	var errs crier.ConfigErrors
	for _, nc := range cfg.Notifiers {
		n, err := Build(nc, deps)
		if err != nil {
			errs = append(errs, crier.ConfigError{File: cfg.Path, Line: nc.Line, Problem: err.Error()})
			continue
		}
		notifiers[nc.Name] = n
	}
	if len(errs) > 0 {
		return nil, errs
	}
	return notifiers, nil
}

// Build makes the notifier a config entry describes. Its error names the
// notifier exactly once ("notifier phone: …").
func Build(cfg crier.NotifierConfig, deps Deps) (Notifier, error) {
	n, err := build(cfg, deps)
	if err != nil && !strings.HasPrefix(err.Error(), "notifier "+cfg.Name+": ") {
		// The constructors name their notifier; this only keeps a
		// constructor that does not from leaving it unnamed.
		err = fmt.Errorf("notifier %s: %w", cfg.Name, err)
	}
	return n, err
}

func build(cfg crier.NotifierConfig, deps Deps) (Notifier, error) {
	log := deps.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	switch cfg.Type {
	case "pushover":
		p, err := NewPushover(cfg, deps.Client, log)
		if err == nil && p.images != nil {
			p.images.userAgent = userAgentOr(deps.UserAgent, p.images.userAgent)
		}
		return built(p, err)
	case "jsonl":
		path := cfg.Option("path", cfg.Name+".jsonl")
		if !filepath.IsAbs(path) {
			path = filepath.Join(deps.StateDir, path)
		}
		return built(NewJSONL(cfg, path))
	case "console":
		w := deps.Stdout
		if w == nil {
			w = os.Stdout
		}
		return NewConsole(cfg, w), nil
	case "ntfy":
		return built(NewNtfy(cfg, deps.Client))
	case "gotify":
		return built(NewGotify(cfg, deps.Client))
	case "telegram":
		return built(NewTelegram(cfg, deps.Client))
	case "discord":
		return built(NewDiscord(cfg, deps.Client))
	case "slack":
		return built(NewSlack(cfg, deps.Client))
	case "webhook":
		return built(NewWebhook(cfg, deps.Client))
	case "email":
		e, err := NewEmail(cfg)
		if err == nil {
			e.log = log
			if e.pictures != nil {
				e.pictures.userAgent = userAgentOr(deps.UserAgent, e.pictures.userAgent)
			}
		}
		return built(e, err)
	case "exec":
		return built(NewExec(cfg))
	default:
		return nil, fmt.Errorf("notifier %s: type %s is not supported yet", cfg.Name, cfg.Type)
	}
}

func userAgentOr(ua, def string) string {
	if ua != "" {
		return ua
	}
	return def
}

// built turns a constructor's result into a Notifier without letting a
// typed nil pointer pass as a non-nil interface.
func built[T Notifier](n T, err error) (Notifier, error) {
	if err != nil {
		return nil, err
	}
	return n, nil
}

package notify

import (
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"

	"github.com/crierd/crier"
)

// Deps are what notifiers may need from the process around them.
type Deps struct {
	Client   *http.Client // shared HTTP client; each notifier bounds its own sends
	Stdout   io.Writer    // where console notifiers print
	StateDir string       // relative jsonl paths are resolved against it
	Log      *slog.Logger
}

// Build makes the notifier a config entry describes.
func Build(cfg crier.NotifierConfig, deps Deps) (Notifier, error) {
	log := deps.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	switch cfg.Type {
	case "pushover":
		return built(NewPushover(cfg, deps.Client, log))
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
		return built(NewEmail(cfg))
	case "exec":
		return built(NewExec(cfg))
	default:
		return nil, fmt.Errorf("notifier %s: type %s is not supported yet", cfg.Name, cfg.Type)
	}
}

// built turns a constructor's result into a Notifier without letting a
// typed nil pointer pass as a non-nil interface.
func built[T Notifier](n T, err error) (Notifier, error) {
	if err != nil {
		return nil, err
	}
	return n, nil
}

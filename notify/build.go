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
		return NewPushover(cfg, deps.Client, log)
	case "jsonl":
		path := cfg.Option("path", cfg.Name+".jsonl")
		if !filepath.IsAbs(path) {
			path = filepath.Join(deps.StateDir, path)
		}
		return NewJSONL(cfg, path)
	case "console":
		w := deps.Stdout
		if w == nil {
			w = os.Stdout
		}
		return NewConsole(cfg, w), nil
	// Further services (ntfy, gotify, telegram, discord, slack, webhook,
	// email, exec) get their case here.
	default:
		return nil, fmt.Errorf("notifier %s: type %s is not supported yet", cfg.Name, cfg.Type)
	}
}

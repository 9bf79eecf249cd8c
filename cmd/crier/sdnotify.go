package main

import (
	"context"
	"log/slog"
	"net"
	"os"
	"strconv"
	"time"
)

// sdNotifier speaks systemd's notify protocol: datagrams to $NOTIFY_SOCKET.
// Outside systemd it does nothing.
type sdNotifier struct {
	socket   string
	interval time.Duration // WATCHDOG_USEC, 0 when off
	log      *slog.Logger
}

func newSDNotifier(getenv func(string) (string, bool), log *slog.Logger) *sdNotifier {
	sd := &sdNotifier{log: log}
	sd.socket, _ = getenv("NOTIFY_SOCKET")
	if usec, ok := getenv("WATCHDOG_USEC"); ok {
		pid, hasPID := getenv("WATCHDOG_PID")
		if n, err := strconv.ParseInt(usec, 10, 64); err == nil && n > 0 &&
			(!hasPID || pid == strconv.Itoa(os.Getpid())) {
			sd.interval = time.Duration(n) * time.Microsecond
		}
	}
	return sd
}

// send writes one state message; errors are logged, never fatal.
func (sd *sdNotifier) send(state string) {
	if sd == nil || sd.socket == "" {
		return
	}
	addr := &net.UnixAddr{Name: sd.socket, Net: "unixgram"}
	if addr.Name[0] == '@' {
		addr.Name = "\x00" + addr.Name[1:] // abstract namespace
	}
	conn, err := net.DialUnix("unixgram", nil, addr)
	if err != nil {
		sd.log.Warn("sd_notify", "err", err)
		return
	}
	defer conn.Close()
	if _, err := conn.Write([]byte(state)); err != nil {
		sd.log.Warn("sd_notify", "err", err)
	}
}

// watchdog pings systemd at half the watchdog interval, but only while
// healthy says the daemon makes progress: a wedged crier must get killed
// and restarted, not kept alive by a timer.
func (sd *sdNotifier) watchdog(ctx context.Context, healthy func(time.Time) (bool, string)) {
	if sd == nil || sd.socket == "" || sd.interval <= 0 {
		return
	}
	t := time.NewTicker(sd.interval / 2)
	defer t.Stop()
	warned := false
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-t.C:
			if ok, why := healthy(now); ok {
				sd.send("WATCHDOG=1")
				warned = false
			} else if !warned {
				sd.log.Error("not pinging the watchdog", "reason", why)
				sd.send("STATUS=unhealthy: " + why)
				warned = true
			}
		}
	}
}

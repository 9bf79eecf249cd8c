package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// ListenOutbox calls wake with the notifier's name whenever another
// transaction (of any worker) queues entries for it, until ctx ends, so a
// dispatcher holding the lane sends at once instead of at its next
// interval. It listens on a connection of its own, outside the pool, and
// reconnects with backoff when that connection fails; notifications sent
// while it was down are lost, which the dispatcher's interval covers.
// It returns ctx's error, or nil once the Store is closed.
func (s *Store) ListenOutbox(ctx context.Context, wake func(notifier string)) error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.listens.Add(1)
	s.mu.Unlock()
	defer s.listens.Done()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stop := context.AfterFunc(s.base, cancel)
	defer stop()

	backoff := 100 * time.Millisecond
	for {
		err := s.listen(ctx, wake, func() { backoff = 100 * time.Millisecond })
		if ctx.Err() != nil {
			if s.base.Err() != nil {
				return nil
			}
			return ctx.Err()
		}
		s.log.Warn("outbox listener lost its connection; reconnecting", "err", err, "in", backoff)
		select {
		case <-time.After(backoff):
		case <-ctx.Done():
			continue // reported above
		}
		backoff = min(2*backoff, 10*time.Second)
	}
}

// listen runs one connection's LISTEN until it fails or ctx ends.
func (s *Store) listen(ctx context.Context, wake func(string), connected func()) error {
	conn, err := pgx.ConnectConfig(ctx, s.cfg.ConnConfig)
	if err != nil {
		return fmt.Errorf("connect: %w", err)
	}
	defer conn.Close(context.WithoutCancel(ctx))
	if _, err := conn.Exec(ctx, "LISTEN "+outboxChannel); err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	connected()
	for {
		n, err := conn.WaitForNotification(ctx)
		if err != nil {
			return err
		}
		wake(n.Payload)
	}
}

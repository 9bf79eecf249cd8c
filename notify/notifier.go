// Package notify delivers notifications: one file per service speaking its
// API, and the dispatcher that drains the store's outbox into them.
package notify

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/crierd/crier"
)

// Notifier sends one notification to one service. Send must honour ctx and
// return an error built with Permanent, Temporary or Parked when it can
// tell; any other error counts as temporary.
type Notifier interface {
	Send(ctx context.Context, n crier.Notification) error
}

// SendError classifies a failed send for the dispatcher.
type SendError struct {
	Err        error
	Permanent  bool          // retrying cannot help: dead-letter it
	RetryAfter time.Duration // the service said when to come back
	// ParkUntil stops every send of this notifier until then (a quota
	// that resets at a known time).
	ParkUntil time.Time
	// Unconfirmed: the service got the whole request but gave no verdict
	// in time, so the message may have arrived. Retried, but not soon.
	Unconfirmed bool
}

func (e *SendError) Error() string { return e.Err.Error() }
func (e *SendError) Unwrap() error { return e.Err }

// Permanent marks err as not worth retrying.
func Permanent(err error) error { return &SendError{Err: err, Permanent: true} }

// Temporary marks err as worth retrying, after retryAfter when it is > 0.
func Temporary(err error, retryAfter time.Duration) error {
	return &SendError{Err: err, RetryAfter: retryAfter}
}

// Unconfirmed marks err as a send that may have been delivered: the
// request went out whole and the answer did not come in time.
func Unconfirmed(err error) error { return &SendError{Err: err, Unconfirmed: true} }

// Parked marks err as a quota exhaustion lasting until the given time.
func Parked(err error, until time.Time) error { return &SendError{Err: err, ParkUntil: until} }

// Classify returns how the dispatcher should treat err.
func Classify(err error) SendError {
	var se *SendError
	if errors.As(err, &se) {
		return *se
	}
	return SendError{Err: err}
}

// HTTPStatusError builds the usual classification for an HTTP reply:
// 429 and 5xx are temporary (honouring retryAfter), other 4xx permanent.
func HTTPStatusError(service string, status int, body string, retryAfter time.Duration) error {
	err := fmt.Errorf("%s: HTTP %d: %s", service, status, body)
	switch {
	case status == 429 || status >= 500:
		return Temporary(err, retryAfter)
	case status >= 400:
		return Permanent(err)
	}
	return err
}

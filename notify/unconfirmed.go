package notify

import (
	"context"
	"errors"
	"net"
	"net/http/httptrace"
	"sync/atomic"
	"time"
)

// A service that takes a message and answers after crier's timeout has
// probably delivered it: sending it again at once repeats it on the phone.
// Such a send is "unconfirmed". The dispatcher retries it no sooner than
// unconfirmedWait, and a notifier for which a repeat is worse than a gap
// (Pushover) caps how often (MaxUnconfirmed).

// unconfirmedWait is the default least wait after an unconfirmed send:
// long enough for a slow service to have shown the message, if it took it.
const unconfirmedWait = 5 * time.Minute

// traceWritten returns ctx with a trace noting when an HTTP request made
// with it has been written whole, and the function that reports it.
func traceWritten(ctx context.Context) (context.Context, func() bool) {
	var written atomic.Bool
	ctx = httptrace.WithClientTrace(ctx, &httptrace.ClientTrace{
		WroteRequest: func(info httptrace.WroteRequestInfo) {
			if info.Err == nil {
				written.Store(true)
			}
		},
	})
	return ctx, written.Load
}

// transportError classifies a failed HTTP round trip: a timeout after the
// whole request was written is unconfirmed (it may have been delivered);
// anything else, such as a refused connection or a timeout while
// connecting, is an ordinary temporary failure.
func transportError(err error, written bool) error {
	if written && isTimeout(err) {
		return Unconfirmed(err)
	}
	return Temporary(err, 0)
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.Is(err, context.DeadlineExceeded) || (errors.As(err, &ne) && ne.Timeout())
}

package crier

import "time"

// Subscription states.
const (
	SubPending       = "pending"       // a subscribe request awaits the hub's verification
	SubActive        = "active"        // verified: the hub pushes until LeaseExpires
	SubDenied        = "denied"        // the hub refused; retried at RetryAt
	SubFailed        = "failed"        // the hub could not be asked or never verified; retried at RetryAt
	SubUnsubscribing = "unsubscribing" // the feed is gone or changed hubs; awaiting the hub's verification
)

// Subscription is one WebSub subscription of a feed to its hub.
type Subscription struct {
	FeedID string `json:"feed_id"`
	Topic  string `json:"topic"`
	Hub    string `json:"hub"`
	// Callback is the last path segment of the callback URL
	// (public_url/websub/Callback): random, so callbacks are not guessable.
	Callback    string `json:"callback"`
	CallbackURL string `json:"callback_url"` // in full, as the hub knows it
	// Secret keys the HMAC the hub signs every push with.
	Secret string `json:"secret"`
	State  string `json:"state"`
	// Pending is the hub.mode ("subscribe" or "unsubscribe") of a request
	// sent and not verified yet; only such a request may be verified.
	Pending      string    `json:"pending,omitempty"`
	RequestedAt  time.Time `json:"requested_at,omitzero"`
	LeaseSeconds int       `json:"lease_seconds,omitempty"` // as the hub granted
	LeaseExpires time.Time `json:"lease_expires,omitzero"`
	RetryAt      time.Time `json:"retry_at,omitzero"`
	Attempts     int       `json:"attempts,omitempty"` // consecutive failed requests
	LastError    string    `json:"last_error,omitempty"`
}

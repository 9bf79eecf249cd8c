package store

import (
	"encoding/json"
	"errors"
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"
)

// bWebSub holds WebSub subscriptions: callback ID -> Subscription JSON. A
// feed has at most one current subscription, plus old ones being
// unsubscribed after it changed hubs. The bucket is created on first
// write, so state files of older versions need nothing.
var bWebSub = []byte("websub")

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

// SaveSubscription creates or replaces the subscription with sub.Callback.
func (s *Store) SaveSubscription(sub Subscription) error {
	if sub.FeedID == "" || sub.Callback == "" {
		return errors.New("save websub subscription: no feed or no callback")
	}
	v, err := json.Marshal(sub)
	if err != nil {
		return fmt.Errorf("encode websub subscription of %s: %w", sub.FeedID, err)
	}
	err = s.db.Update(func(tx *bolt.Tx) error {
		b, err := tx.CreateBucketIfNotExists(bWebSub)
		if err != nil {
			return err
		}
		return b.Put([]byte(sub.Callback), v)
	})
	if err != nil {
		return fmt.Errorf("save websub subscription of %s: %w", sub.FeedID, err)
	}
	return nil
}

// DeleteSubscription forgets the subscription with this callback ID; none
// is not an error.
func (s *Store) DeleteSubscription(callback string) error {
	err := s.db.Update(func(tx *bolt.Tx) error {
		if b := tx.Bucket(bWebSub); b != nil {
			return b.Delete([]byte(callback))
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("delete websub subscription %s: %w", callback, err)
	}
	return nil
}

// Subscriptions returns every stored subscription, ordered by callback ID.
func (s *Store) Subscriptions() ([]Subscription, error) {
	var out []Subscription
	err := s.db.View(func(tx *bolt.Tx) error {
		b := tx.Bucket(bWebSub)
		if b == nil {
			return nil
		}
		return b.ForEach(func(k, v []byte) error {
			var sub Subscription
			if err := json.Unmarshal(v, &sub); err != nil {
				return fmt.Errorf("decode websub subscription of %s: %w", k, err)
			}
			out = append(out, sub)
			return nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("read websub subscriptions: %w", err)
	}
	return out, nil
}

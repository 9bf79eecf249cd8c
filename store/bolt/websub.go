package bolt

import (
	"github.com/crierd/crier"

	"encoding/json"
	"errors"
	"fmt"

	bbolt "go.etcd.io/bbolt"
)

// bWebSub holds WebSub subscriptions: callback ID -> Subscription JSON. A
// feed has at most one current subscription, plus old ones being
// unsubscribed after it changed hubs. The bucket is created on first
// write, so state files of older versions need nothing.
var bWebSub = []byte("websub")

// SaveSubscription creates or replaces the subscription with sub.Callback.
func (s *Store) SaveSubscription(sub crier.Subscription) error {
	if sub.FeedID == "" || sub.Callback == "" {
		return errors.New("save websub subscription: no feed or no callback")
	}
	v, err := json.Marshal(sub)
	if err != nil {
		return fmt.Errorf("encode websub subscription of %s: %w", sub.FeedID, err)
	}
	err = s.db.Update(func(tx *bbolt.Tx) error {
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
	err := s.db.Update(func(tx *bbolt.Tx) error {
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
func (s *Store) Subscriptions() ([]crier.Subscription, error) {
	var out []crier.Subscription
	err := s.db.View(func(tx *bbolt.Tx) error {
		b := tx.Bucket(bWebSub)
		if b == nil {
			return nil
		}
		return b.ForEach(func(k, v []byte) error {
			var sub crier.Subscription
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

package crier

import (
	"fmt"
	"time"
)

// maxStorySources bounds what one story remembers of its reports.
const maxStorySources = 32

// Story is what crier remembers of one story across feeds.
type Story struct {
	ID    uint64    `json:"id"`
	Title string    `json:"title"`
	Link  string    `json:"link,omitempty"`
	First time.Time `json:"first"`
	// Features and Bands (same_story: similar) are kept compactly in
	// the storyfeatures bucket, not in the story's JSON.
	Features []string      `json:"-"`
	Bands    []uint64      `json:"-"`
	Keys     []string      `json:"keys,omitempty"` // item keys indexed for it
	Sources  []StorySource `json:"sources"`
	// Notified holds when each notifier was last pushed the story, and
	// Escalated when it was sent its one "Developing: …" push.
	Notified  map[string]time.Time `json:"notified,omitempty"`
	Escalated map[string]time.Time `json:"escalated,omitempty"`
}

// StorySource is one report of a story, with what clustering decided.
type StorySource struct {
	Feed  string    `json:"feed"`
	Title string    `json:"title"`
	Link  string    `json:"link,omitempty"`
	At    time.Time `json:"at"`
	// Match is how the report joined the story: "" for the first report,
	// "link" or "similar"; Score is the headline score of a similar one.
	Match string  `json:"match,omitempty"`
	Score float64 `json:"score,omitempty"`
	// Pushed and Held name the notifiers it went to and those it was kept
	// from as a story they already had.
	Pushed []string `json:"pushed,omitempty"`
	Held   []string `json:"held,omitempty"`
}

// IDString is the story's id as notifications and logs show it.
func (s Story) IDString() string { return fmt.Sprintf("s%d", s.ID) }

// AddSource records a report, keeping the first ones when there are many.
func (s *Story) AddSource(src StorySource) {
	if len(s.Sources) < maxStorySources {
		s.Sources = append(s.Sources, src)
	}
}

// Candidate is what a similar-headline match needs of a story, read
// without decoding the story: its features and the feeds that reported it.
type Candidate struct {
	ID       uint64
	Features []string
	Feeds    []string
}

// StoryIndex is the story index inside an ingest transaction: clustering
// (feeds' same_story policy) reads and writes it in the same transaction
// that marks the items seen and queues their notifications.
type StoryIndex interface {
	// ByKey returns the story an item key ("l:…", "g:…") was indexed for.
	ByKey(key string) (Story, bool, error)
	// Candidates returns the stories sharing an LSH band with bands: per
	// band the perBand newest, at most limit in all.
	Candidates(bands []uint64, perBand, limit int) ([]Candidate, error)
	// Story returns the story with the given ID.
	Story(id uint64) (Story, bool, error)
	// Put saves s, giving it an ID when it has none, and indexes its keys
	// and bands.
	Put(s *Story) error
}

package crier

import "time"

// SameStory says how crier recognises one story reported by several feeds
// (`same_story:`). The modes are ordered: each finds what the one before
// it finds, and more.
type SameStory int

const (
	// SameStoryLink, the default: the same canonical link or GUID.
	SameStoryLink SameStory = iota
	// SameStoryOff: every item is its own story.
	SameStoryOff
	// SameStorySimilar: also near-duplicate headlines from other feeds.
	SameStorySimilar
)

// Rank orders the modes by how much they merge: off < link < similar.
func (m SameStory) Rank() int {
	switch m {
	case SameStoryOff:
		return 0
	case SameStorySimilar:
		return 2
	default:
		return 1
	}
}

func (m SameStory) String() string {
	switch m {
	case SameStoryOff:
		return "off"
	case SameStorySimilar:
		return "similar"
	default:
		return "link"
	}
}

// ParseSameStory reads a same_story value.
func ParseSameStory(s string) (SameStory, bool) {
	switch s {
	case "off":
		return SameStoryOff, true
	case "link":
		return SameStoryLink, true
	case "similar":
		return SameStorySimilar, true
	}
	return SameStoryLink, false
}

// DefaultStoryWindow is how long a notified story keeps later reports of
// it from being pushed again, unless a notifier sets `window:`.
const DefaultStoryWindow = 12 * time.Hour

// Escalate is a notifier's `escalate:`: when Sources distinct feeds report
// one story within Within, it sends one "Developing: …" push at Priority.
type Escalate struct {
	Sources  int
	Within   time.Duration
	Priority int
}

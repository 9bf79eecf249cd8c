package crier

import "time"

// FeedDue is one configured feed as a fleet schedules it: the store keeps
// when each is next due, and workers claim due feeds from it.
type FeedDue struct {
	FeedID   string
	Schedule string    // the cron spec, to notice a changed schedule
	Due      time.Time // when a feed new to the store is first due
}

package bolt_test

import (
	"github.com/crierd/crier/store"
	"github.com/crierd/crier/store/bolt"
)

var _ store.Store = (*bolt.Store)(nil)
var _ store.Backup = (*bolt.Store)(nil)

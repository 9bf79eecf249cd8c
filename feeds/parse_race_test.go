//go:build race

package feeds

// raceEnabled: the race detector slows gofeed about fifteenfold, and the
// corpus test then keeps to the smaller files (Parse shares no state between
// calls, so the big captures add time under -race, not coverage).
const raceEnabled = true

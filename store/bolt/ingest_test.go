package bolt

import (
	"testing"

	"github.com/crierd/crier/store/storetest"
)

// The ingest promises are in the conformance suite (store/storetest).

func BenchmarkIngest50(b *testing.B) {
	s, clk := openTemp(b)
	storetest.BenchIngest50(b, s, clk)
}

func BenchmarkIngest50Churn(b *testing.B) {
	s, clk := openTemp(b)
	storetest.BenchIngest50Churn(b, s, clk)
}

package kafkatest

import (
	"math/rand/v2"
	"os"
	"strconv"
	"testing"
	"time"
)

// SeededRand returns a random source for a fault test, seeded from the clock or from
// KAFSCALE_TEST_SEED, and logs the seed so that a failing run can be replayed.
func SeededRand(t testing.TB) *rand.Rand {
	t.Helper()
	seed := uint64(time.Now().UnixNano())
	if s := os.Getenv("KAFSCALE_TEST_SEED"); s != "" {
		v, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			t.Fatalf("KAFSCALE_TEST_SEED=%q: %v", s, err)
		}
		seed = v
	}
	t.Logf("seed %d (KAFSCALE_TEST_SEED=%d replays it)", seed, seed)
	return rand.New(rand.NewPCG(seed, 12))
}

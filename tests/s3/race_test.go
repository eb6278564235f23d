//go:build race

package s3

// raceEnabled tells memory checks that the broker was built with -race (testbroker builds it
// like the tests), which multiplies its memory use.
const raceEnabled = true

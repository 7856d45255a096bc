//go:build !race

package storetest

// raceEnabled shrinks the heaviest cases: the SQLite driver is large and
// slow under the race detector.
const raceEnabled = false

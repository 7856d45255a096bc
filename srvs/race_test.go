//go:build race

package srvs

// raceEnabled: the race detector changes allocation counts.
const raceEnabled = true

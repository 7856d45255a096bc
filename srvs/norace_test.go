//go:build !race

package srvs

const raceEnabled = false

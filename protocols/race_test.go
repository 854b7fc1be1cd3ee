//go:build race

package protocols

// raceEnabled is set when the tests run with the race detector, which slows everything it
// instruments several times over.
const raceEnabled = true

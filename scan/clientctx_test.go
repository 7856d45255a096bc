package scan_test

import (
	"context"
	"testing"
	"time"

	"github.com/netsession/netsession/client"
	"github.com/netsession/netsession/fleet"
)

// The client alone (without the scanner's socket-level bound) honours its
// context over an SMB pipe: a setup that the server answers too slowly
// ends at the context's deadline, and so does a call on an established
// pipe, each as a timeout.
func TestClientHonoursContextOverSMB(t *testing.T) {
	const delay = 150 * time.Millisecond
	f := startFleet(t, fleet.Config{Hosts: 1, Behaviors: []fleet.Behavior{fleet.Slow}, Base: base(32), SlowDelay: delay})
	target := f.Hosts[0].Target
	opts := client.Options{Credentials: scanCred()}

	// The setup takes six answers, about 900 ms; give it 300.
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	start := time.Now()
	c, err := client.Dial(ctx, target, opts)
	cancel()
	if err == nil {
		c.Close()
		t.Fatal("Dial beat a deadline shorter than the setup")
	}
	if took := time.Since(start); client.ReasonOf(err) != client.ReasonTimeout || took > 300*time.Millisecond+delay+time.Second {
		t.Errorf("Dial: %v after %v, want a timeout at the deadline", err, took)
	}

	c, err = client.Dial(context.Background(), target, opts)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ctx, cancel = context.WithTimeout(context.Background(), delay/3)
	defer cancel()
	start = time.Now()
	_, err = c.EnumAll(ctx, client.LevelAuto, client.Filter{})
	if took := time.Since(start); client.ReasonOf(err) != client.ReasonTimeout || took > delay/3+time.Second {
		t.Errorf("EnumAll: %v after %v, want a timeout at the deadline", err, took)
	}
}

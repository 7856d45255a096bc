package smb2

import (
	"context"
	"testing"

	"github.com/netsession/netsession/dcerpc"
)

// TestInlinePipeOpenRacesServerClose opens inline pipes while their DCE/RPC
// server closes every association: the association may end (and close the
// pipe) before newInlinePipe has stored it, which must not race.
func TestInlinePipeOpenRacesServerClose(t *testing.T) {
	for range 200 {
		srv := &dcerpc.Server{}
		done := make(chan struct{})
		go func() {
			defer close(done)
			for range 20 {
				srv.Close()
			}
		}()
		p, err := newInlinePipe(context.Background(), nil, nil, 4096, srv)
		<-done
		if err != nil {
			continue // the server was closed first
		}
		p.Close()
		if err := p.clientWrite([]byte{5, 0}); err == nil {
			t.Fatal("clientWrite on a closed inline pipe succeeded")
		}
	}
}

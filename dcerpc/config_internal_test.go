package dcerpc

import (
	"testing"
	"time"
)

// The zero Limits, Timeouts and ClientConfig mean the documented defaults;
// values set are kept, negative ones (no bound, no timeout) included, and
// fragment sizes never go below MinFragSize.
func TestConfigDefaults(t *testing.T) {
	wantL := Limits{
		MaxRecvFrag: DefaultMaxRecvFrag, MaxXmitFrag: DefaultMaxXmitFrag,
		MaxReassembledSize: DefaultMaxReassembledSize, MaxUnauthReassembledSize: DefaultMaxUnauthReassembledSize,
		MaxBufferedRequests: DefaultMaxBufferedRequests, MaxConns: DefaultMaxConns,
		MaxConnsPerAddr: DefaultMaxConnsPerAddr, MaxContexts: DefaultMaxContexts,
	}
	if got := (Limits{}).withDefaults(); got != wantL {
		t.Errorf("Limits{}.withDefaults() = %+v, want %+v", got, wantL)
	}
	if got := (Limits{MaxRecvFrag: 100, MaxConns: -1, MaxBufferedRequests: -1}).withDefaults(); got.MaxRecvFrag != MinFragSize || got.MaxConns != -1 || got.MaxBufferedRequests != -1 {
		t.Errorf("set limits: %+v", got)
	}
	wantT := Timeouts{Idle: DefaultIdleTimeout, Handshake: DefaultHandshakeTimeout, Read: DefaultReadTimeout,
		Write: DefaultWriteTimeout, Reassembly: DefaultReassemblyTimeout}
	if got := (Timeouts{}).withDefaults(); got != wantT {
		t.Errorf("Timeouts{}.withDefaults() = %+v, want %+v", got, wantT)
	}
	if got := (Timeouts{Idle: -1, Read: time.Second}).withDefaults(); got.Idle != -1 || got.Read != time.Second {
		t.Errorf("set timeouts: %+v", got)
	}
	c := NewClient(nil, ClientConfig{})
	if c.cfg.MaxXmitFrag != MaxFragSize || c.cfg.MaxRecvFrag != MaxFragSize || c.cfg.MaxResponseSize != DefaultMaxResponseSize {
		t.Errorf("zero ClientConfig: %+v", c.cfg)
	}
	if c := NewClient(nil, ClientConfig{MaxXmitFrag: 1, MaxRecvFrag: 2048}); c.cfg.MaxXmitFrag != MinFragSize || c.cfg.MaxRecvFrag != 2048 {
		t.Errorf("small ClientConfig: %+v", c.cfg)
	}
	var s Server
	s.setup()
	if s.lim != wantL || s.tmo != wantT {
		t.Errorf("a zero Server serves with %+v %+v, want the defaults", s.lim, s.tmo)
	}
}

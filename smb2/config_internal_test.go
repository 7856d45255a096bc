package smb2

import (
	"testing"
	"time"
)

// The zero Limits and Timeouts mean the documented defaults; values set
// are kept, and a negative Idle or PipeIdle (never) survives while other
// negative timeouts fall back to their default.
func TestConfigDefaults(t *testing.T) {
	l := Limits{}.withDefaults()
	want := Limits{
		MaxConns: DefaultMaxConns, MaxConnsPerAddr: DefaultMaxConnsPerAddr, MaxCredits: DefaultMaxCredits,
		MaxSessionsPerConn: DefaultMaxSessionsPerConn, MaxOpensPerConn: DefaultMaxOpensPerConn,
		MaxMessageSize: DefaultMaxMessageSize, MaxPipeBuffer: DefaultMaxPipeBuffer,
		MaxSessionPipeMemory: DefaultMaxSessionPipeMemory, MaxConnPipeMemory: DefaultMaxConnPipeMemory,
	}
	if l != want {
		t.Errorf("Limits{}.withDefaults() = %+v, want %+v", l, want)
	}
	if got := (Limits{MaxConns: -1, MaxCredits: 16}).withDefaults(); got.MaxConns != -1 || got.MaxCredits != 16 || got.MaxPipeBuffer != DefaultMaxPipeBuffer {
		t.Errorf("set limits not kept: %+v", got)
	}
	tm := Timeouts{}.withDefaults()
	wantT := Timeouts{
		Negotiate: DefaultNegotiateTimeout, Setup: DefaultSetupTimeout, Idle: DefaultIdleTimeout,
		Message: DefaultMessageTimeout, Write: DefaultWriteTimeout, Pipe: DefaultPipeTimeout,
		PipeIdle: DefaultPipeIdleTimeout, LogoffGrace: DefaultLogoffGrace,
	}
	if tm != wantT {
		t.Errorf("Timeouts{}.withDefaults() = %+v, want %+v", tm, wantT)
	}
	got := Timeouts{Idle: -1, PipeIdle: -1, Negotiate: -1, Write: time.Second}.withDefaults()
	if got.Idle != -1 || got.PipeIdle != -1 || got.Negotiate != DefaultNegotiateTimeout || got.Write != time.Second {
		t.Errorf("negative and set timeouts: %+v", got)
	}
	var s Server
	s.init()
	if s.lim != want || s.tmo != wantT {
		t.Errorf("a zero Server serves with %+v %+v, want the defaults", s.lim, s.tmo)
	}
}

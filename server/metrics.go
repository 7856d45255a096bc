package server

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"net/http"
	"runtime"
	"slices"
	"strconv"
	"sync"

	"github.com/netsession/netsession/dcerpc"
	"github.com/netsession/netsession/internal/promtext"
	"github.com/netsession/netsession/smb2"
)

// rpcKey identifies a kind of srvsvc call outcome: the opnum and the
// status the method returned, or fault when the call was answered with a
// fault. The status is spelled out only when the counters are read, not
// on every call.
type rpcKey struct {
	opnum  uint16
	fault  bool
	status uint32
}

// name is how Metrics spells the outcome: "0x00000000", or "fault".
func (k rpcKey) name() string {
	if k.fault {
		return "fault"
	}
	return fmt.Sprintf("0x%08x", k.status)
}

// rpcCounter counts srvsvc calls by opnum and outcome, on every transport.
type rpcCounter struct {
	next dcerpc.Handler
	mu   sync.Mutex
	n    map[rpcKey]int64
}

func (c *rpcCounter) ServeRPC(ctx context.Context, call *dcerpc.Call) ([]byte, error) {
	out, err := c.next.ServeRPC(ctx, call)
	k := rpcKey{opnum: call.Opnum, fault: true}
	if err == nil && len(out) >= 4 {
		// Every srvsvc method ends its response with its status.
		k.fault, k.status = false, binary.LittleEndian.Uint32(out[len(out)-4:])
	}
	c.mu.Lock()
	c.n[k]++
	c.mu.Unlock()
	return out, err
}

// ReleaseStub forwards written answers to the handler it counts for.
func (c *rpcCounter) ReleaseStub(stub []byte) { releaseStub(c.next, stub) }

// releaseStub hands stub back to h when h takes stubs back.
func releaseStub(h dcerpc.Handler, stub []byte) {
	if r, ok := h.(dcerpc.StubReleaser); ok {
		r.ReleaseStub(stub)
	}
}

// RPCCall is the count of one kind of srvsvc call in Metrics.
type RPCCall struct {
	Opnum  uint16 `json:"opnum"`
	Status string `json:"status"` // "0x00000005", or "fault"
	Count  int64  `json:"count"`
}

// Metrics is a snapshot of what an operator watches: the session table,
// the SMB server's counters and the srvsvc calls.
type Metrics struct {
	Sessions int        `json:"sessions"` // in the table, from every source
	SMB      smb2.Stats `json:"smb"`
	RPCCalls []RPCCall  `json:"rpc_calls"` // by opnum, then status
}

// Metrics returns the server's counters.
func (s *Server) Metrics() Metrics {
	m := Metrics{Sessions: s.table.Len(), SMB: s.smb.Stats()}
	s.calls.mu.Lock()
	for k, n := range s.calls.n {
		m.RPCCalls = append(m.RPCCalls, RPCCall{Opnum: k.opnum, Status: k.name(), Count: n})
	}
	s.calls.mu.Unlock()
	slices.SortFunc(m.RPCCalls, func(a, b RPCCall) int {
		if a.Opnum != b.Opnum {
			return int(a.Opnum) - int(b.Opnum)
		}
		if a.Status < b.Status {
			return -1
		}
		if a.Status > b.Status {
			return 1
		}
		return 0
	})
	return m
}

// MetricsHandler serves the counters: /metrics in the Prometheus text
// exposition format (version 0.0.4), /debug/vars as one JSON object (the
// shape expvar serves: the Metrics fields, plus "memstats").
func (s *Server) MetricsHandler() http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promtext.Handler(promtext.GathererFunc(func() []promtext.Family {
		return promFamilies(s.Metrics())
	}), s.log))
	mux.HandleFunc("GET /debug/vars", func(w http.ResponseWriter, r *http.Request) {
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		w.Header().Set("Content-Type", "application/json; charset=utf-8")
		_ = json.NewEncoder(w).Encode(struct {
			Metrics
			Goroutines int               `json:"goroutines"`
			MemStats   *runtime.MemStats `json:"memstats"`
		}{s.Metrics(), runtime.NumGoroutine(), &ms})
	})
	return mux
}

// promFamilies are the Prometheus families of m (netsess_ and go_
// goroutines; watch's families are netsess_watch_, apart from these).
func promFamilies(m Metrics) []promtext.Family {
	var fams []promtext.Family
	metric := func(name string, typ promtext.Type, help string, v int64) {
		fams = append(fams, promtext.Family{Name: name, Help: help, Type: typ, Metrics: []promtext.Metric{{Value: float64(v)}}})
	}
	const counter, gauge = promtext.TypeCounter, promtext.TypeGauge
	metric("netsess_sessions", gauge, "Sessions in the table.", int64(m.Sessions))
	st := m.SMB
	metric("netsess_smb_connections_accepted_total", counter, "SMB connections served.", st.ConnsAccepted)
	metric("netsess_smb_connections_rejected_total", counter, "SMB connections closed at accept: connection limit reached.", st.ConnsRejected)
	metric("netsess_smb_connections", gauge, "SMB connections open.", st.ConnsOpen)
	metric("netsess_smb_sessions_established_total", counter, "SMB sessions established.", st.SessionsOpened)
	metric("netsess_smb_sessions", gauge, "SMB sessions established and not ended.", st.SessionsOpen)
	metric("netsess_smb_logons_failed_total", counter, "SMB session setups refused.", st.LogonsFailed)
	metric("netsess_smb_timeouts_total", counter, "SMB connections closed by a timeout.", st.Timeouts)
	metric("netsess_smb_protocol_errors_total", counter, "SMB connections closed for a protocol violation.", st.ProtocolErrors)
	metric("netsess_smb_received_bytes_total", counter, "Bytes received on SMB connections.", st.BytesIn)
	metric("netsess_smb_sent_bytes_total", counter, "Bytes sent on SMB connections.", st.BytesOut)
	reqs := promtext.Family{Name: "netsess_smb_requests_total", Help: "SMB requests by command.", Type: counter}
	for c, n := range st.Commands {
		reqs.Metrics = append(reqs.Metrics, promtext.Metric{Labels: []promtext.Label{{Name: "command", Value: c}}, Value: float64(n)})
	}
	calls := promtext.Family{Name: "netsess_rpc_calls_total", Help: "srvsvc calls by opnum and returned status.", Type: counter}
	for _, c := range m.RPCCalls {
		calls.Metrics = append(calls.Metrics, promtext.Metric{Labels: []promtext.Label{
			{Name: "opnum", Value: strconv.Itoa(int(c.Opnum))}, {Name: "status", Value: c.Status}}, Value: float64(c.Count)})
	}
	fams = append(fams, reqs, calls)
	metric("go_goroutines", gauge, "Goroutines that currently exist.", int64(runtime.NumGoroutine()))
	return fams
}

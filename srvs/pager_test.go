package srvs_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"slices"
	"sync"
	"testing"

	"github.com/netsession/netsession/dcerpc"
	"github.com/netsession/netsession/session"
	"github.com/netsession/netsession/srvs"
)

// scripted is a srvsvc server that answers NetrSessionEnum call i with
// answers[i] (or, past the end, with the last one), and records the
// requests it got. An answer with Fault set is sent as that fault.
type scripted struct {
	answers []scriptedAnswer
	mu      sync.Mutex
	got     []srvs.SessionEnumRequest
}

type scriptedAnswer struct {
	resp  srvs.SessionEnumResponse
	fault uint32
}

func (s *scripted) ServeRPC(_ context.Context, call *dcerpc.Call) ([]byte, error) {
	var req srvs.SessionEnumRequest
	if call.Opnum != srvs.OpNetrSessionEnum || req.UnmarshalNDR(call.Stub) != nil {
		return nil, dcerpc.ErrBadStub
	}
	s.mu.Lock()
	i := min(len(s.got), len(s.answers)-1)
	s.got = append(s.got, req)
	s.mu.Unlock()
	a := s.answers[i]
	if a.fault != 0 {
		return nil, &dcerpc.Fault{Status: a.fault}
	}
	return a.resp.MarshalNDR()
}

func (s *scripted) requests() []srvs.SessionEnumRequest {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.got)
}

// dialScripted serves s over net.Pipe and returns a bound stub.
func dialScripted(t *testing.T, s *scripted) *srvs.Client {
	t.Helper()
	srv := &dcerpc.Server{}
	if err := srv.Register(dcerpc.Interface{Syntax: srvs.Syntax(), Handler: s}); err != nil {
		t.Fatal(err)
	}
	a, b := net.Pipe()
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = srv.ServeConn(context.Background(), a, dcerpc.ConnConfig{})
	}()
	rpc := dcerpc.NewClient(b, dcerpc.ClientConfig{})
	t.Cleanup(func() { _ = rpc.Close(); _ = srv.Close(); <-done })
	c, err := srvs.Bind(context.Background(), rpc)
	if err != nil {
		t.Fatal(err)
	}
	c.ServerName = `\\FS`
	return c
}

// page is a level-0 answer with n entries named from first on.
func page(status session.Status, first, n int, resume *uint32) scriptedAnswer {
	r := srvs.SessionEnumResponse{Level: 0, TotalEntries: uint32(n), ResumeHandle: resume, Status: uint32(status)}
	for i := range n {
		r.Entries = append(r.Entries, srvs.SessionInfo{ClientName: fmt.Sprintf(`\\10.0.0.%d`, first+i)})
	}
	return scriptedAnswer{resp: r}
}

func TestPager(t *testing.T) {
	h := func(v uint32) *uint32 { return &v }
	tests := []struct {
		name     string
		answers  []scriptedAnswer
		maxPages int
		// wantResumes are the resume handles the calls carried, one per
		// call the server saw.
		wantResumes []uint32
		wantEntries int
		wantErr     func(error) bool
		wantErrPage bool // the failing Next also returned the page
	}{
		{
			name:        "one page",
			answers:     []scriptedAnswer{page(session.StatusSuccess, 0, 3, h(0))},
			wantResumes: []uint32{0}, wantEntries: 3,
		},
		{
			// Samba answers a complete read with a non-zero handle: the
			// pager must not follow it.
			name: "more data then success with a handle",
			answers: []scriptedAnswer{
				page(session.StatusMoreData, 0, 2, h(7)),
				page(session.StatusMoreData, 2, 1, h(9)),
				page(session.StatusSuccess, 3, 1, h(9)),
			},
			wantResumes: []uint32{0, 7, 9}, wantEntries: 4,
		},
		{
			name: "an empty page that moves the handle is progress",
			answers: []scriptedAnswer{
				page(session.StatusMoreData, 0, 0, h(4)),
				page(session.StatusSuccess, 0, 2, nil),
			},
			wantResumes: []uint32{0, 4}, wantEntries: 2,
		},
		{
			name: "no progress",
			answers: []scriptedAnswer{
				page(session.StatusMoreData, 0, 1, h(5)),
				page(session.StatusMoreData, 1, 0, h(5)),
				page(session.StatusSuccess, 0, 9, nil), // never asked for
			},
			wantResumes: []uint32{0, 5}, wantEntries: 1,
			wantErr: func(err error) bool { return errors.Is(err, srvs.ErrNoProgress) },
		},
		{
			name:        "no progress on a NULL handle",
			answers:     []scriptedAnswer{page(session.StatusMoreData, 0, 0, nil)},
			wantResumes: []uint32{0},
			wantErr:     func(err error) bool { return errors.Is(err, srvs.ErrNoProgress) },
		},
		{
			name: "page bound",
			answers: []scriptedAnswer{
				page(session.StatusMoreData, 0, 1, h(1)),
				page(session.StatusMoreData, 1, 1, h(2)),
				page(session.StatusMoreData, 2, 1, h(3)),
				page(session.StatusSuccess, 3, 1, nil), // beyond the bound
			},
			maxPages:    3,
			wantResumes: []uint32{0, 1, 2}, wantEntries: 3,
			wantErr: func(err error) bool { return errors.Is(err, srvs.ErrNoProgress) },
		},
		{
			name: "status mid-way",
			answers: []scriptedAnswer{
				page(session.StatusMoreData, 0, 2, h(2)),
				page(session.StatusAccessDenied, 0, 0, nil),
			},
			wantResumes: []uint32{0, 2}, wantEntries: 2, wantErrPage: true,
			wantErr: func(err error) bool {
				var se *srvs.StatusError
				return errors.As(err, &se) && se.Op == "NetrSessionEnum" && errors.Is(err, session.StatusAccessDenied)
			},
		},
		{
			name: "fault mid-way",
			answers: []scriptedAnswer{
				page(session.StatusMoreData, 0, 2, h(2)),
				{fault: dcerpc.StatusAccessDenied},
			},
			wantResumes: []uint32{0, 2}, wantEntries: 2,
			wantErr: func(err error) bool {
				var fe *dcerpc.Fault
				return errors.As(err, &fe) && fe.Status == dcerpc.StatusAccessDenied
			},
		},
	}
	ctx := context.Background()
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := &scripted{answers: tc.answers}
			c := dialScripted(t, s)
			c.MaxPages = tc.maxPages
			p := c.Pager(0, `\\10.0.0.1`, "alice", 1000)
			var entries []srvs.SessionInfo
			var err error
			for !p.Done() {
				var pg *srvs.SessionEnumResponse
				pg, err = p.Next(ctx)
				if err != nil {
					if (pg != nil) != tc.wantErrPage {
						t.Errorf("failing Next returned page %v, want a page: %v", pg, tc.wantErrPage)
					}
					break
				}
				entries = append(entries, pg.Entries...)
			}
			if tc.wantErr == nil && err != nil || tc.wantErr != nil && !tc.wantErr(err) {
				t.Fatalf("err = %v", err)
			}
			if !p.Done() {
				t.Error("not done after the end")
			}
			if pg, err := p.Next(ctx); pg != nil || err != io.EOF {
				t.Errorf("Next after the end = %v, %v; want nil, io.EOF", pg, err)
			}
			if len(entries) != tc.wantEntries {
				t.Errorf("%d entries, want %d", len(entries), tc.wantEntries)
			}
			reqs := s.requests()
			var resumes []uint32
			for _, q := range reqs {
				if q.ResumeHandle == nil {
					t.Fatal("a call without a resume handle")
				}
				resumes = append(resumes, *q.ResumeHandle)
				if q.ServerName == nil || *q.ServerName != `\\FS` || q.ClientName == nil || *q.ClientName != `\\10.0.0.1` ||
					q.UserName == nil || *q.UserName != "alice" || q.Level != 0 || q.PrefMaxLen != 1000 {
					t.Errorf("request %+v", q)
				}
			}
			if !slices.Equal(resumes, tc.wantResumes) {
				t.Errorf("resume handles asked %v, want %v", resumes, tc.wantResumes)
			}
			if p.Pages() != len(reqs)-countFaults(tc.answers, len(reqs)) {
				t.Errorf("Pages() = %d after %d calls", p.Pages(), len(reqs))
			}

			// EnumAll is the same walk, collected.
			s2 := &scripted{answers: tc.answers}
			c2 := dialScripted(t, s2)
			c2.MaxPages = tc.maxPages
			res, err := c2.EnumAll(ctx, 0, `\\10.0.0.1`, "alice", 1000)
			if tc.wantErr == nil && err != nil || tc.wantErr != nil && !tc.wantErr(err) {
				t.Fatalf("EnumAll err = %v", err)
			}
			if len(res.Entries) != tc.wantEntries || res.Pages != p.Pages() || len(s2.requests()) != len(reqs) {
				t.Errorf("EnumAll: %d entries in %d pages after %d calls; pager: %d entries in %d pages after %d calls",
					len(res.Entries), res.Pages, len(s2.requests()), len(entries), p.Pages(), len(reqs))
			}
		})
	}
}

// countFaults counts the faults among the first n answers.
func countFaults(answers []scriptedAnswer, n int) int {
	k := 0
	for i := range n {
		if answers[min(i, len(answers)-1)].fault != 0 {
			k++
		}
	}
	return k
}

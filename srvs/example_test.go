package srvs_test

import (
	"fmt"

	"github.com/netsession/netsession/session"
	"github.com/netsession/netsession/srvs"
)

// A server's view: decode the request stub, build the answer from the
// skeleton, encode it (here into a fresh buffer; a real server would append
// after its PDU header).
func Example_server() {
	zero := uint32(0)
	in := srvs.SessionEnumRequest{
		ServerName:   new(`\\FS`),
		Level:        session.Level10,
		PrefMaxLen:   session.MaxPreferredLength,
		ResumeHandle: &zero,
	}
	stub := in.MarshalNDR() // what a client would send

	var req srvs.SessionEnumRequest
	if err := req.UnmarshalNDR(stub); err != nil {
		fmt.Println("fault: bad stub data:", err)
		return
	}
	resp := req.Response(0)
	resp.Entries = []srvs.SessionInfo{
		{ClientName: `\\10.0.0.5`, UserName: "alice", Time: 120, IdleTime: 30},
	}
	resp.TotalEntries = 1
	out, err := resp.AppendNDR(nil)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(len(out), resp.Size(), srvs.EntrySize(session.Level10, &srvs.SessionInfo{ClientName: `\\10.0.0.5`, UserName: "alice"}))

	var back srvs.SessionEnumResponse
	if err := back.UnmarshalNDR(out); err != nil {
		fmt.Println(err)
		return
	}
	fmt.Printf("%s %s %d %d\n", back.Entries[0].ClientName, back.Entries[0].UserName, back.Entries[0].Time, *back.ResumeHandle)
	// Output:
	// 116 116 76
	// \\10.0.0.5 alice 120 0
}

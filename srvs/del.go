package srvs

import (
	"slices"

	"github.com/netsession/netsession/ndr"
)

// SessionDelRequest holds the [in] parameters of NetrSessionDel
// (opnum 13). nil is a NULL pointer, distinct on the wire from "".
type SessionDelRequest struct {
	ServerName *string
	ClientName *string // \\client; NULL or "" = any client
	UserName   *string // NULL or "" = any user
}

// Size returns the exact encoded size of q in bytes. UserName is the last
// item of the stub, so no padding follows it.
func (q *SessionDelRequest) Size() int {
	n := uniqueStringSize(q.ServerName) + uniqueStringSize(q.ClientName) + 4
	if q.UserName != nil {
		n += 12 + 2*(ndr.StringUnits(*q.UserName)+1)
	}
	return n
}

// MarshalNDR returns the stub data of q.
func (q *SessionDelRequest) MarshalNDR() []byte { return q.AppendNDR(nil) }

// AppendNDR appends the stub data of q to dst, with alignment relative to
// len(dst). A stub ends where its last item ends: no padding follows
// UserName.
func (q *SessionDelRequest) AppendNDR(dst []byte) []byte {
	var w ndr.Writer
	w.Reset(slices.Grow(dst, q.Size()))
	writeNames(&w, q.ServerName, q.ClientName, q.UserName)
	return w.Bytes()
}

// UnmarshalNDR decodes NetrSessionDel request stub data into q. Any
// non-zero referent IDs are accepted; bytes after UserName are ignored.
// Errors are *ndr.Error values.
func (q *SessionDelRequest) UnmarshalNDR(b []byte) error {
	*q = SessionDelRequest{}
	r := ndr.NewReader(b)
	var err error
	q.ServerName, q.ClientName, q.UserName, err = readNames(r)
	return err
}

// writeNames writes the three [in, unique, string] parameters both
// NetrSessionEnum and NetrSessionDel begin with.
func writeNames(w *ndr.Writer, server, client, user *string) {
	w.UniqueString(server)
	w.UniqueString(client)
	w.UniqueString(user)
}

// readNames reads what writeNames writes.
func readNames(r *ndr.Reader) (server, client, user *string, err error) {
	if server, err = r.UniqueString("ServerName"); err != nil {
		return nil, nil, nil, err
	}
	if client, err = r.UniqueString("ClientName"); err != nil {
		return nil, nil, nil, err
	}
	if user, err = r.UniqueString("UserName"); err != nil {
		return nil, nil, nil, err
	}
	return server, client, user, nil
}

// SessionDelResponse is the NetrSessionDel response: only the status.
type SessionDelResponse struct {
	Status uint32 // NET_API_STATUS
}

// Size returns the encoded size, 4.
func (p *SessionDelResponse) Size() int { return 4 }

// MarshalNDR returns the stub data of p.
func (p *SessionDelResponse) MarshalNDR() []byte { return p.AppendNDR(nil) }

// AppendNDR appends the stub data of p to dst.
func (p *SessionDelResponse) AppendNDR(dst []byte) []byte {
	var w ndr.Writer
	w.Reset(dst)
	w.Uint32(p.Status)
	return w.Bytes()
}

// UnmarshalNDR decodes NetrSessionDel response stub data into p. Bytes
// after the status are ignored.
func (p *SessionDelResponse) UnmarshalNDR(b []byte) error {
	*p = SessionDelResponse{}
	v, err := ndr.NewReader(b).Uint32As("status")
	p.Status = v
	return err
}

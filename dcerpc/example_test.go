package dcerpc_test

import (
	"context"
	"errors"
	"fmt"
	"net"

	"github.com/netsession/netsession/dcerpc"
	"github.com/netsession/netsession/session"
)

// An interface handler registered on a Server, called by a Client over an
// in-memory pipe (an ncacn_np connection would be served the same way,
// with the SMB session's identity as ConnConfig.Caller).
func Example() {
	echo := dcerpc.SyntaxID{UUID: dcerpc.MustParseUUID("12345678-1234-abcd-ef00-0123456789ab"), Major: 1}

	srv := &dcerpc.Server{SecondaryAddr: `\PIPE\echo`}
	srv.Register(dcerpc.Interface{
		Syntax:    echo,
		NumOpnums: 1,
		Handler: dcerpc.HandlerFunc(func(ctx context.Context, call *dcerpc.Call) ([]byte, error) {
			if len(call.Stub) == 0 {
				return nil, dcerpc.ErrBadStub
			}
			return fmt.Appendf(nil, "%s says %s", call.Caller.User, call.Stub), nil
		}),
	})

	serverEnd, clientEnd := net.Pipe()
	go srv.ServeConn(context.Background(), serverEnd, dcerpc.ConnConfig{Caller: session.Caller{User: "alice"}})
	defer srv.Close()

	ctx := context.Background()
	cl := dcerpc.NewClient(clientEnd, dcerpc.ClientConfig{})
	if err := cl.Bind(ctx, echo); err != nil {
		fmt.Println(err)
		return
	}
	out, err := cl.Call(ctx, 0, []byte("hello"))
	fmt.Printf("%s %v\n", out, err)

	_, err = cl.Call(ctx, 0, nil)
	fmt.Println(errors.Is(err, dcerpc.ErrBadStub), err)

	_, err = cl.Call(ctx, 7, []byte("x"))
	var fe *dcerpc.Fault
	fmt.Println(errors.As(err, &fe), fe.Status == dcerpc.StatusOpRangeError)
	// Output:
	// alice says hello <nil>
	// true dcerpc: the RPC failed: fault 0x000006f7 (bad stub data)
	// true true
}

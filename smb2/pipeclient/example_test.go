package pipeclient_test

import (
	"context"
	"fmt"
	"net"
	"time"

	"github.com/netsession/netsession/ntlm"
	"github.com/netsession/netsession/smb2/pipeclient"
)

// A DCE/RPC call on \PIPE\srvsvc is one transceive: the request PDU goes
// in, the first answer fragment comes out.
func ExampleConn_OpenPipe() {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var d net.Dialer
	nc, err := d.DialContext(ctx, "tcp", "fs1.example.com:445")
	if err != nil {
		fmt.Println(err)
		return
	}
	c, err := pipeclient.Dial(ctx, nc, pipeclient.Options{
		Host: "fs1.example.com",
		Auth: &ntlm.Client{User: "alice", Domain: "CORP", Password: "secret"},
	})
	if err != nil {
		fmt.Println(err) // a *pipeclient.Error: the step and the NTSTATUS
		return
	}
	defer c.Close(context.Background())
	p, err := c.OpenPipe(ctx, "srvsvc")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer p.Close(context.Background())
	var bindPDU []byte // a DCE/RPC bind, built with package dcerpc
	answer := make([]byte, 65536)
	n, more, err := p.Transceive(ctx, bindPDU, answer)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(n, more) // more: the message goes on; Read fetches the rest
}

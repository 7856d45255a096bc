// Package pipeclient is an SMB 2 and 3 client for named pipes on the IPC$
// share: enough of the protocol to log on, open a pipe such as srvsvc and
// exchange messages on it, and nothing of file access.
//
// Dial negotiates (2.0.2, 2.1, 3.0, 3.0.2 and 3.1.1 offered; on 3.1.1 the
// SHA-512 pre-authentication integrity context with a fresh salt, the
// ciphers AES-128-GCM, AES-128-CCM, AES-256-GCM and AES-256-CCM and the
// signing algorithms AES-GMAC then AES-CMAC), logs on with NTLM inside
// SPNEGO and tree connects to \\host\IPC$. Conn.OpenPipe opens a pipe;
// Pipe.Transceive, Read, Write and Close work on it.
//
// Design decisions:
//
//   - One request at a time. Every exchange holds the connection's mutex
//     from sending the request until its final answer is read, so message
//     IDs, credits and the pre-authentication hash are plain fields and
//     nothing runs in the background. A DCE/RPC client, which never has
//     two calls outstanding on one pipe, loses nothing by it.
//   - FSCTL_PIPE_TRANSCEIVE is exported (Pipe.Transceive): the request goes
//     out and the answer comes back in one round trip, as Windows and
//     Samba's clients do it. STATUS_BUFFER_OVERFLOW is not an error there
//     nor on READ: it reports that the message goes on, and Read fetches
//     the rest.
//   - Every session with a key signs: its SESSION_SETUP asks for signing
//     to be required, every request is signed and every final answer must
//     carry a valid signature. Windows' and Samba's clients do the same on
//     IPC$, and Samba refuses an IPC$ tree connect on a session that does
//     not require signing. HMAC-SHA256 on 2.x, AES-CMAC on
//     3.0 and 3.0.2, and on 3.1.1 whatever the signing context agreed
//     (AES-GMAC when the server offers it, which costs a fraction of
//     CMAC). The last SESSION_SETUP answer is verified whenever it is
//     signed, and on 3.1.1 it must be. Guest and anonymous sessions have no
//     key: they are unsigned and unencrypted, and refused (ErrNoKeys) when
//     the caller requires signing or encryption. An answer that names the
//     session guest cannot be authenticated, so a man in the middle can
//     make any logon look like a guest one and go on unsigned; a caller
//     that must not fall back to guest sets RequireSigning.
//   - On 3.0 and 3.0.2 sessions with a key the client validates the
//     negotiation (FSCTL_VALIDATE_NEGOTIATE_INFO, signed both ways), which
//     defeats a downgrade of the dialect or of the signing demand.
//   - Encryption starts after the logon when the server flags the session
//     (SMB2_SESSION_FLAG_ENCRYPT_DATA) or the caller requires it. From then
//     on every request is sealed and every answer must be; interim answers
//     included. A share that demands encryption on a session that does not
//     encrypt fails the tree connect. Nonces are a per-connection counter
//     and a random salt, never repeated under one key.
//   - Interim STATUS_PENDING answers (a pipe read waiting for data) are
//     consumed, their credits counted, and the final answer with the same
//     MessageId awaited. Stray oplock breaks are ignored.
//   - Credits: the client tracks the window of message IDs the server has
//     granted, charges multi-credit requests when the server supports large
//     MTUs, asks for enough to keep a few spare, and never sends beyond
//     the window (ErrCredits).
//   - Sizes are bounded: a frame over about 1 MiB, an answer longer than
//     what was asked for, an offset or length outside its message end the
//     connection with ErrProtocol before anything is allocated from them.
//   - Every exchange takes a context; its deadline and cancellation reach
//     the socket through deadlines, and Conn.SetDeadline adds a deadline of
//     the caller's on top. An exchange interrupted that way, or any
//     transport or protocol failure, breaks the connection (later calls
//     fail with ErrClosed): the server's idea of the pipe's position is
//     unknown by then. A failure status answered by the server does not.
//   - Errors are *Error, carrying the step and the NTSTATUS, wrapping the
//     cause so that errors.Is finds context errors, os.ErrDeadlineExceeded,
//     net errors and this package's sentinels.
package pipeclient

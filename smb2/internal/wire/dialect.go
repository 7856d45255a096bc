package wire

// Dialect revisions as the NEGOTIATE request and response carry them
// (MS-SMB2 2.2.3, 2.2.4): the one definition the server, the client and
// the key derivation share.
const (
	Dialect202 uint16 = 0x0202
	Dialect210 uint16 = 0x0210
	Dialect300 uint16 = 0x0300
	Dialect302 uint16 = 0x0302
	Dialect311 uint16 = 0x0311
	// DialectWildcard is the "SMB 2.???" answer to an SMB1 negotiate.
	DialectWildcard uint16 = 0x02FF
)

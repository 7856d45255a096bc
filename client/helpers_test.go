package client_test

import (
	"encoding/hex"

	"github.com/netsession/netsession/ntlm"
)

func ntlmHash(p string) [16]byte { return ntlm.NTHash(p) }

func hexOf(b []byte) string { return hex.EncodeToString(b) }

package auth

// GSSStyle is implemented by contexts whose Protector protects DCE/RPC
// PDUs the GSS-API way, as Kerberos does (MS-RPCE 3.3.1.5.2, MS-KILE
// 3.4.5.4): Sign makes a MIC token and SealWithin a wrap token, which is
// larger, so the transport sizes its verifiers by the level; and the PDU
// header and sec_trailer are covered only when the transport negotiated
// header signing (PFC_SUPPORT_HEADER_SIGN): without it the transport hands
// Sign, Verify, SealWithin and UnsealWithin the stub and its padding
// alone. NTLMSSP contexts do not implement it: one signature size, the
// whole PDU always covered.
//
// Wrappers (SPNEGO, the DCE/RPC adapters) implement it too and report
// (0, false) when the context they wrap does not.
type GSSStyle interface {
	// GSSWrapSize returns the size of SealWithin's signature and true, or
	// (0, false) for a context that does not protect the GSS-API way.
	GSSWrapSize() (int, bool)
}

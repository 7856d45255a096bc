#!/usr/bin/python3
"""Drive impacket's NTLM initiator (impacket.ntlm) from a Go test.

Usage: impacket_initiator.py MODE USER PASSWORD DOMAIN NTHASH_HEX
MODE is "v2" (NTLMv2, no signing), "v2sign" (NTLMv2 with signing, sealing
and key exchange) or "v1" (NTLMv1, which the acceptor must refuse).

Protocol on stdin/stdout, one lowercase hex string per line:
  -> NEGOTIATE
  <- CHALLENGE
  -> AUTHENTICATE
  -> exported session key
and in mode v2sign, for the fixed messages below:
  -> signature of SIGN_MSG with sequence number 0
  -> SEAL_MSG sealed with sequence number 1, then its signature
"""
import sys

from Cryptodome.Cipher import ARC4
from impacket import ntlm

SIGN_MSG = b"impacket signed message"
SEAL_MSG = b"impacket sealed message"


def out(b):
    sys.stdout.write(b.hex() + "\n")
    sys.stdout.flush()


def main():
    mode, user, password, domain, nthash = sys.argv[1:6]
    nthash = bytes.fromhex(nthash) if nthash else ""
    v2 = mode != "v1"
    neg = ntlm.getNTLMSSPType1("WKSIMPACKET", "", signingRequired=(mode == "v2sign"), use_ntlmv2=v2)
    out(neg.getData())
    chal = bytes.fromhex(sys.stdin.readline().strip())
    auth, key = ntlm.getNTLMSSPType3(neg, chal, user, password, domain, "", nthash, use_ntlmv2=v2)
    out(auth.getData())
    out(key)
    if mode != "v2sign":
        return
    flags = auth["flags"]
    sign_key = ntlm.SIGNKEY(flags, key, "Client")
    seal_key = ntlm.SEALKEY(flags, key, "Client")
    handle = ARC4.new(seal_key).encrypt
    out(ntlm.SIGN(flags, sign_key, SIGN_MSG, 0, handle).getData())
    sealed, sig = ntlm.SEAL(flags, sign_key, seal_key, SEAL_MSG, SEAL_MSG, 1, handle)
    out(sealed)
    out(sig.getData())


if __name__ == "__main__":
    main()

#!/usr/bin/python3
"""Check an NTLM exchange made by our initiator with impacket's primitives.

impacket has no NTLM acceptor, so this script plays one from its building
blocks (NTOWFv2, hmac_md5, SIGNKEY/SEALKEY, SIGN/SEAL) and its message
parsers, independently of the Go code under test.

Usage: impacket_verifier.py PASSWORD
Reads hex lines: NEGOTIATE, CHALLENGE, AUTHENTICATE, a message and its
signature (client sequence number 0), a sealed message and its signature
(sequence number 1). Writes hex lines: the exported session key, the
unsealed message, and the signature of SERVER_MSG made with the
server-to-client keys (sequence number 0). Exits non-zero on any mismatch.
"""
import sys

from Cryptodome.Cipher import ARC4
from impacket import ntlm

SERVER_MSG = b"impacket server message"


def line():
    return bytes.fromhex(sys.stdin.readline().strip())


def out(b):
    sys.stdout.write(b.hex() + "\n")
    sys.stdout.flush()


def fail(why):
    sys.stderr.write(why + "\n")
    sys.exit(1)


def main():
    password = sys.argv[1]
    neg, chal, auth = line(), line(), line()
    c = ntlm.NTLMAuthChallenge(chal)
    a = ntlm.NTLMAuthChallengeResponse()
    a.fromString(auth)
    user = a["user_name"].decode("utf-16le")
    domain = a["domain_name"].decode("utf-16le")
    nt = a["ntlm"]
    key = ntlm.NTOWFv2(user, password, domain)
    proof = ntlm.hmac_md5(key, c["challenge"] + nt[16:])
    if proof != nt[:16]:
        fail("NTProofStr does not verify")
    flags = a["flags"]
    exported = ntlm.hmac_md5(key, proof)
    if flags & ntlm.NTLMSSP_NEGOTIATE_KEY_EXCH:
        exported = ARC4.new(exported).decrypt(a["session_key"])
    zeroed = auth[:72] + b"\0" * 16 + auth[88:]
    if ntlm.hmac_md5(exported, neg + chal + zeroed) != auth[72:88]:
        fail("MIC does not verify")
    out(exported)

    sign_key = ntlm.SIGNKEY(flags, exported, "Client")
    handle = ARC4.new(ntlm.SEALKEY(flags, exported, "Client")).encrypt
    msg, sig = line(), line()
    if ntlm.SIGN(flags, sign_key, msg, 0, handle).getData() != sig:
        fail("client signature does not verify")
    sealed, sig = line(), line()
    plain = handle(sealed)
    if ntlm.MAC(flags, handle, sign_key, 1, plain).getData() != sig:
        fail("client sealed message does not verify")
    out(plain)

    srv_handle = ARC4.new(ntlm.SEALKEY(flags, exported, "Server")).encrypt
    out(ntlm.SIGN(flags, ntlm.SIGNKEY(flags, exported, "Server"), SERVER_MSG, 0, srv_handle).getData())


if __name__ == "__main__":
    main()

#!/usr/bin/python3
"""Writes RFC 4121 Wrap token vectors as JSON, built independently of the Go
code: the token layout from RFC 4121 section 4.2.6.2, the RFC 3961/3962
encryption and checksums from impacket's krb5.crypto. The keys, sequence
numbers and confounders are fixed, so the output is stable."""
import json
import struct
import sys

from impacket.krb5 import crypto

# Every Wrap token, sealed or only signed, uses the SEAL key usages; the
# SIGN ones are for MIC tokens (RFC 4121 section 2; MIT's k5sealv3.c).
SEAL = {True: 22, False: 24}   # acceptor, initiator (KG-USAGE-*-SEAL)


def header(from_acceptor, sealed, subkey, ec, rrc, seq):
    flags = (1 if from_acceptor else 0) | (2 if sealed else 0) | (4 if subkey else 0)
    return struct.pack('>HBBHHQ', 0x0504, flags, 0xFF, ec, rrc, seq)


def rotate_right(data, n):
    if not data:
        return data
    n %= len(data)
    return data[len(data) - n:] + data[:len(data) - n]


def token(etype, key, msg, from_acceptor, sealed, seq, ec=0, rrc=0, confounder=b''):
    k = crypto.Key(etype, key)
    if sealed:
        inner = header(from_acceptor, True, True, ec, 0, seq)
        enc = crypto.encrypt(k, SEAL[from_acceptor], msg + b'\x00' * ec + inner, confounder)
        return header(from_acceptor, True, True, ec, rrc, seq) + rotate_right(enc, rrc)
    profile = crypto._SHA1AES256 if etype == 18 else crypto._SHA1AES128
    mac = profile.checksum(k, SEAL[from_acceptor], msg + header(from_acceptor, False, True, 0, 0, seq))
    return header(from_acceptor, False, True, len(mac), rrc, seq) + rotate_right(msg + mac, rrc)


KEY256 = bytes(range(0x20, 0x40))
KEY128 = bytes(range(0x50, 0x60))
CONF = bytes(range(0xA0, 0xB0))
MSG = b'0\x0c\x02\x01\x02c\x07\x04\x00\n\x01\x00'  # an LDAP message
CASES = [
    # name, etype, key, message, from acceptor, sealed, seq, EC, RRC
    ('acceptor-sealed-aes256', 18, KEY256, MSG, True, True, 0x1234567, 0, 0),
    ('acceptor-sealed-aes128-filler-rotated', 17, KEY128, MSG, True, True, 5, 4, 28),
    ('acceptor-signed-aes256-rotated', 18, KEY256, MSG, True, False, 0x3fffffff, 0, 12),
    ('acceptor-sealed-aes256-empty', 18, KEY256, b'', True, True, 1, 0, 0),
    ('initiator-sealed-aes256', 18, KEY256, MSG * 3, False, True, 42, 0, 0),
    ('initiator-signed-aes128', 17, KEY128, MSG, False, False, 7, 0, 0),
    ('initiator-sealed-aes128-offer', 17, KEY128, b'\x04\xff\xff\xff', False, True, 0, 0, 0),
]

out = []
for name, etype, key, msg, acc, sealed, seq, ec, rrc in CASES:
    tok = token(etype, key, msg, acc, sealed, seq, ec, rrc, CONF)
    out.append({'name': name, 'etype': etype, 'key': key.hex(), 'message': msg.hex(),
                'from_acceptor': acc, 'sealed': sealed, 'seq': seq,
                'confounder': CONF.hex(), 'token': tok.hex()})
json.dump(out, sys.stdout, indent=1)
sys.stdout.write('\n')

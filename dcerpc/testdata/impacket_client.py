#!/usr/bin/python3
"""Drive impacket's DCE/RPC client against a server under test.

Usage: impacket_client.py PORT [auth USER PASSWORD DOMAIN]
Connects to ncacn_ip_tcp:127.0.0.1[PORT] several times and prints one JSON
object with what each case observed. With "auth", the calls are made on
NTLMSSP-authenticated associations at levels connect, integrity and
privacy instead.
"""
import json
import sys

from impacket.dcerpc.v5 import rpcrt, srvs, transport
from impacket.uuid import uuidtup_to_bin

PORT = int(sys.argv[1])
TEST_IF = uuidtup_to_bin(("12345678-1234-abcd-ef00-0123456789ab", "1.0"))
UNKNOWN_IF = uuidtup_to_bin(("11111111-2222-3333-4444-555555555555", "1.0"))
NDR64 = ("71710533-beba-4937-8319-b5dbef9ccc36", "1.0")


def connect(creds=None, level=None):
    t = transport.DCERPCTransportFactory("ncacn_ip_tcp:127.0.0.1[%d]" % PORT)
    if creds:
        t.set_credentials(creds[0], creds[1], creds[2])
    dce = t.get_dce_rpc()
    if level:
        dce.set_auth_type(rpcrt.RPC_C_AUTHN_WINNT)
        dce.set_auth_level(level)
    dce.connect()
    return dce


def pattern(n):
    return bytes((i * 7 + (i >> 8)) & 0xFF for i in range(n))


if len(sys.argv) > 2 and sys.argv[2] == "auth":
    creds = sys.argv[3:6]
    out = {}
    for name, level in (("connect", rpcrt.RPC_C_AUTHN_LEVEL_CONNECT),
                        ("integrity", rpcrt.RPC_C_AUTHN_LEVEL_PKT_INTEGRITY),
                        ("privacy", rpcrt.RPC_C_AUTHN_LEVEL_PKT_PRIVACY)):
        dce = connect(creds, level)
        dce.bind(TEST_IF)
        results = []
        for n in (5, 3000, 20000):
            dce.call(0, pattern(n))
            results.append(dce.recv() == pattern(n))
        # opnum 1 returns a response of the length asked for (fragmented).
        dce.call(1, (9000).to_bytes(4, "little"))
        results.append(dce.recv() == pattern(9000))
        out[name] = results
        dce.disconnect()
    print(json.dumps(out))
    sys.exit(0)


def error_of(fn):
    try:
        fn()
    except rpcrt.DCERPCException as e:
        return {"code": e.get_error_code(), "text": str(e)}
    except Exception as e:  # noqa: BLE001 - report anything else verbatim
        return {"code": None, "text": "%s: %s" % (type(e).__name__, e)}
    return None


out = {}

dce = connect()
dce.bind(srvs.MSRPC_UUID_SRVS)
resp = srvs.hNetrSessionEnum(dce, srvs.NULL, srvs.NULL, 1)
info = resp["InfoStruct"]["SessionInfo"]["Level1"]
out["enum"] = {
    "entries": info["EntriesRead"],
    "total": resp["TotalEntries"],
    "users": [e["sesi1_username"][:-1] for e in info["Buffer"]],
}
dce.disconnect()

dce = connect()
out["ndr64"] = error_of(lambda: dce.bind(srvs.MSRPC_UUID_SRVS, transfer_syntax=NDR64))
dce.disconnect()

dce = connect()
out["unknown_if"] = error_of(lambda: dce.bind(UNKNOWN_IF))
dce.disconnect()

dce = connect()
dce.bind(TEST_IF)
out["opnum"] = error_of(lambda: (dce.call(99, b"x"), dce.recv()))
out["bad_stub"] = error_of(lambda: (dce.call(2, b"x"), dce.recv()))
dce.set_max_fragment_size(500)
big = pattern(50000)
dce.call(0, big)
echoed = dce.recv()
out["big_echo"] = {"sent": len(big), "equal": echoed == big}
dce.disconnect()

dce = connect()
dce.bind(srvs.MSRPC_UUID_SRVS)
dce2 = dce.alter_ctx(TEST_IF)
dce2.call(0, b"altered")
out["alter"] = dce2.recv().decode()
dce.disconnect()

print(json.dumps(out))

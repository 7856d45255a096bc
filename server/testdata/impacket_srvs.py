# Drives impacket's srvs client against an MS-SRVS server over
# ncacn_ip_tcp with NTLM (auth type 10) and prints one JSON object per
# call on stdout.
#
# Usage: python3 impacket_srvs.py PORT USER PASSWORD LEVEL [ops...]
#   LEVEL: integrity, privacy or none (no DCE/RPC authentication)
#   ops:   enum:N          NetrSessionEnum at level N, NULL qualifiers
#          del:CLIENT:USER NetrSessionDel (an empty field sends NULL)
import json
import sys

from impacket.dcerpc.v5 import rpcrt, srvs, transport
from impacket.dcerpc.v5.rpcrt import DCERPCException

LEVELS = {
    "integrity": rpcrt.RPC_C_AUTHN_LEVEL_PKT_INTEGRITY,
    "privacy": rpcrt.RPC_C_AUTHN_LEVEL_PKT_PRIVACY,
    "connect": rpcrt.RPC_C_AUTHN_LEVEL_CONNECT,
}

FIELDS = ("cname", "username", "num_opens", "time", "idle_time", "user_flags", "cltype_name", "transport")


def text(v):
    if isinstance(v, bytes):
        v = v.decode("utf-16-le", "replace")
    return str(v).rstrip("\x00")


def entry(level, e):
    out = {}
    for f in FIELDS:
        key = "sesi%d_%s" % (level, f)
        try:
            v = e[key]
        except Exception:
            continue
        out[f] = v if isinstance(v, int) else text(v)
    return out


def main():
    port, user, password, level = sys.argv[1:5]
    t = transport.DCERPCTransportFactory("ncacn_ip_tcp:127.0.0.1[%s]" % port)
    dce = t.get_dce_rpc()
    if level != "none":
        dce.set_credentials(user, password)
        dce.set_auth_type(rpcrt.RPC_C_AUTHN_WINNT)
        dce.set_auth_level(LEVELS[level])
    dce.connect()
    dce.bind(srvs.MSRPC_UUID_SRVS)
    for op in sys.argv[5:]:
        kind, _, arg = op.partition(":")
        rec = {"op": op}
        try:
            if kind == "enum":
                n = int(arg)
                r = srvs.hNetrSessionEnum(dce, srvs.NULL, srvs.NULL, n)
                arm = r["InfoStruct"]["SessionInfo"]["Level%d" % n]
                rec["status"] = r["ErrorCode"]
                rec["total"] = r["TotalEntries"]
                rec["entries"] = [entry(n, e) for e in arm["Buffer"]]
            elif kind == "del":
                client, _, name = arg.partition(":")
                r = srvs.hNetrSessionDel(dce, client + "\x00" if client else srvs.NULL, name + "\x00" if name else srvs.NULL)
                rec["status"] = r["ErrorCode"]
        except DCERPCException as e:
            code = e.get_error_code()
            rec["status"] = code if code is not None else -1
            rec["error"] = str(e)
            rec["class"] = type(e).__name__
        print(json.dumps(rec), flush=True)
    dce.disconnect()


if __name__ == "__main__":
    main()

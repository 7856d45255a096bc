#!/usr/bin/python3
"""Drives impacket against the server under test.

enum PORT USER PASS DIALECT     log in at DIALECT (2.0.2 | 2.1 | 3.0 | auto), open
                                \\PIPE\\srvsvc and print one JSON line per
                                NetrSessionEnum level (0, 1, 2, 10, 502)
hold PORT USER PASS DIALECT N   log in N times, open srvsvc on each, print
                                "ready", then wait for stdin to close; print
                                "alive" or "gone" per session after one
                                more NetrServerGetInfo call
"""
import json
import sys

from impacket.smbconnection import SMBConnection
from impacket.smb3structs import SMB2_DIALECT_002, SMB2_DIALECT_21, SMB2_DIALECT_30
from impacket.dcerpc.v5 import transport, srvs

DIALECTS = {"2.0.2": SMB2_DIALECT_002, "2.1": SMB2_DIALECT_21, "3.0": SMB2_DIALECT_30}


def login(port, user, password, dialect):
    # "auto" lets impacket start with its SMB1 multi-protocol NEGOTIATE.
    conn = SMBConnection("127.0.0.1", "127.0.0.1", sess_port=int(port),
                         preferredDialect=DIALECTS.get(dialect))
    conn.login(user, password)
    return conn


def bind(conn, port):
    t = transport.SMBTransport("127.0.0.1", int(port), filename=r"\srvsvc",
                               smb_connection=conn)
    dce = t.get_dce_rpc()
    dce.connect()
    dce.bind(srvs.MSRPC_UUID_SRVS)
    return dce


def text(v):
    if isinstance(v, bytes):
        return v.decode("utf-16-le", "replace")
    return str(v).rstrip("\x00")


def enum(port, user, password, dialect):
    conn = login(port, user, password, dialect)
    dce = bind(conn, port)
    for level in (0, 1, 2, 10, 502):
        resp = srvs.hNetrSessionEnum(dce, "\x00", "\x00", level)
        info = resp["InfoStruct"]["SessionInfo"]["Level%d" % level]
        entries = []
        for e in info["Buffer"]:
            d = {"cname": text(e["sesi%d_cname" % level])}
            if level != 0:
                d["username"] = text(e["sesi%d_username" % level])
            if level in (1, 2, 502):
                d["num_opens"] = e["sesi%d_num_opens" % level]
                d["user_flags"] = e["sesi%d_user_flags" % level]
            if level != 0:
                d["idle_time"] = e["sesi%d_idle_time" % level]
            if level == 502:
                d["transport"] = text(e["sesi502_transport"])
            entries.append(d)
        print(json.dumps({"level": level, "dialect": conn.getDialect(),
                          "total": resp["TotalEntries"], "entries": entries}), flush=True)
    dce.disconnect()
    conn.logoff()


def hold(port, user, password, dialect, n):
    held = []
    for _ in range(int(n)):
        conn = login(port, user, password, dialect)
        dce = bind(conn, port)
        held.append((conn, dce))
    print("ready", flush=True)
    sys.stdin.read()
    for conn, dce in held:
        try:
            srvs.hNetrServerGetInfo(dce, "\x00", 101)
            print("alive", flush=True)
        except Exception as e:  # the session was deleted
            print("gone %s" % e, flush=True)


if __name__ == "__main__":
    if sys.argv[1] == "enum":
        enum(*sys.argv[2:6])
    elif sys.argv[1] == "hold":
        hold(*sys.argv[2:7])
    else:
        sys.exit("unknown mode")

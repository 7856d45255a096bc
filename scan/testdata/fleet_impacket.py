"""Collect sessions from many hosts the way bloodhound.py does: a pool of
threads, each host one SMB logon, \\PIPE\\srvsvc bound, one NetrSessionEnum
at level 10.

usage: fleet_impacket.py TARGETS_FILE WORKERS USER PASSWORD DOMAIN TIMEOUT
TARGETS_FILE holds one HOST:PORT per line. Prints one JSON object:
{"hosts", "ok", "failed", "sessions", "seconds"}; only the pool is timed.
"""
import concurrent.futures
import json
import sys
import time

from impacket.dcerpc.v5 import srvs, transport
from impacket.dcerpc.v5.dtypes import NULL

path, workers = sys.argv[1], int(sys.argv[2])
user, password, domain, timeout = sys.argv[3], sys.argv[4], sys.argv[5], float(sys.argv[6])
with open(path) as f:
    targets = [line.strip() for line in f if line.strip()]


def sessions(target):
    host, port = target.rsplit(":", 1)
    t = transport.DCERPCTransportFactory(r"ncacn_np:%s[\PIPE\srvsvc]" % host)
    t.set_dport(int(port))
    t.set_credentials(user, password, domain)
    t.set_connect_timeout(timeout)
    dce = t.get_dce_rpc()
    dce.connect()
    try:
        dce.bind(srvs.MSRPC_UUID_SRVS)
        resp = srvs.hNetrSessionEnum(dce, "\x00", NULL, 10)
        return len(resp["InfoStruct"]["SessionInfo"]["Level10"]["Buffer"])
    finally:
        dce.disconnect()


ok = failed = found = 0
start = time.perf_counter()
with concurrent.futures.ThreadPoolExecutor(max_workers=workers) as pool:
    for fut in concurrent.futures.as_completed([pool.submit(sessions, t) for t in targets]):
        try:
            found += fut.result()
            ok += 1
        except Exception:
            failed += 1
elapsed = time.perf_counter() - start
print(json.dumps({"hosts": len(targets), "ok": ok, "failed": failed, "sessions": found, "seconds": elapsed}))

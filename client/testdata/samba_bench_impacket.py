"""Time NetrSessionEnum calls with impacket over ncacn_np on one bind.

usage: samba_bench_impacket.py HOST PORT USER PASSWORD LEVEL CALLS
Prints "CALLS_PER_SECOND ENTRIES": only the call loop is timed.
"""
import sys
import time

from impacket.dcerpc.v5 import srvs, transport
from impacket.dcerpc.v5.dtypes import NULL

host, port, user, password = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
level, calls = int(sys.argv[5]), int(sys.argv[6])
t = transport.DCERPCTransportFactory(r"ncacn_np:%s[\pipe\srvsvc]" % host)
t.set_dport(port)
t.set_credentials(user, password)
dce = t.get_dce_rpc()
dce.connect()
dce.bind(srvs.MSRPC_UUID_SRVS)
resp = srvs.hNetrSessionEnum(dce, NULL, NULL, level)
entries = resp["TotalEntries"]
start = time.perf_counter()
for _ in range(calls):
    srvs.hNetrSessionEnum(dce, NULL, NULL, level)
elapsed = time.perf_counter() - start
dce.disconnect()
print("%.1f %d" % (calls / elapsed, entries))

# Drives impacket's ept_map against an endpoint mapper on 127.0.0.1:PORT
# and prints the binding it resolves for srvsvc over ncacn_ip_tcp.
# Usage: python3 ept_map_client.py PORT
import sys

from impacket.dcerpc.v5 import epm, srvs, transport

port = int(sys.argv[1])
t = transport.DCERPCTransportFactory("ncacn_ip_tcp:127.0.0.1[%d]" % port)
dce = t.get_dce_rpc()
dce.connect()
try:
    binding = epm.hept_map("127.0.0.1", srvs.MSRPC_UUID_SRVS, protocol="ncacn_ip_tcp", dce=dce)
    print(binding)
finally:
    dce.disconnect()

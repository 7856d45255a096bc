"""Hold SMB sessions open until stdin closes (or SIGTERM).

Argument: one JSON object
  {"host": "127.0.0.1", "port": 4450,
   "sessions": [{"user": "nsp_alice", "password": "...", "from": "127.0.0.2",
                 "share": "data", "open_file": true, "count": 1}, ...]}
user "" is an anonymous (NULL) session. "from" is the local address to
connect from ("" for any). Prints "ready N" on stdout once all N sessions are
up; on failure prints the reason on stderr and exits with status 2.
"""
import json
import os
import signal
import socket
import sys
import threading

from impacket.smbconnection import SMBConnection

spec = json.loads(sys.argv[1])
stop = threading.Event()
source = {"addr": ""}


class SourceBoundSocket(socket.socket):
    """A socket that binds to the chosen source address before connecting."""

    def connect(self, address):
        if source["addr"]:
            self.bind((source["addr"], 0))
        return super().connect(address)


# impacket creates its TCP socket with socket.socket(...) from its nmb module.
socket.socket = SourceBoundSocket


def on_signal(signum, frame):
    stop.set()


signal.signal(signal.SIGTERM, on_signal)
signal.signal(signal.SIGINT, on_signal)


def watch_stdin():
    try:
        sys.stdin.buffer.read()
    finally:
        stop.set()


threading.Thread(target=watch_stdin, daemon=True).start()

held = []
try:
    seq = 0
    for s in spec["sessions"]:
        for _ in range(s.get("count", 1)):
            if stop.is_set():
                os._exit(0)
            seq += 1
            source["addr"] = s.get("from", "")
            c = SMBConnection(spec["host"], spec["host"], sess_port=spec["port"], timeout=30)
            user = s.get("user", "")
            c.login(user, s.get("password", "") if user else "")
            tid = fid = None
            if s.get("share"):
                tid = c.connectTree(s["share"])
                if s.get("open_file"):
                    fid = c.createFile(tid, "hold-%d-%d.txt" % (os.getpid(), seq))
            held.append((c, tid, fid))
except Exception as e:  # report and leave; the Go side reads stderr
    detail = repr(e)
    if hasattr(e, "getErrorString"):
        detail = "%s %s" % (type(e).__name__, e.getErrorString())
    sys.stderr.write("holder: session %d failed: %s\n" % (len(held) + 1, detail))
    sys.stderr.flush()
    os._exit(2)

sys.stdout.write("ready %d\n" % len(held))
sys.stdout.flush()
stop.wait()
for c, tid, fid in held:
    try:
        if fid is not None:
            c.closeFile(tid, fid)
        c.logoff()
        c.close()
    except Exception:
        pass
sys.stdout.flush()
os._exit(0)

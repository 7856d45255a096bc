"""MIT Kerberos GSS-API peer for the krb5 package's interoperability tests.

Drives libgssapi_krb5 (MIT) through ctypes, one context per run, with
tokens exchanged as hex lines on stdin and stdout:

  mitgss.py init SERVICE@HOST   prints the AP-REQ token, reads the AP-REP
                                token, prints "ok SESSIONKEY FLAGS"
  mitgss.py accept              reads the AP-REQ token, prints the AP-REP
                                token (or "-" when none), then
                                "ok SESSIONKEY CLIENT"; then serves, one
                                per line, "wrap CONF HEX" (gss_wrap, CONF 1
                                to seal) and "unwrap HEX" (gss_unwrap),
                                printing "CONF HEX" or "error TEXT"
                                ("-" stands for an empty message)

After "ok" (init as well as accept) the context also serves, one a
line until end of input:

  mic HEX                       prints the MIC token (gss_get_mic) of HEX
  verify HEX MICHEX             prints "ok", or "fail STATUS" when
                                gss_verify_mic refuses MICHEX over HEX

The credential cache and keytab come from KRB5CCNAME and KRB5_KTNAME,
the configuration from KRB5_CONFIG. Errors go to stderr, exit status 1.
"""

import ctypes
import sys

lib = ctypes.CDLL("libgssapi_krb5.so.2")

OM_uint32 = ctypes.c_uint32


class Buffer(ctypes.Structure):
    _fields_ = [("length", ctypes.c_size_t), ("value", ctypes.c_void_p)]


class OID(ctypes.Structure):
    _fields_ = [("length", OM_uint32), ("elements", ctypes.c_void_p)]


class BufferSet(ctypes.Structure):
    _fields_ = [("count", ctypes.c_size_t), ("elements", ctypes.POINTER(Buffer))]


GSS_C_MUTUAL_FLAG = 2
GSS_C_REPLAY_FLAG = 4
GSS_C_SEQUENCE_FLAG = 8
GSS_C_CONF_FLAG = 16
GSS_C_INTEG_FLAG = 32
GSS_S_CONTINUE_NEEDED = 1
GSS_S_DUPLICATE_TOKEN = 2
GSS_S_OLD_TOKEN = 4
GSS_S_UNSEQ_TOKEN = 8

KRB5_OID = bytes([0x2A, 0x86, 0x48, 0x86, 0xF7, 0x12, 0x01, 0x02, 0x02])
# GSS_C_INQ_SSPI_SESSION_KEY, 1.2.840.113554.1.2.2.5.5
SESSION_KEY_OID = bytes([0x2A, 0x86, 0x48, 0x86, 0xF7, 0x12, 0x01, 0x02, 0x02, 0x05, 0x05])
_keep = []


def oid(b):
    buf = ctypes.create_string_buffer(b, len(b))
    _keep.append(buf)
    o = OID(len(b), ctypes.cast(buf, ctypes.c_void_p))
    _keep.append(o)
    return o


def status_text(major, minor):
    out = []
    for code, kind in ((major, 1), (minor, 2)):
        ctx = OM_uint32(0)
        while True:
            m = OM_uint32(0)
            b = Buffer()
            lib.gss_display_status(ctypes.byref(m), OM_uint32(code), ctypes.c_int(kind), None,
                                   ctypes.byref(ctx), ctypes.byref(b))
            out.append(ctypes.string_at(b.value, b.length).decode(errors="replace"))
            lib.gss_release_buffer(ctypes.byref(m), ctypes.byref(b))
            if ctx.value == 0:
                break
    return "; ".join(out)


def check(what, major, minor):
    if major & 0xFFFF0000:
        sys.stderr.write("%s: %s\n" % (what, status_text(major, minor.value)))
        sys.exit(1)


def to_buffer(data):
    buf = ctypes.create_string_buffer(data, len(data))
    _keep.append(buf)
    return Buffer(len(data), ctypes.cast(buf, ctypes.c_void_p))


def read_token():
    line = sys.stdin.readline().strip()
    return bytes.fromhex(line)


def write(line):
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


def session_key(ctx):
    minor = OM_uint32(0)
    bs = ctypes.POINTER(BufferSet)()
    o = oid(SESSION_KEY_OID)
    major = lib.gss_inquire_sec_context_by_oid(ctypes.byref(minor), ctx, ctypes.byref(o), ctypes.byref(bs))
    check("gss_inquire_sec_context_by_oid", major, minor)
    first = bs.contents.elements[0]
    return ctypes.string_at(first.value, first.length)


def initiate(target):
    minor = OM_uint32(0)
    name = ctypes.c_void_p()
    nt = ctypes.c_void_p.in_dll(lib, "GSS_C_NT_HOSTBASED_SERVICE")
    tb = to_buffer(target.encode())
    major = lib.gss_import_name(ctypes.byref(minor), ctypes.byref(tb), nt, ctypes.byref(name))
    check("gss_import_name", major, minor)
    ctx = ctypes.c_void_p()
    mech = oid(KRB5_OID)
    flags = GSS_C_MUTUAL_FLAG | GSS_C_REPLAY_FLAG | GSS_C_SEQUENCE_FLAG | GSS_C_CONF_FLAG | GSS_C_INTEG_FLAG
    out = Buffer()
    ret_flags = OM_uint32(0)
    major = lib.gss_init_sec_context(ctypes.byref(minor), None, ctypes.byref(ctx), name, ctypes.byref(mech),
                                     OM_uint32(flags), OM_uint32(0), None, None, None, ctypes.byref(out),
                                     ctypes.byref(ret_flags), None)
    check("gss_init_sec_context", major, minor)
    write(ctypes.string_at(out.value, out.length).hex())
    if major != GSS_S_CONTINUE_NEEDED:
        sys.stderr.write("no mutual authentication leg\n")
        sys.exit(1)
    reply = to_buffer(read_token())
    out2 = Buffer()
    major = lib.gss_init_sec_context(ctypes.byref(minor), None, ctypes.byref(ctx), name, ctypes.byref(mech),
                                     OM_uint32(flags), OM_uint32(0), None, ctypes.byref(reply), None,
                                     ctypes.byref(out2), ctypes.byref(ret_flags), None)
    check("gss_init_sec_context (AP-REP)", major, minor)
    write("ok %s %d" % (session_key(ctx).hex(), ret_flags.value))
    serve_messages(ctx)


def accept():
    minor = OM_uint32(0)
    ctx = ctypes.c_void_p()
    tok = to_buffer(read_token())
    src = ctypes.c_void_p()
    out = Buffer()
    ret_flags = OM_uint32(0)
    major = lib.gss_accept_sec_context(ctypes.byref(minor), ctypes.byref(ctx), None, ctypes.byref(tok), None,
                                       ctypes.byref(src), None, ctypes.byref(out), ctypes.byref(ret_flags),
                                       None, None)
    check("gss_accept_sec_context", major, minor)
    write(ctypes.string_at(out.value, out.length).hex() if out.length else "-")
    nb = Buffer()
    major = lib.gss_display_name(ctypes.byref(minor), src, ctypes.byref(nb), None)
    check("gss_display_name", major, minor)
    write("ok %s %s" % (session_key(ctx).hex(), ctypes.string_at(nb.value, nb.length).decode()))
    serve_messages(ctx)


def serve_messages(ctx):
    for line in sys.stdin:
        f = line.split()
        if not f:
            continue
        minor = OM_uint32(0)
        if f[0] == "mic" and len(f) == 2:
            msg = to_buffer(bytes.fromhex(f[1]))
            tok = Buffer()
            major = lib.gss_get_mic(ctypes.byref(minor), ctx, OM_uint32(0), ctypes.byref(msg), ctypes.byref(tok))
            check("gss_get_mic", major, minor)
            write(ctypes.string_at(tok.value, tok.length).hex())
            continue
        if f[0] == "verify" and len(f) == 3:
            msg = to_buffer(bytes.fromhex(f[1]))
            tok = to_buffer(bytes.fromhex(f[2]))
            qop = OM_uint32(0)
            major = lib.gss_verify_mic(ctypes.byref(minor), ctx, ctypes.byref(msg), ctypes.byref(tok), ctypes.byref(qop))
            # A duplicate, old or out-of-order token (supplementary bits)
            # counts as a refusal too; a gap (a token of ours the peer
            # never saw) does not.
            refused = major & 0xFFFF0000 or major & (GSS_S_DUPLICATE_TOKEN | GSS_S_OLD_TOKEN | GSS_S_UNSEQ_TOKEN)
            write("fail " + status_text(major, minor.value).replace("\n", " ") if refused else "ok")
            continue
        out = Buffer()
        conf = ctypes.c_int(0)
        if f[0] == "wrap" and len(f) == 3:
            data = b"" if f[2] == "-" else bytes.fromhex(f[2])
            inb = to_buffer(data)
            major = lib.gss_wrap(ctypes.byref(minor), ctx, ctypes.c_int(int(f[1])), OM_uint32(0),
                                 ctypes.byref(inb), ctypes.byref(conf), ctypes.byref(out))
        elif f[0] == "unwrap" and len(f) == 2:
            inb = to_buffer(bytes.fromhex(f[1]))
            qop = OM_uint32(0)
            major = lib.gss_unwrap(ctypes.byref(minor), ctx, ctypes.byref(inb), ctypes.byref(out),
                                   ctypes.byref(conf), ctypes.byref(qop))
        else:
            write("error unknown command")
            continue
        if major & 0xFFFF0000:
            write("error " + status_text(major, minor.value))
            continue
        data = ctypes.string_at(out.value, out.length) if out.length else b""
        write("%d %s" % (conf.value, data.hex() or "-"))


lib.gss_inquire_sec_context_by_oid.argtypes = [ctypes.POINTER(OM_uint32), ctypes.c_void_p,
                                               ctypes.POINTER(OID), ctypes.POINTER(ctypes.POINTER(BufferSet))]
lib.gss_init_sec_context.argtypes = [ctypes.POINTER(OM_uint32), ctypes.c_void_p, ctypes.POINTER(ctypes.c_void_p),
                                     ctypes.c_void_p, ctypes.POINTER(OID), OM_uint32, OM_uint32, ctypes.c_void_p,
                                     ctypes.c_void_p, ctypes.c_void_p, ctypes.POINTER(Buffer),
                                     ctypes.POINTER(OM_uint32), ctypes.c_void_p]
lib.gss_accept_sec_context.argtypes = [ctypes.POINTER(OM_uint32), ctypes.POINTER(ctypes.c_void_p), ctypes.c_void_p,
                                       ctypes.POINTER(Buffer), ctypes.c_void_p, ctypes.POINTER(ctypes.c_void_p),
                                       ctypes.c_void_p, ctypes.POINTER(Buffer), ctypes.POINTER(OM_uint32),
                                       ctypes.c_void_p, ctypes.c_void_p]
lib.gss_wrap.argtypes = [ctypes.POINTER(OM_uint32), ctypes.c_void_p, ctypes.c_int, OM_uint32,
                         ctypes.POINTER(Buffer), ctypes.POINTER(ctypes.c_int), ctypes.POINTER(Buffer)]
lib.gss_unwrap.argtypes = [ctypes.POINTER(OM_uint32), ctypes.c_void_p, ctypes.POINTER(Buffer),
                           ctypes.POINTER(Buffer), ctypes.POINTER(ctypes.c_int), ctypes.POINTER(OM_uint32)]

lib.gss_get_mic.argtypes = [ctypes.POINTER(OM_uint32), ctypes.c_void_p, OM_uint32, ctypes.POINTER(Buffer),
                            ctypes.POINTER(Buffer)]
lib.gss_verify_mic.argtypes = [ctypes.POINTER(OM_uint32), ctypes.c_void_p, ctypes.POINTER(Buffer),
                               ctypes.POINTER(Buffer), ctypes.POINTER(OM_uint32)]

if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "init":
        initiate(sys.argv[2])
    elif len(sys.argv) == 2 and sys.argv[1] == "accept":
        accept()
    else:
        sys.stderr.write(__doc__)
        sys.exit(2)

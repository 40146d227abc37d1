# Client of tests/limits.rs (MANY_PARTS); runnable alone with the same arguments.
import imaplib, sys, time
port, pid = int(sys.argv[1]), sys.argv[2]
def kib(field):
    for line in open("/proc/%s/status" % pid):
        if line.startswith(field):
            return int(line.split()[1])
def session():
    M = imaplib.IMAP4("127.0.0.1", port)
    M.login("alice@example.com", "secret")
    M.select("INBOX")
    return M
M = session()
before = kib("VmRSS:")
typ, data = M.fetch("1", "(BODYSTRUCTURE)")
structure = data[0].decode() if isinstance(data[0], bytes) else data[0][0].decode()
print("structure", typ, len(structure), structure.count("(\"text\""))
typ, data = M.fetch("1", "(BODY.PEEK[1.2.3])")
print("section", typ, data[0][1].decode().strip())
typ, data = M.search(None, "TEXT", "needle")
print("search", typ, data[0].decode())
typ, data = M.fetch("1", "(BODYSTRUCTURE)")
print("again", typ)
# Another session works meanwhile and after.
other = session()
print("other", other.noop()[0])
print("growth_mib", (kib("VmHWM:") - before) // 1024)

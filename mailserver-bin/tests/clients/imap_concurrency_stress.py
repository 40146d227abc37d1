# Client of tests/imap_concurrency.rs (STRESS); runnable alone with the same arguments.
# Sessions on one mailbox doing what clients do, at random, for a while: STORE of flags and
# keywords, FETCH, EXPUNGE, APPEND, COPY and MOVE to another folder, SELECT/CLOSE, and CREATE/
# RENAME/DELETE of folders of their own. Checked as it goes: no NO or BAD but those the
# situation explains (a message another session expunged), MODSEQs that never go back for a
# message in one session (RFC 7162 §3.1), and at the end every session agreeing on the flags
# and MODSEQs, and the quota equal to the files.
import imaplib, random, re, sys, threading, time
port, seconds, clients = int(sys.argv[1]), float(sys.argv[2]), int(sys.argv[3])
problems, backwards, lock = [], [], threading.Lock()
FLAGS = ["\\Seen", "\\Flagged", "\\Answered", "\\Draft", "$Label1", "$Work"]
def problem(*what):
    with lock:
        problems.append(" ".join(str(w) for w in what))
def login():
    M = imaplib.IMAP4("127.0.0.1", port)
    M.login("alice@example.com", "secret")
    return M
setup = login()
setup.create("Archive")
for i in range(30):
    setup.append("INBOX", None, None, b"Subject: seed %d\r\n\r\n%s\r\n" % (i, b"x" * random.randint(10, 3000)))
setup.logout()
def ok(name, typ, data, allowed=()):
    if typ != "OK":
        text = b" ".join(d for d in data if isinstance(d, bytes)).decode(errors="replace")
        if not any(a in text for a in allowed):
            problem(name, typ, text)
    return typ == "OK"
def client(n):
    rnd = random.Random(n)
    M = login()
    M.enable("CONDSTORE")
    M.select("INBOX")
    # Each UID's last MODSEQ, with the response and the count of SELECTs before it.
    seen, selects = {}, 0
    end = time.time() + seconds
    own = "Mine%d" % n
    while time.time() < end:
        op = rnd.random()
        try:
            if op < 0.35:
                flag = rnd.choice(FLAGS)
                sign = rnd.choice("+-")
                typ, data = M.uid("STORE", "1:*", sign + "FLAGS.SILENT", "(%s)" % flag)
                ok("STORE", typ, data)
            elif op < 0.55:
                typ, data = M.uid("FETCH", "1:*", "(FLAGS MODSEQ)")
                if ok("FETCH", typ, data, ("EXPUNGEISSUED",)):
                    for line in data:
                        if not isinstance(line, bytes):
                            continue
                        m = re.search(rb"UID (\d+).*MODSEQ \((\d+)\)", line) or re.search(rb"MODSEQ \((\d+)\).*UID (\d+)", line)
                        if not m:
                            continue
                        a, b = int(m.group(1)), int(m.group(2))
                        uid, modseq = (a, b) if line.find(b"UID") < line.find(b"MODSEQ") else (b, a)
                        if modseq < seen.get(uid, (0,))[0]:
                            with lock:
                                backwards.append((uid, seen[uid], (modseq, line, selects)))
                        seen[uid] = (modseq, line, selects)
            elif op < 0.65:
                typ, data = M.append("INBOX", None, None, b"Subject: new %d\r\n\r\nbody\r\n" % n)
                ok("APPEND", typ, data)
            elif op < 0.72:
                typ, data = M.uid("SEARCH", "ALL")
                uids = data[0].split()
                if uids:
                    u = rnd.choice(uids).decode()
                    ok("STORE deleted", *M.uid("STORE", u, "+FLAGS.SILENT", "(\\Deleted)"))
                    ok("EXPUNGE", *M.expunge())
            elif op < 0.80:
                typ, data = M.uid("SEARCH", "ALL")
                uids = data[0].split()
                if uids:
                    u = rnd.choice(uids).decode()
                    cmd = rnd.choice(["COPY", "MOVE"])
                    typ, data = M.uid(cmd, u, "Archive")
                    ok(cmd, typ, data, ("EXPUNGEISSUED",))
            elif op < 0.88:
                ok("NOOP", *M.noop())
            elif op < 0.94:
                M.close()
                selects += 1
                typ, data = M.select("INBOX")
                ok("SELECT", typ, data)
            else:
                ok("CREATE", *M.create(own))
                ok("RENAME", *M.rename(own, own + "x"))
                ok("DELETE", *M.delete(own + "x"))
        except imaplib.IMAP4.error as e:
            problem("error", e)
    M.logout()
threads = [threading.Thread(target=client, args=(n,)) for n in range(clients)]
for t in threads: t.start()
for t in threads: t.join()
time.sleep(0.3)
views = []
for _ in range(2):
    M = login()
    M.enable("CONDSTORE")
    typ, data = M.fetch("1:*", "(UID FLAGS MODSEQ)") if M.select("INBOX")[1][0] != b"0" else ("OK", [])
    views.append(sorted(d.decode() for d in data if isinstance(d, bytes)))
    M.logout()
if views[0] != views[1]:
    problem("sessions disagree")
print("problems", len(problems))
for p in problems[:20]:
    print(p)
print("modseq_backwards", len(backwards), backwards[:3])

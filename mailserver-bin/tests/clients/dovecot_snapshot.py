# Client of tests/dovecot.rs (SNAPSHOT); runnable alone with the same arguments.
# What a client caches per folder: UIDVALIDITY, UIDNEXT, and each UID's flags.
import imaplib, json, re, sys
M = imaplib.IMAP4("127.0.0.1", int(sys.argv[1]))
M.login("alice@example.com", "secret")
out = {"lsub": sorted(l.decode().rsplit(" ", 1)[1] for l in M.lsub('""', "*")[1] if l)}
for box in ["INBOX", "Projects", "&AMQ-rger", "Projects.Q1"]:
    typ, _ = M.select(box, readonly=True)
    assert typ == "OK", box
    st = M.status(box, "(UIDVALIDITY UIDNEXT MESSAGES)")[1][0].decode()
    msgs = []
    typ, data = M.uid("FETCH", "1:*", "(FLAGS)")
    for item in data:
        if not item:
            continue
        line = item.decode()
        uid = int(re.search(r"UID (\d+)", line).group(1))
        flags = sorted(f for f in re.search(r"FLAGS \(([^)]*)\)", line).group(1).split() if f != "\\Recent")
        msgs.append([uid, flags])
    pairs = re.search(r"\(([^)]*)\)", st).group(1).split()
    out[box] = {"status": dict(zip(pairs[::2], pairs[1::2])), "messages": sorted(msgs)}
M.logout()
print(json.dumps(out, sort_keys=True))

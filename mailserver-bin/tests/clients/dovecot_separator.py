# Client of tests/dovecot.rs (SEPARATOR); runnable alone with the same arguments.
# argv: port, then actions: "create:NAME", "append:NAME", "list" (prints a JSON line of
# [delimiter, sorted names, subscribed names, messages in Projects/2026]).
import imaplib, json, re, sys
M = imaplib.IMAP4("127.0.0.1", int(sys.argv[1]))
M.login("alice@example.com", "secret")
def q(name):
    return '"' + name.replace("\\", "\\\\").replace('"', '\\"') + '"'
for action in sys.argv[2:]:
    kind, _, name = action.partition(":")
    if kind == "create":
        typ, dat = M.create(q(name))
        print(json.dumps(["create", name, typ]))
    elif kind == "subscribe":
        print(json.dumps(["subscribe", name, M.subscribe(q(name))[0]]))
    elif kind == "append":
        typ, _ = M.append(q(name), None, None, b"Subject: filed\r\n\r\nin a sub-folder\r\n")
        print(json.dumps(["append", name, typ]))
    elif kind == "list":
        typ, dat = M.list('""', "*")
        names, delims = [], set()
        for line in dat:
            m = re.match(rb'\((.*?)\) (NIL|"(.)") (.*)', line)
            delims.add(m.group(3).decode() if m.group(3) else "NIL")
            names.append(m.group(4).decode().strip('"'))
        typ, dat = M.lsub('""', "*")
        subscribed = sorted(re.match(rb'\(.*?\) (?:NIL|".") (.*)', l).group(1).decode().strip('"') for l in dat if l)
        typ, dat = M.select(q("Projects/2026"), readonly=True)
        print(json.dumps(["list", sorted(delims), sorted(names), subscribed, dat[0].decode()]))
M.logout()

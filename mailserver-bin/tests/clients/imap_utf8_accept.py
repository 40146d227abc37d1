# Client of tests/imap.rs (UTF8_ACCEPT); runnable alone with the same arguments.
# RFC 6855 through imaplib, which switches to UTF-8 itself after ENABLE UTF8=ACCEPT.
import imaplib, json, sys
port = int(sys.argv[1])
M = imaplib.IMAP4("127.0.0.1", port)
M.login("alice@example.com", "secret")
M.create("Entw&APw-rfe")
out = {"before": [x.decode() for x in M.list('""', "Entw*")[1]]}
out["enable"] = M.enable("UTF8=ACCEPT")[0]
out["after"] = [x.decode() for x in M.list('""', "Entw*")[1]]
out["create"] = M.create("Привет")[0]
out["select"] = M.select('"Привет"')[0]
message = "Subject: Grüße aus Köln\r\nFrom: Jörg <jörg@bücher.example>\r\n\r\nHallo\r\n".encode()
tag = M._new_tag()
M.send(tag + (" APPEND \"Привет\" UTF8 (~{%d+}\r\n" % len(message)).encode() + message + b")\r\n")
out["append"] = M._command_complete("APPEND", tag)[0]
typ, data = M.fetch("1", "(BODY.PEEK[])")
out["fetched"] = data[0][1].decode()
out["status"] = [x.decode() for x in M.status('"Привет"', "(MESSAGES)")[1]]
M.logout()
N = imaplib.IMAP4("127.0.0.1", port)
N.login("alice@example.com", "secret")
out["other_session"] = [x.decode() for x in N.list('""', "*")[1] if b"&BB" in x or "Привет".encode() in x]
print(json.dumps(out, ensure_ascii=False))

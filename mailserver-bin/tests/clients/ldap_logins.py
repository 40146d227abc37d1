# Client of tests/ldap.rs (LOGINS); runnable alone with the same arguments.
import imaplib, json, poplib, sys
imap_port, pop3_port = int(sys.argv[1]), int(sys.argv[2])
out = {}
for user, password in [("lara@example.com", "lara-pw"), ("lara@example.com", "wrong"),
                       ("max@example.com", "max-pw"), ("alice@example.com", "secret"),
                       ("lara@example.com", ""), ("nobody@example.com", "x")]:
    M = imaplib.IMAP4("127.0.0.1", imap_port)
    try:
        M.login(user, password)
        M.select("INBOX")
        typ, data = M.getquotaroot("INBOX")
        out[user + " " + password] = ["OK", M.response("EXISTS")[1][0].decode(), [x.decode() if isinstance(x, bytes) else None for x in data[1]]]
        M.logout()
    except imaplib.IMAP4.error as e:
        out[user + " " + password] = ["NO", str(e)]
p = poplib.POP3("127.0.0.1", pop3_port)
p.user("lara@example.com")
out["pop3"] = p.pass_("lara-pw").decode()
out["pop3_stat"] = list(p.stat())
p.quit()
print(json.dumps(out))

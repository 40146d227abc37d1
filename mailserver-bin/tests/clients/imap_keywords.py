# Client of tests/imap.rs (KEYWORDS); runnable alone with the same arguments.
# Keyword slots: a STORE of more new keywords than fit is refused and changes nothing; $Junk
# still works; custom keywords leave room for standard ones; a slot no message uses any more
# is given to a new keyword.
import imaplib, json, smtplib, sys
imap_port, smtp_port = int(sys.argv[1]), int(sys.argv[2])
s = smtplib.SMTP("127.0.0.1", smtp_port)
for i in range(3):
    s.sendmail("a@example.org", ["alice@example.com"], f"Subject: kw {i}\r\n\r\nx\r\n".encode())
s.quit()
M = imaplib.IMAP4("127.0.0.1", imap_port)
M.login("alice@example.com", "secret")
M.select("INBOX")
out = {}
def store(seq, op, flags):
    try:
        typ, dat = M.store(seq, op, "(" + " ".join(flags) + ")")
        return [typ, [d.decode() if isinstance(d, bytes) else str(d) for d in dat]]
    except imaplib.IMAP4.error as e:
        return ["NO", str(e)]
def flags(seq):
    typ, dat = M.fetch(seq, "(FLAGS)")
    return dat[0].decode()
many = [f"custom{i}" for i in range(30)]
out["thirty_at_once"] = store("1", "+FLAGS", many)
out["after_refusal"] = flags("1")
out["junk"] = store("1", "+FLAGS", ["$Junk"])
# Custom keywords one at a time, each kept on message 2: they stop short of all 26 slots.
given = 0
for k in many:
    if store("2", "+FLAGS", [k])[0] == "OK":
        given += 1
out["custom_given"] = given
out["standard_after_custom"] = store("3", "+FLAGS", ["$Forwarded", "$MDNSent", "$NotJunk", "NonJunk"])
# Clearing every custom keyword frees their slots for new keywords.
out["clear"] = store("2", "-FLAGS", many[:given])
out["new_after_clear"] = store("3", "+FLAGS", ["fresh1", "fresh2"])
out["final_3"] = flags("3")
M.logout()
print(json.dumps(out))

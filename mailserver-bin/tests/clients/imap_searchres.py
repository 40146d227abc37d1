# Client of tests/imap.rs (SEARCHRES); runnable alone with the same arguments.
# RFC 5182 SEARCHRES (part of IMAP4rev2): `SEARCH RETURN (SAVE)` and `$`.
import imaplib, json, smtplib, sys
imap_port, smtp_port = int(sys.argv[1]), int(sys.argv[2])
s = smtplib.SMTP("127.0.0.1", smtp_port)
for who in ["ann", "bob", "ann", "cy"]:
    s.sendmail(f"{who}@example.org", ["alice@example.com"], f"From: {who}@example.org\r\nSubject: hi\r\n\r\nx\r\n".encode())
s.quit()
M = imaplib.IMAP4("127.0.0.1", imap_port)
M.login("alice@example.com", "secret")
M.select("INBOX")
def raw(*args):
    imaplib.Commands.setdefault(args[0], ("AUTH", "SELECTED"))
    M.untagged_responses.clear()
    try:
        typ, dat = M._simple_command(*args)
    except imaplib.IMAP4.error as e:
        return ["BAD", str(e), {}]
    return [typ, dat[-1].decode(), {k: [x.decode() for x in v if isinstance(x, bytes)] for k, v in M.untagged_responses.items()}]
out = {}
out["save"] = raw("SEARCH", "RETURN", "(SAVE)", "FROM", "ann")
out["fetch_saved"] = raw("FETCH", "$", "(UID)")
out["search_in_saved"] = raw("UID SEARCH", "UID", "$", "NOT", "UID", "1")
out["save_max"] = raw("UID SEARCH", "RETURN", "(SAVE MAX COUNT)", "ALL")
out["fetch_all_saved"] = raw("UID FETCH", "$", "(FLAGS)")
out["save_min_only"] = raw("SEARCH", "RETURN", "(MIN SAVE)", "ALL")
out["fetch_min"] = raw("FETCH", "$", "(UID)")
out["failed"] = raw("SEARCH", "RETURN", "(SAVE)", "CHARSET", "X-NONE", "ALL")
out["fetch_empty"] = raw("FETCH", "$", "(UID)")
print(json.dumps(out))

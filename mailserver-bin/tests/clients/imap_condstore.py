# Client of tests/imap.rs (CONDSTORE); runnable alone with the same arguments.
# RFC 7162 through imaplib: MODSEQs on FETCH and STORE, conditional STORE, CHANGEDSINCE,
# SEARCH MODSEQ, VANISHED instead of EXPUNGE, a QRESYNC SELECT from a second client, and a
# flag change made on disk by other software.
import imaplib, json, os, re, smtplib, sys, time
imap_port, smtp_port, maildir = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
s = smtplib.SMTP("127.0.0.1", smtp_port)
for i in range(3):
    s.sendmail("x@example.org", ["alice@example.com"], f"Subject: m{i}\r\n\r\nbody\r\n".encode())
s.quit()
def client():
    M = imaplib.IMAP4("127.0.0.1", imap_port)
    M.login("alice@example.com", "secret")
    imaplib.Commands["ENABLE"] = ("AUTH", "SELECTED")
    return M
def raw(M, command, *args):
    imaplib.Commands.setdefault(command, ("AUTH", "SELECTED"))
    M.untagged_responses.clear()
    try:
        typ, dat = M._simple_command(command, *args)
    except imaplib.IMAP4.error as e:
        return {"status": "BAD", "text": str(e)}
    if command in ("SELECT", "EXAMINE") and typ == "OK":
        M.state = "SELECTED"
    untagged = {k: [x.decode() if isinstance(x, bytes) else str(x) for x in v]
                for k, v in M.untagged_responses.items()}
    return {"status": typ, "text": dat[-1].decode() if dat and dat[-1] else "", "untagged": untagged}
out = {}
A = client()
out["enable"] = raw(A, "ENABLE", "QRESYNC")
out["select"] = raw(A, "SELECT", "INBOX")
h0 = int(out["select"]["untagged"]["HIGHESTMODSEQ"][0])
v = int(out["select"]["untagged"]["UIDVALIDITY"][0])
out["h0"] = h0
out["fetch_modseq"] = raw(A, "UID FETCH", "1:*", "(MODSEQ)")
out["store"] = raw(A, "STORE", "1", "+FLAGS", "(\\Flagged)")
out["store_silent"] = raw(A, "STORE", "3", "+FLAGS.SILENT", "(\\Seen)")
out["conditional_ok"] = raw(A, "UID STORE", "2", f"(UNCHANGEDSINCE {h0})", "+FLAGS", "(\\Seen)")
out["conditional_fails"] = raw(A, "UID STORE", "1", f"(UNCHANGEDSINCE {h0})", "+FLAGS", "(\\Answered)")
out["changedsince"] = raw(A, "UID FETCH", "1:*", "(FLAGS)", f"(CHANGEDSINCE {h0})")
out["search_modseq"] = raw(A, "SEARCH", "MODSEQ", str(h0 + 1))
out["status"] = raw(A, "STATUS", "INBOX", "(HIGHESTMODSEQ MESSAGES)")
out["expunge"] = raw(A, "STORE", "3", "+FLAGS.SILENT", "(\\Deleted)")
out["expunge"] = raw(A, "EXPUNGE")
out["vanished_fetch"] = raw(A, "UID FETCH", "1:*", "(FLAGS)", f"(CHANGEDSINCE {h0} VANISHED)")
# Another program renames a message's file to add \Draft.
cur = os.path.join(maildir, "cur")
name = sorted(n for n in os.listdir(cur))[0]
base, flags = name.split(":2,")
os.rename(os.path.join(cur, name), os.path.join(cur, base + ":2," + "".join(sorted(flags + "D"))))
time.sleep(0.1)
out["noop"] = raw(A, "NOOP")
B = client()
out["b_enable"] = raw(B, "ENABLE", "QRESYNC")
out["b_select"] = raw(B, "SELECT", "INBOX", f"(QRESYNC ({v} {h0}))")
out["b_reselect"] = raw(B, "EXAMINE", "INBOX")
out["b_unknown_modseq"] = raw(B, "SELECT", "INBOX", f"(QRESYNC ({v} 1 1:10))")
C = client()
out["c_qresync_unenabled"] = raw(C, "SELECT", "INBOX", f"(QRESYNC ({v} {h0}))")
out["c_condstore_select"] = raw(C, "SELECT", "INBOX", "(CONDSTORE)")
print(json.dumps(out))

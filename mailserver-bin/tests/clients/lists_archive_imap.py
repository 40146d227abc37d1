# Client of tests/lists.rs (ARCHIVE_IMAP); runnable alone with the same arguments.
# A member reads the list's archive over IMAP, read-only, under Lists/; another user does
# not see it. Prints what each step answered, as JSON.
import imaplib, json, sys
port = int(sys.argv[1])
def raw(M, *args):
    M.untagged_responses.clear()
    try:
        typ, dat = M._simple_command(*args)
    except imaplib.IMAP4.error as e:
        return ["ERROR", str(e)]
    return [typ, dat[-1].decode(errors="replace")]
out = {}
A = imaplib.IMAP4("127.0.0.1", port); A.login("alice@example.com", "secret")
out["list"] = [x.decode() for x in A.list()[1]]
out["status"] = [x.decode() for x in A.status("Lists.team", "(MESSAGES)")[1]]
out["create"] = raw(A, "CREATE", "Lists.team")
out["append"] = str(A.append("Lists.team", None, None, b"Subject: mine\r\n\r\nx\r\n"))
# SELECT (not EXAMINE): the server makes it read-only.
A.untagged_responses.clear()
typ, dat = A._simple_command("SELECT", "Lists.team")
out["select"] = [typ, [x.decode() for x in A.untagged_responses.get("EXISTS", [b"?"])], "READ-ONLY" in A.untagged_responses]
A.state = "SELECTED"; A.is_readonly = True; A.untagged_responses.clear()
out["subjects"] = [d[1].decode().strip() for d in A.fetch("1:*", "(BODY.PEEK[HEADER.FIELDS (SUBJECT)])")[1] if isinstance(d, tuple)]
out["fetch_body"] = raw(A, "FETCH", "1", "(BODY[])")
out["store"] = raw(A, "STORE", "1", "+FLAGS", "(\\Deleted)")
out["copy_in"] = raw(A, "COPY", "1", "Lists.team")
out["copy_out"] = raw(A, "COPY", "1", "INBOX")
out["subscribe"] = raw(A, "SUBSCRIBE", "Lists.team")
out["lsub"] = [x.decode() for x in A.lsub()[1]]
out["delete"] = raw(A, "DELETE", "Lists.team")
A.logout()
C = imaplib.IMAP4("127.0.0.1", port); C.login("carol@example.com", "secret")
out["other_list"] = [x.decode() for x in C.list()[1]]
out["other_select"] = raw(C, "SELECT", "Lists.team")
C.logout()
print(json.dumps(out))

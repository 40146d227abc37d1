# Client of tests/imap.rs (LIST_EXTENDED); runnable alone with the same arguments.
import imaplib, sys, json
M = imaplib.IMAP4("127.0.0.1", int(sys.argv[1]))
M.login("alice@example.com", "secret")
def raw(command, *args):
    try:
        typ, dat = M._simple_command(command, *args)
    except imaplib.IMAP4.error as e:
        return ["BAD", str(e)]
    lists = [x.decode() for x in M.untagged_responses.pop("LIST", []) if x]
    statuses = [x.decode() for x in M.untagged_responses.pop("STATUS", []) if x]
    return [typ, dat[-1].decode(), lists, statuses]
out = {}
for name in ["Work", "Work.Project", "Work.Old"]:
    M.create(name)
M.subscribe("Work.Project")
M.create("Gone"); M.subscribe("Gone"); M.delete("Gone")
M.append("Work.Project", None, None, b"Subject: p\r\n\r\nbody\r\n")
out["recursive"] = raw("LIST", '(SUBSCRIBED RECURSIVEMATCH) "" "%"')
out["subscribed"] = raw("LIST", '(SUBSCRIBED) "" "*"')
out["subscribed_return"] = raw("LIST", '"" "Work*" RETURN (SUBSCRIBED CHILDREN)')
out["status"] = raw("LIST", '"" "Work*" RETURN (STATUS (MESSAGES UIDNEXT))')
out["patterns"] = raw("LIST", '"" ("INBOX" "Work")')
out["create_use"] = raw("CREATE", "Outgoing (USE (\\Sent))")
out["create_all"] = raw("CREATE", "Everything (USE (\\All))")
out["special"] = raw("LIST", '(SPECIAL-USE) "" "*"')
out["rename_keeps_use"] = [M.rename("Outgoing", "Outbox")[0], raw("LIST", '"" "Out*"')]
out["recursive_alone"] = raw("LIST", '(RECURSIVEMATCH) "" "%"')
out["hostile"] = raw("LIST", '"" "' + "*a" * 40 + '"')
print(json.dumps(out))

# Client of tests/scale_out.rs: two nodes serving one store. Four SMTP clients, two per node,
# deliver 200 messages to alice while an IMAP session on each node flags every third message
# and expunges every tenth; then both nodes must show the same 180 messages, with the same
# UIDs and flags. Last, IDLE on node A must hear a delivery through node B within the poll
# interval.
#   scale_out_two_nodes.py SMTP_A IMAP_A SMTP_B IMAP_B POLL_MS
import imaplib, re, smtplib, socket, sys, threading, time

smtp_a, imap_a, smtp_b, imap_b, poll_ms = map(int, sys.argv[1:6])
errors = []
done_sending = threading.Event()


def send(port, first, count):
    try:
        s = smtplib.SMTP("127.0.0.1", port, timeout=60)
        s.ehlo("sender.example.org")
        for n in range(first, first + count):
            body = (f"From: load@example.org\r\nTo: alice@example.com\r\nSubject: msg-{n}\r\n"
                    f"Message-ID: <msg-{n}@example.org>\r\n\r\nMessage {n}.\r\n")
            s.sendmail("load@example.org", ["alice@example.com"], body.encode())
        s.quit()
    except Exception as e:
        errors.append(("smtp", port, repr(e)))


def listing(c):
    """subject number -> (uid, flags) of the selected folder."""
    typ, data = c.uid("FETCH", "1:*", "(FLAGS BODY.PEEK[HEADER.FIELDS (SUBJECT)])")
    assert typ == "OK", data
    out = {}
    for item in data:
        if not isinstance(item, tuple):
            continue
        meta, header = item[0].decode(), item[1].decode()
        uid = int(re.search(r"UID (\d+)", meta).group(1))
        # \Recent is one session's (the first to see the message), not the message's.
        flags = set(re.search(r"FLAGS \(([^)]*)\)", meta).group(1).split()) - {"\\Recent"}
        n = int(re.search(r"msg-(\d+)", header).group(1))
        assert n not in out, ("two UIDs for one message", n, out[n], uid)
        out[n] = (uid, flags)
    return out


def work(port):
    try:
        c = imaplib.IMAP4("127.0.0.1", port, timeout=60)
        c.login("alice@example.com", "secret")
        last = False
        while True:
            c.select("INBOX")
            seen = listing(c) if int(c.select("INBOX")[1][0]) > 0 else {}
            for n, (uid, flags) in seen.items():
                if n % 10 == 0 and "\\Deleted" not in flags:
                    c.uid("STORE", str(uid), "+FLAGS.SILENT", "(\\Deleted)")
                elif n % 3 == 0 and "\\Flagged" not in flags:
                    c.uid("STORE", str(uid), "+FLAGS.SILENT", "(\\Flagged)")
            c.expunge()
            if last:
                break
            last = done_sending.is_set()
        c.logout()
    except Exception as e:
        errors.append(("imap", port, repr(e)))


senders = [threading.Thread(target=send, args=(p, k * 50, 50))
           for k, p in enumerate([smtp_a, smtp_b, smtp_a, smtp_b])]
workers = [threading.Thread(target=work, args=(p,)) for p in (imap_a, imap_b)]
for t in senders + workers:
    t.start()
for t in senders:
    t.join()
done_sending.set()
for t in workers:
    t.join()
assert not errors, errors
# A node shows the others' changes made while it changed the folder itself within the poll
# interval (see maildir's cache module).
time.sleep(poll_ms / 1000 + 0.2)

views = []
for port in (imap_a, imap_b):
    c = imaplib.IMAP4("127.0.0.1", port, timeout=60)
    c.login("alice@example.com", "secret")
    c.select("INBOX")
    views.append(listing(c))
    c.logout()
a, b = views
differ = sorted(n for n in set(a) | set(b) if a.get(n) != b.get(n))
assert not differ, ("the nodes disagree", [(n, a.get(n), b.get(n)) for n in differ[:10]])
assert set(a) == {n for n in range(200) if n % 10}, sorted(set(range(200)) - set(a))
assert len({uid for uid, _ in a.values()}) == 180
flagged = {n for n, (_, flags) in a.items() if "\\Flagged" in flags}
assert flagged == {n for n in a if n % 3 == 0}, sorted(flagged ^ {n for n in a if n % 3 == 0})
print("two nodes agree: 180 messages, unique UIDs, the same flags")

# IDLE on node A hears a delivery made through node B.
s = socket.create_connection(("127.0.0.1", imap_a), timeout=30)
f = s.makefile("rwb")
f.readline()
for line in (b"a LOGIN alice@example.com secret\r\n", b"b SELECT INBOX\r\n"):
    f.write(line)
    f.flush()
    while not f.readline().startswith(line[:2]):
        pass
f.write(b"c IDLE\r\n")
f.flush()
assert f.readline().startswith(b"+"), "idling"
send(smtp_b, 1000, 1)
assert not errors, errors
# From the delivery's acknowledgement: node B has stored it.
started = time.monotonic()
while True:
    line = f.readline()
    if line.endswith(b"EXISTS\r\n"):
        break
heard = time.monotonic() - started
f.write(b"DONE\r\n")
f.flush()
s.close()
assert heard < poll_ms / 1000 + 1.5, heard
print(f"idle heard the other node's delivery in {heard:.2f} s")

# Client of tests/crash.rs (UNTIL_KILLED); runnable alone with the same arguments.
"""Sends messages from CLIENTS threads until the server goes away; appends the Message-ID of
each message whose end of DATA was answered 250 to ACKED (one per line, flushed at once), so
the test knows exactly what was acknowledged before the kill.

Usage: smtp_until_killed.py PORT CLIENTS ROUND ACKED"""
import smtplib, sys, threading

port, clients, round_, acked = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3], sys.argv[4]
lock = threading.Lock()
out = open(acked, "a")

def client(k):
    i = 0
    while True:
        i += 1
        mid = f"<{round_}.{k}.{i}@crash.example>"
        # Every fourth, the first included (a slow machine may get only one in), goes to bob too.
        rcpt = ["alice@example.com"] if i % 4 != 1 else ["alice@example.com", "bob@example.com"]
        body = (f"Message-ID: {mid}\r\nSubject: crash {round_} {k} {i}\r\n\r\n"
                + "line of text\r\n" * (i % 50)).encode()
        try:
            # A fixed EHLO name: smtplib would otherwise look this host's name up in the DNS
            # (socket.getfqdn) for every connection, and a lost answer costs 5 seconds.
            s = smtplib.SMTP("127.0.0.1", port, timeout=10, local_hostname="client.example")
            s.sendmail("sender@example.net", rcpt, body)
        except Exception:
            return
        with lock:
            out.write(mid + "\n")
            out.flush()
        try:
            s.quit()
        except Exception:
            return

threads = [threading.Thread(target=client, args=(k,)) for k in range(clients)]
for t in threads:
    t.start()
for t in threads:
    t.join()

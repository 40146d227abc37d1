# Client of tests/submission.rs (SUBMIT_MANY); runnable alone with the same arguments.
# Eight clients, each submitting its share of `count` messages in one session; prints the
# subjects the server acknowledged, one per line.
import smtplib, ssl, sys, threading
port, count, clients = int(sys.argv[1]), int(sys.argv[2]), 8
ctx = ssl.create_default_context(); ctx.check_hostname = False; ctx.verify_mode = ssl.CERT_NONE
acked, lock = [], threading.Lock()
def client(n):
    s = smtplib.SMTP("127.0.0.1", port, timeout=60)
    s.starttls(context=ctx)
    s.login("alice@example.com", "secret")
    for i in range(n, count, clients):
        subject = "many-%d" % i
        msg = "From: alice@example.com\r\nSubject: %s\r\n\r\nbody %d\r\n" % (subject, i)
        s.sendmail("alice@example.com", ["r%d@remote.example" % i], msg.encode())
        with lock:
            acked.append(subject)
    s.quit()
threads = [threading.Thread(target=client, args=(n,)) for n in range(clients)]
for t in threads: t.start()
for t in threads: t.join()
print("\n".join(acked))

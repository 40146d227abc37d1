# Client of tests/smtp.rs (CONCURRENT); runnable alone with the same arguments.
import smtplib, sys, os, threading
port, outbox, sessions = int(sys.argv[1]), sys.argv[2], int(sys.argv[3])
names = sorted(n for n in os.listdir(outbox) if n.endswith(".eml"))
errors = []
def worker(k):
    try:
        s = smtplib.SMTP("127.0.0.1", port, timeout=60)
        s.ehlo("load%d.example.org" % k)
        for n in names[k::sessions]:
            rcpts = open(os.path.join(outbox, n[:-4] + ".rcpt")).read().split(",")
            body = open(os.path.join(outbox, n), "rb").read()
            refused = s.sendmail("load@example.org", rcpts, body)
            if refused:
                errors.append((n, refused))
        s.quit()
    except Exception as e:
        errors.append((k, repr(e)))
threads = [threading.Thread(target=worker, args=(k,)) for k in range(sessions)]
for t in threads: t.start()
for t in threads: t.join()
print("errors", errors)
sys.exit(1 if errors else 0)

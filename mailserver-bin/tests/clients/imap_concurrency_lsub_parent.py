# Client of tests/imap_concurrency.rs (LSUB_PARENT); runnable alone with the same arguments.
import imaplib, sys
M = imaplib.IMAP4("127.0.0.1", int(sys.argv[1]))
M.login("alice@example.com", "secret")
M.create("Work.Projects")
M.unsubscribe("Work")
M.subscribe("Work.Projects")
print("%", [l.decode() for l in M.lsub('""', "%")[1] if b"Work" in l])
print("*", [l.decode() for l in M.lsub('""', "*")[1] if b"Work" in l])

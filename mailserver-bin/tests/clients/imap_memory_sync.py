# Client of tests/imap_memory.rs (SYNC); runnable alone with the same arguments.
# The sessions' script: a first sync by one session (what a running server has on disk
# afterwards: the folder's listing and header fields); then ten sessions log in, and 25 s
# later (freed memory goes back to the system over the allocator's 10 s decay) the resident
# size is the idle figure; they sync at once and log out; the peak (VmHWM, reset after the
# logins) and the size 30 s later, the folder let go.
import imaplib, sys, threading, time
port, pid, count = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
def status(key):
    for line in open(f"/proc/{pid}/status"):
        if line.startswith(key):
            return int(line.split()[1]) / 1024
def sync(c):
    typ, data = c.select("INBOX")
    assert typ == "OK" and int(data[0]) == count, data
    typ, data = c.uid("FETCH", "1:*", "(FLAGS)")
    assert typ == "OK" and len(data) == count, (typ, len(data))
    typ, data = c.fetch("1:*", "(ENVELOPE)")
    assert typ == "OK" and len(data) == count, (typ, len(data))
    c.logout()
def login():
    c = imaplib.IMAP4("127.0.0.1", port)
    c.login("alice@example.com", "secret")
    return c
sync(login())
sessions = [login() for _ in range(10)]
def settled(seconds):
    # Freed memory goes back gradually, over the allocator's decay time (10 s).
    time.sleep(seconds)
    return status("VmRSS:")
idle = settled(25)
open(f"/proc/{pid}/clear_refs", "w").write("5")
threads = [threading.Thread(target=sync, args=(c,)) for c in sessions]
for t in threads: t.start()
for t in threads: t.join()
peak = status("VmHWM:")
# The folder is let go after [imap] folder_linger (1 s here), then its memory decays.
after = settled(30)
# The pages of the program and its libraries (file-backed, shared, the same whatever the
# mailbox; a debug build's are larger) are not the memory the mailbox takes.
text = status("RssFile:")
print(f"idle {idle - text:.1f} peak {peak - text:.1f} after {after - text:.1f} (program {text:.1f} MB)")

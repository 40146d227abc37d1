# Client of tests/submission.rs (DKIMPY); runnable alone with the same arguments.
# Checks every DKIM signature of a message (stdin) with dkimpy, the DNS answered from the
# records `mailserver dns` printed (argv[1]); prints one result per signature.
import re, sys, dkim
zone = open(sys.argv[1]).read()
records = {}
for line in zone.splitlines():
    m = re.match(r'^(\S+)\s+\d+\s+IN\s+TXT\s+(.*)$', line)
    if m:
        records[m.group(1).encode()] = "".join(re.findall(r'"([^"]*)"', m.group(2))).encode()
def dnsfunc(name, timeout=5):
    return records.get(name if name.endswith(b".") else name + b".")
msg = sys.stdin.buffer.read()
d = dkim.DKIM(msg)
count = len([l for l in msg.split(b"\r\n") if l.lower().startswith(b"dkim-signature:")])
for i in range(count):
    print(i, d.verify(idx=i, dnsfunc=dnsfunc))

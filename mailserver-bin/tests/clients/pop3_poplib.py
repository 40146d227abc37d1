# Client of tests/pop3.rs (POPLIB); runnable alone with the same arguments.
# A poplib session: prints one line per step for the test to check.
import poplib, ssl, sys
mode, port, user, actions = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4:]
ctx = ssl.create_default_context(); ctx.check_hostname = False; ctx.verify_mode = ssl.CERT_NONE
if mode == "pop3s":
    p = poplib.POP3_SSL("127.0.0.1", port, context=ctx, timeout=20)
else:
    p = poplib.POP3("127.0.0.1", port, timeout=20)
    caps = p.capa()
    print("capa", " ".join(sorted(caps)))
    p.stls(context=ctx)
p.user(user)
p.pass_("secret")
for a in actions:
    if a == "stat":
        print("stat", *p.stat())
    elif a == "uidl":
        print("uidl", " ".join(x.decode().split()[1] for x in p.uidl()[1]))
    elif a == "list":
        print("list", " ".join(x.decode().split()[1] for x in p.list()[1]))
    elif a.startswith("retr"):
        n = int(a[4:])
        lines = p.retr(n)[1]
        print("retr", (b"\r\n".join(lines) + b"\r\n").hex())
    elif a.startswith("top"):
        print("top", len(p.top(int(a[3:]), 0)[1]))
    elif a.startswith("dele"):
        print("dele", p.dele(int(a[4:])).decode())
    elif a == "rset":
        print("rset", p.rset().decode())
print("quit", p.quit().decode())

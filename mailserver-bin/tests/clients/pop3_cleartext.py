# Client of tests/pop3.rs (CLEARTEXT); runnable alone with the same arguments.
import poplib, ssl, sys
host, port = sys.argv[1], int(sys.argv[2])
p = poplib.POP3(host, port, timeout=20)
caps = p.capa()
print("capa", " ".join(sorted(caps)))
try:
    p.user("alice@example.com")
    print("user accepted")
except poplib.error_proto as e:
    print("user", e.args[0].decode())
ctx = ssl.create_default_context(); ctx.check_hostname = False; ctx.verify_mode = ssl.CERT_NONE
p.stls(context=ctx)
print("tls-capa", " ".join(sorted(p.capa())))
p.user("alice@example.com")
print("login", p.pass_("secret").decode())
p.quit()

# Client of tests/sender_auth.rs, for what our server relayed (a file smtp-sink dumped,
# from its first header field on, with CRLF line ends):
#   sender_auth_relayed.py arc FILE DNSPORT    checks its ARC chain with dkimpy, asking the
#                                             test's DNS server; prints the chain's cv
#   sender_auth_relayed.py resend FILE PORT SOURCE SENDER
#                                             sends it to alice on port 25 from SOURCE;
#                                             prints the answer to the end of DATA
import smtplib, sys
import dkim, dns.resolver

mode, path = sys.argv[1], sys.argv[2]
message = open(path, "rb").read()
if mode == "arc":
    resolver = dns.resolver.Resolver(configure=False)
    resolver.nameservers = ["127.0.0.1"]
    resolver.port = int(sys.argv[3])
    def dnsfunc(name, timeout=5):
        name = name.decode() if isinstance(name, bytes) else name
        answer = resolver.resolve(name, "TXT", lifetime=timeout)
        return b"".join(b"".join(r.strings) for r in answer)
    cv, results, reason = dkim.arc_verify(message, dnsfunc=dnsfunc)
    print(cv.decode(), reason)
elif mode == "resend":
    port, source, sender = int(sys.argv[3]), sys.argv[4], sys.argv[5]
    smtp = smtplib.SMTP("127.0.0.1", port, source_address=(source, 0), timeout=60)
    smtp.ehlo("relay.test")
    smtp.sendmail(sender, ["alice@example.com"], message)
    print("250")
    smtp.quit()

# Client of tests/sender_auth.rs: sends one message to port 25 as a stranger would (from a
# chosen loopback address), signed with dkimpy where the case asks, and prints the server's
# answer to the end of DATA ("250 ..." or the refusal).
#   sender_auth.py PORT KEYDIR CASE [RCPT]      (RCPT: alice@example.com unless given)
# CASE: pass (signed, SPF pass, with a forged Authentication-Results of ours), big (the
# same, 400 KiB), tampered (signed, then the body changed; SPF fail; p=reject), softfail
# (unsigned, ~all), reported (From: a p=reject domain, broken signature, SPF softfail for
# the envelope's domain), quarantine (unsigned, SPF fail; p=quarantine), arc (signed, changed and
# ARC-sealed by a forwarder; p=none), dnssec-good and dnssec-bad (SPF in a signed zone, the
# bad record changed after signing).
import smtplib, sys
import dkim

port, keydir, case = int(sys.argv[1]), sys.argv[2], sys.argv[3]
rcpt = sys.argv[4] if len(sys.argv) > 4 else "alice@example.com"

def key(domain):
    with open(f"{keydir}/{domain}.pem", "rb") as f:
        return f.read()

def message(sender, subject, body, extra=""):
    return (f"From: {sender}\r\nTo: alice@example.com\r\nSubject: {subject}\r\n"
            f"Message-ID: <{case}@test>\r\nDate: Sat, 05 Dec 2026 10:00:00 +0000\r\n{extra}"
            f"\r\n{body}").encode()

def sign(msg, domain):
    sig = dkim.sign(msg, b"sel", domain.encode(), key(domain),
                    include_headers=[b"from", b"to", b"subject", b"message-id", b"date"])
    return sig + msg

source, sender = "127.0.0.10", None
if case in ("pass", "big"):
    source, sender = "127.0.0.9", "alice@sender.test"
    body = "Hello.\r\n" if case == "pass" else ("x" * 76 + "\r\n") * 5200
    forged = "Authentication-Results: mx.example.com; dkim=pass dmarc=pass (forged)\r\n"
    msg = sign(message(sender, case, body, forged), "sender.test")
elif case == "tampered":
    sender = "alice@sender.test"
    msg = sign(message(sender, case, "Pay 10 euros.\r\n"), "sender.test")
    msg = msg.replace(b"Pay 10 euros.", b"Pay 99 euros.")
elif case == "reported":
    # SPF softfail for the envelope's domain; From: sender.test (p=reject), signature broken.
    sender = "bob@soft.test"
    msg = sign(message("alice@sender.test", case, "Pay 10 euros.\r\n"), "sender.test")
    msg = msg.replace(b"Pay 10 euros.", b"Pay 99 euros.")
elif case in ("dnssec-good", "dnssec-bad"):
    # SPF of a DNSSEC-signed zone; the "bad" record was changed after signing.
    source, sender = "127.0.0.13", f"dee@{case[7:]}.signed.test"
    msg = message(sender, case, "Hi.\r\n")
elif case == "softfail":
    sender = "bob@soft.test"
    msg = message(sender, case, "Hi.\r\n")
elif case == "quarantine":
    sender = "carol@quar.test"
    msg = message(sender, case, "Hi.\r\n")
elif case == "arc":
    source, sender = "127.0.0.11", "list@forward.test"
    original = sign(message("dave@arcfrom.test", case, "Original.\r\n"), "arcfrom.test")
    changed = original + b"-- \r\nfooter added by the list\r\n"
    results = (b"Authentication-Results: forward.test; dkim=pass header.d=arcfrom.test;"
               b" spf=pass smtp.mailfrom=dave@arcfrom.test; dmarc=pass header.from=arcfrom.test\r\n")
    changed = results + changed
    seal = dkim.arc_sign(changed, b"sel", b"forward.test", key("forward.test"), b"forward.test",
                         include_headers=[b"from", b"to", b"subject", b"message-id", b"date"])
    msg = b"".join(seal) + changed
else:
    sys.exit(f"unknown case {case}")

smtp = smtplib.SMTP("127.0.0.1", port, source_address=(source, 0), timeout=60)
smtp.ehlo("client.test")
try:
    smtp.sendmail(sender, [rcpt], msg)
    print("250")
except smtplib.SMTPDataError as e:
    print(e.smtp_code, e.smtp_error.decode())
except smtplib.SMTPSenderRefused as e:
    print(e.smtp_code, e.smtp_error.decode())
smtp.quit()

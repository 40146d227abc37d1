# Client of tests/guard.rs: connects from a chosen loopback address (127.0.0.7, …) as a
# password guesser or a user would.
#   guess PORT SOURCE N        N wrong IMAP passwords, one connection each: prints
#                              "failed F refused R" (R: turned away at connect)
#   probe SOURCE PORT...       the first line each listener sends ("closed" when it closes
#                              at once, "silent" when it waits for us, as TLS does)
#   login PORT SOURCE          a right IMAP password: prints "ok" or the refusal
#   mixed SUBMISSION POP3 SOURCE N
#                              N wrong passwords each over SMTP AUTH and POP3: prints
#                              "smtp F pop3 F" (F: answered as failed)
#   harvest SMTP SOURCE        RCPT to 4 unknown then 1 known address: prints each code
#   sending SUBMISSION SOURCE  as alice: 3 MAIL FROMs: prints each code
#   recipients SUBMISSION SOURCE  as bob: 5 RCPTs to outside addresses: prints each code
#   rcpt SMTP SOURCE SENDER    one message to alice: prints the RCPT code (and sends it on 250)
import imaplib, poplib, smtplib, socket, sys

def connect(source, port, timeout=10):
    return socket.create_connection(("127.0.0.1", int(port)), timeout=timeout, source_address=(source, 0))

class IMAP(imaplib.IMAP4):
    def __init__(self, port, source):
        self.source = source
        super().__init__("127.0.0.1", int(port))
    def _create_socket(self, timeout):
        return connect(self.source, self.port)

class POP3(poplib.POP3):
    def __init__(self, port, source):
        self.source = source
        super().__init__("127.0.0.1", int(port))
    def _create_socket(self, timeout):
        return connect(self.source, self.port)

def first_line(source, port):
    try:
        s = connect(source, port, 2)
        data = s.makefile("rb").readline()
        s.close()
        return data.decode(errors="replace").strip() or "closed"
    except (ConnectionResetError, BrokenPipeError):
        return "closed"
    except socket.timeout:
        # A TLS listener waits for the client to begin.
        return "silent"

mode = sys.argv[1]
if mode == "guess":
    port, source, n = sys.argv[2], sys.argv[3], int(sys.argv[4])
    failed = refused = 0
    for i in range(n):
        try:
            M = IMAP(port, source)
        except (imaplib.IMAP4.error, OSError):
            refused += 1
            continue
        try:
            M.login("alice@example.com", "wrong%d" % i)
            print("a wrong password was taken")
        except imaplib.IMAP4.error:
            failed += 1
        M.shutdown()
    print("failed", failed, "refused", refused)
elif mode == "probe":
    source = sys.argv[2]
    for port in sys.argv[3:]:
        print(first_line(source, port))
elif mode == "mixed":
    submission, pop3, source, n = sys.argv[2], sys.argv[3], sys.argv[4], int(sys.argv[5])
    smtp_failed = pop3_failed = 0
    for i in range(n):
        with smtplib.SMTP("127.0.0.1", int(submission), source_address=(source, 0)) as s:
            s.ehlo()
            # One AUTH (login() would try each mechanism in turn).
            s.user, s.password = "alice@example.com", "wrong%d" % i
            try:
                s.auth("PLAIN", s.auth_plain)
            except smtplib.SMTPAuthenticationError:
                smtp_failed += 1
        p = POP3(pop3, source)
        p.user("alice@example.com")
        try:
            p.pass_("wrong%d" % i)
        except poplib.error_proto:
            pop3_failed += 1
        p.sock.close()
    print("smtp", smtp_failed, "pop3", pop3_failed)
elif mode == "harvest":
    with smtplib.SMTP("127.0.0.1", int(sys.argv[2]), source_address=(sys.argv[3], 0)) as s:
        s.ehlo("harvester.example")
        s.mail("a@example.org")
        codes = [s.rcpt("nobody%d@example.com" % i)[0] for i in range(4)]
        codes.append(s.rcpt("alice@example.com")[0])
        print(*codes)
elif mode == "sending":
    with smtplib.SMTP("127.0.0.1", int(sys.argv[2]), source_address=(sys.argv[3], 0)) as s:
        s.ehlo()
        s.login("alice@example.com", "secret")
        codes = []
        for i in range(3):
            codes.append(s.mail("alice@example.com")[0])
            s.rset()
        print(*codes)
elif mode == "recipients":
    with smtplib.SMTP("127.0.0.1", int(sys.argv[2]), source_address=(sys.argv[3], 0)) as s:
        s.ehlo()
        s.login("bob@example.com", "secret")
        s.mail("bob@example.com")
        print(*[s.rcpt("friend%d@example.org" % i)[0] for i in range(5)])
elif mode == "rcpt":
    with smtplib.SMTP("127.0.0.1", int(sys.argv[2]), source_address=(sys.argv[3], 0)) as s:
        s.ehlo("mx.remote.example")
        s.mail(sys.argv[4])
        code = s.rcpt("alice@example.com")[0]
        if code == 250:
            s.data(b"Subject: greylisted once\r\n\r\nhello\r\n")
        print(code)
elif mode == "login":
    try:
        M = IMAP(sys.argv[2], sys.argv[3])
        M.login("alice@example.com", "secret")
        M.logout()
        print("ok")
    except (imaplib.IMAP4.error, imaplib.IMAP4.abort, OSError) as e:
        print("refused", e)

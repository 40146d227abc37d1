# Client of tests/dovecot.rs (THREADED); runnable alone with the same arguments.
# Messages that exercise RFC 5256 REFERENCES: replies by References and by In-Reply-To, a
# parent that is not in the mailbox, a duplicate and a missing Message-ID, a reference loop,
# a truncated References field, folded references, and roots that share a base subject.
import smtplib, sys
s = smtplib.SMTP("127.0.0.1", int(sys.argv[1]))
messages = [
    ("<a@x>", "", "plan", 2020),
    ("<b@x>", "References: <a@x>", "Re: plan", 2021),
    ("<c@x>", "In-Reply-To: <a@x> (Alice's message)", "Re: plan", 2022),
    ("<d@x>", "References: <gone@x>", "Re: lost", 2019),
    ("<e@x>", "References: <gone@x>", "Re: lost", 2023),
    ("<f@x>", "", "plan", 2024),
    ("<g@x>", "", "Re: other", 2018),
    ("<a@x>", "", "dup", 2017),
    (None, "", "Fwd: plan", 2025),
    ("<j@x>", "References: <k@x>", "loop", 2011),
    ("<k@x>", "References: <j@x>", "loop", 2012),
    ("<l@x>", "References: <b@x>", "[team] Re: plan", 2026),
    ("<m@x>", "References: <a@x>\r\n\t<b@x>\r\n <c@x>", "Re: Re: plan", 2027),
    ("<n@x>", "", "", 2013),
    ("<o@x>", "References: <n@x>", "", 2014),
]
for mid, extra, subject, year in messages:
    head = f"Subject: {subject}\r\nDate: Wed, 1 Jan {year} 10:00:00 +0000\r\n"
    if mid:
        head += f"Message-ID: {mid}\r\n"
    if extra:
        head += extra + "\r\n"
    s.sendmail("x@example.org", ["alice@example.com"], (head + "\r\nbody\r\n").encode())
s.quit()

# Client of tests/dovecot.rs (SORTABLE); runnable alone with the same arguments.
# Messages whose sort keys are awkward: groups, comments, RFC 2047 words with `_`, subject
# blobs and leaders (RFC 5256 §2.1, §3).
import smtplib, sys
s = smtplib.SMTP("127.0.0.1", int(sys.argv[1]))
messages = [
    ("Team: zed@example.net, amy@example.net;", "Zoe <zoe@example.org>", "[blob] Re: beta"),
    ("bob@example.net (Bob B)", "adam@example.org (Adam)", "=?utf-8?q?alpha_one?="),
    ("undisclosed-recipients:;", "\"Carl\" <carl@example.org>", "Re: [list] Fwd: gamma"),
    ("", "mike@example.org", "[x][y] delta (fwd)"),
    ("Ann <ann@example.net>, cid@example.net", "=?utf-8?q?Beth_B?= <beth@example.org>", "Re: alpha one"),
    ("Crew:;", "ZED@example.org", "[fwd: epsilon]"),
    ("dave@example.net", "", "  re:   Re:Beta  "),
]
for cc, frm, subject in messages:
    head = f"Subject: {subject}\r\nDate: Wed, 1 Jan 2020 10:00:00 +0000\r\n"
    if cc:
        head += f"Cc: {cc}\r\n"
    if frm:
        head += f"From: {frm}\r\n"
    s.sendmail("x@example.org", ["alice@example.com"], (head + "\r\nbody\r\n").encode())
s.quit()

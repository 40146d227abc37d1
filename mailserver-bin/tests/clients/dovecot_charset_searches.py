# Client of tests/dovecot.rs (CHARSET_SEARCHES); runnable alone with the same arguments.
# SEARCH CHARSET UTF-8 for words of each message, in the body, the subject and the text.
import imaplib, json, sys
M = imaplib.IMAP4("127.0.0.1", int(sys.argv[1]))
M.login("alice@example.com", "secret")
M.select("INBOX", readonly=True)
out = {}
for key, term in [("BODY", "Grüße"), ("BODY", "Köln"), ("BODY", "10 €"), ("BODY", "20 €"),
                  ("BODY", "bière"), ("BODY", "Привет"), ("TEXT", "как дела"),
                  ("BODY", "日本語"), ("TEXT", "テキスト"), ("SUBJECT", "Отчёт"),
                  ("SUBJECT", "за май"), ("TEXT", "Отчёт"), ("BODY", "nothing")]:
    M.literal = term.encode()
    typ, data = M.uid("SEARCH", "CHARSET", "UTF-8", key)
    out[key + " " + term] = typ + " " + (data[0] or b"").decode()
M.logout()
print(json.dumps(out, sort_keys=True, ensure_ascii=False))

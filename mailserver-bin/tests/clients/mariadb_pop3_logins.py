# Client of tests/mariadb.rs (POP3_LOGINS); runnable alone with the same arguments.
# Logs each `[user, password]` pair of argv[2] in over POP3, printing the first word of
# each answer.
import poplib, sys, json
port, pairs = int(sys.argv[1]), json.loads(sys.argv[2])
for user, password in pairs:
    p = poplib.POP3("127.0.0.1", port, timeout=20)
    p.user(user)
    try:
        print(user, p.pass_(password).decode().split()[0])
        p.quit()
    except poplib.error_proto as e:
        print(user, e.args[0].decode())

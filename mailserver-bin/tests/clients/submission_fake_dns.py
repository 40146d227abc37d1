# Client of tests/submission.rs (FAKE_DNS); runnable alone with the same arguments.
# A small authoritative DNS server on UDP for the MX tests: MX and A records from a JSON
# table (argv[2]); names listed under "nxdomain" do not exist; anything else has no records.
import json, socket, struct, sys
port, zone = int(sys.argv[1]), json.loads(sys.argv[2])
def name(n):
    out = b""
    for label in n.rstrip(".").split("."):
        if label:
            out += bytes([len(label)]) + label.encode()
    return out + b"\0"
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("127.0.0.1", port))
print("ready", flush=True)
while True:
    data, peer = s.recvfrom(4096)
    qid, flags = struct.unpack(">HH", data[:4])
    i, labels = 12, []
    while data[i]:
        labels.append(data[i + 1:i + 1 + data[i]].decode().lower())
        i += 1 + data[i]
    qtype = struct.unpack(">H", data[i + 1:i + 3])[0]
    question = data[12:i + 5]
    qname = ".".join(labels)
    answers = []
    for rtype, value in zone.get(qname, {}).items():
        if rtype == "MX" and qtype == 15:
            for pref, host in value:
                answers.append((15, struct.pack(">H", pref) + name(host)))
        if rtype == "A" and qtype == 1:
            answers.append((1, socket.inet_aton(value)))
    rcode = 3 if qname in zone.get("nxdomain", []) else 0
    reply = struct.pack(">HHHHHH", qid, 0x8400 | (flags & 0x0100) | 0x80 | rcode, 1, len(answers), 0, 0) + question
    for rtype, rdata in answers:
        reply += struct.pack(">HHHIH", 0xC00C, rtype, 1, 60, len(rdata)) + rdata
    s.sendto(reply, peer)

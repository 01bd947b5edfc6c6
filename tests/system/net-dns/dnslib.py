"""A tiny DNS client and fake upstream server for the resolver's system
test and benchmark: just what they need, in python3's standard library."""

import ctypes
import os
import socket
import struct
import threading

CLONE_NEWNET = 0x40000000
A, PTR, MX, AAAA, ANY = 1, 12, 15, 28, 255
NOERROR, FORMERR, SERVFAIL, NXDOMAIN, NOTIMP, REFUSED = 0, 1, 2, 3, 4, 5
QR, AA, TC, RD, RA = 0x8000, 0x0400, 0x0200, 0x0100, 0x0080

_libc = ctypes.CDLL(None, use_errno=True)


def setns(path):
    """Move the calling thread into the network namespace at path."""
    fd = os.open(path, os.O_RDONLY)
    try:
        if _libc.setns(fd, CLONE_NEWNET) != 0:
            err = ctypes.get_errno()
            raise OSError(err, "setns %s: %s" % (path, os.strerror(err)))
    finally:
        os.close(fd)


def encode_name(name):
    out = b""
    for label in name.strip(".").split("."):
        if label:
            out += bytes([len(label)]) + label.encode()
    return out + b"\0"


def query(name, qtype=A, qid=0x1234, flags=RD, edns=None):
    ar = 1 if edns else 0
    msg = struct.pack(">HHHHHH", qid, flags, 1, 0, 0, ar)
    msg += encode_name(name) + struct.pack(">HH", qtype, 1)
    if edns:
        msg += b"\0" + struct.pack(">HHIH", 41, edns, 0, 0)
    return msg


def read_name(msg, off):
    labels, jumped, end = [], False, off
    for _ in range(128):
        n = msg[off]
        if n & 0xC0 == 0xC0:
            if not jumped:
                end = off + 2
            jumped = True
            off = (n & 0x3F) << 8 | msg[off + 1]
            continue
        if n == 0:
            if not jumped:
                end = off + 1
            return ".".join(labels), end
        labels.append(msg[off + 1:off + 1 + n].decode("latin-1"))
        off += 1 + n
    raise ValueError("pointer loop")


class Answer:
    def __init__(self, msg):
        self.raw = msg
        (self.id, self.flags, qd, an, ns, ar) = struct.unpack(">HHHHHH",
                                                               msg[:12])
        self.rcode = self.flags & 0xF
        self.tc = bool(self.flags & TC)
        self.aa = bool(self.flags & AA)
        off = 12
        self.qname = None
        for _ in range(qd):
            self.qname, off = read_name(msg, off)
            off += 4
        self.records = []
        for _ in range(an + ns + ar):
            owner, off = read_name(msg, off)
            rtype, rclass, ttl, rdlen = struct.unpack(">HHIH",
                                                      msg[off:off + 10])
            off += 10
            rdata = msg[off:off + rdlen]
            if rtype == PTR:
                rdata = read_name(msg, off)[0]
            self.records.append((owner, rtype, ttl, rdata))
            off += rdlen
        self.an = an

    def addrs(self):
        return [socket.inet_ntoa(r[3]) for r in self.records if r[1] == A]

    def ttls(self):
        return [r[2] for r in self.records if r[1] in (A, PTR)]


def udp_ask(msg, server=("127.0.0.11", 53), timeout=3.0):
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.settimeout(timeout)
        s.sendto(msg, server)
        data, _ = s.recvfrom(65535)
        return Answer(data)


def recv_exact(s, n):
    buf = b""
    while len(buf) < n:
        chunk = s.recv(n - len(buf))
        if not chunk:
            raise ConnectionError("closed after %d of %d bytes" %
                                  (len(buf), n))
        buf += chunk
    return buf


def tcp_ask(msg, server=("127.0.0.11", 53), timeout=3.0):
    with socket.create_connection(server, timeout=timeout) as s:
        s.sendall(struct.pack(">H", len(msg)) + msg)
        n = struct.unpack(">H", recv_exact(s, 2))[0]
        return Answer(recv_exact(s, n))


def answer_for(q, addrs, flags=0, rcode=0):
    """An answer to query bytes q with A records for addrs."""
    qid = struct.unpack(">H", q[:2])[0]
    _, end = read_name(q, 12)
    question = q[12:end + 4]
    msg = struct.pack(">HHHHHH", qid, QR | RD | RA | flags | rcode, 1,
                      len(addrs), 0, 0) + question
    for a in addrs:
        msg += struct.pack(">HHHIH", 0xC00C, A, 1, 30, 4)
        msg += socket.inet_aton(a)
    return msg


class FakeUpstream:
    """A nameserver on 127.0.0.1:53 of the current namespace:
    ext.example.com -> 192.0.2.1; big.example.com -> TC over UDP, 100
    records over TCP; servfail.example.com -> SERVFAIL; anything else is
    never answered; @names adds more. Remembers what it received."""

    def __init__(self, host="127.0.0.1", names=None):
        self.names = names or {}  # more qname -> [addrs]
        self.seen = []  # (proto, id, qname)
        self.udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.udp.bind((host, 53))
        self.tcp = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.tcp.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.tcp.bind((host, 53))
        self.tcp.listen(16)
        for fn in (self._serve_udp, self._serve_tcp):
            threading.Thread(target=fn, daemon=True).start()

    def _reply(self, q, proto):
        qid = struct.unpack(">H", q[:2])[0]
        name, end = read_name(q, 12)
        self.seen.append((proto, qid, name))
        name = name.lower()
        if name in self.names:  # A records; no data of other types
            qtype = struct.unpack(">H", q[end:end + 2])[0]
            return answer_for(q, self.names[name] if qtype == A else [])
        if name == "ext.example.com":
            return answer_for(q, ["192.0.2.1"])
        if name == "big.example.com":
            if proto == "udp":
                return answer_for(q, [], flags=TC)
            return answer_for(q, ["198.51.100.%d" % i
                                  for i in range(1, 101)])
        if name == "servfail.example.com":
            return answer_for(q, [], rcode=SERVFAIL)
        return None

    def _serve_udp(self):
        while True:
            try:
                q, peer = self.udp.recvfrom(65535)
            except OSError:
                return
            r = self._reply(q, "udp")
            if r:
                self.udp.sendto(r, peer)

    def _serve_tcp(self):
        while True:
            try:
                c, _ = self.tcp.accept()
            except OSError:
                return
            with c:
                try:
                    n = struct.unpack(">H", recv_exact(c, 2))[0]
                    r = self._reply(recv_exact(c, n), "tcp")
                    if r:
                        c.sendall(struct.pack(">H", len(r)) + r)
                except (OSError, ConnectionError):
                    pass

#!/usr/bin/env python3
"""Helpers of the networking tests: `udp.py serve PORT` answers each UDP
datagram with "udp-ok <data>"; `udp.py ask HOST PORT` sends one and prints
the answer (exit 1 after 2 s without one); `udp.py tcp-once PORT` accepts
one TCP connection and prints the peer's address and what it sent."""
import socket
import sys

if sys.argv[1] == "tcp-once":
    # One connection: print the peer's address and what it sent.
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("0.0.0.0", int(sys.argv[2])))
    s.listen(1)
    s.settimeout(10)
    c, peer = s.accept()
    c.settimeout(3)
    print(peer[0], c.recv(100).decode().strip(), flush=True)
elif sys.argv[1] == "serve":
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("0.0.0.0", int(sys.argv[2])))
    while True:
        data, peer = s.recvfrom(2048)
        s.sendto(b"udp-ok " + data, peer)
else:
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.settimeout(2)
    s.sendto(b"ping", (sys.argv[2], int(sys.argv[3])))
    try:
        print(s.recvfrom(2048)[0].decode())
    except socket.timeout:
        sys.exit(1)

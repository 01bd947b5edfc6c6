#!/usr/bin/env python3
"""Helpers of surface.sh that need more than curl.

hijack.py raw SOCK METHOD PATH [--body JSON] [--send HEXBYTES] [--wait S]
    One upgraded request (Connection: Upgrade, Upgrade: tcp) on the unix
    socket; sends the bytes given (hex) after the head, reads for at most
    S seconds (default 3) and prints a JSON line: the status, whether the
    server closed the connection, and the bytes read after the head (hex).
hijack.py frames HEX
    Checks that HEX is a run of Docker 8-byte frames; prints
    "stream:payload" lines, or exits 1 naming the first bad header.
hijack.py pty SECONDS INPUT_HEX CMD...
    Runs CMD on a new pty, writes INPUT_HEX to it after 1 s, waits at most
    SECONDS for CMD to end; prints its exit code and what it wrote (hex).
"""
import binascii
import json
import os
import pty
import select
import socket
import sys
import time


def raw(argv):
    sock, method, path = argv[:3]
    body, send, wait = b"", b"", 3.0
    i = 3
    while i < len(argv):
        if argv[i] == "--body":
            body = argv[i + 1].encode()
        elif argv[i] == "--send":
            send = binascii.unhexlify(argv[i + 1])
        elif argv[i] == "--wait":
            wait = float(argv[i + 1])
        i += 2
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.connect(sock)
    head = (f"{method} {path} HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\n"
            f"Upgrade: tcp\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\n\r\n").encode()
    s.sendall(head + body)
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = s.recv(65536)
        if not chunk:
            break
        data += chunk
    status_line, _, rest = data.partition(b"\r\n")
    _, _, after = rest.partition(b"\r\n\r\n")
    if send:
        time.sleep(0.3)
        s.sendall(send)
    closed = False
    end = time.time() + wait
    while time.time() < end:
        r, _, _ = select.select([s], [], [], max(0.0, end - time.time()))
        if not r:
            break
        chunk = s.recv(65536)
        if not chunk:
            closed = True
            break
        after += chunk
    print(json.dumps({"status": status_line.decode(errors="replace"),
                      "closed": closed, "body": after.hex()}))


def frames(hexs):
    b = binascii.unhexlify(hexs)
    i = 0
    while i < len(b):
        h = b[i:i + 8]
        if len(h) < 8 or h[0] not in (0, 1, 2) or h[1:4] != b"\0\0\0":
            print(f"bad header at {i}: {h.hex()}")
            sys.exit(1)
        n = int.from_bytes(h[4:8], "big")
        print(f"{h[0]}:{b[i + 8:i + 8 + n].decode(errors='replace')!r}")
        i += 8 + n


def run_pty(argv):
    seconds, inp, cmd = float(argv[0]), binascii.unhexlify(argv[1]), argv[2:]
    pid, fd = pty.fork()
    if pid == 0:
        os.execvp(cmd[0], cmd)
    out = b""
    start = time.time()
    sent = False
    code = None
    while time.time() - start < seconds:
        if not sent and time.time() - start > 1.0:
            os.write(fd, inp)
            sent = True
        r, _, _ = select.select([fd], [], [], 0.1)
        if r:
            try:
                out += os.read(fd, 65536)
            except OSError:
                pass
        w, status = os.waitpid(pid, os.WNOHANG)
        if w:
            code = os.waitstatus_to_exitcode(status)
            break
    if code is None:
        os.kill(pid, 9)
        os.waitpid(pid, 0)
        code = "timeout"
    print(json.dumps({"code": code, "out": out.hex()}))


if __name__ == "__main__":
    try:
        {"raw": raw, "frames": lambda a: frames(a[0]), "pty": run_pty}[
            sys.argv[1]](sys.argv[2:])
        sys.stdout.flush()
    except BrokenPipeError:
        # The reader (grep -q) had what it wanted.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        sys.exit(0)

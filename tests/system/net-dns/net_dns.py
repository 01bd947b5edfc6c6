#!/usr/bin/env python3
"""System test of the resolver at 127.0.0.11 (root; exit 77 otherwise).

The whole test runs in a network namespace of its own (re-executed under
`unshare --net`), the "host", where a fake upstream listens on
127.0.0.1:53 and net-dns-harness runs the resolver with a resolv.conf
naming it. A second namespace, the "container", is held by a sleeping
process; the harness attaches to it, and the queries are sent from a thread
that setns()es into it. Nothing leaves the two namespaces, and both vanish
with their processes, which the finally clause ends by pid.

    net_dns.py HARNESS
"""

import os
import random
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from dnslib import (A, AAAA, Answer, ANY, FORMERR, MX, NOERROR, NXDOMAIN, PTR,  # noqa
                    REFUSED, SERVFAIL, TC, FakeUpstream, query, recv_exact,
                    setns, tcp_ask, udp_ask)

MAX_TCP = 4
IDLE_MS = 300
FWD_CAP = 64  # the resolver's default
TIMEOUT_MS = 500


def check(cond, what):
    if not cond:
        raise AssertionError(what)


class Suite:
    def __init__(self, up, ns_path, harness):
        self.up = up
        self.ns_path = ns_path
        self.harness = harness

    # Each t_* runs inside the container's namespace, in this order.

    def t_container_name_answers_a_with_ttl_600(self):
        a = udp_ask(query("web", qid=0x4321))
        check(a.id == 0x4321, "id echoed: %#x" % a.id)
        check(a.rcode == NOERROR and a.aa, "rcode %d aa %s" % (a.rcode,
                                                               a.aa))
        check(a.addrs() == ["10.0.0.2"], "addrs %s" % a.addrs())
        check(a.ttls() == [600], "ttl %s" % a.ttls())

    def t_names_ignore_case_and_the_question_is_echoed(self):
        a = udp_ask(query("WEB.TestNet", qid=7))
        check(a.addrs() == ["10.0.0.2"], "addrs %s" % a.addrs())
        check(a.qname == "WEB.TestNet", "question %s" % a.qname)

    def t_search_domain_is_stripped(self):
        a = udp_ask(query("web.example.org"))
        check(a.addrs() == ["10.0.0.2"], "addrs %s" % a.addrs())

    def t_unknown_name_of_the_network_is_nxdomain(self):
        a = udp_ask(query("ghost.testnet"))
        check(a.rcode == NXDOMAIN and not a.records,
              "rcode %d records %s" % (a.rcode, a.records))
        check(not any(s[2] == "ghost.testnet" for s in self.up.seen),
              "never forwarded")

    def t_aaaa_of_a_container_is_no_data(self):
        a = udp_ask(query("web", AAAA))
        check(a.rcode == NOERROR and a.an == 0, "rcode %d an %d" %
              (a.rcode, a.an))

    def t_any_is_refused_and_not_forwarded(self):
        for name in ("web", "ext.example.com"):
            a = udp_ask(query(name, ANY))
            check(a.rcode == REFUSED, "%s: rcode %d" % (name, a.rcode))
        check(not any(s[2] == "ext.example.com" for s in self.up.seen),
              "ANY reached upstream")

    def t_reverse_lookup_of_a_container(self):
        a = udp_ask(query("2.0.0.10.in-addr.arpa", PTR))
        check(a.rcode == NOERROR and a.records and
              a.records[0][1] == PTR and a.records[0][3] == "web.testnet",
              "records %s" % a.records)
        a = udp_ask(query("9.0.0.10.in-addr.arpa", PTR))
        check(a.rcode == NXDOMAIN, "rcode %d" % a.rcode)

    def t_large_local_answer_is_truncated_then_complete_over_tcp(self):
        a = udp_ask(query("tasks.api"))
        check(a.tc and len(a.raw) <= 512 and 0 < len(a.addrs()) < 40,
              "tc %s len %d n %d" % (a.tc, len(a.raw), len(a.addrs())))
        a = tcp_ask(query("tasks.api"))
        want = {"10.0.1.%d" % i for i in range(1, 41)}
        check(not a.tc and set(a.addrs()) == want and len(a.addrs()) == 40,
              "tcp addrs %s" % a.addrs())

    def t_other_names_are_forwarded_with_a_new_id(self):
        n = len(self.up.seen)
        a = udp_ask(query("ext.example.com", qid=0x5555))
        check(a.id == 0x5555, "client id restored: %#x" % a.id)
        check(a.addrs() == ["192.0.2.1"], "addrs %s" % a.addrs())
        seen = self.up.seen[n:]
        check(len(seen) == 1 and seen[0][0] == "udp" and
              seen[0][2] == "ext.example.com", "upstream saw %s" % seen)

    def t_truncated_upstream_answer_is_asked_again_over_tcp(self):
        n = len(self.up.seen)
        a = udp_ask(query("big.example.com"))
        # 100 records do not fit a client without EDNS: an empty TC answer.
        check(a.tc and a.an == 0, "tc %s an %d" % (a.tc, a.an))
        protos = [s[0] for s in self.up.seen[n:]]
        check(protos == ["udp", "tcp"], "upstream saw %s" % protos)
        a = udp_ask(query("big.example.com", edns=4096))
        check(not a.tc and len(a.addrs()) == 100,
              "edns: tc %s n %d" % (a.tc, len(a.addrs())))
        a = tcp_ask(query("big.example.com"))
        check(len(a.addrs()) == 100, "tcp n %d" % len(a.addrs()))

    def t_upstream_failure_and_silence_give_servfail(self):
        a = udp_ask(query("servfail.example.com"))
        check(a.rcode == SERVFAIL, "rcode %d" % a.rcode)
        t0 = time.monotonic()
        a = udp_ask(query("silent.example.com"))
        dt = time.monotonic() - t0
        check(a.rcode == SERVFAIL, "silent: rcode %d" % a.rcode)
        check(dt >= TIMEOUT_MS / 1000 * 0.9, "answered before the timeout")

    def t_forwarded_queries_are_capped_per_container(self):
        # 70 queries upstream never answers: the 64 of the cap wait for the
        # timeout, the other 6 get SERVFAIL at once.
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.settimeout(TIMEOUT_MS / 1000 / 2)
            for i in range(FWD_CAP + 6):
                s.sendto(query("silent.example.com", qid=i),
                         ("127.0.0.11", 53))
            early = []
            try:
                while True:
                    early.append(Answer(s.recv(512)))
            except socket.timeout:
                pass
            check(len(early) == 6 and
                  all(a.rcode == SERVFAIL for a in early),
                  "%d early answers" % len(early))
            s.settimeout(3)
            late = [Answer(s.recv(512)) for _ in range(FWD_CAP)]
            check(all(a.rcode == SERVFAIL for a in late), "late SERVFAIL")
            ids = {a.id for a in early + late}
            check(ids == set(range(FWD_CAP + 6)), "every id answered once")

    def t_compression_loop_is_formerr(self):
        msg = struct.pack(">HHHHHH", 0xC00C, 0, 1, 0, 0, 0)
        msg += struct.pack(">HHH", 0xC000, A, 1)
        a = udp_ask(msg)
        check(a.rcode == FORMERR and a.id == 0xC00C, "rcode %d" % a.rcode)

    def t_garbage_is_ignored_and_service_goes_on(self):
        rnd = random.Random(1)
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.settimeout(0.2)
            for i in range(300):
                n = rnd.randrange(0, 600)
                data = bytes(rnd.randrange(256) for _ in range(n))
                if i % 3 == 0 and n >= 12:  # a response: never answered
                    data = data[:2] + bytes([data[2] | 0x80]) + data[3:]
                s.sendto(data, ("127.0.0.11", 53))
            replies = []
            try:
                while True:
                    replies.append(s.recv(65535))
            except socket.timeout:
                pass
        for r in replies:
            check(len(r) >= 12 and r[2] & 0x80, "reply is a response")
            check(r[3] & 0xF != NOERROR or r[6:8] == b"\0\0",
                  "garbage got records")
        # TCP: a zero length closes, a short message is answered or dropped.
        with socket.create_connection(("127.0.0.11", 53), timeout=2) as c:
            c.sendall(b"\0\0")
            check(c.recv(10) == b"", "zero-length message closes")
        with socket.create_connection(("127.0.0.11", 53), timeout=2) as c:
            c.sendall(b"\0\5hello")
            c.settimeout(0.3)
            try:
                c.recv(10)
            except socket.timeout:
                pass
        self.t_container_name_answers_a_with_ttl_600()
        check(tcp_ask(query("web")).addrs() == ["10.0.0.2"], "tcp after")

    def t_tcp_connections_are_capped(self):
        held = [socket.create_connection(("127.0.0.11", 53), timeout=2)
                for _ in range(MAX_TCP)]
        try:
            # The held ones work; one more is closed at once.
            a = held[0]
            q = query("web")
            a.sendall(struct.pack(">H", len(q)) + q)
            n = struct.unpack(">H", recv_exact(a, 2))[0]
            recv_exact(a, n)
            with socket.create_connection(("127.0.0.11", 53),
                                          timeout=2) as extra:
                try:
                    got = extra.recv(10)
                except ConnectionResetError:
                    got = b""
                check(got == b"", "connection past the cap closed")
        finally:
            for s in held:
                s.close()
        time.sleep(0.1)
        check(tcp_ask(query("web")).addrs() == ["10.0.0.2"], "tcp after")

    def t_tcp_pipelines_and_closes_idle_connections(self):
        with socket.create_connection(("127.0.0.11", 53), timeout=2) as c:
            frames = b""
            names = ("web", "ext.example.com", "ghost.testnet")
            for i, name in enumerate(names):
                q = query(name, qid=100 + i)
                frames += struct.pack(">H", len(q)) + q
            c.sendall(frames)  # three queries in one write
            got = {}
            for _ in range(3):
                n = struct.unpack(">H", recv_exact(c, 2))[0]
                a = Answer(recv_exact(c, n))
                got[a.id] = a
            check(got[100].addrs() == ["10.0.0.2"] and
                  got[101].addrs() == ["192.0.2.1"] and
                  got[102].rcode == NXDOMAIN, "pipelined answers")
            # Idle past the timeout: closed by the resolver.
            c.settimeout(IDLE_MS / 1000 * 4)
            t0 = time.monotonic()
            check(c.recv(10) == b"", "idle connection closed")
            check(time.monotonic() - t0 >= IDLE_MS / 1000 * 0.5,
                  "closed only once idle")
        # A client that leaves while its query is forwarded.
        c = socket.create_connection(("127.0.0.11", 53), timeout=2)
        q = query("silent.example.com")
        c.sendall(struct.pack(">H", len(q)) + q)
        c.close()
        time.sleep(0.05)
        check(tcp_ask(query("web")).addrs() == ["10.0.0.2"], "tcp after")

    def t_detach_closes_the_sockets(self):
        self.harness.send_signal(signal.SIGUSR1)
        check(self.harness.stdout.readline().strip() == "detached",
              "harness detached")
        try:
            udp_ask(query("web"), timeout=0.5)
            check(False, "answered after detach")
        except (socket.timeout, ConnectionRefusedError):
            pass
        try:
            tcp_ask(query("web"), timeout=0.5)
            check(False, "tcp answered after detach")
        except (ConnectionRefusedError, socket.timeout):
            pass


def run_suite(suite):
    failures = []
    names = [n for n in Suite.__dict__ if n.startswith("t_")]

    def body():
        setns(suite.ns_path)
        for name in names:
            try:
                getattr(suite, name)()
                print("ok   %s" % name[2:], flush=True)
            except Exception as e:  # noqa: BLE001 (report and go on)
                failures.append(name)
                print("FAIL %s: %r" % (name[2:], e), flush=True)

    t = threading.Thread(target=body)
    t.start()
    t.join()
    return failures


def not_from_the_host_namespace():
    """The resolver's port is open in the container only."""
    try:
        udp_ask(query("web"), timeout=0.3)
        return ["resolver_answers_outside_the_container"]
    except (socket.timeout, ConnectionRefusedError):
        print("ok   resolver_not_reachable_from_the_host_namespace")
        return []


def without_upstream(harness_path, ns_path, tmp):
    """A second resolver on the same container (the first detached and
    closed: the port is free again), with no nameserver configured."""
    empty = os.path.join(tmp, "empty.conf")
    with open(empty, "w") as f:
        f.write("search example.org\n")
    h = subprocess.Popen([harness_path, ns_path, empty],
                         stdout=subprocess.PIPE, text=True)
    failures = []
    try:
        if h.stdout.readline().strip() != "ready":
            return ["reattach_after_detach"]
        result = {}

        def body():
            setns(ns_path)
            t0 = time.monotonic()
            result["ext"] = udp_ask(query("ext.example.com")).rcode
            result["dt"] = time.monotonic() - t0
            result["web"] = udp_ask(query("web")).addrs()

        t = threading.Thread(target=body)
        t.start()
        t.join()
        if result.get("ext") != SERVFAIL or result.get("dt", 9) > 0.2:
            failures.append("no_upstream_is_servfail_at_once %s" % result)
        else:
            print("ok   no_upstream_is_servfail_at_once")
        if result.get("web") != ["10.0.0.2"]:
            failures.append("reattach_after_detach %s" % result)
        else:
            print("ok   reattach_after_detach")
        h.send_signal(signal.SIGTERM)
        if h.wait(timeout=20) != 0:
            failures.append("second harness exit %d" % h.returncode)
    finally:
        if h.poll() is None:
            h.kill()
            h.wait()
    return failures


def with_own_servers(harness_path, ns_path, tmp, up):
    """A container with servers of its own (--dns): names the daemon does
    not know go to them, never to the daemon's upstream (127.0.0.1),
    which does not know own.example.com and answers ext.example.com
    otherwise; a list of 4 is refused."""
    own = FakeUpstream("127.0.0.2", {"own.example.com": ["192.0.2.99"],
                                     "ext.example.com": ["192.0.2.77"]})
    conf = os.path.join(tmp, "resolv.conf")
    env = dict(os.environ, NET_DNS_SERVERS="127.0.0.2")
    h = subprocess.Popen([harness_path, ns_path, conf, str(TIMEOUT_MS)],
                         stdout=subprocess.PIPE, text=True, env=env)
    failures = []
    try:
        if h.stdout.readline().strip() != "ready":
            return ["own_servers_harness_start"]
        n_daemon = len(up.seen)
        result = {}

        def body():
            setns(ns_path)
            result["own"] = udp_ask(query("own.example.com")).addrs()
            result["own_tcp"] = tcp_ask(query("own.example.com")).addrs()
            result["ext"] = udp_ask(query("ext.example.com")).addrs()
            result["web"] = udp_ask(query("web")).addrs()

        t = threading.Thread(target=body)
        t.start()
        t.join()
        if (result.get("own") != ["192.0.2.99"] or
                result.get("own_tcp") != ["192.0.2.99"]):
            failures.append("own_servers_answer %s" % result)
        elif result.get("ext") != ["192.0.2.77"] or len(up.seen) != n_daemon:
            failures.append("own_servers_replace_the_daemons %s %s" %
                            (result, up.seen[n_daemon:]))
        elif [x[2] for x in own.seen] != ["own.example.com"] * 2 + \
                ["ext.example.com"]:
            failures.append("own_servers_saw %s" % own.seen)
        elif result.get("web") != ["10.0.0.2"]:
            failures.append("own_servers_local_names %s" % result)
        else:
            print("ok   own_servers_replace_the_daemons")
        h.send_signal(signal.SIGTERM)
        if h.wait(timeout=20) != 0:
            failures.append("own servers harness exit %d" % h.returncode)
    finally:
        if h.poll() is None:
            h.kill()
            h.wait()
        own.udp.close()
        own.tcp.close()
    env["NET_DNS_SERVERS"] = "10.0.0.1,10.0.0.2,10.0.0.3,10.0.0.4"
    r = subprocess.run([harness_path, ns_path, conf], capture_output=True,
                       text=True, timeout=20, env=env)
    if r.returncode != 1 or "at most 3" not in r.stderr:
        failures.append("four_servers_refused rc %d %r" %
                        (r.returncode, r.stderr))
    else:
        print("ok   four_servers_refused")
    return failures


def attach_errors_name_the_step(harness_path, tmp):
    """A path that is no network namespace: attach fails, saying why."""
    conf = os.path.join(tmp, "resolv.conf")
    failures = []
    for path, words in (("/nonexistent/ns/net",
                         "cannot open the network namespace"),
                        ("/proc/self/ns/uts",
                         "cannot enter the network namespace")):
        r = subprocess.run([harness_path, path, conf], capture_output=True,
                           text=True, timeout=20)
        if r.returncode != 1 or words not in r.stderr:
            failures.append("attach_error %s: rc %d %r" %
                            (path, r.returncode, r.stderr))
    if not failures:
        print("ok   attach_errors_name_the_step")
    return failures


def inner(harness_path):
    subprocess.run(["ip", "link", "set", "lo", "up"], check=True)
    up = FakeUpstream()
    tmp = tempfile.mkdtemp(prefix="net-dns-")
    procs = []
    try:
        resolv = os.path.join(tmp, "resolv.conf")
        with open(resolv, "w") as f:
            f.write("# test\nsearch example.org\nnameserver 127.0.0.1\n")
        ctr = subprocess.Popen(["unshare", "--net", "--", "sleep", "120"])
        procs.append(ctr)
        ns_path = "/proc/%d/ns/net" % ctr.pid
        for _ in range(200):
            if os.readlink(ns_path) != os.readlink("/proc/self/ns/net"):
                break
            time.sleep(0.01)
        h = subprocess.Popen([harness_path, ns_path, resolv,
                              str(TIMEOUT_MS), str(MAX_TCP), str(IDLE_MS)],
                             stdout=subprocess.PIPE, text=True)
        procs.append(h)
        line = h.stdout.readline().strip()
        if line != "ready":
            print("harness did not start: %r" % line)
            return 1
        failures = run_suite(Suite(up, ns_path, h))
        failures += not_from_the_host_namespace()
        h.send_signal(signal.SIGTERM)
        rc = h.wait(timeout=20)
        if rc != 0:
            failures.append("harness exit %d (leak or error)" % rc)
        failures += without_upstream(harness_path, ns_path, tmp)
        failures += with_own_servers(harness_path, ns_path, tmp, up)
        failures += attach_errors_name_the_step(harness_path, tmp)
        if failures:
            print("FAILED: %s" % ", ".join(failures))
            return 1
        return 0
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
                p.wait()
        shutil.rmtree(tmp, ignore_errors=True)


def main():
    if len(sys.argv) != 2:
        print(__doc__)
        return 2
    if os.geteuid() != 0:
        print("skip: needs root (network namespaces)")
        return 77
    if os.environ.get("NET_DNS_INNER") != "1":
        env = dict(os.environ, NET_DNS_INNER="1")
        return subprocess.run(["unshare", "--net", "--", sys.executable,
                               os.path.abspath(__file__)] + sys.argv[1:],
                              env=env).returncode
    return inner(sys.argv[1])


if __name__ == "__main__":
    sys.exit(main())

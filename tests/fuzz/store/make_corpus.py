#!/usr/bin/env python3
"""Writes the seed corpora of the store's fuzz targets from the encodings
documented in docs/store.md (an independent writer of the same format, so
the seeds also check that the documentation and the code agree).

    tests/fuzz/store/make_corpus.py   # rewrites corpus/batch, corpus/snapshot
"""
import os
import struct

HERE = os.path.dirname(os.path.abspath(__file__))
NODES, CLUSTERS, SERVICES, TASKS, NETWORKS, SECRETS, CONFIGS = range(7)
CREATE, UPDATE, DELETE = 1, 2, 3


def s16(b):
    return struct.pack(">H", len(b)) + b


def b32(b):
    return struct.pack(">I", len(b)) + b


def op(kind, table, ident, version=0, name=None, spec=None, status=None):
    flags = (1 if spec is not None else 0) | (2 if status is not None else 0)
    out = struct.pack(">BBBQ", kind, table, flags, version) + s16(ident)
    if kind == CREATE:
        out += s16(name or b"")
    if spec is not None:
        out += b32(spec)
    if status is not None:
        out += b32(status)
    return out


def batch(time_ns, ops):
    return b"SHB1" + struct.pack(">qI", time_ns, len(ops)) + b"".join(ops)


def obj(ident, name, version, created, updated, spec, status):
    return (s16(ident) + s16(name) +
            struct.pack(">Qqq", version, created, updated) +
            b32(spec) + b32(status))


def snapshot(applied, tables):
    out = b"SHS1" + struct.pack(">QB", applied, 7)
    for t in range(7):
        objs = sorted(tables.get(t, []), key=lambda o: o[0])
        out += struct.pack(">I", len(objs))
        out += b"".join(obj(*o) for o in objs)
    return out


T = 1700000000000000000
BATCHES = {
    "create-node": batch(T, [op(CREATE, NODES, b"n2", name=b"host2",
                                spec=b'{"Role":"worker"}')]),
    "update-node-status": batch(T + 1, [op(UPDATE, NODES, b"n1", 1,
                                          status=b'{"State":"down"}')]),
    "delete-service": batch(T + 2, [op(DELETE, SERVICES, b"s1", 1)]),
    "stale-update": batch(T, [op(UPDATE, SERVICES, b"s1", 7, spec=b"{}")]),
    "mixed": batch(T, [
        op(CREATE, NETWORKS, b"net1", name=b"ingress", spec=b"{}",
           status=b""),
        op(UPDATE, CLUSTERS, b"c1", 1, spec=b'{"Name":"default"}',
           status=b"{}"),
        op(CREATE, TASKS, b"t.1", spec=b"\x00\x01binary"),
        op(DELETE, NODES, b"n1", 1),
    ]),
    "name-conflict": batch(T, [op(CREATE, SERVICES, b"s2", name=b"web",
                                  spec=b"{}")]),
    "truncated": batch(T, [op(CREATE, NODES, b"n3", spec=b"{}")])[:-3],
}
SNAPSHOTS = {
    "empty": snapshot(0, {}),
    "small": snapshot(12, {
        NODES: [(b"n1", b"host1", 3, T, T + 5, b'{"Role":"manager"}',
                 b'{"State":"ready"}'),
                (b"n2", b"host1", 12, T, T, b"{}", b"")],
        CLUSTERS: [(b"c1", b"default", 1, T, T, b"{}", b"")],
        SERVICES: [(b"s1", b"web", 9, T, T, b"\x00\xff", b"")],
        SECRETS: [(b"x", b"", 2, -1, 0, b"", b"")],
    }),
}


def write(folder, items):
    path = os.path.join(HERE, "corpus", folder)
    os.makedirs(path, exist_ok=True)
    for name, data in items.items():
        with open(os.path.join(path, name), "wb") as f:
            f.write(data)


write("batch", BATCHES)
write("snapshot", SNAPSHOTS)

#!/usr/bin/env python3
"""Writes the seed corpora of the store's fuzz targets: canonical encodings
of proto/store.proto's Batch and Snapshot messages (and a few broken ones),
made by a small independent protobuf writer, so the seeds also check that
the documented format and the code agree.

    tests/fuzz/store/make_corpus.py   # rewrites corpus/batch, corpus/snapshot
"""
import os

HERE = os.path.dirname(os.path.abspath(__file__))
NODES, CLUSTERS, SERVICES, TASKS, NETWORKS, SECRETS, CONFIGS = range(7)
CREATE, UPDATE, DELETE = 1, 2, 3


def varint(n):
    n &= (1 << 64) - 1  # int64 negatives are 10-byte two's complement
    out = b""
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out += bytes([b | 0x80])
        else:
            return out + bytes([b])


def vfield(num, n):
    """A varint field, omitted when zero (proto3 canonical form)."""
    return varint(num << 3) + varint(n) if n else b""


def lfield(num, data, always=False):
    """A length-delimited field; empty strings/bytes are omitted unless
    the field is a message whose presence matters."""
    if not data and not always:
        return b""
    return varint(num << 3 | 2) + varint(len(data)) + data


def blob(data):
    return lfield(1, data)


def op(kind, table, ident, version=0, name=b"", spec=None, status=None):
    out = vfield(1, kind) + vfield(2, table) + vfield(3, version)
    out += lfield(4, ident) + lfield(5, name)
    if spec is not None:
        out += lfield(6, blob(spec), always=True)
    if status is not None:
        out += lfield(7, blob(status), always=True)
    return out


def batch(time_ns, ops):
    return vfield(1, time_ns) + b"".join(lfield(2, o, always=True)
                                         for o in ops)


def obj(ident, name, version, created, updated, spec, status):
    return (lfield(1, ident) + lfield(2, name) + vfield(3, version) +
            vfield(4, created) + vfield(5, updated) + lfield(6, spec) +
            lfield(7, status))


def snapshot(applied, tables):
    out = vfield(1, applied)
    for t in range(7):
        objs = sorted(tables.get(t, []), key=lambda o: o[0])
        out += lfield(2, b"".join(lfield(1, obj(*o), always=True)
                                  for o in objs), always=True)
    return out


T = 1700000000000000000
BATCHES = {
    "create-node": batch(T, [op(CREATE, NODES, b"n2", name=b"host2",
                                spec=b'{"Role":"worker"}')]),
    "update-node-status": batch(T + 1, [op(UPDATE, NODES, b"n1", 1,
                                          status=b'{"State":"down"}')]),
    "delete-service": batch(T + 2, [op(DELETE, SERVICES, b"s1", 1)]),
    "stale-update": batch(T, [op(UPDATE, SERVICES, b"s1", 7, spec=b"{}")]),
    "mixed": batch(-1, [
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

#!/usr/bin/env python3
"""Test helper: put an image into a registry with the plain HTTP API v2
(monolithic blob uploads, then the manifest), independent of Shoal.

  regpush.py image BASE REPO TAG ROOTFS.tar[,LAYER.tar...] [USER:PASS]
      one gzip layer made from each tar (uncompressed with
      REGPUSH_PLAIN=1), the first at the bottom; prints the manifest
      digest
  regpush.py list BASE REPO TAG DIGEST,OTHER [USER:PASS]
      a manifest list: OTHER for another architecture, then DIGEST for
      linux/<host arch>
BASE is http://host:port or https://host:port (certificates not checked).
"""
import base64, gzip, hashlib, json, os, platform, ssl, sys, urllib.request

ARCH = {"x86_64": "amd64", "aarch64": "arm64"}.get(platform.machine(), platform.machine())
CTX = ssl._create_unverified_context()


def req(method, url, data=None, ctype=None, auth=None):
    r = urllib.request.Request(url, data=data, method=method)
    if ctype:
        r.add_header("Content-Type", ctype)
    if auth:
        r.add_header("Authorization", "Basic " + base64.b64encode(auth.encode()).decode())
    return urllib.request.urlopen(r, context=CTX)


def blob(base, repo, data, auth):
    d = "sha256:" + hashlib.sha256(data).hexdigest()
    loc = req("POST", f"{base}/v2/{repo}/blobs/uploads/", b"", auth=auth).headers["Location"]
    if loc.startswith("/"):
        loc = base + loc
    sep = "&" if "?" in loc else "?"
    req("PUT", f"{loc}{sep}digest={d}", data, "application/octet-stream", auth)
    return d


def manifest(base, repo, tag, body, mt, auth):
    req("PUT", f"{base}/v2/{repo}/manifests/{tag}", body, mt, auth)
    return "sha256:" + hashlib.sha256(body).hexdigest()


def main():
    kind, base, repo, tag, arg = sys.argv[1:6]
    auth = sys.argv[6] if len(sys.argv) > 6 else None
    if kind == "image":
        plain = os.environ.get("REGPUSH_PLAIN") == "1"
        mt = "application/vnd.docker.image.rootfs.diff.tar" + ("" if plain else ".gzip")
        layers, diffs = [], []
        for path in arg.split(","):
            raw = open(path, "rb").read()
            gz = raw if plain else gzip.compress(raw, mtime=0)
            layers.append({"mediaType": mt, "size": len(gz), "digest": blob(base, repo, gz, auth)})
            diffs.append("sha256:" + hashlib.sha256(raw).hexdigest())
        cfg = json.dumps({
            "architecture": ARCH, "os": "linux",
            "config": {"Cmd": ["sh"]},
            "rootfs": {"type": "layers", "diff_ids": diffs},
            "history": [{"created_by": "regpush"} for _ in diffs]}).encode()
        c = blob(base, repo, cfg, auth)
        m = json.dumps({
            "schemaVersion": 2,
            "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
            "config": {"mediaType": "application/vnd.docker.container.image.v1+json", "size": len(cfg), "digest": c},
            "layers": layers}).encode()
        print(manifest(base, repo, tag, m, "application/vnd.docker.distribution.manifest.v2+json", auth))
    else:
        arg, odig = arg.split(",")
        size = int(req("HEAD", f"{base}/v2/{repo}/manifests/{arg}", auth=auth).headers["Content-Length"])
        osize = int(req("HEAD", f"{base}/v2/{repo}/manifests/{odig}", auth=auth).headers["Content-Length"])
        other = "s390x" if ARCH != "s390x" else "amd64"
        idx = json.dumps({
            "schemaVersion": 2,
            "mediaType": "application/vnd.docker.distribution.manifest.list.v2+json",
            "manifests": [
                {"mediaType": "application/vnd.docker.distribution.manifest.v2+json", "size": osize, "digest": odig,
                 "platform": {"architecture": other, "os": "linux"}},
                {"mediaType": "application/vnd.docker.distribution.manifest.v2+json", "size": size, "digest": arg,
                 "platform": {"architecture": ARCH, "os": "linux"}}]}).encode()
        print(manifest(base, repo, tag, idx, "application/vnd.docker.distribution.manifest.list.v2+json", auth))


main()

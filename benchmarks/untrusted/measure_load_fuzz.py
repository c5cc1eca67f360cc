# ruff: noqa: E501, E701, E702  (measurement scripts kept as they were run)
"""Measurements for issue 15's closing note."""

import collections
import hashlib
import io
import json
import os
import random
import resource
import tempfile
import time
import warnings
import zipfile

import numpy as np
from sklearn.linear_model import LogisticRegression

from skal import ActiveLearner, SessionFileError

warnings.simplefilter("ignore")
d = tempfile.mkdtemp()
rng = np.random.RandomState(0)
X = rng.randn(300, 8).astype(np.float32)
y = (X[:, 0] > 0).astype(int) + (X[:, 1] > 0.5)
ys = np.full(300, -1)
for c in range(3):
    ys[np.flatnonzero(y == c)[:2]] = c
learner = ActiveLearner(
    LogisticRegression(),
    n_instances=5,
    random_state=0,
    journal=os.path.join(d, "j.jsonl"),
).fit(X, ys)
for step in range(6):
    idx = learner.query()
    if step % 2:
        learner.teach(X[idx] + 0.25, y[idx])
    else:
        learner.teach(y=y[idx], indices=idx)
path = os.path.join(d, "s.skal")
learner.save(path)
data = open(path, "rb").read()
print("session file bytes", len(data))


def outcome(blob):
    p = os.path.join(d, "f.skal")
    open(p, "wb").write(blob)
    try:
        lo = ActiveLearner.load(p)
    except SessionFileError:
        return "SessionFileError"
    except Exception as e:
        return f"OTHER {type(e).__name__}: {str(e)[:80]}"
    same = np.array_equal(lo.y_labeled_, learner.y_labeled_) and np.array_equal(
        lo.predict_proba(X), learner.predict_proba(X)
    )
    return "loaded, identical" if same else "loaded, DIFFERENT"


r = random.Random(0)
t0 = time.time()
c = collections.Counter()
for _ in range(600):
    b = bytearray(data)
    i = r.randrange(len(b))
    b[i] ^= r.randrange(1, 256)
    c[outcome(bytes(b))] += 1
print("600 single-byte flips:", dict(c), f"{time.time() - t0:.1f}s")

# crafted members, checksums recomputed
with zipfile.ZipFile(io.BytesIO(data)) as zf:
    members = {n: zf.read(n) for n in zf.namelist()}


def rezip(m):
    m = dict(m)
    man = json.loads(m["manifest.json"])
    man["files"] = {
        n: {"sha256": hashlib.sha256(v).hexdigest(), "size": len(v)}
        for n, v in m.items()
        if n != "manifest.json"
    }
    m["manifest.json"] = json.dumps(man).encode()
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for n, v in m.items():
            zf.writestr(n, v)
    return buf.getvalue()


def paths(doc, pre=()):
    yield pre
    if isinstance(doc, dict):
        for k, v in doc.items():
            yield from paths(v, (*pre, k))
    elif isinstance(doc, list):
        for i, v in enumerate(doc):
            yield from paths(v, (*pre, i))


values = [
    None,
    True,
    -1,
    0,
    10**12,
    1.5,
    float("nan"),
    "x",
    "a0",
    [],
    {},
    [[[]]],
    {"__array__": "a0"},
    {"__tuple__": [1]},
    {"__class__": {"module": "os", "name": "system"}},
    {"__skal__": {"module": "builtins", "name": "eval"}, "params": {}},
    {
        "__sparse__": "csr",
        "shape": [10**11, 1],
        "data": "a0",
        "indices": "a0",
        "indptr": "a0",
    },
]
c = collections.Counter()
t0 = time.time()
for _ in range(600):
    m = dict(members)
    name = r.choice(["params.json", "state.json"])
    doc = json.loads(m[name])
    ps = list(paths(doc))
    p = r.choice(ps)
    v = r.choice(values)
    if p:
        t = doc
        for k in p[:-1]:
            t = t[k]
        t[p[-1]] = v
    else:
        doc = v
    m[name] = json.dumps(doc).encode()
    c[outcome(rezip(m))] += 1
print(
    "600 crafted JSON members (checksums recomputed):",
    dict(c),
    f"{time.time() - t0:.1f}s",
)

# a 4 GiB member
big = os.path.join(d, "bomb.skal")
t0 = time.time()
with zipfile.ZipFile(big, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as zf:
    for n, v in members.items():
        if n != "state.json":
            zf.writestr(n, v)
    h = hashlib.sha256()
    with zf.open("state.json", "w", force_zip64=True) as f:
        chunk = b" " * (1 << 24)
        for _ in range(256):
            f.write(chunk)
            h.update(chunk)
print("bomb built", os.path.getsize(big), "bytes on disk", f"{time.time() - t0:.1f}s")
# manifest lists the honest size and hash of the 4 GiB member
m2 = {}
with zipfile.ZipFile(big) as zf:
    man = json.loads(zf.read("manifest.json"))
man["files"]["state.json"] = {"sha256": h.hexdigest(), "size": 1 << 32}
# rewrite the manifest: copy the other members raw
big2 = os.path.join(d, "bomb2.skal")
with (
    zipfile.ZipFile(big) as src,
    zipfile.ZipFile(big2, "w", zipfile.ZIP_DEFLATED) as dst,
):
    for info in src.infolist():
        if info.filename == "manifest.json":
            dst.writestr("manifest.json", json.dumps(man))
        else:
            with (
                src.open(info) as fi,
                dst.open(
                    info.filename if info.filename != "state.json" else "state.json",
                    "w",
                    force_zip64=True,
                ) as fo,
            ):
                while True:
                    b = fi.read(1 << 24)
                    if not b:
                        break
                    fo.write(b)
print("bomb file", os.path.getsize(big2), "bytes")
rss0 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
t0 = time.time()
try:
    ActiveLearner.load(big2)
    print("bomb LOADED?!")
except SessionFileError as e:
    print("bomb:", str(e)[-230:])
print(
    f"bomb load {time.time() - t0:.2f}s, max RSS grew by {(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - rss0) / 1024:.1f} MiB"
)

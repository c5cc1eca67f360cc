"""Kernel-level query speed: skal's torch kernels vs scikit-activeml 1.0.1.

Times k-center greedy (CoreSet), k-means++ seeding, BADGE seeding (C classes),
TypiClust (k-means + in-cluster typicality) and margin top-k on random float32
embeddings, each case in a fresh subprocess (so that peak memory is the
``ru_maxrss`` high-water mark of that process, reset just before the timed
call (``VmHWM``), minus its resident size at that point; on CUDA
``torch.cuda.max_memory_allocated``). scikit-activeml's ``CoreSet``, ``Badge``,
``TypiClust`` and ``UncertaintySampling(margin)`` run on the same data (as
float64, which it requires) under a time and a memory cap.

For the one-pass-per-pick kernels the achieved bandwidth is
``bytes read / time`` with ``N * D * 4`` bytes per pick (``N * (D + C) * 4``
for BADGE), compared with the memory-bandwidth floor measured in the same run
(sum of a 1 GiB float32 tensor).

Usage::

    python benchmarks/bench_query_speed.py                       # full run
    python benchmarks/bench_query_speed.py --quick               # smoke run
    python benchmarks/bench_query_speed.py --sizes 50000 100000 --dim 512 \\
        --batch 1000

Writes ``benchmarks/results/query_speed.csv`` and ``query_speed.md``.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import platform
import queue
import subprocess
import sys
import threading
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
N_CLASSES = 10

# (method, implementation) -> bytes read by one pick's pass, per pool row
ONE_PASS = {"coreset", "kmeans++", "badge"}


# --------------------------------------------------------------------------
# worker (runs one case in a fresh process)
# --------------------------------------------------------------------------
def _status_kb(field):
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    return 0


def _reset_peak_rss():
    """Reset VmHWM (and hence ru_maxrss) to the current RSS (Linux >= 4.0)."""
    try:
        with open("/proc/self/clear_refs", "w") as fh:
            fh.write("5")
        return True
    except OSError:
        return False


def _make_data(N, D, C, seed=0):
    import torch

    g = torch.Generator().manual_seed(seed)
    X = torch.randn(N, D, generator=g)
    P = torch.softmax(3.0 * torch.randn(N, C, generator=g), dim=1)
    return X, P


def _skal_fn(method, X, P, B):
    import torch

    from skal import _kernels as K

    if method == "coreset":
        return lambda: K.k_center_greedy(X, B, random_state=0)
    if method == "kmeans++":
        return lambda: K.kmeans_pp(X, B, random_state=0)
    if method == "badge":
        return lambda: K.badge_kmeans_pp(P, X, B, random_state=0)
    if method == "typiclust":
        return lambda: K.typiclust(X, B, k=20, n_iter=10, random_state=0)
    if method == "typicality":
        return lambda: K.typicality(X, 20)
    if method == "margin":

        def margin():
            top2 = torch.topk(P, 2, dim=1).values
            margin = top2[:, 0] - top2[:, 1]
            return torch.topk(margin, B, largest=False).indices.cpu()

        return margin
    raise ValueError(method)


def _peer_fn(method, X, P, B):
    import numpy as np
    from skactiveml.base import SkactivemlClassifier
    from skactiveml.pool import Badge, CoreSet, TypiClust, UncertaintySampling

    class Precomputed(SkactivemlClassifier):
        """Returns fixed probabilities (and the input as embeddings)."""

        def __init__(self, proba=None, classes=None, missing_label=np.nan):
            super().__init__(classes=classes, missing_label=missing_label)
            self.proba = proba

        def fit(self, X, y, sample_weight=None):
            return self

        def predict_proba(self, X, return_embeddings=False):
            return (self.proba, X) if return_embeddings else self.proba

    X64 = X.numpy().astype(np.float64)
    P64 = P.numpy().astype(np.float64)
    y = np.full(len(X64), np.nan)
    clf = Precomputed(P64, classes=np.arange(P64.shape[1]))
    if method == "coreset":
        return lambda: CoreSet(random_state=0).query(X64, y, batch_size=B)
    if method == "badge":
        qs = Badge(clf_embedding_flag_name="return_embeddings", random_state=0)
        return lambda: qs.query(X64, y, clf=clf, fit_clf=False, batch_size=B)
    if method == "typiclust":
        return lambda: TypiClust(random_state=0, k=20).query(X64, y, batch_size=B)
    if method == "margin":
        qs = UncertaintySampling(method="margin_sampling", random_state=0)
        return lambda: qs.query(X64, y, clf=clf, fit_clf=False, batch_size=B)
    raise ValueError(method)


# --------------------------------------------------------------------------
# a pool larger than memory: np.memmap, through the strategies
# --------------------------------------------------------------------------
def make_memmap(path, N, D, seed=0, block=250_000):
    """A float32 (N, D) memmap of Gaussian rows, written block by block."""
    import numpy as np

    path = Path(path)
    if path.exists() and path.stat().st_size == N * D * 4:
        return path
    mm = np.memmap(path, dtype=np.float32, mode="w+", shape=(N, D))
    rng = np.random.default_rng(seed)
    for s in range(0, N, block):
        e = min(N, s + block)
        mm[s:e] = rng.standard_normal((e - s, D), dtype=np.float32)
    mm.flush()
    del mm
    return path


def memmap_worker(case):
    """One strategy call on a memmap pool; peak RSS = VmHWM after a reset."""
    import numpy as np
    from sklearn.linear_model import LogisticRegression

    from skal import ActiveLearner
    from skal.strategies import BADGE, CoreSet, MarginSampling

    N, D, B, C = case["N"], case["D"], case["B"], case["C"]
    X = np.memmap(case["path"], dtype=np.float32, mode="r", shape=(N, D))
    rng = np.random.default_rng(1)
    # labeled set: 200 rows labeled by a linear rule, read from the pool
    lab = np.sort(rng.choice(N, 20 * C, replace=False))
    X_lab = np.asarray(X[lab])
    W = rng.standard_normal((D, C)).astype(np.float32)
    y_lab = (X_lab @ W).argmax(1)
    strategy = {"margin": MarginSampling, "coreset": CoreSet, "badge": BADGE}[
        case["method"]
    ]()
    learner = ActiveLearner(
        LogisticRegression(max_iter=200), strategy=strategy, n_instances=B
    ).fit(X_lab, y_lab)
    del X_lab
    reset_ok = _reset_peak_rss()
    rss0 = _status_kb("VmRSS")
    print("START", flush=True)
    t0 = time.perf_counter()
    # the strategy's public call (learner.query would first check the whole
    # memmap for NaN with scikit-learn's assert_all_finite, which maps every
    # page of the file into the process once)
    idx = strategy(learner, X, n_instances=B, random_state=0)
    seconds = time.perf_counter() - t0
    res = {
        "seconds": seconds,
        "peak_mem_mb": _status_kb("VmHWM") / 1024 if reset_ok else float("nan"),
        "rss_before_mb": rss0 / 1024,
        "n_out": len(idx),
        "distinct": len(set(np.asarray(idx).tolist())) == len(idx),
    }
    print("RESULT " + json.dumps(res), flush=True)


def run_memmap(args):
    import numpy as np  # noqa: F401

    N, D, B = args.memmap_rows, args.dim, args.batch
    path = Path(args.memmap_path)
    t = time.perf_counter()
    make_memmap(path, N, D)
    print(
        f"memmap {path}: {N} x {D} float32, {N * D * 4 / 1e9:.2f} GB "
        f"(ready in {time.perf_counter() - t:.0f} s)",
        flush=True,
    )
    rows = []
    command = "python benchmarks/bench_query_speed.py " + " ".join(sys.argv[1:])
    out = args.out.parent / (args.out.name + "_memmap")
    old = []
    if args.append and out.with_suffix(".csv").exists():
        with open(out.with_suffix(".csv"), newline="") as fh:
            old = list(csv.DictReader(fh))
        for r in old:
            for k in INT_FIELDS[:3]:
                r[k] = int(r[k])
    for method in args.methods or ["margin", "coreset", "badge"]:
        case = dict(
            kind="memmap", method=method, path=str(path), N=N, D=D, B=B, C=N_CLASSES
        )
        load = os.getloadavg()[0]
        row = run_case(case, args.skal_time_cap, args.mem_cap_gb)
        row.update(load1_before=round(load, 2), command=command)
        row.update(pool_gb=round(N * D * 4 / 1e9, 2))
        rows.append(row)
        print(row, flush=True)
        done = {r["method"] for r in rows}
        _write_memmap_tables([r for r in old if r["method"] not in done] + rows, out)
    return rows


def _extra(r):
    try:
        return f"{float(r['peak_mem_mb']) - float(r['rss_before_mb']):.0f}"
    except (KeyError, TypeError, ValueError):
        return ""


def _write_memmap_tables(rows, out):
    N, D = rows[0]["N"], rows[0]["D"]
    order = ["margin", "coreset", "badge"]
    rows = sorted(rows, key=lambda r: order.index(r["method"]))
    fields = [
        "method",
        "N",
        "D",
        "B",
        "pool_gb",
        "status",
        "seconds",
        "peak_mem_mb",
        "rss_before_mb",
        "load1_before",
        "load1",
        "command",
    ]
    with open(out.with_suffix(".csv"), "w", newline="") as fh:
        w = csv.DictWriter(fh, fields, extrasaction="ignore")
        w.writeheader()
        w.writerows(rows)
    lines = [
        f"# Selection from a {N:,} x {D} float32 np.memmap "
        f"({N * D * 4 / 1e9:.2f} GB on disk)",
        "",
        "Commands:",
        "",
        *[f"    {c}" for c in dict.fromkeys(r["command"] for r in rows)],
        "",
        "Each strategy is called once (one round of B picks) in a fresh process "
        "on the memmap pool (`np.memmap(..., mode='r')`), with a "
        "LogisticRegression fitted on 200 labeled rows (10 classes) as the "
        "model; the embedding is the input itself. Peak RSS: the process's "
        "VmHWM (resident high-water mark, file-backed pages included), reset "
        "just before the call; it includes what the process held before the "
        "call (interpreter, torch, scikit-learn, the fitted model: `RSS "
        "before`), so `extra MB` = peak - before is what the round added. The "
        "file was in the "
        "page cache (the machine has 23 GB of RAM), so reads are memory "
        "copies and page faults, not disk reads. The 2 cores were shared with "
        "other engineers' jobs: 1-minute load average before and after each "
        "case is given.",
        "",
        "| method | N | D | B | pool GB | s per round | s per pick | peak RSS MB "
        "| RSS before MB | extra MB | load before | load after |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        sec = r["seconds"]
        per = (
            f"{float(sec) / int(r['B']):.3f}"
            if r["status"] == "ok" and r["method"] != "margin"
            else ""
        )
        lines.append(
            f"| {r['method']} | {r['N']} | {r['D']} | {r['B']} | {r['pool_gb']} "
            f"| {sec if r['status'] == 'ok' else r['status'] + ' ' + str(sec)} "
            f"| {per} | {r['peak_mem_mb']} | {r.get('rss_before_mb', '')} "
            f"| {_extra(r)} "
            f"| {r['load1_before']} | {r['load1']} |"
        )
    out.with_suffix(".md").write_text("\n".join(lines) + "\n")


def worker(case):
    import gc
    import resource

    import torch

    if case.get("kind") == "memmap":
        return memmap_worker(case)

    N, D, B, C = case["N"], case["D"], case["B"], case["C"]
    device = case["device"]
    X, P = _make_data(N, D, C)
    if case["impl"] == "skal":
        X, P = X.to(device), P.to(device)
        fn = _skal_fn(case["method"], X, P, B)
        # warm up libraries and code paths on a tiny problem
        Xw, Pw = X[: min(N, 2 * B + 64)], P[: min(N, 2 * B + 64)]
        _skal_fn(case["method"], Xw, Pw, min(B, 8))()
    else:
        fn = _peer_fn(case["method"], X, P, B)
        del X, P
        gc.collect()
    gc.collect()
    if device == "cuda":
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
        base = torch.cuda.memory_allocated()
    reset_ok = _reset_peak_rss()
    rss0 = _status_kb("VmRSS")
    print("START", flush=True)
    t0 = time.perf_counter()
    out = fn()
    if device == "cuda":
        torch.cuda.synchronize()
    seconds = time.perf_counter() - t0
    # VmHWM is ru_maxrss without the high-water mark inherited over exec
    # from the forked parent (which ru_maxrss keeps and clear_refs can't reset)
    peak_kb = _status_kb("VmHWM") or resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    res = {
        "seconds": seconds,
        "peak_mem_mb": max(0, peak_kb - rss0) / 1024 if reset_ok else float("nan"),
        "n_out": len(out),
    }
    if device == "cuda":
        res["peak_mem_mb"] = (torch.cuda.max_memory_allocated() - base) / 2**20
    if case["impl"] == "skal" and case["method"] in ONE_PASS:
        # bandwidth floor under the same conditions (process, data, machine
        # load): sums over the same arrays, as many passes as fit in ~10 %
        # of the kernel's time (at least 3)
        arrays = [X, P] if case["method"] == "badge" else [X]
        nbytes = sum(a.numel() * 4 for a in arrays)
        passes, t_floor = 0, 0.0
        while passes < 3 or (t_floor < 0.1 * seconds and passes < B):
            t = time.perf_counter()
            for a in arrays:
                a.sum()
            if device == "cuda":
                torch.cuda.synchronize()
            t_floor += time.perf_counter() - t
            passes += 1
        res["case_floor_gbps"] = nbytes * passes / t_floor / 1e9
        # best of repeats, robust to time slices lost to other processes on a
        # shared machine: the fastest short run of the kernel (b picks = b
        # passes over the pool: one for the norms, b - 1 for the picks) over
        # b times the fastest single pass of `sum` over the same arrays
        b, best_k, best_s = min(B, 8), float("inf"), float("inf")
        short = _skal_fn(case["method"], X, P, b)
        for _ in range(5):
            t = time.perf_counter()
            short()
            best_k = min(best_k, time.perf_counter() - t)
        for _ in range(15):
            t = time.perf_counter()
            for a in arrays:
                a.sum()
            if device == "cuda":
                torch.cuda.synchronize()
            best_s = min(best_s, time.perf_counter() - t)
        res["best_frac_floor"] = b * best_s / best_k
        res["best_floor_gbps"] = nbytes / best_s / 1e9
    print("RESULT " + json.dumps(res), flush=True)


# --------------------------------------------------------------------------
# parent
# --------------------------------------------------------------------------
def bandwidth_floor(gib=1.0, reps=5):
    """Read bandwidth (GB/s) of a float32 sum, and copy bandwidth (read+write)."""
    import torch

    n = int(gib * 2**30) // 4
    x = torch.ones(n)
    y = torch.empty_like(x)
    best_sum = best_copy = float("inf")
    for _ in range(reps):
        t = time.perf_counter()
        x.sum()
        best_sum = min(best_sum, time.perf_counter() - t)
        t = time.perf_counter()
        y.copy_(x)
        best_copy = min(best_copy, time.perf_counter() - t)
    return 4 * n / best_sum / 1e9, 2 * 4 * n / best_copy / 1e9


def _rss_kb(pid):
    try:
        with open(f"/proc/{pid}/status") as fh:
            for line in fh:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def run_case(case, time_cap, mem_cap_gb):
    load_before = round(os.getloadavg()[0], 2)
    cmd = [sys.executable, str(Path(__file__).resolve()), "--_worker", json.dumps(case)]
    env = dict(
        os.environ, PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", "")
    )
    proc = subprocess.Popen(
        cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env
    )
    lines: queue.Queue = queue.Queue()

    def reader():
        for line in proc.stdout:
            lines.put(line)
        lines.put(None)

    threading.Thread(target=reader, daemon=True).start()
    started = None
    setup_deadline = time.monotonic() + 600
    result, status, peak_rss = None, "error", 0
    while True:
        try:
            line = lines.get(timeout=0.2)
        except queue.Empty:
            line = ""
        if line is None:
            break
        if line.startswith("START"):
            started = time.monotonic()
        elif line.startswith("RESULT"):
            result = json.loads(line.split(" ", 1)[1])
            status = "ok"
        rss = _rss_kb(proc.pid)
        peak_rss = max(peak_rss, rss)
        now = time.monotonic()
        if rss > mem_cap_gb * 2**20:
            status = "memory cap"
        elif started is not None and now - started > time_cap:
            status = "timeout"
        elif started is None and now > setup_deadline:
            status = "setup timeout"
        else:
            continue
        proc.kill()  # the worker we started
        break
    proc.wait()
    if result is None and status == "error":
        err = proc.stderr.read()[-2000:]
        print(err, file=sys.stderr)
        status = "error: " + (err.strip().splitlines() or ["?"])[-1][:80]
    row = dict(case, status=status, seconds="", peak_mem_mb="")
    row["load1_before"] = load_before
    row["load1"] = round(os.getloadavg()[0], 2)
    if result is not None:
        row["seconds"] = round(result["seconds"], 4)
        if "case_floor_gbps" in result:
            row["case_floor_gbps"] = round(result["case_floor_gbps"], 2)
        for k in ("best_frac_floor", "best_floor_gbps"):
            if k in result:
                row[k] = round(result[k], 3)
        row["peak_mem_mb"] = round(result["peak_mem_mb"], 1)
        if "rss_before_mb" in result:
            row["rss_before_mb"] = round(result["rss_before_mb"], 1)
    elif status in ("timeout", "memory cap"):
        row["seconds"] = f">{time_cap}" if status == "timeout" else ""
    return row


def build_cases(args, cuda):
    devices = ["cpu"] + (["cuda"] if cuda else [])
    grid = [(N, args.dim, args.batch) for N in args.sizes]
    if args.reference and not args.quick:
        grid.append((50_000, 128, 200))  # the reference point
    cases = []
    for N, D, B in grid:
        for device in devices:
            for method in ["coreset", "kmeans++", "badge", "typiclust", "margin"]:
                if method == "typiclust" and N > args.typiclust_max_n:
                    continue
                cases.append(
                    dict(method=method, impl="skal", device=device, N=N, D=D, B=B)
                )
            if N <= args.typicality_max_n:
                cases.append(
                    dict(method="typicality", impl="skal", device=device, N=N, D=D, B=B)
                )
        if N <= args.peer_max_n and not args.no_peers:
            for method in ["coreset", "badge", "typiclust", "margin"]:
                cases.append(
                    dict(method=method, impl="skactiveml", device="cpu", N=N, D=D, B=B)
                )
    if args.methods:
        cases = [c for c in cases if c["method"] in args.methods]
    for c in cases:
        c["C"] = N_CLASSES
    return cases


FIELDS = [
    "method",
    "impl",
    "device",
    "N",
    "D",
    "B",
    "C",
    "status",
    "seconds",
    "peak_mem_mb",
    "gb_read",
    "gbps",
    "floor_gbps",
    "frac_floor",
    "case_floor_gbps",
    "frac_case_floor",
    "best_floor_gbps",
    "best_frac_floor",
    "speedup_vs_peer",
    "load1_before",
    "load1",
    "all_seconds",
    "command",
]
INT_FIELDS = ("N", "D", "B", "C")


def read_csv(path):
    if not path.exists():
        return []
    with open(path, newline="") as fh:
        rows = list(csv.DictReader(fh))
    for r in rows:
        for k in INT_FIELDS:
            r[k] = int(r[k])
    return rows


def write_csv(rows, path):
    with open(path, "w", newline="") as fh:
        w = csv.DictWriter(fh, FIELDS, extrasaction="ignore")
        w.writeheader()
        w.writerows(rows)


def annotate(rows, floor):
    peers = {
        (r["method"], r["N"], r["D"], r["B"]): r
        for r in rows
        if r["impl"] == "skactiveml"
    }
    for r in rows:
        r.setdefault("gb_read", "")
        r.setdefault("gbps", "")
        r.setdefault("floor_gbps", "")
        r.setdefault("frac_floor", "")
        r.setdefault("case_floor_gbps", "")
        r.setdefault("frac_case_floor", "")
        r.setdefault("speedup_vs_peer", "")
        if r["impl"] != "skal" or r["status"] != "ok":
            continue
        t = float(r["seconds"])
        if r["method"] in ONE_PASS:
            width = r["D"] + (r["C"] if r["method"] == "badge" else 0)
            gb = r["N"] * width * 4 * r["B"] / 1e9
            r["gb_read"] = round(gb, 2)
            r["gbps"] = round(gb / t, 2)
            if r["device"] == "cpu":
                f = float(r["floor_gbps"] or floor)
                r["floor_gbps"] = round(f, 2)
                r["frac_floor"] = round(gb / t / f, 3)
            if r.get("case_floor_gbps"):
                r["frac_case_floor"] = round(gb / t / float(r["case_floor_gbps"]), 3)
        peer = peers.get((r["method"], r["N"], r["D"], r["B"]))
        if peer is None or r["device"] != "cpu":
            continue
        if peer["status"] == "ok":
            r["speedup_vs_peer"] = round(float(peer["seconds"]) / t, 2)
        elif peer["status"] == "timeout":
            r["speedup_vs_peer"] = ">" + str(round(float(peer["seconds"][1:]) / t, 1))
        else:
            r["speedup_vs_peer"] = peer["status"]
    return rows


def write_markdown(rows, path, meta):
    lines = [
        "# Query kernel speed: skal vs scikit-activeml 1.0.1",
        "",
        "Commands (`--append` merges runs into the same table):",
        "",
        *[f"    {c}" for c in meta["commands"]],
        "",
        f"Machine: {meta['machine']}; torch {meta['torch']}, "
        f"{meta['threads']} threads. Memory-bandwidth floor (1 GiB float32 sum, "
        f"measured at the start and end of each run, best kept): "
        f"**{meta['floor_range']} GB/s** read (column `floor_gbps`). Peer time cap "
        f"{meta['time_cap']} s, memory cap {meta['mem_cap_gb']} GB.",
        "",
        "The machine was NOT idle: its 2 cores were shared with other "
        "engineers' jobs throughout, 1-minute load average "
        f"{meta['load_min']:.1f}-{meta['load_max']:.1f} (column `load`: before "
        "/ after each case; a load of 2 means both cores busy). Absolute times "
        "are therefore pessimistic and noisy. Trust the ratios measured in the "
        "same run under the same load: the speedup (peer and skal cases run "
        "back to back) and the `% case floor` (the bandwidth of plain `sum` "
        "passes over the same arrays, timed in the same process right after "
        "the kernel). `% floor, best of` is the ratio least disturbed by the "
        "other jobs: the fastest of 5 short runs of the kernel (8 picks = 8 "
        "passes over the pool, norms included) against 8 times the fastest of "
        "15 single `sum` passes over the same arrays, in the same process; a "
        "time slice lost to another process can only make a run slower, so "
        "best-of times approach what an idle core does. Rows run with "
        "`--repeat R` keep the fastest of R interleaved runs of each case "
        "(every time in the CSV's `all_seconds`).",
        "",
        "skal: `k_center_greedy`, `kmeans_pp`, `badge_kmeans_pp` (C=10), "
        "`typiclust` (k-means, 10 Lloyd iterations, + in-cluster typicality "
        "k=20), margin top-k; float32. skactiveml: `CoreSet`, `Badge`, "
        "`TypiClust(k=20)` (sklearn KMeans), `UncertaintySampling(margin)`; "
        "float64. Peak memory: extra resident memory during the call. "
        "GB/s: bytes of one pass over the pool per pick / time. "
        "% floor: that over the run's floor (idle-machine best case); "
        "% case floor: over the bandwidth of plain `sum` passes over the same "
        "arrays, timed in the same process right after the kernel (same load). "
        "speedup: skactiveml time / skal time ('>' when the peer hit the cap). "
        "Selection time is linear in B for both libraries (one pass per pick), "
        "so rows with a small B give the per-pick ratio where the peer exceeds "
        "the cap at B=1000. The case floor is only meaningful for arrays much "
        "larger than the last-level cache (N >= 100k at D=512).",
        "",
        "| N | D | B | method | device | skal s | skal MB | GB/s | % floor "
        "| % case floor | % floor, best of | skactiveml s | skactiveml MB "
        "| speedup | load |",
        "|---:|---:|---:|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    peers = {
        (r["method"], r["N"], r["D"], r["B"]): r
        for r in rows
        if r["impl"] == "skactiveml"
    }
    order = ["coreset", "kmeans++", "badge", "typiclust", "margin", "typicality"]
    skal_rows = sorted(
        (r for r in rows if r["impl"] == "skal"),
        key=lambda r: (-r["D"], r["N"], -r["B"], order.index(r["method"]), r["device"]),
    )
    for r in skal_rows:
        p = (
            peers.get((r["method"], r["N"], r["D"], r["B"]))
            if r["device"] == "cpu"
            else None
        )
        s = r["seconds"] if r["status"] == "ok" else (r["seconds"] or r["status"])
        frac = f"{100 * float(r['frac_floor']):.0f}%" if r["frac_floor"] != "" else ""
        load = f"{r.get('load1_before', '')}/{r.get('load1', '')}"
        if p is not None:
            load += f" (peer {p.get('load1_before', '')}/{p.get('load1', '')})"
        cfrac = r.get("frac_case_floor", "")
        cfrac = f"{100 * float(cfrac):.0f}%" if cfrac != "" else ""
        bfrac = r.get("best_frac_floor", "")
        bfrac = f"{100 * float(bfrac):.0f}%" if bfrac not in ("", None) else ""
        if p is None:
            ps = pm = ""
        else:
            ps = (
                p["seconds"] if p["status"] == "ok" else f"{p['status']} {p['seconds']}"
            )
            pm = p["peak_mem_mb"]
        lines.append(
            f"| {r['N']} | {r['D']} | {r['B']} | {r['method']} | {r['device']} | {s} "
            f"| {r['peak_mem_mb']} | {r['gbps']} | {frac} | {cfrac} | {bfrac} "
            f"| {ps} | {pm} "
            f"| {r['speedup_vs_peer']} | {load} |"
        )
    path.write_text("\n".join(lines) + "\n")


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument(
        "--sizes", type=int, nargs="+", default=[50_000, 100_000, 1_000_000]
    )
    ap.add_argument("--dim", type=int, default=512)
    ap.add_argument("--batch", type=int, default=1000)
    ap.add_argument("--quick", action="store_true", help="small smoke run")
    ap.add_argument(
        "--no-reference",
        dest="reference",
        action="store_false",
        help="skip the N=50k, D=128, B=200 reference point",
    )
    ap.add_argument("--no-peers", action="store_true", help="skip scikit-activeml")
    ap.add_argument(
        "--methods",
        nargs="+",
        choices=["coreset", "kmeans++", "badge", "typiclust", "margin", "typicality"],
        help="only these methods (default: all)",
    )
    ap.add_argument("--peer-max-n", type=int, default=100_000)
    ap.add_argument("--typiclust-max-n", type=int, default=100_000)
    ap.add_argument(
        "--typicality-max-n",
        type=int,
        default=20_000,
        help="largest N for full-pool typicality (O(N^2 D))",
    )
    ap.add_argument(
        "--time-cap", type=float, default=120.0, help="seconds per peer case"
    )
    ap.add_argument("--skal-time-cap", type=float, default=600.0)
    ap.add_argument("--mem-cap-gb", type=float, default=12.0)
    ap.add_argument(
        "--repeat",
        type=int,
        default=1,
        help="run every case this many times (interleaved), keep the fastest",
    )
    ap.add_argument("--out", type=Path, default=HERE / "results" / "query_speed")
    ap.add_argument(
        "--append",
        action="store_true",
        help="merge into the existing CSV (same case: replaced) instead of overwriting",
    )
    ap.add_argument(
        "--report-only",
        action="store_true",
        help="only re-render the markdown table from the existing CSV",
    )
    ap.add_argument(
        "--memmap-rows",
        type=int,
        default=None,
        help="instead: select from an N x --dim float32 np.memmap pool "
        "(margin, CoreSet, BADGE through the strategies, B = --batch)",
    )
    ap.add_argument("--memmap-path", default="/tmp/skal_pool.f32")
    ap.add_argument("--_worker", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args._worker:
        worker(json.loads(args._worker))
        return
    if args.memmap_rows:
        run_memmap(args)
        return
    if args.quick:
        args.sizes, args.dim, args.batch = [5_000, 20_000], 64, 50
        args.time_cap = min(args.time_cap, 30.0)
        args.peer_max_n = min(args.peer_max_n, 20_000)

    import torch

    cuda = torch.cuda.is_available()
    command = "python benchmarks/bench_query_speed.py " + " ".join(sys.argv[1:])
    if args.report_only:
        args.append, floor, cases = True, float("nan"), []
    else:
        floor, _ = bandwidth_floor()
        cases = build_cases(args, cuda)
        print(f"bandwidth floor: sum {floor:.1f} GB/s", flush=True)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    csv_path = args.out.with_suffix(".csv")
    old = read_csv(csv_path) if args.append else []
    rows = []

    def merged():
        keys = {
            tuple(r[k] for k in ("method", "impl", "device", "N", "D", "B"))
            for r in rows
        }
        keep = [
            r
            for r in old
            if tuple(r[k] for k in ("method", "impl", "device", "N", "D", "B"))
            not in keys
        ]
        return annotate(keep + rows, floor)

    t_start = time.perf_counter()
    best = {}  # case -> index in rows of its fastest repeat
    for case in [c for _ in range(args.repeat) for c in cases]:
        cap = args.time_cap if case["impl"] == "skactiveml" else args.skal_time_cap
        row = run_case(case, cap, args.mem_cap_gb)
        row["command"] = command
        row["floor_gbps"] = round(floor, 2) if case["device"] == "cpu" else ""
        key = tuple(case[k] for k in ("method", "impl", "device", "N", "D", "B"))
        if key in best:  # --repeat: keep the fastest run, list every time
            prev = rows[best[key]]
            row["all_seconds"] = f"{prev['all_seconds']} {row['seconds']}"
            if row["status"] == "ok" and (
                prev["status"] != "ok" or row["seconds"] < prev["seconds"]
            ):
                rows[best[key]] = row
            else:
                prev["all_seconds"] = row["all_seconds"]
        else:
            row["all_seconds"] = str(row["seconds"])
            best[key] = len(rows)
            rows.append(row)
        print(
            f"{row['impl']:>10} {row['method']:>10} {row['device']:>4} N={row['N']:>7} "
            f"D={row['D']:>4} B={row['B']:>4}: {row['status']:>8} {row['seconds']} s "
            f"{row['peak_mem_mb']} MB",
            flush=True,
        )
        write_csv(merged(), csv_path)
    floor2 = bandwidth_floor()[0] if rows else floor
    for r in rows:
        if r["floor_gbps"] != "":
            r["floor_gbps"] = round(max(floor, floor2), 2)
    all_rows = merged()
    write_csv(all_rows, csv_path)
    floors = sorted({float(r["floor_gbps"]) for r in all_rows if r.get("floor_gbps")})
    loads = [float(r["load1"]) for r in all_rows if r.get("load1") not in (None, "")]
    meta = dict(
        commands=list(dict.fromkeys(r.get("command") or command for r in all_rows)),
        machine=f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores"
        + (f", {torch.cuda.get_device_name()}" if cuda else ""),
        torch=torch.__version__,
        threads=torch.get_num_threads(),
        floor_range=(
            f"{floors[0]:.1f}-{floors[-1]:.1f}"
            if len(floors) > 1
            else f"{floors[0]:.1f}"
        )
        if floors
        else "?",
        time_cap=args.time_cap,
        mem_cap_gb=args.mem_cap_gb,
        load_min=min(loads) if loads else float("nan"),
        load_max=max(loads) if loads else float("nan"),
    )
    write_markdown(all_rows, args.out.with_suffix(".md"), meta)
    print(f"total {time.perf_counter() - t_start:.0f} s; wrote {args.out}.csv/.md")


if __name__ == "__main__":
    main()

"""A session file and a journal are untrusted input (issue 15).

Each case of the hostile battery: a crafted save file executes nothing and
trusts nothing skal did not write; the journal is exact under concurrent
writers, full disks and crashes. The fuzz tests are in test_untrusted_fuzz.py.
"""

import builtins
import errno
import hashlib
import io
import json
import multiprocessing
import os
import stat
import time
import tracemalloc
import warnings
import zipfile
import zlib
from pathlib import Path

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.ensemble import HistGradientBoostingClassifier, RandomForestClassifier
from sklearn.feature_extraction.text import CountVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.neighbors import KNeighborsClassifier
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from skal import ActiveLearner, JournalError, SessionFileError
from skal._persistence import (
    _codec,
    _container,
    _journal,
    _journal_replay,
    _model_io,
)
from skal.strategies import MarginSampling


# ------------------------------------------------------------------ helpers
def _data(n=80):
    rng = np.random.RandomState(0)
    X = rng.randn(n, 4).astype(np.float32)
    y = (X[:, 0] > 0).astype(np.int64) + (X[:, 1] > 0.5)
    y_seed = np.full(n, -1)
    for c in range(3):
        rows = np.flatnonzero(y == c)[:2]
        y_seed[rows] = c
    return X, y, y_seed


def _learner(tmp_path, journal=False, **kw):
    X, y, y_seed = _data()
    path = str(tmp_path / "labels.jsonl") if journal else None
    learner = ActiveLearner(
        LogisticRegression(), n_instances=3, random_state=0, journal=path, **kw
    ).fit(X, y_seed)
    idx = learner.query()
    learner.teach(y=y[idx], indices=idx)
    learner.teach(X[:2] + 0.5, y[:2])
    return learner


def _members(path):
    with zipfile.ZipFile(path) as zf:
        return {n: zf.read(n) for n in zf.namelist()}


def _write(path, members, *, fix_manifest=True):
    """Write members back; an attacker recomputes the manifest's checksums."""
    members = dict(members)
    if fix_manifest:
        manifest = json.loads(members["manifest.json"])
        manifest["files"] = {
            n: {"sha256": hashlib.sha256(d).hexdigest(), "size": len(d)}
            for n, d in members.items()
            if n != "manifest.json"
        }
        members["manifest.json"] = json.dumps(manifest).encode()
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for n, d in members.items():
            zf.writestr(n, d)


def _dir_state(directory):
    return sorted(
        (
            os.path.relpath(os.path.join(r, f), directory),
            os.path.getsize(os.path.join(r, f)),
        )
        for r, _, files in os.walk(directory)
        for f in files
    )


# ------------------------------------------- code execution from a save file
def _evil_files(tmp_path, canary):
    """A session whose estimator and model are CountVectorizer(analyzer=eval)."""
    X, y, y_seed = _data()
    learner = _learner(tmp_path)
    path = tmp_path / "evil.skal"
    learner.save(path)
    m = _members(path)
    evil = make_pipeline(CountVectorizer(analyzer=builtins.eval), LogisticRegression())
    import skops.io as sio

    m["estimator.skops"] = sio.dumps(evil)
    fitted = make_pipeline(
        CountVectorizer(analyzer=builtins.eval), LogisticRegression()
    ).fit(["['a', 'b']", "['b', 'c']", "['c']"], [0, 1, 2])
    m["model.skops"] = sio.dumps(fitted)
    # the stored labeled rows: Python expressions that would write the canary
    payload = f"__import__('pathlib').Path({str(canary)!r}).write_text('pwned')"
    state = json.loads(m["state.json"])
    arrays = dict(np.load(io.BytesIO(m["arrays.npz"])))
    key = state["X_labeled_"]["__array__"]
    arrays[key] = np.array([payload] * len(arrays[key]))
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    m["arrays.npz"] = buf.getvalue()
    _write(path, m)
    return path


@pytest.mark.parametrize("variant", ["both", "template only", "model only"])
def test_eval_as_analyzer_is_refused_and_nothing_runs(tmp_path, monkeypatch, variant):
    canary = tmp_path / "canary.txt"
    path = _evil_files(tmp_path, canary)
    m = _members(path)
    if variant == "template only":  # to be refit on the file's rows
        del m["model.skops"]
    elif variant == "model only":  # a clean template, the fitted model evil
        import skops.io as sio

        m["estimator.skops"] = sio.dumps(LogisticRegression())
    _write(path, m)
    calls = []
    real_eval = builtins.eval
    monkeypatch.setattr(
        builtins, "eval", lambda *a, **k: calls.append(a) or real_eval(*a, **k)
    )
    with pytest.raises(SessionFileError, match=r"builtins\.eval"):
        ActiveLearner.load(path)
    # with the caller's estimator, the file's template is ignored; the
    # saved model is not loaded (it is not on the allow-list) and the
    # caller's estimator is what is refit
    with pytest.raises(SessionFileError, match="X_labeled_|malformed|dtype"):
        ActiveLearner.load(path, estimator=LogisticRegression())
    assert calls == [] and not canary.exists()


def test_builtins_eval_is_not_a_trusted_type():
    import skops.io as sio

    evil = make_pipeline(CountVectorizer(analyzer=builtins.eval), LogisticRegression())
    assert sio.get_untrusted_types(data=sio.dumps(evil)) == ["builtins.eval"]
    assert "builtins.eval" not in _codec.SKOPS_ALLOWED_TYPES
    obj, foreign = _model_io._skops_load(sio.dumps(evil), "estimator.skops")
    assert obj is None and foreign == ["builtins.eval"]


def test_allow_lists_hold_classes_only():
    import importlib

    for name in _codec.SKOPS_ALLOWED_TYPES:
        module, _, attr = name.rpartition(".")
        obj = getattr(importlib.import_module(module), attr)
        assert isinstance(obj, type), name
    for kind in ("skal", "class"):
        allowed = _codec.allowed_classes(kind)
        assert allowed and all(isinstance(c, type) for c in allowed.values())
        assert not any(":" not in k or k.endswith(":") for k in allowed)
        assert not any(k.startswith("skal.backends") for k in allowed)
        assert not any(c.__name__ == "FunctionStrategy" for c in allowed.values())


@pytest.mark.parametrize(
    "value",
    [
        {"__class__": {"module": "builtins", "name": "eval"}},
        {"__class__": {"module": "os", "name": "system"}},
        {
            "__skal__": {"module": "skal.strategies", "name": "FunctionStrategy"},
            "params": {"func": {"__class__": {"module": "builtins", "name": "eval"}}},
        },
        {
            "__skal__": {"module": "skal.backends._modal", "name": "ModalExecutor"},
            "params": {},
        },
        {
            "__skal__": {"module": "skal._learner", "name": "ActiveLearner"},
            "params": {},
        },
    ],
)
def test_functions_namespaces_and_executors_are_not_rebuilt(tmp_path, value):
    path = tmp_path / "s.skal"
    _learner(tmp_path).save(path)
    m = _members(path)
    params = json.loads(m["params.json"])
    params["strategy"] = value
    m["params.json"] = json.dumps(params).encode()
    _write(path, m)
    with pytest.raises(SessionFileError, match="not on skal's allow-list"):
        ActiveLearner.load(path)


# ------------------------------------------------ parameters from the file
def test_journal_and_executor_are_not_taken_from_the_file(tmp_path):
    path = tmp_path / "s.skal"
    _learner(tmp_path).save(path)
    victim = tmp_path / "victim.txt"
    victim.write_text("line one\nline two")  # no newline at the end
    m = _members(path)
    params = json.loads(m["params.json"])
    params["journal"] = str(victim)
    params["executor"] = {
        "__skal__": {"module": "skal.backends._modal", "name": "ModalExecutor"},
        "params": {"gpu": "H100:8", "pip_packages": ["evil"], "max_containers": 1000},
    }
    m["params.json"] = json.dumps(params).encode()
    _write(path, m)
    with pytest.warns(UserWarning, match="a file does not choose a journal") as rec:
        loaded = ActiveLearner.load(path)
    assert any("a file does not choose a executor" in str(w.message) for w in rec)
    assert loaded.journal is None and loaded.executor is None
    X, y, _ = _data()
    idx = loaded.query()
    loaded.teach(y=y[idx], indices=idx)
    assert victim.read_text() == "line one\nline two"
    # the caller decides
    own = tmp_path / "mine.jsonl"
    loaded = ActiveLearner.load(path, params={"journal": str(own), "executor": None})
    assert loaded.journal == str(own)


# ------------------------------------------------------------------- sizes
def test_member_size_is_checked_before_reading(tmp_path, monkeypatch):
    path = tmp_path / "s.skal"
    _learner(tmp_path).save(path)
    m = _members(path)
    big = b"{" + b" " * (64 << 20) + b"}"  # 64 MiB that deflate to ~64 KiB
    m["state.json"] = big
    _write(path, m)
    assert path.stat().st_size < 1 << 20
    monkeypatch.setattr(_container, "MAX_BYTES", 8 << 20)
    tracemalloc.start()
    try:
        with pytest.raises(SessionFileError, match="over the cap"):
            ActiveLearner.load(path)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 8 << 20
    # a zip directory whose size differs from the manifest's: refused unread
    manifest = json.loads(m["manifest.json"])
    manifest["files"]["state.json"]["size"] = 10
    m["manifest.json"] = json.dumps(manifest).encode()
    _write(path, m, fix_manifest=False)
    with pytest.raises(SessionFileError, match="state.json does not match"):
        ActiveLearner.load(path)


@pytest.mark.parametrize("member", ["arrays.npz", "model.skops"])
def test_npy_header_claiming_a_huge_array_is_refused(tmp_path, member):
    path = tmp_path / "s.skal"
    est = RandomForestClassifier(n_estimators=2, random_state=0)
    X, y, y_seed = _data()
    ActiveLearner(est, random_state=0).fit(X, y_seed).save(path)
    m = _members(path)
    inner = _members_bytes(m[member])
    name = sorted(n for n in inner if n.endswith(".npy"))[0]
    header = {"descr": "<f8", "fortran_order": False, "shape": (10**11,)}
    buf = io.BytesIO()
    np.lib.format.write_array_header_1_0(buf, header)
    inner[name] = buf.getvalue() + b"\0" * 64
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as zf:
        for n, d in inner.items():
            zf.writestr(n, d)
    m[member] = out.getvalue()
    _write(path, m)
    tracemalloc.start()
    try:
        with pytest.raises(SessionFileError, match=rf"{member} .*does not fit"):
            ActiveLearner.load(path)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 64 << 20


def _members_bytes(data):
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        return {n: zf.read(n) for n in zf.namelist()}


def _nested(depth):
    v = []
    for _ in range(depth):
        v = [v]
    return v


@pytest.mark.parametrize(
    ("member", "change"),
    [
        ("state.json", lambda s: s.update(labeled_indices_={"__array__": "nope"})),
        ("state.json", lambda s: s.update(journal_seq="x")),
        ("state.json", lambda s: s.update(history_=[[[[[]]]]])),
        ("state.json", lambda s: s.update(rng={"__tuple__": ["MT19937", 1]})),
        ("state.json", lambda s: s.update(model_fitted_="yes")),
        ("params.json", lambda s: s.update(n_instances=-3)),
        ("params.json", lambda s: s.update(strategy={"__skal__": {"module": 1}})),
        ("params.json", lambda s: s.update(strategy=_nested(200))),
    ],
)
def test_malformed_members_name_the_member(tmp_path, member, change):
    path = tmp_path / "s.skal"
    _learner(tmp_path).save(path)
    m = _members(path)
    doc = json.loads(m[member])
    change(doc)
    m[member] = json.dumps(doc).encode()
    _write(path, m)
    with pytest.raises(SessionFileError, match=member.replace(".", r"\.")):
        ActiveLearner.load(path)


# -------------------------------------------------------- load(estimator=)
def test_load_with_another_estimator_refits_it(tmp_path):
    X, y, _ = _data()
    learner = _learner(tmp_path)
    path = tmp_path / "s.skal"
    learner.save(path)
    rf = RandomForestClassifier(n_estimators=5, random_state=0)
    with pytest.warns(UserWarning, match="refit from the saved labels"):
        loaded = ActiveLearner.load(path, estimator=rf)
    assert isinstance(loaded.estimator_, RandomForestClassifier)
    assert loaded.estimator is rf and not hasattr(rf, "classes_")
    # an equal estimator: the saved model is used as it is, no warning
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        same = ActiveLearner.load(path, estimator=LogisticRegression())
    np.testing.assert_array_equal(same.predict_proba(X), learner.predict_proba(X))


def test_template_from_the_file_is_never_refit(tmp_path):
    path = tmp_path / "s.skal"
    _learner(tmp_path).save(path)
    m = _members(path)
    del m["model.skops"]
    _write(path, m)
    with pytest.raises(SessionFileError, match="never refit"):
        ActiveLearner.load(path)


# ------------------------------------------------------------------ journal
def _writer(path, n):
    from sklearn.dummy import DummyClassifier

    X = np.arange(2 * n, dtype=np.float64).reshape(-1, 2)
    y = np.full(n, -1)
    y[:2] = [0, 1]
    learner = ActiveLearner(DummyClassifier(), journal=path).fit(X, y)
    for i in range(2, n):
        learner.teach(y=[i % 2], indices=[i])


@pytest.mark.skipif(
    "fork" not in multiprocessing.get_all_start_methods(), reason="needs fork"
)
def test_two_processes_appending_lose_nothing(tmp_path):
    path = str(tmp_path / "labels.jsonl")
    n = 150
    ctx = multiprocessing.get_context("fork")
    procs = [ctx.Process(target=_writer, args=(path, n)) for _ in range(2)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(timeout=300)
    assert [p.exitcode for p in procs] == [0, 0]
    records = ActiveLearner.read_journal(path)
    sessions = {r["session"] for r in records}
    assert len(sessions) == 2
    for s in sessions:
        seqs = [r["seq"] for r in records if r["session"] == s and r["kind"] == "label"]
        assert seqs == list(range(1, n - 1))
    # the two writers did overlap: their records interleave
    order = [r["session"] for r in records if r["kind"] == "label"]
    assert sum(a != b for a, b in zip(order, order[1:])) > 1


def test_a_second_writer_fails_fast(tmp_path, monkeypatch):
    from filelock import FileLock

    X, y, _ = _data()
    learner = _learner(tmp_path, journal=True)
    monkeypatch.setattr(_journal, "LOCK_TIMEOUT", 0.2)
    n = len(learner.y_labeled_)
    with FileLock(learner.journal + ".lock"):
        idx = learner.query()
        with pytest.raises(JournalError, match="locked by another writer"):
            learner.teach(y=y[idx], indices=idx)
    assert len(learner.y_labeled_) == n
    learner.teach(y=y[idx], indices=idx)


def test_two_copies_of_one_session_do_not_share_sequence_numbers(tmp_path):
    X, y, _ = _data()
    learner = _learner(tmp_path, journal=True)
    learner.save(tmp_path / "s.skal")
    a = ActiveLearner.load(tmp_path / "s.skal", params={"journal": learner.journal})
    b = ActiveLearner.load(tmp_path / "s.skal", params={"journal": learner.journal})
    idx = a.query()
    a.teach(y=y[idx], indices=idx)
    with pytest.raises(JournalError, match="another writer"):
        b.teach(y=y[idx], indices=idx)
    _journal_replay._check_continuity(
        learner.journal, _journal_replay._read_lines(learner.journal)
    )


@pytest.mark.parametrize("fail", ["write", "fsync"])
def test_disk_full_mid_teach_leaves_no_record(tmp_path, monkeypatch, fail):
    X, y, y_seed = _data()
    learner = _learner(tmp_path, journal=True)
    path = learner.journal
    size, n = os.path.getsize(path), len(learner.y_labeled_)
    seq = learner._state.journal_seq
    real_write, real_fsync = os.write, os.fsync
    calls = []

    def write(fd, data):
        calls.append(1)
        if fail == "write" and len(calls) == 2:
            raise OSError(errno.ENOSPC, "No space left on device")
        return real_write(fd, bytes(data)[: max(1, len(data) // 2)])  # partial

    def fsync(fd):
        if fail == "fsync":
            raise OSError(errno.EIO, "I/O error")
        return real_fsync(fd)

    monkeypatch.setattr(_journal.os, "write", write)
    monkeypatch.setattr(_journal.os, "fsync", fsync)
    idx = learner.query(n_instances=7)
    with pytest.raises(OSError):
        learner.teach(y=y[idx], indices=idx)
    monkeypatch.undo()
    assert os.path.getsize(path) == size  # rolled back
    assert len(learner.y_labeled_) == n and learner._state.journal_seq == seq
    learner.teach(y=y[idx], indices=idx)
    seqs = [r["seq"] for r in ActiveLearner.read_journal(path) if r["kind"] == "label"]
    assert seqs == list(range(1, len(seqs) + 1))
    fresh = ActiveLearner(LogisticRegression(), n_instances=3, random_state=0).fit(
        X, y_seed
    )
    fresh.replay_journal(path)
    assert len(fresh.y_labeled_) == len(learner.y_labeled_)


def test_a_deleted_middle_line_is_a_gap(tmp_path):
    learner = _learner(tmp_path, journal=True)
    lines = open(learner.journal).read().splitlines(keepends=True)
    del lines[2]
    open(learner.journal, "w").writelines(lines)
    X, y, y_seed = _data()
    fresh = ActiveLearner(LogisticRegression()).fit(X, y_seed)
    with pytest.raises(
        JournalError, match=r"Line 3 .* record 3 .* record 2 was expected"
    ):
        fresh.replay_journal(learner.journal)
    assert len(fresh.y_labeled_) == 6  # nothing applied


def test_replay_twice_adds_nothing(tmp_path):
    learner = _learner(tmp_path, journal=True)
    X, y, y_seed = _data()
    fresh = ActiveLearner(LogisticRegression()).fit(X, y_seed)
    fresh.replay_journal(learner.journal)
    n = len(fresh.y_labeled_)
    assert n == len(learner.y_labeled_)
    fresh.replay_journal(learner.journal)
    assert len(fresh.y_labeled_) == n
    # the memory of what was replayed survives save and load
    fresh.save(tmp_path / "f.skal")
    loaded = ActiveLearner.load(tmp_path / "f.skal")
    loaded.replay_journal(learner.journal)
    assert len(loaded.y_labeled_) == n


def _crc(record):
    body = json.dumps(record, sort_keys=True, separators=(",", ":"))
    return json.dumps(
        {**record, "crc32": f"{zlib.crc32(body.encode()):08x}"},
        sort_keys=True,
        separators=(",", ":"),
    )


@pytest.mark.parametrize(
    "change",
    [
        lambda r: r.update(label=float("nan")),
        lambda r: r.update(index="7") if "index" in r else r["row"].update(shape="7"),
        lambda r: (
            r.update(
                row={
                    "container": "sparse",
                    "dtype": "<f8",
                    "shape": [10**11],
                    "indices": [0],
                    "data": [1.0],
                    "sha256": "0",
                },
                index=None,
            )
            or r.pop("index")
        ),
        lambda r: r.update(label_dtype="O"),
        lambda r: r.update(label=[1, 2]),
        lambda r: r.update(seq=True),
    ],
)
def test_a_crafted_record_is_a_journal_error_naming_its_line(tmp_path, change):
    learner = _learner(tmp_path, journal=True)
    lines = open(learner.journal).read().splitlines()
    rec = json.loads(lines[1])
    rec.pop("crc32")
    change(rec)
    lines[1] = _crc(rec)
    open(learner.journal, "w").write("\n".join(lines) + "\n")
    X, y, y_seed = _data()
    fresh = ActiveLearner(LogisticRegression()).fit(X, y_seed)
    with pytest.raises(JournalError, match="line 2"):
        fresh.replay_journal(learner.journal)


def test_a_simulation_resumes_from_its_journal_alone(tmp_path):
    X, y, _ = _data(120)
    path = str(tmp_path / "sim.jsonl")

    def sim(**kw):
        return ActiveLearner(
            LogisticRegression(),
            strategy=MarginSampling(),
            n_instances=4,
            budget=40,
            random_state=0,
            **kw,
        )

    ref = sim().fit(X, y)
    sim(journal=path).fit(X, y)
    lines = open(path).read().splitlines()
    open(path, "w").write("\n".join(lines[:20])[:-30])  # killed mid-write
    with pytest.warns(UserWarning, match="incomplete batch"):
        resumed = sim(journal=path).resume(X, y)
    assert [list(h["indices"]) for h in resumed.history_] == [
        list(h["indices"]) for h in ref.history_
    ]
    np.testing.assert_array_equal(resumed.predict_proba(X), ref.predict_proba(X))
    with pytest.raises(JournalError, match="records no simulation on this X and y"):
        sim(journal=path).resume(X, (y + 1) % 3)


def test_load_then_resume_journals_a_new_session(tmp_path):
    X, y, _ = _data(120)
    path = str(tmp_path / "sim.jsonl")
    learner = ActiveLearner(
        LogisticRegression(), n_instances=4, budget=20, random_state=0, journal=path
    ).fit(X, y)
    learner.save(tmp_path / "s.skal")
    learner.set_params(budget=32).resume()  # the journal goes on past the save
    with pytest.warns(UserWarning, match="taught after it was saved"):
        loaded = ActiveLearner.load(tmp_path / "s.skal", params={"journal": path})
    loaded.set_params(budget=32).resume()
    lines = _journal_replay._read_lines(path)
    _journal_replay._check_continuity(path, lines)  # no sequence number repeats
    assert len({r["session"] for _, r in lines}) == 2
    np.testing.assert_array_equal(loaded.y_labeled_, learner.y_labeled_)


def test_skal_objects_on_the_allow_list_round_trip(tmp_path):
    from skal.nets import make_net
    from skal.stopping import BudgetExhausted, StabilizingPredictions

    X, y, y_seed = _data()
    sim = ActiveLearner(
        LogisticRegression(),
        n_instances=4,
        budget=24,
        random_state=0,
        stopping=StabilizingPredictions() | BudgetExhausted(),
    ).fit(X, y)
    sim.save(tmp_path / "a.skal")
    loaded = ActiveLearner.load(tmp_path / "a.skal")
    assert repr(loaded.stopping) == repr(sim.stopping)
    net = make_net("tabular", n_classes=3, max_epochs=1)
    learner = ActiveLearner(net, n_instances=4, random_state=0).fit(X, y_seed)
    learner.save(tmp_path / "n.skal")
    loaded = ActiveLearner.load(tmp_path / "n.skal")  # rebuilt from the file
    np.testing.assert_allclose(loaded.predict_proba(X), learner.predict_proba(X))


def test_a_net_larger_than_its_weights_is_refused_before_allocating(tmp_path):
    from skal.utils._testing import MLP, make_net

    X, y, y_seed = _data()
    learner = ActiveLearner(make_net(MLP, n_classes=3, max_epochs=1)).fit(X, y_seed)
    path = tmp_path / "s.skal"
    learner.save(path)
    loaded = ActiveLearner.load(path)  # rebuilt from the file
    np.testing.assert_allclose(loaded.predict_proba(X), learner.predict_proba(X))
    m = _members(path)
    params = json.loads(m["params.json"])
    params["estimator"]["params"]["module__hidden"] = 10**6  # 10**11 weights
    params["estimator"]["params"]["module__n_classes"] = 10**5
    m["params.json"] = json.dumps(params).encode()
    _write(path, m)
    tracemalloc.start()
    try:
        with pytest.raises(
            SessionFileError, match="more than the .* its saved weights"
        ):
            ActiveLearner.load(path)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 256 << 20


# ============================================== issue 24: the second round
def _npz(arrays):
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    return buf.getvalue()


def _set_param(path, name, value):
    m = _members(path)
    params = json.loads(m["params.json"])
    params[name] = value
    m["params.json"] = json.dumps(params).encode()
    _write(path, m)


# ------------------------------------------ trees and neighbour structures
_TREES = {
    "tree": RandomForestClassifier(n_estimators=2, random_state=0),
    "hist": HistGradientBoostingClassifier(max_iter=2),
    "kd": KNeighborsClassifier(3, algorithm="kd_tree"),
}


def _crafted(a):
    """Every node index of a tree's arrays out of range (10**9)."""
    if a.dtype.names:
        a = a.copy()
        for f in ("left_child", "right_child", "left", "right", "feature_idx"):
            if f in a.dtype.names:
                a[f][0] = 10**9
        return a
    if a.dtype.kind in "iu" and a.ndim == 1 and a.size >= 10:
        if np.array_equal(np.sort(a), np.arange(a.size)):  # kd tree's idx_array
            a = a.copy()
            a[0] = 10**9
    return a


def _crafted_skops(data):
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as src, zipfile.ZipFile(out, "w") as dst:
        for info in src.infolist():
            raw = src.read(info)
            if info.filename.endswith(".npy"):
                raw = _npz_member(_crafted(np.load(io.BytesIO(raw))))
            dst.writestr(info, raw)
    return out.getvalue()


def _npz_member(a):
    buf = io.BytesIO()
    np.save(buf, a)
    return buf.getvalue()


# loads the crafted files in a child process: a crash or a hang stays there
_LOAD_CRAFTED = r"""
import json, sys, warnings
from sklearn.base import clone
from skal import ActiveLearner, SessionFileError

warnings.simplefilter("ignore")
out = {}
for path in sys.argv[1:]:
    res = []
    for given in (False, True):
        try:
            estimator = None
            if given:  # the template the session was made with, unfitted
                estimator = clone(ActiveLearner.load(path[:-5] + "-clean.skal",
                                                     estimator=None).estimator)
            learner = ActiveLearner.load(path, estimator=estimator)
            learner.query()
            learner.predict_proba(learner.X_labeled_)
            res.append("refit" if given else "LOADED")
        except SessionFileError as exc:
            res.append("refused: " + str(exc))
    out[path] = res
print(json.dumps(out))
"""


def test_a_crafted_tree_neither_crashes_nor_loads(tmp_path):
    """Indices of 10**9 in a tree's nodes: refused at load, in a child process.

    The tree and neighbour structures are not on the allow-list: without
    ``estimator=`` the file is refused; with it, the crafted model is never
    built and the estimator is refit from the labels. No crash, no hang.
    """
    import subprocess
    import sys

    X, y, y_seed = _data()
    y_seed[:30] = y[:30]
    paths = []
    for name, est in _TREES.items():
        path = tmp_path / f"{name}.skal"
        ActiveLearner(est, random_state=0).fit(X, y_seed).save(path)
        m = _members(path)
        clean = dict(m)
        del clean["model.skops"]
        state = json.loads(clean["state.json"])
        state["model_fitted_"] = False
        clean["state.json"] = json.dumps(state).encode()
        _write(tmp_path / f"{name}-clean.skal", clean)  # its template only
        m["model.skops"] = _crafted_skops(m["model.skops"])
        _write(path, m)
        paths.append(str(path))
    res = subprocess.run(
        [sys.executable, "-c", _LOAD_CRAFTED, *paths],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert res.returncode == 0, res.stderr[-2000:]
    out = json.loads(res.stdout.strip().splitlines()[-1])
    for path in paths:
        assert out[path][0].startswith("refused"), (path, out[path])
        assert "Pass the estimator" in out[path][0], out[path][0]
        assert out[path][1] == "refit", (path, out[path])


def test_no_tree_or_neighbour_structure_is_an_allowed_type():
    for name in _codec.SKOPS_ALLOWED_TYPES:
        leaf = name.rsplit(".", 1)[-1]
        assert leaf not in ("Tree", "TreePredictor", "KDTree", "BallTree"), name
        assert "_dist_metrics" not in name and "._tree." not in name, name


# ------------------------------------- no file, directory or callable chosen
def test_a_files_pipeline_memory_is_not_kept(tmp_path):
    cache = tmp_path / "planted"
    cache.mkdir()
    X, y, y_seed = _data()
    est = make_pipeline(StandardScaler(), LogisticRegression(), memory=str(cache))
    learner = ActiveLearner(est, n_instances=3, random_state=0).fit(X, y_seed)
    learner.save(tmp_path / "s.skal")
    with pytest.warns(UserWarning, match=r"Pipeline\.memory") as rec:
        loaded = ActiveLearner.load(tmp_path / "s.skal")
    assert any("back to their defaults" in str(w.message) for w in rec)
    assert loaded.estimator.memory is None and loaded.estimator_.memory is None
    listing = sorted(os.listdir(cache))
    idx = loaded.query()
    loaded.teach(y=y[idx], indices=idx)  # refits clone(estimator): no cache
    assert sorted(os.listdir(cache)) == listing
    # the caller decides: a passed estimator keeps its memory
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        mine = ActiveLearner.load(tmp_path / "s.skal", estimator=clone(est))
    assert mine.estimator.memory == str(cache)


def test_path_parameters_of_nested_estimators_are_reset():
    from sklearn.compose import make_column_transformer
    from sklearn.feature_extraction.text import TfidfVectorizer

    inner = make_pipeline(StandardScaler(), memory="/tmp/x")
    est = make_pipeline(
        make_column_transformer((inner, [0, 1])),
        TfidfVectorizer(input="filename"),
        memory=Path("/tmp/y"),
    )
    reset = _model_io.reset_unsafe_params(est)
    assert len(reset) == 3 and all("=" in r for r in reset)
    assert est.memory is None and inner.memory is None
    assert est.steps[1][1].input == "content"
    assert _model_io.reset_unsafe_params(est) == []


def test_a_class_given_as_a_strategy_parameter_is_reset(tmp_path):
    from skal.strategies import CoreSet

    X, y, y_seed = _data()
    learner = ActiveLearner(
        LogisticRegression(), strategy=CoreSet(), n_instances=3, random_state=0
    ).fit(X, y_seed)
    path = tmp_path / "s.skal"
    learner.save(path)
    linear = {"module": "torch.nn.modules.linear", "name": "Linear"}
    strategy = json.loads(_members(path)["params.json"])["strategy"]
    strategy["params"]["embedding"] = {"__class__": linear}
    _set_param(path, "strategy", strategy)
    with pytest.warns(UserWarning, match=r"CoreSet\.embedding"):
        loaded = ActiveLearner.load(path)
    assert loaded.strategy.embedding == "model"
    assert len(loaded.query()) == 3
    # a class for a parameter of the learner itself
    _set_param(path, "stopping", {"__class__": linear})
    with pytest.warns(UserWarning, match=r"\['stopping'"):
        loaded = ActiveLearner.load(path)
    assert loaded.stopping is None


def test_a_nets_misplaced_class_or_path_is_not_kept(tmp_path):
    from skal.utils._testing import MLP, make_net

    X, y, y_seed = _data()
    learner = ActiveLearner(make_net(MLP, n_classes=3, max_epochs=1)).fit(X, y_seed)
    path = tmp_path / "s.skal"
    learner.save(path)
    m = _members(path)
    params = json.loads(m["params.json"])
    net = params["estimator"]["params"]
    net["train_split"] = {
        "__class__": {"module": "torch.nn.modules.linear", "name": "Linear"}
    }
    net["module__cache_dir"] = str(tmp_path)
    m["params.json"] = json.dumps(params).encode()
    _write(path, m)
    with pytest.warns(UserWarning, match="net.train_split.*net.module__cache_dir"):
        loaded = ActiveLearner.load(path)
    assert loaded.estimator.train_split is not None  # skorch's default
    assert "module__cache_dir" not in loaded.estimator.get_params()
    # a class of the wrong kind where a net takes one: refused
    net.pop("train_split"), net.pop("module__cache_dir")
    net["optimizer"] = {
        "__class__": {"module": "torch.nn.modules.linear", "name": "Linear"}
    }
    m["params.json"] = json.dumps(params).encode()
    _write(path, m)
    with pytest.raises(SessionFileError, match="not a Optimizer"):
        ActiveLearner.load(path)


# -------------------------------------------------------------------- save
def test_save_does_not_follow_a_symlink_at_a_temp_name(tmp_path):
    learner = _learner(tmp_path)
    path = tmp_path / "s.skal"
    victim = tmp_path / "victim.txt"
    victim.write_text("keep")
    # the name skal used before, and names of the pattern used now
    os.symlink(victim, f"{path}.tmp-{os.getpid()}")
    for i in range(3):
        os.symlink(victim, tmp_path / f".s.skal.skal-tmp.{os.getpid()}.{i}")
    learner.save(path)
    learner.save(path)
    assert victim.read_text() == "keep"
    assert path.is_file() and not path.is_symlink()
    ActiveLearner.load(path)
    # a symlink at the target itself is replaced, not followed
    path.unlink()
    os.symlink(victim, path)
    learner.save(path)
    assert victim.read_text() == "keep" and not path.is_symlink()


def test_save_fsyncs_the_file_and_its_directory(tmp_path, monkeypatch):
    synced = []
    real = os.fsync

    def fsync(fd):
        synced.append(stat.S_ISDIR(os.fstat(fd).st_mode))
        return real(fd)

    learner = _learner(tmp_path)
    monkeypatch.setattr(os, "fsync", fsync)
    learner.save(tmp_path / "s.skal")
    assert synced == [False, True]  # the temporary file, then the directory


def test_a_save_killed_mid_write_is_cleaned_up_by_the_next(tmp_path):
    """A save SIGKILLed after writing its temporary file, before the rename."""
    import signal

    learner = _learner(tmp_path)
    path = tmp_path / "s.skal"
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: zip and os calls only (no thread pools)
        try:
            os.close(r)

            def stuck(fd):  # the temp file is written, not yet renamed
                os.write(w, b"x")
                time.sleep(60)

            os.fsync = stuck
            learner.save(path)
        finally:
            os._exit(0)
    os.close(w)
    try:
        assert os.read(r, 1) == b"x"
        leftover = [n for n in os.listdir(tmp_path) if n.startswith(".s.skal.")]
        assert len(leftover) == 1
    finally:
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
        os.close(r)
    assert not path.exists() and (tmp_path / leftover[0]).exists()
    # a save in progress in a live process is never touched
    live = tmp_path / f".s.skal.skal-tmp.{os.getppid()}.x"
    live.write_bytes(b"busy")
    learner.save(path)
    assert sorted(n for n in os.listdir(tmp_path) if n.startswith(".s.")) == [live.name]
    ActiveLearner.load(path)


def test_load_refuses_what_is_not_a_regular_file(tmp_path):
    zero = tmp_path / "zero.skal"
    os.symlink("/dev/zero", zero)
    fifo = tmp_path / "fifo.skal"
    os.mkfifo(fifo)  # no writer: opening it for reading would block
    (tmp_path / "dir.skal").mkdir()
    for path, what in [
        (zero, "a device"),
        (fifo, "a FIFO"),
        (tmp_path / "dir.skal", "a directory"),
    ]:
        t = time.perf_counter()
        with pytest.raises(SessionFileError, match=f"it is {what}"):
            ActiveLearner.load(path)
        assert time.perf_counter() - t < 1.0
    # a symlink to a regular session file is fine
    _learner(tmp_path).save(tmp_path / "s.skal")
    os.symlink(tmp_path / "s.skal", tmp_path / "link.skal")
    ActiveLearner.load(tmp_path / "link.skal")


def test_an_array_nothing_refers_to_is_refused_before_reading(tmp_path):
    path = tmp_path / "s.skal"
    _learner(tmp_path).save(path)
    m = _members(path)
    arrays = dict(np.load(io.BytesIO(m["arrays.npz"])))
    arrays["unused"] = np.zeros(96 << 20, dtype=np.uint8)  # 96 MiB of zeros
    m["arrays.npz"] = _npz(arrays)
    _write(path, m)
    assert path.stat().st_size < 1 << 20
    tracemalloc.start()
    t = time.perf_counter()
    try:
        with pytest.raises(SessionFileError, match=r"arrays.npz.*\['unused'\]"):
            ActiveLearner.load(path)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 16 << 20  # spooled to a temporary file, never read
    assert time.perf_counter() - t < 5


@pytest.mark.parametrize("member", ["module.pt", "optimizer.pt", "model.skops"])
def test_a_member_nothing_refers_to_is_refused(tmp_path, member):
    path = tmp_path / "s.skal"
    _learner(tmp_path).save(path)
    m = _members(path)
    if member == "model.skops":  # a model in a session not fitted
        state = json.loads(m["state.json"])
        state["model_fitted_"] = False
        m["state.json"] = json.dumps(state).encode()
    else:
        m[member] = b"\0" * 16  # torch weights in a scikit-learn session
    _write(path, m)
    with pytest.raises(SessionFileError, match=f"nothing in it refers to.*{member}"):
        ActiveLearner.load(path)


def test_json_members_are_capped_before_reading(tmp_path):
    path = tmp_path / "s.skal"
    _learner(tmp_path).save(path)
    m = _members(path)
    m["params.json"] = b" " * (64 << 20) + m["params.json"]  # valid JSON
    _write(path, m)
    tracemalloc.start()
    try:
        with pytest.raises(SessionFileError, match="params.json is .* over the cap"):
            ActiveLearner.load(path)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 4 << 20


def test_a_json_bomb_is_refused_before_parsing(tmp_path, monkeypatch):
    path = tmp_path / "s.skal"
    _learner(tmp_path).save(path)
    m = _members(path)
    state = json.loads(m["state.json"])
    state["padding"] = [{}] * 300_000  # 900 KB that parse into ~20 MB
    m["state.json"] = json.dumps(state, separators=(",", ":")).encode()
    _write(path, m)
    monkeypatch.setattr(_container, "MAX_BYTES", 32 << 20)
    with pytest.raises(SessionFileError, match="JSON bomb"):
        ActiveLearner.load(path)


def test_loading_peaks_below_one_and_a_half_times_the_data(tmp_path):
    rng = np.random.RandomState(0)
    X = rng.randn(200_000, 20).astype(np.float32)  # 16 MB, incompressible
    y_seed = np.full(len(X), -1)
    y_seed[:10] = np.arange(10) % 2
    learner = ActiveLearner(LogisticRegression(), random_state=0).fit(X, y_seed)
    learner.save(tmp_path / "s.skal")
    total = sum(len(d) for d in _members(tmp_path / "s.skal").values())
    del learner, X
    tracemalloc.start()
    try:
        loaded = ActiveLearner.load(tmp_path / "s.skal")
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert loaded.X_labeled_.shape[0] == 10
    assert peak < 1.5 * total, (peak, total)


# ---------------------------------------------- templates and cross-checks
def _skops_template(tmp_path, template):
    import skops.io as sio

    path = tmp_path / "s.skal"
    _learner(tmp_path).save(path)
    m = _members(path)
    m["estimator.skops"] = sio.dumps(template)
    del m["model.skops"]
    state = json.loads(m["state.json"])
    state["model_fitted_"] = False
    m["state.json"] = json.dumps(state).encode()
    _write(path, m)
    return path


@pytest.mark.parametrize(
    ("template", "match"),
    [
        ("MLPClassifier(hidden_layer_sizes=(20000, 20000))", "400100000 weights"),
        ("MLPClassifier(hidden_layer_sizes=(10**9,))", "over the bound"),
        ("RandomForestClassifier(n_estimators=10**6)", "n_estimators"),
        ("LogisticRegression(C='strong')", "'C' parameter"),
        ("LogisticRegression(max_iter=-5)", "max_iter"),
    ],
)
def test_a_files_template_is_size_checked_at_load(tmp_path, template, match):
    from sklearn.neural_network import MLPClassifier  # noqa: F401

    path = _skops_template(tmp_path, eval(template))
    tracemalloc.start()
    try:
        with pytest.raises(SessionFileError, match=match):
            ActiveLearner.load(path)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 64 << 20


@pytest.mark.parametrize(
    ("fit_params", "match"),
    [
        ({"__dict__": {"bogus": 1}}, "fit_params names 'bogus'"),
        (
            {
                "__dict__": {
                    "sample_weight": {
                        "__class__": {
                            "module": "torch.nn.modules.linear",
                            "name": "Linear",
                        }
                    }
                }
            },
            "plain values",
        ),
        ({"__dict__": {"sample_weight": None}}, None),
        ([1, 2], "fit_params is not a dict"),
    ],
)
def test_fit_params_are_checked_at_load(tmp_path, fit_params, match):
    path = tmp_path / "s.skal"
    _learner(tmp_path).save(path)
    m = _members(path)
    state = json.loads(m["state.json"])
    state["fit_params"] = fit_params
    m["state.json"] = json.dumps(state).encode()
    _write(path, m)
    if match is None:
        loaded = ActiveLearner.load(path)
        X, y, _ = _data()
        idx = loaded.query()
        loaded.teach(y=y[idx], indices=idx)
        return
    with pytest.raises(SessionFileError, match=f"state.json.*{match}"):
        ActiveLearner.load(path)


@pytest.mark.parametrize("change", ["nan", "inf", "complex", "other row", "int8"])
def test_labeled_rows_are_checked_against_X_at_load(tmp_path, change):
    path = tmp_path / "s.skal"
    learner = _learner(tmp_path)
    learner.save(path)
    m = _members(path)
    state = json.loads(m["state.json"])
    arrays = dict(np.load(io.BytesIO(m["arrays.npz"])))
    key = state["X_labeled_"]["__array__"]
    A = arrays[key].copy()
    row = learner.label_provenance_.index(
        next(p for p in learner.label_provenance_ if p["row"] is not None)
    )
    if change == "nan":
        A[row, 0] = np.nan
    elif change == "inf":
        A[-1, 0] = np.inf  # a row given as new X
    elif change == "complex":
        A = A.astype(np.complex64) + 1j
    elif change == "other row":
        A[row] += 1
    else:
        A = A.astype(np.int8)
    arrays[key] = A
    m["arrays.npz"] = _npz(arrays)
    _write(path, m)
    with pytest.raises(SessionFileError, match="state.json.*X_labeled_"):
        ActiveLearner.load(path)


def test_a_tampered_model_fails_at_load_not_at_query(tmp_path):
    import skops.io as sio

    path = tmp_path / "s.skal"
    learner = _learner(tmp_path)
    learner.save(path)
    m = _members(path)
    model = sio.loads(m["model.skops"], trusted=[])
    model.coef_ = model.coef_[:, :2]  # fewer features than the session
    m["model.skops"] = sio.dumps(model)
    _write(path, m)
    with pytest.raises(SessionFileError, match="model.skops"):
        ActiveLearner.load(path)

"""Fuzzing the session file and the label journal (issue 15).

Random byte flips, truncations, member swaps and crafted members (with the
manifest's checksums recomputed, as an attacker would) give a
SessionFileError or a JournalError, or a learner that works; never another
exception, never code run from the file, never a file written outside the
session's own.
"""

import builtins
import hashlib
import io
import json
import os
import subprocess
import warnings
import zipfile
import zlib

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sklearn.linear_model import LogisticRegression

from skal import ActiveLearner, JournalError, SessionFileError

# Fast and reproducible in CI; SKAL_FUZZ_EXAMPLES=2000 searches deeper.
_DEEP = int(os.environ.get("SKAL_FUZZ_EXAMPLES", "0"))
_SETTINGS = settings(
    max_examples=_DEEP or 40,
    deadline=None,
    derandomize=not _DEEP,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)


def _data(n=60):
    rng = np.random.RandomState(0)
    X = rng.randn(n, 3).astype(np.float32)
    y = (X[:, 0] > 0).astype(np.int64) + (X[:, 1] > 0.5)
    y_seed = np.full(n, -1)
    for c in range(3):
        y_seed[np.flatnonzero(y == c)[:2]] = c
    return X, y, y_seed


@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    """The bytes of a session file and of its journal."""
    d = tmp_path_factory.mktemp("saved")
    X, y, y_seed = _data()
    learner = ActiveLearner(
        LogisticRegression(),
        n_instances=3,
        random_state=0,
        journal=str(d / "labels.jsonl"),
    ).fit(X, y_seed)
    for step in range(3):
        idx = learner.query()
        if step == 1:
            learner.teach(X[idx] + 0.5, y[idx])
        else:
            learner.teach(y=y[idx], indices=idx)
    learner.save(d / "s.skal")
    return _Saved(
        {
            "file": (d / "s.skal").read_bytes(),
            "journal": (d / "labels.jsonl").read_bytes(),
            "n_labels": len(learner.y_labeled_),
        }
    )


class _Saved(dict):
    def __repr__(self):  # keeps hypothesis' reports short
        return "<saved session>"


@pytest.fixture
def guard(monkeypatch):
    """Record any eval/os.system/subprocess a load or replay would run.

    (Not exec: importing a module that defines dataclasses runs it.)
    """
    calls = []
    real_eval = builtins.eval

    def spy(real, name):
        def f(*a, **k):
            calls.append(name)
            return real(*a, **k)

        return f

    monkeypatch.setattr(builtins, "eval", spy(real_eval, "eval"))
    monkeypatch.setattr(os, "system", lambda *a: calls.append("system"))
    monkeypatch.setattr(subprocess, "Popen", lambda *a, **k: calls.append("Popen"))
    return calls


def _listing(directory):
    return sorted(
        (f, os.path.getsize(os.path.join(directory, f))) for f in os.listdir(directory)
    )


def _try_load(path, calls):
    """Load: a SessionFileError, or a learner that queries; nothing else."""
    directory = os.path.dirname(path)
    before = _listing(directory)
    loaded = None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            loaded = ActiveLearner.load(path)
        except SessionFileError:
            pass
        if loaded is not None:
            assert loaded.journal is None and loaded.executor is None
            n = min(loaded.n_instances, len(loaded.pool_indices_))
            assert len(loaded.query()) == n
            if loaded.model_fitted_:
                X, _, _ = _data()
                assert loaded.predict_proba(X).shape[0] == X.shape[0]
    assert calls == []
    assert _listing(directory) == before
    return loaded


def _members(data):
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        return {n: zf.read(n) for n in zf.namelist()}


def _zip(members, *, fix_manifest=True):
    members = dict(members)
    if fix_manifest and "manifest.json" in members:
        try:
            manifest = json.loads(members["manifest.json"])
            manifest["files"] = {
                n: {"sha256": hashlib.sha256(d).hexdigest(), "size": len(d)}
                for n, d in members.items()
                if n != "manifest.json"
            }
            members["manifest.json"] = json.dumps(manifest).encode()
        except (ValueError, TypeError, AttributeError):
            pass
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for n, d in members.items():
            zf.writestr(n, d)
    return buf.getvalue()


# -------------------------------------------------------------- session file
@_SETTINGS
@given(
    flips=st.lists(
        st.tuples(st.floats(0, 1), st.integers(1, 255)), min_size=1, max_size=6
    )
)
def test_byte_flips(saved, tmp_path, guard, flips):
    data = bytearray(saved["file"])
    for where, xor in flips:
        data[min(int(where * len(data)), len(data) - 1)] ^= xor
    path = tmp_path / "s.skal"
    path.write_bytes(bytes(data))
    loaded = _try_load(str(path), guard)
    if loaded is not None:  # a flip outside any checked byte (a zip timestamp)
        assert len(loaded.y_labeled_) == saved["n_labels"]


@_SETTINGS
@given(cut=st.floats(0, 1, exclude_max=True))
def test_truncations(saved, tmp_path, guard, cut):
    path = tmp_path / "s.skal"
    path.write_bytes(saved["file"][: int(cut * len(saved["file"]))])
    assert _try_load(str(path), guard) is None


@_SETTINGS
@given(data=st.data())
def test_member_swaps_and_drops(saved, tmp_path, guard, data):
    members = _members(saved["file"])
    names = sorted(n for n in members if n != "manifest.json")
    a, b = data.draw(st.permutations(names))[:2]
    action = data.draw(st.sampled_from(["swap", "drop", "copy", "rename"]))
    if action == "swap":
        members[a], members[b] = members[b], members[a]
    elif action == "drop":
        del members[a]
    elif action == "copy":
        members[a] = members[b]
    else:
        members["evil/../" + a] = members.pop(a)
    path = tmp_path / "s.skal"
    path.write_bytes(_zip(members))
    _try_load(str(path), guard)


_JSON = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**70), 2**70)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=12),
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.dictionaries(
            st.sampled_from(
                [
                    "__array__",
                    "__tuple__",
                    "__dict__",
                    "__skal__",
                    "__class__",
                    "__sparse__",
                    "__dataframe__",
                    "__tensor__",
                    "__random_state__",
                    "module",
                    "name",
                    "params",
                    "shape",
                    "data",
                    "indices",
                    "indptr",
                    "a0",
                    "a1",
                    "x",
                ]
            ),
            inner,
            max_size=4,
        )
    ),
    max_leaves=12,
)


def _paths(doc, prefix=()):
    yield prefix
    if isinstance(doc, dict):
        for k, v in doc.items():
            yield from _paths(v, (*prefix, k))
    elif isinstance(doc, list):
        for i, v in enumerate(doc):
            yield from _paths(v, (*prefix, i))


def _set(doc, path, value):
    if not path:
        return value
    target = doc
    for k in path[:-1]:
        target = target[k]
    target[path[-1]] = value
    return doc


@_SETTINGS
@given(data=st.data())
def test_crafted_json_members(saved, tmp_path, guard, data):
    members = _members(saved["file"])
    name = data.draw(st.sampled_from(["params.json", "state.json", "manifest.json"]))
    doc = json.loads(members[name])
    paths = list(_paths(doc))
    where = data.draw(st.sampled_from(paths))
    doc = _set(doc, where, data.draw(_JSON))
    members[name] = json.dumps(doc).encode()
    path = tmp_path / "s.skal"
    path.write_bytes(_zip(members, fix_manifest=name != "manifest.json"))
    _try_load(str(path), guard)


_DTYPES = ["<f4", "<f8", "<i8", "<u1", "|b1", "<U3", "|S2", "<c8", "<M8[s]", "|V4"]


@_SETTINGS
@given(data=st.data())
def test_crafted_arrays(saved, tmp_path, guard, data):
    members = _members(saved["file"])
    with np.load(io.BytesIO(members["arrays.npz"])) as npz:
        arrays = {k: npz[k] for k in npz.files}
    key = data.draw(st.sampled_from(sorted(arrays)))
    shape = tuple(data.draw(st.lists(st.integers(0, 5), max_size=3)))
    dtype = np.dtype(data.draw(st.sampled_from(_DTYPES)))
    arrays[key] = np.zeros(shape, dtype=dtype)
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    members["arrays.npz"] = buf.getvalue()
    path = tmp_path / "s.skal"
    path.write_bytes(_zip(members))
    _try_load(str(path), guard)


# ------------------------------------------------------------------ journal
def _try_replay(path, calls, n_labels):
    """Replay: a JournalError, or labels consistent with the learner."""
    directory = os.path.dirname(path)
    before = _listing(directory)
    X, _, y_seed = _data()
    learner = ActiveLearner(LogisticRegression(), n_instances=3, random_state=0).fit(
        X, y_seed
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            learner.replay_journal(path)
        except JournalError:
            assert len(learner.y_labeled_) == 6  # nothing half-applied
        else:
            n = len(learner.y_labeled_)
            assert 6 <= n <= n_labels + 6
            assert learner.X_labeled_.shape == (n, 3)
            assert learner.X_labeled_.dtype == np.float32
            assert len(learner.pool_indices_) + len(learner.labeled_indices_) == 60
            assert len(learner.query()) == 3
            learner.replay_journal(path)  # idempotent
            assert len(learner.y_labeled_) == n
    assert calls == []
    assert _listing(directory) == before


@_SETTINGS
@given(
    flips=st.lists(
        st.tuples(st.floats(0, 1), st.integers(1, 255)), min_size=1, max_size=4
    )
)
def test_journal_byte_flips(saved, tmp_path, guard, flips):
    data = bytearray(saved["journal"])
    for where, xor in flips:
        data[min(int(where * len(data)), len(data) - 1)] ^= xor
    path = tmp_path / "labels.jsonl"
    path.write_bytes(bytes(data))
    _try_replay(str(path), guard, saved["n_labels"])


@_SETTINGS
@given(cut=st.floats(0, 1), data=st.data())
def test_journal_truncations_and_line_edits(saved, tmp_path, guard, cut, data):
    raw = saved["journal"]
    lines = raw.splitlines(keepends=True)
    action = data.draw(st.sampled_from(["cut", "delete", "duplicate", "swap"]))
    i = data.draw(st.integers(0, len(lines) - 1))
    j = data.draw(st.integers(0, len(lines) - 1))
    if action == "cut":
        raw = raw[: int(cut * len(raw))]
    else:
        if action == "delete":
            del lines[i]
        elif action == "duplicate":
            lines.insert(j, lines[i])
        else:
            lines[i], lines[j] = lines[j], lines[i]
        raw = b"".join(lines)
    path = tmp_path / "labels.jsonl"
    path.write_bytes(raw)
    _try_replay(str(path), guard, saved["n_labels"])


def _crc_line(record):
    record.pop("crc32", None)
    body = json.dumps(record, sort_keys=True, separators=(",", ":"))
    record["crc32"] = f"{zlib.crc32(body.encode()):08x}"
    return json.dumps(record, sort_keys=True, separators=(",", ":")).encode() + b"\n"


@_SETTINGS
@given(data=st.data())
def test_journal_crafted_records(saved, tmp_path, guard, data):
    lines = saved["journal"].splitlines(keepends=True)
    i = data.draw(st.integers(0, len(lines) - 1))
    rec = json.loads(lines[i])
    where = data.draw(
        st.sampled_from([p for p in _paths(rec) if p and p[0] != "crc32"])
    )
    rec = _set(rec, where, data.draw(_JSON))
    lines[i] = _crc_line(rec) if isinstance(rec, dict) else b"[]\n"
    path = tmp_path / "labels.jsonl"
    path.write_bytes(b"".join(lines))
    _try_replay(str(path), guard, saved["n_labels"])


# ------------------------------------------- issue 24: what a file may choose
_CLASS = {"__class__": {"module": "torch.nn.modules.linear", "name": "Linear"}}
_PATH_NAMES = ["memory", "cache_dir", "path", "filename", "log_dir", "embedding"]


@_SETTINGS
@given(data=st.data())
def test_no_path_or_class_from_the_file_is_kept(saved, tmp_path, guard, data):
    """A class or a path put anywhere among the learner's parameters (or a
    skal object's) is refused or reset, with a warning; never kept."""
    members = _members(saved["file"])
    doc = json.loads(members["params.json"])
    doc.pop("estimator")
    where = data.draw(st.sampled_from(sorted(doc)))
    name = data.draw(st.sampled_from(_PATH_NAMES))
    value = data.draw(
        st.sampled_from([_CLASS, str(tmp_path), [str(tmp_path)], [_CLASS]])
    )
    if isinstance(doc[where], dict) and "__skal__" in doc[where]:
        doc[where]["params"][name] = value
    else:
        doc[where] = value
    full = json.loads(members["params.json"])
    full.update(doc)
    members["params.json"] = json.dumps(full).encode()
    path = tmp_path / "s.skal"
    path.write_bytes(_zip(members))
    with warnings.catch_warnings(record=True) as rec:
        warnings.simplefilter("always")
        try:
            loaded = ActiveLearner.load(path)
        except SessionFileError:
            return  # refused (a parameter that must not be a str, say)
    assert guard == []
    params = loaded.get_params(deep=False)
    for v in params.values():
        assert not isinstance(v, type)
        assert not (isinstance(v, list) and any(isinstance(x, type) for x in v))
        if hasattr(v, "get_params") and not isinstance(v, type):
            for x in v.get_params(deep=False).values():
                assert not isinstance(x, type)
                assert x != str(tmp_path) and x != [str(tmp_path)]
    if any(isinstance(v, type) for v in params.values()) is False and rec:
        assert any(
            "back to their defaults" in str(w.message)
            or "does not choose" in str(w.message)
            for w in rec
        ) or value == [str(tmp_path)]


_NAME = st.one_of(
    st.text(max_size=4),
    st.integers(-(10**6), 10**6),
    st.floats(allow_nan=False, allow_infinity=False, width=32),
    st.tuples(st.text(max_size=2), st.integers(0, 3)),
)


@settings(_SETTINGS, max_examples=_DEEP or 12)
@given(names=st.lists(_NAME, min_size=1, max_size=4, unique_by=repr))
def test_dataframe_column_names_round_trip(saved, tmp_path, names):
    """Any scalar (or tuple) column names, all str or none str, save and load."""
    pd = pytest.importorskip("pandas")
    str_names = [n for n in names if isinstance(n, str)]
    if str_names and len(str_names) != len(names):
        names = str_names  # scikit-learn refuses a mix of str and other names
    if len({hash(n) for n in names}) != len(names) or len(set(names)) != len(names):
        return  # equal under ==, as 1 and 1.0: not distinct columns
    X, y, y_seed = _data()
    df = pd.DataFrame(
        np.repeat(X[:, :1], len(names), axis=1) + np.arange(len(names)),
        columns=pd.Index(names, tupleize_cols=False, dtype=object),
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        learner = ActiveLearner(LogisticRegression(), random_state=0).fit(df, y_seed)
    path = tmp_path / "df.skal"
    learner.save(path)
    loaded = ActiveLearner.load(path)
    assert list(loaded.X_labeled_.columns) == list(df.columns)
    assert [type(c) for c in loaded.X_labeled_.columns] == [type(c) for c in df.columns]
    assert loaded.X_labeled_.columns.dtype == df.columns.dtype


_LEAF = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=8),
)
_DOC = st.recursive(
    _LEAF,
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.dictionaries(st.text(max_size=4), inner, max_size=4)
    ),
    max_leaves=8,
)


@settings(_SETTINGS, max_examples=_DEEP or 25)
@given(doc=_DOC)
def test_json_cost_bounds_what_parsing_allocates(doc):
    """The bound checked before parsing a JSON member holds (issue 24)."""
    import tracemalloc

    from skal._persistence._container import json_cost

    # the value repeated (as distinct objects): fixed costs of the parser vanish
    data = ("[" + ",".join([json.dumps(doc)] * 2000) + "]").encode()
    tracemalloc.start()
    try:
        parsed = json.loads(data)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    del parsed
    assert peak <= json_cost(data)

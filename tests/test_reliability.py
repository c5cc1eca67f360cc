"""Reliability: no label is ever lost, sessions save and resume safely.

Faults are injected into the refit (a scikit-learn model's ``fit``, a skorch
callback, a module's ``forward``): ``ValueError``, ``KeyboardInterrupt``, a
real SIGINT (Ctrl-C) and a simulated CUDA out-of-memory error.
"""

import io
import json
import os
import pickle
import signal
import subprocess
import sys
import textwrap
import time
import zipfile

import numpy as np
import pytest
import torch
from sklearn.linear_model import LogisticRegression
from skorch.callbacks import Callback

from skal import ActiveLearner, JournalError, SessionFileError
from skal.strategies import (
    FunctionStrategy,
    MarginSampling,
    RandomSampling,
    TopK,
)
from skal.utils._testing import MLP, make_net
from skal.utils._testing import seed_labels as _seed_labels


# ------------------------------------------------------------ fault injection
class _Fault:
    """The fault the next training step raises; shared by every clone."""

    exc = None  # an exception instance, or "sigint" for a real Ctrl-C
    delay = 0  # fits to let through first
    where = "callback"  # "callback" or "forward" for skorch nets

    @classmethod
    def arm(cls, exc, *, delay=0, where="callback"):
        cls.exc, cls.delay, cls.where = exc, delay, where

    @classmethod
    def start_fit(cls):
        if cls.exc is not None:
            cls.delay -= 1

    @classmethod
    def step(cls, where):
        if cls.exc is None or cls.delay >= 0 or where != cls.where:
            return
        exc, cls.exc = cls.exc, None
        if exc == "sigint":
            # raise() signals this thread (os.kill may hand the signal to a
            # busy torch thread of a loaded machine, and it arrives late)
            signal.raise_signal(signal.SIGINT)
            deadline = time.monotonic() + 5.0
            while time.monotonic() < deadline:  # the handler runs between bytecodes
                pass
            raise AssertionError("SIGINT was not delivered")  # pragma: no cover
        raise exc


@pytest.fixture(autouse=True)
def _disarm():
    # a run started in the background of a non-interactive shell (``cmd &``)
    # inherits SIGINT ignored, and Python then installs no Ctrl-C handler:
    # give these tests the handler an interactive run has
    inherited = signal.getsignal(signal.SIGINT)
    if inherited is signal.SIG_IGN:
        signal.signal(signal.SIGINT, signal.default_int_handler)
    _Fault.exc = None
    yield
    _Fault.exc = None
    if inherited is signal.SIG_IGN:
        signal.signal(signal.SIGINT, inherited)


class FaultCallback(Callback):
    def on_train_begin(self, net, **kwargs):
        _Fault.start_fit()

    def on_batch_begin(self, net, batch=None, training=None, **kwargs):
        if training:
            _Fault.step("callback")


class FaultyMLP(MLP):
    def forward(self, X):
        if self.training:
            _Fault.step("forward")
        return super().forward(X)


@pytest.fixture
def faulty_lr(monkeypatch):
    original = LogisticRegression.fit

    def fit(self, X, y, *args, **kwargs):
        _Fault.start_fit()
        _Fault.step("callback")
        return original(self, X, y, *args, **kwargs)

    monkeypatch.setattr(LogisticRegression, "fit", fit)


def _oom():
    return torch.cuda.OutOfMemoryError(
        "CUDA out of memory. Tried to allocate 20.00 GiB (injected)"
    )


FAULTS = {
    "ValueError": (lambda: ValueError("injected"), ValueError),
    "KeyboardInterrupt": (lambda: KeyboardInterrupt(), KeyboardInterrupt),
    "SIGINT": (lambda: "sigint", KeyboardInterrupt),
    "CUDA-OOM": (_oom, torch.cuda.OutOfMemoryError),
}


def _estimator(kind):
    if kind == "sklearn":
        return LogisticRegression()
    net = make_net(
        FaultyMLP if kind == "skorch-forward" else MLP, n_classes=3, max_epochs=2
    )
    return net.set_params(callbacks=[("fault", FaultCallback())])


# ------------------------------------------------------------- atomic teach
# A KeyboardInterrupt *raised* inside skorch training is skorch's early stop
# (test_raised_keyboard_interrupt_is_skorch_early_stopping); Ctrl-C is SIGINT.
TEACH_CASES = (
    [("sklearn", f) for f in FAULTS]
    + [("skorch-callback", f) for f in ("ValueError", "SIGINT", "CUDA-OOM")]
    + [("skorch-forward", f) for f in ("SIGINT", "CUDA-OOM")]
)


@pytest.mark.parametrize(("kind", "fault"), TEACH_CASES)
def test_failed_refit_in_teach_keeps_labels_and_model(kind, fault, tabular, faulty_lr):
    X, y = tabular
    make_exc, expected = FAULTS[fault]
    learner = ActiveLearner(
        _estimator(kind), strategy=MarginSampling(), n_instances=5, random_state=0
    ).fit(X, _seed_labels(y))
    before = learner.predict_proba(X)
    n0 = len(learner.y_labeled_)
    idx = learner.query()
    _Fault.arm(make_exc(), where="forward" if kind == "skorch-forward" else "callback")
    with pytest.raises(expected):
        learner.teach(y=y[idx], indices=idx)
    # the labels are kept, the pool is updated, the previous model predicts
    assert learner.model_stale_ is True and learner.model_fitted_ is True
    assert len(learner.y_labeled_) == n0 + 5
    np.testing.assert_array_equal(learner.y_labeled_[-5:], y[idx])
    np.testing.assert_array_equal(learner.X_labeled_[-5:], X[idx])
    assert not np.isin(idx, learner.pool_indices_).any()
    assert np.isin(idx, learner.labeled_indices_).all()
    assert len(learner.pool_indices_) + len(learner.labeled_indices_) == len(X)
    np.testing.assert_array_equal(learner.predict_proba(X), before)
    # the next teach recovers: the model is trained on every label
    idx2 = learner.query()
    assert not np.isin(idx2, idx).any()
    learner.teach(y=y[idx2], indices=idx2)
    assert learner.model_stale_ is False and len(learner.y_labeled_) == n0 + 10
    if kind == "sklearn":
        ref = LogisticRegression().fit(learner.X_labeled_, learner.y_labeled_)
        np.testing.assert_allclose(learner.predict_proba(X), ref.predict_proba(X))


@pytest.mark.parametrize("kind", ["sklearn", "skorch-callback"])
def test_refit_recovers_after_failed_teach_of_new_rows(kind, tabular, faulty_lr):
    X, y = tabular
    learner = ActiveLearner(_estimator(kind), n_instances=5, random_state=0).fit(
        X[:200], _seed_labels(y[:200])
    )
    before = learner.predict_proba(X)
    _Fault.arm(_oom())
    with pytest.raises(torch.cuda.OutOfMemoryError):
        learner.teach(X[250:260], y[250:260])  # rows from outside the pool
    assert learner.model_stale_ and len(learner.y_labeled_) == 16
    np.testing.assert_array_equal(learner.X_labeled_[-10:], X[250:260])
    assert len(learner.pool_indices_) == 194  # the stored pool is untouched
    np.testing.assert_array_equal(learner.predict_proba(X), before)
    learner.refit()
    assert not learner.model_stale_
    assert not np.array_equal(learner.predict_proba(X), before)


def test_raised_keyboard_interrupt_is_skorch_early_stopping(tabular):
    """skorch ends training on a KeyboardInterrupt raised by training code
    (its EarlyStopping does that); only a real Ctrl-C aborts the refit."""
    X, y = tabular
    learner = ActiveLearner(
        _estimator("skorch-callback"), n_instances=5, random_state=0
    ).fit(X, _seed_labels(y))
    idx = learner.query()
    _Fault.arm(KeyboardInterrupt())
    learner.teach(y=y[idx], indices=idx)
    assert learner.model_stale_ is False and len(learner.y_labeled_) == 11


def _history_indices(learner):
    return [h["indices"].tolist() for h in learner.history_]


_REFERENCE = {}


def _reference(kind, X, y):
    """The uninterrupted run (cached: the tabular fixture never changes)."""
    if kind not in _REFERENCE:
        _REFERENCE[kind] = _sim(kind).fit(X, y)
    return _REFERENCE[kind]


def _sim(kind, **kw):
    est = LogisticRegression() if kind == "sklearn" else _estimator("skorch-callback")
    params = {
        "strategy": MarginSampling(),
        "n_instances": 10,
        "budget": 60,
        "random_state": 0,
        **kw,
    }
    return ActiveLearner(est, **params)


@pytest.mark.parametrize("fault", ["ValueError", "SIGINT", "CUDA-OOM"])
@pytest.mark.parametrize("kind", ["sklearn", "skorch"])
def test_fault_in_simulation_round_then_resume(kind, fault, tabular, faulty_lr):
    X, y = tabular
    ref = _reference(kind, X, y)
    make_exc, expected = FAULTS[fault]
    sim = _sim(kind)
    _Fault.arm(make_exc(), delay=2)  # the third fit: round 2
    with pytest.raises(expected):
        sim.fit(X, y)
    assert sim.model_stale_ and len(sim.history_) == 2
    assert len(sim.y_labeled_) == 30  # round 2's labels are recorded
    assert _history_indices(sim) == _history_indices(ref)[:2]
    assert sim.predict_proba(X).shape == (300, 3)  # round 1's model
    sim.resume()
    assert _history_indices(sim) == _history_indices(ref)
    assert [h["n_labels"] for h in sim.history_] == [10, 20, 30, 40, 50, 60]
    np.testing.assert_array_equal(sim.predict_proba(X), ref.predict_proba(X))
    assert sim.resume() is sim  # a finished simulation: nothing to do


def test_interrupt_during_query_replays_the_round(tabular, monkeypatch):
    X, y = tabular
    ref = _reference("sklearn", X, y)
    original = MarginSampling._query
    calls = []

    def query(self, *args, **kwargs):
        calls.append(1)
        if len(calls) == 3:
            raise KeyboardInterrupt
        return original(self, *args, **kwargs)

    monkeypatch.setattr(MarginSampling, "_query", query)
    sim = _sim("sklearn")
    with pytest.raises(KeyboardInterrupt):
        sim.fit(X, y)
    assert len(sim.y_labeled_) == 30 and len(sim.history_) == 3
    sim.resume()
    assert _history_indices(sim) == _history_indices(ref)


def test_resume_errors_and_extension(tabular):
    X, y = tabular
    learner = ActiveLearner(LogisticRegression()).fit(X, _seed_labels(y))
    with pytest.raises(ValueError, match="resume continues a simulation"):
        learner.resume()
    sim = _sim("sklearn").fit(X, y)
    sim.set_params(budget=80).resume()  # a larger budget continues
    ref = _sim("sklearn", budget=80).fit(X, y)
    assert _history_indices(sim) == _history_indices(ref)


# ------------------------------------------------------------------ journal
def _journal_labels(path):
    return [r for r in ActiveLearner.read_journal(path) if r["kind"] == "label"]


def test_journal_is_written_before_the_refit(tabular, tmp_path, faulty_lr):
    X, y = tabular
    path = tmp_path / "labels.jsonl"
    learner = ActiveLearner(
        LogisticRegression(), n_instances=4, random_state=0, journal=str(path)
    ).fit(X, _seed_labels(y))
    assert learner.journal == str(path)  # stored untouched
    idx = learner.query()
    _Fault.arm(KeyboardInterrupt())
    with pytest.raises(KeyboardInterrupt):
        learner.teach(y=y[idx], indices=idx)
    records = ActiveLearner.read_journal(path)
    head, labels = records[0], records[1:]
    assert head["kind"] == "session" and head["n_labeled"] == 6
    assert head["X"]["n_samples"] == 300 and head["X"]["sha256"]
    assert [r["index"] for r in labels] == idx.tolist()
    assert [r["label"] for r in labels] == y[idx].tolist()
    assert [r["seq"] for r in labels] == [1, 2, 3, 4]
    assert all(r["session"] == head["session"] and r["time"] > 0 for r in labels)
    # every line is plain JSON
    for line in path.read_text().splitlines():
        json.loads(line)


def test_replay_restores_pool_and_external_rows(tabular, tmp_path):
    X, y = tabular
    path = tmp_path / "labels.jsonl"
    y_seed = _seed_labels(y)
    learner = ActiveLearner(
        LogisticRegression(), n_instances=5, random_state=0, journal=path
    ).fit(X, y_seed)
    for step in range(4):
        idx = learner.query()
        if step % 2:
            learner.teach(X[idx] + 0.25, y[idx])  # rows from outside the pool
        else:
            learner.teach(y=y[idx], indices=idx)
    fresh = ActiveLearner(LogisticRegression(), n_instances=5, random_state=0).fit(
        X, y_seed
    )
    fresh.replay_journal(path)
    np.testing.assert_array_equal(fresh.y_labeled_, learner.y_labeled_)
    np.testing.assert_array_equal(fresh.X_labeled_, learner.X_labeled_)
    assert fresh.X_labeled_.dtype == np.float32
    np.testing.assert_array_equal(fresh.pool_indices_, learner.pool_indices_)
    np.testing.assert_allclose(fresh.predict_proba(X), learner.predict_proba(X))
    # replaying again is idempotent: no pool row and no external row twice
    fresh.replay_journal(path)
    np.testing.assert_array_equal(fresh.pool_indices_, learner.pool_indices_)
    np.testing.assert_array_equal(fresh.y_labeled_, learner.y_labeled_)


def test_replay_into_a_journaling_learner_and_string_labels(tmp_path):
    rng = np.random.RandomState(0)
    X = rng.normal(size=(120, 4))
    y = np.array(["cat", "dog", "emu"])[(X[:, 0] > 0).astype(int) + (X[:, 1] > 1)]
    y_seed = np.where(np.arange(120) < 9, y, "?").astype(object)
    y_seed[9:] = -1
    first, second = tmp_path / "a.jsonl", tmp_path / "b.jsonl"
    learner = ActiveLearner(
        LogisticRegression(), n_instances=4, random_state=0, journal=first
    ).fit(X, y_seed)
    idx = learner.query()
    learner.teach(y=y[idx], indices=idx)
    learner.teach(X[:2] * 2, ["emu", "cat"])
    # a crash; a new session journals to a new file and replays the old one
    again = ActiveLearner(
        LogisticRegression(), n_instances=4, random_state=0, journal=second
    ).fit(X, y_seed)
    again.replay_journal(first)
    assert again.y_labeled_.tolist() == learner.y_labeled_.tolist()
    # the replayed labels are in the new journal too: it is self-contained
    third = ActiveLearner(LogisticRegression()).fit(X, y_seed)
    third.replay_journal(second)
    assert third.y_labeled_.tolist() == learner.y_labeled_.tolist()


def test_replay_refuses_another_X(tabular, tmp_path):
    X, y = tabular
    path = tmp_path / "labels.jsonl"
    learner = ActiveLearner(LogisticRegression(), journal=path).fit(X, _seed_labels(y))
    idx = learner.query()
    learner.teach(y=y[idx], indices=idx)
    other = ActiveLearner(LogisticRegression()).fit(X[::-1].copy(), _seed_labels(y))
    with pytest.raises(JournalError, match="was recorded on another X"):
        other.replay_journal(path)


def _three_sessions_journal(tabular, path):
    X, y = tabular
    learner = ActiveLearner(
        LogisticRegression(), n_instances=3, random_state=0, journal=path
    ).fit(X, _seed_labels(y))
    for _ in range(3):
        idx = learner.query()
        learner.teach(y=y[idx], indices=idx)
    return learner


def test_truncated_last_line_warns_and_keeps_the_rest(tabular, tmp_path):
    path = tmp_path / "labels.jsonl"
    _three_sessions_journal(tabular, path)
    data = path.read_bytes()
    path.write_bytes(data[:-25])  # a torn write
    with pytest.warns(UserWarning, match="ends with a truncated line"):
        records = ActiveLearner.read_journal(path)
    assert len(records) == 1 + 9 - 3  # the torn teach's whole batch (3 labels)
    # appending after a crash cuts the torn line off, then the journal reads
    X, y = tabular
    with pytest.warns(UserWarning, match="ended with a truncated line"):
        learner = ActiveLearner(LogisticRegression(), journal=path).fit(
            X, _seed_labels(y)
        )
    idx = learner.query()
    learner.teach(y=y[idx], indices=idx)
    records = ActiveLearner.read_journal(path)
    assert len(records) == 7 + 2  # a new session line and one label
    # a complete record that only lacks its newline is kept
    path.write_bytes(path.read_bytes()[:-1])
    assert len(ActiveLearner.read_journal(path)) == 9


@pytest.mark.parametrize("damage", ["garbage", "crc", "blank"])
def test_damaged_line_in_the_middle_is_an_error(tabular, tmp_path, damage):
    path = tmp_path / "labels.jsonl"
    _three_sessions_journal(tabular, path)
    lines = path.read_bytes().split(b"\n")
    if damage == "garbage":
        lines[3] = lines[3][:20]
    elif damage == "crc":  # valid JSON, but a label was changed
        rec = json.loads(lines[3])
        rec["label"] = (rec["label"] + 1) % 3
        lines[3] = json.dumps(rec).encode()
    else:
        lines[3] = b""
    path.write_bytes(b"\n".join(lines))
    with pytest.raises(JournalError, match="is damaged at line 4 of 10"):
        ActiveLearner.read_journal(path)


_CHILD = textwrap.dedent("""
    import sys, time
    import numpy as np
    from sklearn.datasets import make_classification
    from sklearn.linear_model import LogisticRegression
    from skal import ActiveLearner
    from skal.strategies import RandomSampling

    class SlowLR(LogisticRegression):
        def fit(self, X, y, **kwargs):
            print(f"FIT {len(y)}", flush=True)
            time.sleep(0.2)
            return super().fit(X, y, **kwargs)

    X, y = make_classification(300, n_features=8, n_informative=5, n_classes=3,
                               random_state=0)
    y_seed = np.full_like(y, -1)
    y_seed[:10] = y[:10]
    learner = ActiveLearner(SlowLR(), strategy=RandomSampling(), n_instances=3,
                            random_state=0, journal=sys.argv[1]).fit(X, y_seed)
    step = 0
    while True:
        idx = learner.query()
        if step % 2:
            learner.teach(X[idx] + 0.5, y[idx])
        else:
            learner.teach(y=y[idx], indices=idx)
        step += 1
""")


def test_sigkill_mid_session_loses_no_label(tmp_path):
    from sklearn.datasets import make_classification

    path = tmp_path / "labels.jsonl"
    script = tmp_path / "child.py"
    script.write_text(_CHILD)
    proc = subprocess.Popen(
        [sys.executable, str(script), str(path)], stdout=subprocess.PIPE, text=True
    )
    try:
        seen = 0
        deadline = time.monotonic() + 120
        for line in proc.stdout:
            seen = int(line.split()[1])
            if seen >= 10 + 6 * 3 or time.monotonic() > deadline:
                break
        # the child is now inside the refit of its 6th teach
        proc.send_signal(signal.SIGKILL)
    finally:
        proc.kill()
        proc.wait()
    assert proc.returncode == -signal.SIGKILL and seen == 28
    labels = _journal_labels(path)
    assert len(labels) == seen - 10  # every taught label, the one being refit too
    X, y = make_classification(
        300, n_features=8, n_informative=5, n_classes=3, random_state=0
    )
    for r in labels:
        if "index" in r:
            assert r["label"] == y[r["index"]]
    y_seed = np.full_like(y, -1)
    y_seed[:10] = y[:10]
    recovered = ActiveLearner(LogisticRegression()).fit(X, y_seed)
    recovered.replay_journal(path)
    assert len(recovered.y_labeled_) == seen
    # external rows are X[i] + 0.5: find i back and check the label
    shifted = {(X[i] + 0.5).tobytes(): y[i] for i in range(len(X))}
    is_row = np.array([False] * 10 + ["row" in r for r in labels])
    assert is_row.sum() == 9
    for row, label in zip(recovered.X_labeled_[is_row], recovered.y_labeled_[is_row]):
        assert shifted[row.tobytes()] == label


# ---------------------------------------------------------- save and resume
def _assert_same_session(a, b, X):
    np.testing.assert_array_equal(a.predict_proba(X), b.predict_proba(X))
    np.testing.assert_array_equal(a.X_labeled_, b.X_labeled_)
    np.testing.assert_array_equal(a.y_labeled_, b.y_labeled_)
    np.testing.assert_array_equal(a.pool_indices_, b.pool_indices_)
    np.testing.assert_array_equal(a.labeled_indices_, b.labeled_indices_)
    assert _history_indices(a) == _history_indices(b)
    np.testing.assert_array_equal(a.query(), b.query())  # same random state


def test_save_load_human_session_sklearn(tabular, tmp_path):
    X, y = tabular
    learner = ActiveLearner(
        LogisticRegression(C=0.5),
        strategy=TopK(MarginSampling(), k=30) | RandomSampling(),
        n_instances=5,
        random_state=0,
    ).fit(X, _seed_labels(y))
    idx = learner.query()
    learner.teach(y=y[idx], indices=idx)
    learner.teach(X[:2] + 1, y[:2])
    learner.save(tmp_path / "s.skal")
    with zipfile.ZipFile(tmp_path / "s.skal") as zf:
        assert set(zf.namelist()) == {
            "manifest.json",
            "params.json",
            "state.json",
            "arrays.npz",
            "estimator.skops",
            "model.skops",
        }
    loaded = ActiveLearner.load(tmp_path / "s.skal")
    assert loaded.get_params()["strategy__topk__k"] == 30
    assert loaded.estimator.C == 0.5
    _assert_same_session(learner, loaded, X)
    idx = loaded.query()
    loaded.teach(y=y[idx], indices=idx)


@pytest.mark.parametrize("with_estimator", [False, True])
def test_save_load_human_session_skorch(tabular, tmp_path, with_estimator):
    X, y = tabular
    learner = ActiveLearner(
        make_net(MLP, n_classes=3, max_epochs=2),
        strategy=MarginSampling(),
        n_instances=5,
        random_state=0,
    ).fit(X, _seed_labels(y))
    idx = learner.query()
    learner.teach(y=y[idx], indices=idx)
    learner.save(tmp_path / "s.skal")
    torch.manual_seed(7)
    expected = torch.rand(2)
    torch.manual_seed(7)
    est = make_net(MLP, n_classes=3, max_epochs=2) if with_estimator else None
    loaded = ActiveLearner.load(tmp_path / "s.skal", estimator=est)
    assert torch.equal(torch.rand(2), expected)  # global RNG untouched
    _assert_same_session(learner, loaded, X)


def test_load_needs_the_net_when_it_cannot_be_rebuilt(tabular, tmp_path):
    X, y = tabular
    learner = ActiveLearner(_estimator("skorch-callback"), random_state=0).fit(
        X, _seed_labels(y)
    )
    learner.save(tmp_path / "s.skal")
    with pytest.raises(ValueError, match=r"parameters \['callbacks'\] are objects"):
        ActiveLearner.load(tmp_path / "s.skal")
    with pytest.raises(ValueError, match="saved weights do not fit the module"):
        ActiveLearner.load(
            tmp_path / "s.skal", estimator=make_net(MLP, n_classes=4, max_epochs=2)
        )
    loaded = ActiveLearner.load(
        tmp_path / "s.skal", estimator=make_net(MLP, n_classes=3, max_epochs=2)
    )
    np.testing.assert_array_equal(loaded.predict_proba(X), learner.predict_proba(X))


@pytest.mark.parametrize("kind", ["sklearn", "skorch"])
def test_interrupted_simulation_saved_loaded_resumed(
    kind, tabular, tmp_path, faulty_lr
):
    X, y = tabular
    ref = _reference(kind, X, y)
    sim = _sim(kind)
    _Fault.arm(KeyboardInterrupt() if kind == "sklearn" else "sigint", delay=3)
    with pytest.raises(KeyboardInterrupt):
        sim.fit(X, y)
    assert len(sim.history_) == 3
    sim.save(tmp_path / "sim.skal")
    est = None if kind == "sklearn" else make_net(MLP, n_classes=3, max_epochs=2)
    loaded = ActiveLearner.load(tmp_path / "sim.skal", estimator=est)
    assert loaded.model_stale_ and len(loaded.y_labeled_) == 40
    loaded.resume()
    assert _history_indices(loaded) == _history_indices(ref)
    np.testing.assert_array_equal(loaded.predict_proba(X), ref.predict_proba(X))


def test_save_without_X(tabular, tmp_path):
    X, y = tabular
    learner = ActiveLearner(LogisticRegression(), random_state=0).fit(
        X, _seed_labels(y)
    )
    learner.save(tmp_path / "s.skal", include_X=False)
    with pytest.raises(ValueError, match="saved with include_X=False: pass fit's X"):
        ActiveLearner.load(tmp_path / "s.skal")
    with pytest.raises(ValueError, match="is not the X the session was fitted on"):
        ActiveLearner.load(tmp_path / "s.skal", X=X + 1)
    loaded = ActiveLearner.load(tmp_path / "s.skal", X=X)
    _assert_same_session(learner, loaded, X)


@pytest.fixture
def saved(tabular, tmp_path):
    X, y = tabular
    learner = ActiveLearner(LogisticRegression(), random_state=0).fit(
        X, _seed_labels(y)
    )
    path = tmp_path / "s.skal"
    learner.save(path)
    return path


def _rewrite(path, change, *, fix_manifest=False):
    with zipfile.ZipFile(path) as zf:
        members = {n: zf.read(n) for n in zf.namelist()}
    change(members)
    if fix_manifest:  # an attacker can recompute the checksums
        import hashlib

        manifest = json.loads(members["manifest.json"])
        manifest["files"] = {
            n: {"sha256": hashlib.sha256(d).hexdigest(), "size": len(d)}
            for n, d in members.items()
            if n != "manifest.json"
        }
        members["manifest.json"] = json.dumps(manifest).encode()
    with zipfile.ZipFile(path, "w") as zf:
        for n, d in members.items():
            zf.writestr(n, d)


def test_truncated_or_garbage_file(saved):
    data = saved.read_bytes()
    saved.write_bytes(data[: len(data) // 2])
    with pytest.raises(SessionFileError, match="truncated or not a zip"):
        ActiveLearner.load(saved)
    saved.write_bytes(b"not a session")
    with pytest.raises(SessionFileError, match="not a readable skal session"):
        ActiveLearner.load(saved)


def test_tampered_member_is_refused(saved):
    def change(m):
        state = json.loads(m["state.json"])
        state["model_stale_"] = True
        m["state.json"] = json.dumps(state).encode()

    _rewrite(saved, change)
    with pytest.raises(
        SessionFileError, match="checksum of state.json does not match the manifest"
    ):
        ActiveLearner.load(saved)


def test_extra_member_is_refused(saved):
    _rewrite(saved, lambda m: m.update({"evil.pkl": pickle.dumps(1)}))
    with pytest.raises(SessionFileError, match="differ from the manifest"):
        ActiveLearner.load(saved)


def test_foreign_class_in_params_is_refused(saved):
    def change(m):
        params = json.loads(m["params.json"])
        params["strategy"] = {
            "__skal__": {"module": "os", "name": "system"},
            "params": {},
        }
        m["params.json"] = json.dumps(params).encode()

    _rewrite(saved, change, fix_manifest=True)
    with pytest.raises(
        SessionFileError, match="only classes of skal, torch, skorch are rebuilt"
    ):
        ActiveLearner.load(saved)


class _Boom:
    def __reduce__(self):
        return (os.system, ("echo pwned",))


def test_pickle_in_weights_is_refused(tabular, tmp_path):
    X, y = tabular
    learner = ActiveLearner(
        make_net(MLP, n_classes=3, max_epochs=1), random_state=0
    ).fit(X, _seed_labels(y))
    path = tmp_path / "s.skal"
    learner.save(path)

    def change(m):
        buf = io.BytesIO()
        torch.save({"w": _Boom()}, buf)
        m["module.pt"] = buf.getvalue()

    _rewrite(path, change, fix_manifest=True)
    with pytest.raises(SessionFileError, match=r"weights_only=True"):
        ActiveLearner.load(path)


class MyLR(LogisticRegression):
    """A user's subclass: skops cannot load it without trusting foreign code."""


def test_foreign_sklearn_type_needs_the_estimator(tabular, tmp_path):
    X, y = tabular
    learner = ActiveLearner(MyLR(), random_state=0).fit(X, _seed_labels(y))
    learner.save(tmp_path / "s.skal")
    with pytest.raises(ValueError, match=r"types outside scikit-learn.*MyLR"):
        ActiveLearner.load(tmp_path / "s.skal")
    with pytest.warns(UserWarning, match="refit from the saved labels"):
        loaded = ActiveLearner.load(tmp_path / "s.skal", estimator=MyLR())
    np.testing.assert_allclose(loaded.predict_proba(X), learner.predict_proba(X))


def _first(learner, X, *, n_instances, candidates, random_state):
    return np.sort(candidates)[:n_instances]


def test_unsaveable_parameter_is_asked_for(tabular, tmp_path):
    X, y = tabular
    learner = ActiveLearner(
        LogisticRegression(), strategy=FunctionStrategy(_first), random_state=0
    ).fit(X, _seed_labels(y))
    with pytest.warns(UserWarning, match=r"\['strategy'\] .* cannot be saved"):
        learner.save(tmp_path / "s.skal")
    with pytest.raises(ValueError, match=r"params=\{'strategy': \.\.\.\}"):
        ActiveLearner.load(tmp_path / "s.skal")
    loaded = ActiveLearner.load(
        tmp_path / "s.skal", params={"strategy": FunctionStrategy(_first)}
    )
    np.testing.assert_array_equal(loaded.query(), learner.query())


def test_loaded_session_keeps_journaling(tabular, tmp_path):
    X, y = tabular
    path = tmp_path / "labels.jsonl"
    learner = ActiveLearner(
        LogisticRegression(), n_instances=3, random_state=0, journal=str(path)
    ).fit(X, _seed_labels(y))
    idx = learner.query()
    learner.teach(y=y[idx], indices=idx)
    learner.save(tmp_path / "s.skal")
    with pytest.warns(UserWarning, match="a file does not choose a journal"):
        assert ActiveLearner.load(tmp_path / "s.skal").journal is None
    loaded = ActiveLearner.load(tmp_path / "s.skal", params={"journal": str(path)})
    idx = loaded.query()
    loaded.teach(y=y[idx], indices=idx)
    labels = _journal_labels(path)
    assert [r["seq"] for r in labels] == [1, 2, 3, 4, 5, 6]
    assert len({r["session"] for r in labels}) == 1


def test_save_load_string_labels_and_object_oracle(tabular, tmp_path):
    X, y = tabular
    names = np.array(["cat", "dog", "emu"], dtype=object)[y]  # an object array
    sim = ActiveLearner(
        make_net(MLP, n_classes=3, max_epochs=1),
        strategy=MarginSampling(),
        n_instances=10,
        budget=30,
        random_state=0,
    ).fit(X, names)
    sim.save(tmp_path / "s.skal")
    loaded = ActiveLearner.load(tmp_path / "s.skal")
    assert list(loaded.classes_) == ["cat", "dog", "emu"]
    np.testing.assert_array_equal(loaded.predict(X), sim.predict(X))
    loaded.set_params(budget=40).resume()
    assert loaded.history_[-1]["n_labels"] == 40

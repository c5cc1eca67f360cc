"""Execution backends: LocalExecutor, ModalExecutor (offline), worker functions.

No test here contacts the network: Modal is replaced by an in-process fake of
the ``modal`` module (``fake_modal``), the worker functions are compared with
the real ``modal`` package's ``Function.local()``, and the one live test is
skipped unless Modal credentials are present and ``SKAL_MODAL_LIVE=1``.
"""

import os
import pickle
import subprocess
import sys
import textwrap
import time
import types
import warnings
from contextlib import contextmanager
from pathlib import Path

import cloudpickle
import numpy as np
import pytest
from joblib import parallel_config
from sklearn.base import clone
from sklearn.datasets import make_classification
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV
from sklearn.neural_network import MLPClassifier

from skal import ActiveLearner
from skal.backends import (
    BaseExecutor,
    LocalExecutor,
    ModalCredentialsError,
    ModalExecutor,
    current_executor,
    fit_estimator,
    modal_credentials_present,
    plan_chunks,
)
from skal.backends._modal import MAX_INPUT_BYTES
from skal.backends._workers import PoolChunk, StagedFile, dumps, score_chunk
from skal.models import get_adapter
from skal.strategies import FunctionStrategy, MarginSampling, TopK
from skal.utils._testing import MLP, make_net

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def data():
    X, y = make_classification(
        n_samples=400, n_features=8, n_informative=5, n_classes=3, random_state=0
    )
    return X.astype(np.float32), y


# ----------------------------------------------------------------- fake modal
class FakeModal(types.ModuleType):
    """The parts of ``modal`` that ModalExecutor uses, run in this process.

    Every call crosses a pickle boundary like a real one; the sizes of the
    pickled map inputs are recorded, as are app runs and Volume uploads.
    """

    def __init__(self, volume_dir):
        super().__init__("modal")
        self.volume_dir = Path(volume_dir)
        self.runs = 0
        self.running = False
        self.uploads = []  # remote paths, in order
        self.map_calls = []  # per map call: list of (args, kwargs, n_bytes)
        self.remote_calls = 0
        self.functions = []
        fake = self

        class Image:
            def __init__(self, steps=()):
                self.steps = list(steps)

            @classmethod
            def debian_slim(cls, python_version=None):
                return cls([("debian_slim", python_version)])

            def pip_install(self, *packages):
                return Image([*self.steps, ("pip_install", packages)])

        class Volume:
            object_id = "vo-fake"

            def __init__(self, name):
                self.name = name

            @classmethod
            def from_name(cls, name, *, create_if_missing=False):
                return cls(name)

            def hydrate(self):
                return self

            @contextmanager
            def batch_upload(self, force=False):
                batch = types.SimpleNamespace(files=[])
                batch.put_file = lambda f, remote: batch.files.append((f, remote))
                yield batch
                for f, remote in batch.files:  # Modal uploads on exit
                    path = fake.volume_dir / remote.lstrip("/")
                    path.parent.mkdir(parents=True, exist_ok=True)
                    path.write_bytes(f.read())
                    fake.uploads.append(remote)

            def remove_file(self, path, recursive=False):
                import shutil

                shutil.rmtree(fake.volume_dir / path.lstrip("/"))

        class Function:
            def __init__(self, raw_f, options):
                self.raw_f, self.options = raw_f, options

            def local(self, *args, **kwargs):
                return self.raw_f(*args, **kwargs)

            def _call(self, args, kwargs):
                assert fake.running, "called outside app.run()"
                # A GPU container, where skorch finds the CUDA a net asks for.
                with warnings.catch_warnings():
                    warnings.filterwarnings("ignore", message="Requested to load")
                    warnings.filterwarnings("ignore", message="Setting self.device")
                    a, k = pickle.loads(cloudpickle.dumps((args, kwargs)))
                    out = cloudpickle.dumps(self.raw_f(*a, **k))
                return pickle.loads(out)

            def remote(self, *args, **kwargs):
                fake.remote_calls += 1
                return self._call(args, kwargs)

            def map(self, *iterators, kwargs=None, order_outputs=True):
                kwargs = kwargs or {}
                inputs = list(zip(*iterators, strict=True))
                fake.map_calls.append(
                    [(a, kwargs, len(cloudpickle.dumps((a, kwargs)))) for a in inputs]
                )
                return [self._call(a, kwargs) for a in inputs]

        class App:
            def __init__(self, name=None, *, image=None):
                self.name, self.image = name, image

            def function(self, **options):
                def register(f):
                    fn = Function(f, options)
                    fake.functions.append(fn)
                    return fn

                return register

            @contextmanager
            def run(self):
                fake.runs += 1
                fake.running = True
                try:
                    yield self
                finally:
                    fake.running = False

        self.App, self.Image, self.Volume = App, Image, Volume

    def scored_rows(self, call, chunk_size):
        """Pool rows scored by one map call (a block's rows, in order)."""
        rows = []
        for args, _, _ in call:
            chunk = args[1]
            j = int(Path(chunk.path).stem)
            n = chunk_size if chunk.rows is None else None
            local = np.arange(n) if chunk.rows is None else chunk.rows
            rows.extend((j * chunk_size + local).tolist())
        return rows


@pytest.fixture
def fake_modal(tmp_path, monkeypatch):
    fake = FakeModal(tmp_path / "volume")
    monkeypatch.setitem(sys.modules, "modal", fake)
    monkeypatch.setenv("MODAL_TOKEN_ID", "ak-fake")
    monkeypatch.setenv("MODAL_TOKEN_SECRET", "as-fake")
    return fake


def modal_executor(fake, **params):
    params.setdefault("chunk_size", 50)
    return ModalExecutor(gpu="T4", volume_mount=str(fake.volume_dir), **params)


# ---------------------------------------------------------- import contract
def test_core_never_imports_modal():
    code = textwrap.dedent(
        """
        import importlib, pkgutil, sys
        import skal
        failed = []
        for m in pkgutil.walk_packages(skal.__path__, "skal."):
            if m.name in ("skal.backends._modal", "skal.demo"):
                continue
            try:
                importlib.import_module(m.name)
            except Exception as exc:  # another module's problem, not this test's
                failed.append((m.name, repr(exc)))
        assert "modal" not in sys.modules, "a core module imported modal"
        import skal.backends._modal  # imports modal only when a session opens
        assert "modal" not in sys.modules, "skal.backends._modal imported modal"
        print("ok", failed)
        """
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=120,
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith("ok")


# ------------------------------------------------------------- local + plan
def test_plan_chunks_scores_every_candidate_once():
    rng = np.random.default_rng(0)
    cand = rng.permutation(1000)[:357]
    plan = plan_chunks(1000, cand, 64)
    positions = np.concatenate([pos for _, pos, _ in plan])
    assert np.array_equal(np.sort(positions), np.arange(cand.size))
    for j, pos, rows in plan:
        assert np.array_equal(j * 64 + rows, cand[pos])
        assert rows.min() >= 0 and rows.max() < 64
    assert plan_chunks(10, [], 4) == []


def test_local_executor_respects_joblib_config(data):
    X, y = data
    ex = LocalExecutor()
    model = ex.fit(LogisticRegression(max_iter=500), X, y)
    cand = np.arange(0, 400, 3)
    assert not ex.chunked_scoring()
    whole = ex.score(model, X, cand)
    with parallel_config(n_jobs=2):
        assert ex.chunked_scoring()
        parallel = ex.score(model, X, cand)
    chunked = LocalExecutor(n_jobs=2, chunk_size=37).score(model, X, cand)
    np.testing.assert_allclose(parallel, whole, rtol=1e-12)
    np.testing.assert_allclose(chunked, whole, rtol=1e-12)
    emb = LocalExecutor(chunk_size=37).score(model, X, cand, what="embed")
    assert np.array_equal(emb, X[cand])
    proba, emb = LocalExecutor(chunk_size=37).score(
        model, X, cand, what="grad_embedding_factors"
    )
    assert proba.shape == (cand.size, 3) and emb.shape == (cand.size, 8)
    with pytest.raises(ValueError, match="'what' parameter of score"):
        ex.score(model, X, cand, what="mc_proba")


def test_learner_delegates_chunked_scoring_to_executor(data):
    X, y = data
    y_seed = np.full_like(y, -1)
    y_seed[:30] = y[:30]
    ex = LocalExecutor(chunk_size=64)
    learner = ActiveLearner(
        LogisticRegression(max_iter=500),
        executor=ex,
        strategy=MarginSampling(),
        n_instances=5,
    ).fit(X, y_seed)
    adapter = get_adapter(learner)
    assert type(adapter).__name__ == "ExecutorAdapter"
    direct = get_adapter(learner.estimator_)
    cand = learner.pool_indices_
    assert np.array_equal(adapter.predict_proba(X, cand), direct.predict_proba(X, cand))
    t = adapter.embed(X, cand, as_tensor=True)
    assert str(t.dtype) == "torch.float32" and t.shape == (cand.size, 8)
    ref = ActiveLearner(
        LogisticRegression(max_iter=500), strategy=MarginSampling(), n_instances=5
    ).fit(X, y_seed)
    assert np.array_equal(learner.query(), ref.query())


def test_context_manager_selects_executor(data):
    X, y = data
    learner = ActiveLearner(LogisticRegression())
    assert isinstance(learner._executor_, LocalExecutor)
    ex = LocalExecutor(n_jobs=2)
    with ex as entered:
        assert entered is ex and current_executor() is ex
        assert learner._executor_ is ex
        with ex:  # nested: the same session
            assert ex.in_session and current_executor() is ex
        assert ex.in_session
        explicit = LocalExecutor()
        assert ActiveLearner(LogisticRegression(), executor=explicit)._executor_ is (
            explicit
        )
    assert current_executor() is None and not ex.in_session
    with pytest.raises(TypeError, match="'executor' parameter of ActiveLearner"):
        ActiveLearner(LogisticRegression(), executor="modal").fit(X, y)


# ------------------------------------------------- workers: local == .local()
def test_workers_match_modal_function_local(data):
    modal = pytest.importorskip("modal")
    X, y = data
    net = make_net(MLP, n_classes=3, max_epochs=3)
    app = modal.App("skal-test-offline")
    fit_fn = app.function(gpu="T4")(fit_estimator)
    score_fn = app.function(gpu="T4")(score_chunk)

    ex = LocalExecutor()
    local = ex.fit(clone(net), X, y, seed=7)
    remote = fit_fn.local(dumps(clone(net)), X, y, {}, seed=7)
    for name, param in local.module_.state_dict().items():
        assert np.array_equal(param.numpy(), remote.module_.state_dict()[name].numpy())

    rows = np.arange(0, 400, 7)
    for what in ("predict_proba", "embed"):
        expected = ex.score(local, X, rows, what=what)
        got = score_fn.local(dumps(remote), X[rows], what)
        assert np.array_equal(expected, got)


# ---------------------------------------------------- ModalExecutor (faked)
def test_modal_session_stages_pool_once_and_scores_each_row_once(data, fake_modal):
    X, y = data
    ex = modal_executor(fake_modal)
    learner = ActiveLearner(
        LogisticRegression(max_iter=500),
        strategy=MarginSampling(),
        n_instances=20,
        n_initial=30,
        budget=130,
        random_state=0,
    )
    with ex:
        learner.fit(X, y)
        pool = learner.pool_indices_
        assert learner.query().shape == (20,)
    assert fake_modal.runs == 1  # the app is entered once per session
    blocks = [u for u in fake_modal.uploads if "/pool-" in u]
    assert len(blocks) == 8 == len(set(blocks))  # 400 rows / 50, staged once
    assert fake_modal.remote_calls == len(learner.history_)  # every fit remote
    # Round r scores the pool left after rounds 0..r-1, each row exactly once.
    assert len(fake_modal.map_calls) == len(learner.history_)  # + final query
    taken = set()
    calls = [None, *fake_modal.map_calls]  # round 0 is picked without a model
    for rec, call in zip(learner.history_, calls, strict=False):
        if call is not None:
            rows = fake_modal.scored_rows(call, 50)
            assert len(rows) == len(set(rows))
            assert set(rows) == set(range(400)) - taken
        taken |= set(rec["indices"].tolist())
    assert sorted(fake_modal.scored_rows(fake_modal.map_calls[-1], 50)) == (
        sorted(pool.tolist())
    )
    # Each map input stays below Modal's inline limit (2 MiB).
    sizes = [n for call in fake_modal.map_calls for _, _, n in call]
    assert max(sizes) < MAX_INPUT_BYTES
    # The session's staged data is deleted when it ends.
    assert not any((fake_modal.volume_dir).iterdir())

    local = ActiveLearner(
        LogisticRegression(max_iter=500),
        strategy=MarginSampling(),
        n_instances=20,
        n_initial=30,
        budget=130,
        random_state=0,
        executor=LocalExecutor(chunk_size=50),
    ).fit(X, y)
    for a, b in zip(learner.history_, local.history_, strict=True):
        assert np.array_equal(a["indices"], b["indices"])
    assert np.array_equal(learner.predict_proba(X), local.predict_proba(X))


def farthest_from_mean(learner, X, *, n_instances, candidates, random_state):
    """Embed the candidates; keep those farthest from their mean embedding."""
    emb = get_adapter(learner).embed(X, candidates)
    dist = ((emb - emb.mean(axis=0)) ** 2).sum(axis=1)
    return candidates[np.argsort(-dist, kind="stable")[:n_instances]]


def test_modal_scores_only_candidates_and_net_matches_local(data, fake_modal):
    X, y = data
    net = make_net(MLP, n_classes=3, max_epochs=2)
    strategy = TopK(MarginSampling(), k=60) | FunctionStrategy(farthest_from_mean)
    kwargs = dict(
        strategy=strategy, n_instances=10, n_initial=30, budget=50, random_state=0
    )
    learner = ActiveLearner(net, executor=modal_executor(fake_modal), **kwargs)
    learner.fit(X, y)
    local = ActiveLearner(net, executor=LocalExecutor(chunk_size=50), **kwargs).fit(
        X, y
    )
    for a, b in zip(learner.history_, local.history_, strict=True):
        assert np.array_equal(a["indices"], b["indices"])
    assert np.array_equal(learner.predict_proba(X), local.predict_proba(X))
    assert fake_modal.runs == 1  # one session for the whole simulation
    # The second step embeds only TopK's 60 candidates.
    whats = [call[0][0][2] for call in fake_modal.map_calls]
    assert "embed" in whats
    embed_calls = [c for c in fake_modal.map_calls if c[0][0][2] == "embed"]
    assert all(len(fake_modal.scored_rows(c, 50)) == 60 for c in embed_calls)


def test_modal_large_model_staged_on_volume(data, fake_modal):
    X, y = data
    big = MLPClassifier(hidden_layer_sizes=(512, 512), max_iter=5, random_state=0)
    ex = modal_executor(fake_modal)
    with pytest.warns(Warning):  # MLPClassifier's ConvergenceWarning
        with ex:
            model = ex.fit(big, X[:60], y[:60])
            got = ex.score(model, X, np.arange(5, 400, 2))
    assert len(dumps(model)) > MAX_INPUT_BYTES
    payloads = [call[0][0][0] for call in fake_modal.map_calls]
    assert all(isinstance(p, StagedFile) for p in payloads)
    assert max(n for call in fake_modal.map_calls for _, _, n in call) < 64 * 1024
    expected = LocalExecutor(chunk_size=50).score(model, X, np.arange(5, 400, 2))
    assert np.array_equal(got, expected)


def test_modal_small_pool_scored_in_process(data, fake_modal):
    X, y = data
    ex = modal_executor(fake_modal, chunk_size=1000)
    assert not ex.chunked_scoring(X) and ex.chunked_scoring(None)
    learner = ActiveLearner(
        LogisticRegression(),
        strategy=MarginSampling(),
        n_instances=5,
        n_initial=30,
        budget=40,
        executor=ex,
    )
    learner.fit(X, y)
    assert fake_modal.map_calls == []
    assert fake_modal.remote_calls == len(learner.history_) == 3


def test_modal_too_many_chunks(fake_modal):
    ex = modal_executor(fake_modal, chunk_size=1)
    model = LogisticRegression().fit([[0.0], [1.0]], [0, 1])
    with pytest.raises(ValueError, match="Raise chunk_size to at least 2"):
        ex.score(model, np.zeros((25_001, 1), dtype=np.float32))


def test_modal_chunk_is_a_reference(tmp_path):
    block = np.arange(12, dtype=np.float32).reshape(6, 2)
    np.save(tmp_path / "000000.npy", block)
    model = LogisticRegression().fit(block, [0, 1, 0, 1, 0, 1])
    chunk = PoolChunk(str(tmp_path / "000000.npy"), np.array([4, 1], dtype=np.int32))
    assert len(pickle.dumps(chunk)) < 1024
    assert np.array_equal(score_chunk(dumps(model), chunk, "embed"), block[[4, 1]])


# --------------------------------------------------------------- credentials
def _no_credentials(monkeypatch, tmp_path):
    for var in (
        "MODAL_TOKEN_ID",
        "MODAL_TOKEN_SECRET",
        "MODAL_PROFILE",
        "MODAL_OAUTH_REFRESH_TOKEN",
    ):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("MODAL_CONFIG_PATH", str(tmp_path / ".modal.toml"))


def test_no_credentials_fails_fast(monkeypatch, tmp_path):
    _no_credentials(monkeypatch, tmp_path)
    assert not modal_credentials_present()
    t0 = time.perf_counter()
    with pytest.raises(ModalCredentialsError, match="modal token new"):
        with ModalExecutor(gpu="A100"):
            pass  # pragma: no cover
    assert time.perf_counter() - t0 < 1.0
    learner = ActiveLearner(LogisticRegression(), executor=ModalExecutor())
    with pytest.raises(ModalCredentialsError, match="modal token new"):
        learner.fit([[0.0], [1.0]], [0, 1])


def test_credentials_found_in_config_file(monkeypatch, tmp_path):
    _no_credentials(monkeypatch, tmp_path)
    (tmp_path / ".modal.toml").write_text(
        '[work]\ntoken_id = "ak-1"\ntoken_secret = "as-1"\nactive = true\n'
    )
    assert modal_credentials_present()
    monkeypatch.setenv("MODAL_PROFILE", "other")
    assert not modal_credentials_present()
    monkeypatch.setenv("MODAL_TOKEN_ID", "ak-2")
    monkeypatch.setenv("MODAL_TOKEN_SECRET", "as-2")
    assert modal_credentials_present()


# ------------------------------------------------------- clone, pickle, grid
def test_clone_and_pickle_learner_with_modal_executor(data, fake_modal):
    X, y = data
    ex = modal_executor(fake_modal, timeout=120, app_name="skal-ci")
    learner = ActiveLearner(LogisticRegression(), executor=ex, n_instances=10)
    cloned = clone(learner)
    assert cloned.executor is not ex
    assert cloned.executor.get_params() == ex.get_params()
    assert learner.get_params()["executor__gpu"] == "T4"
    restored = pickle.loads(pickle.dumps(learner))
    assert repr(restored.executor) == repr(ex)

    with ex:  # a session in progress is not pickled
        y_seed = np.full_like(y, -1)
        y_seed[:40] = y[:40]
        learner.fit(X, y_seed)
        restored = pickle.loads(pickle.dumps(learner))
    assert not restored.executor.in_session
    assert np.array_equal(restored.predict(X), learner.predict(X))

    with pytest.raises(TypeError, match="Modal objects do not pickle"):
        pickle.dumps(ModalExecutor(volume=fake_modal.Volume("v")))
    assert isinstance(clone(ModalExecutor(image=fake_modal.Image())), BaseExecutor)


def test_grid_search_with_local_executor(data):
    X, y = data
    sim = ActiveLearner(
        LogisticRegression(max_iter=300),
        n_instances=10,
        budget=40,
        n_initial=20,
        random_state=0,
        executor=LocalExecutor(),
    )
    grid = GridSearchCV(
        sim,
        {"executor__chunk_size": [None, 64], "strategy": [MarginSampling(), None]},
        cv=2,
    )
    grid.fit(X, y)
    assert isinstance(grid.best_estimator_.executor, LocalExecutor)
    scores = grid.cv_results_["mean_test_score"].reshape(2, 2)
    np.testing.assert_allclose(scores[0], scores[1])  # chunking changes nothing


# ---------------------------------------------------------------------- live
@pytest.mark.modal_live
@pytest.mark.skipif(
    not (modal_credentials_present() and os.environ.get("SKAL_MODAL_LIVE") == "1"),
    reason="needs Modal credentials and SKAL_MODAL_LIVE=1 (runs on Modal)",
)
def test_modal_live_matches_local(data):  # pragma: no cover - network
    X, y = data
    kwargs = dict(
        strategy=MarginSampling(),
        n_instances=20,
        n_initial=30,
        budget=70,
        random_state=0,
    )
    remote = ActiveLearner(
        LogisticRegression(max_iter=500),
        **kwargs,
        executor=ModalExecutor(gpu=None, chunk_size=100, app_name="skal-live-test"),
    )
    remote.fit(X, y)
    local = ActiveLearner(
        LogisticRegression(max_iter=500),
        **kwargs,
        executor=LocalExecutor(chunk_size=100),
    ).fit(X, y)
    for a, b in zip(remote.history_, local.history_, strict=True):
        assert np.array_equal(a["indices"], b["indices"])


def test_nets_are_sent_to_the_containers_gpu(data):
    from skorch.exceptions import DeviceWarning

    from skal.backends._modal import _on_device

    X, y = data
    net = LocalExecutor().fit(make_net(MLP, n_classes=3, max_epochs=1), X, y)
    assert ModalExecutor(gpu="A100")._device() == "cuda"
    assert ModalExecutor(gpu=None)._device() is None
    sent = _on_device(net, "cuda")
    assert sent.device == "cuda" and net.device == "cpu"
    assert _on_device(net, None) is net
    lr = LogisticRegression()
    assert _on_device(lr, "cuda") is lr
    if not __import__("torch").cuda.is_available():
        with pytest.warns(DeviceWarning):  # no GPU here: skorch maps it back
            back = pickle.loads(dumps(sent))
        assert np.array_equal(back.predict_proba(X), net.predict_proba(X))


def test_public_surface_is_what_users_call():
    """The workers' payloads and scoring function are internals (issue 29)."""
    import skal.backends as B

    for name in ("PoolChunk", "StagedFile", "score_chunk"):
        assert name not in B.__all__ and not hasattr(B, name)

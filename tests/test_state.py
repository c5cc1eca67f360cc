"""LabelState: the one owner of a session's labels; its to_dict/from_dict."""

import warnings

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.linear_model import LogisticRegression

from skal import ActiveLearner
from skal._state import LabelState
from skal.stopping import StabilizingPredictions


@st.composite
def _states(draw):
    n = draw(st.integers(1, 30))
    d = draw(st.integers(1, 4))
    X = np.arange(n * d, dtype=draw(st.sampled_from(["float32", "float64"])))
    X = X.reshape(n, d)
    perm = np.random.RandomState(draw(st.integers(0, 1000))).permutation(n)
    k = draw(st.integers(0, n))
    labeled, pool = np.sort(perm[:k]), np.sort(perm[k:])
    kind = draw(st.sampled_from(["int", "str"]))
    y = draw(st.lists(st.integers(0, 3), min_size=k, max_size=k))
    y = np.asarray(y, dtype=np.int64) if kind == "int" else np.asarray(y).astype(str)
    rng = np.random.RandomState(draw(st.integers(0, 2**31 - 1)))
    rng.randint(10, size=draw(st.integers(0, 5)))  # some state advanced
    state = LabelState(X, labeled, y, pool, rng=rng, fit_params={"a": 1})
    if draw(st.booleans()):
        state.index = pd.Index([f"r{i}" for i in range(n)])
    state.journal_session = draw(st.none() | st.text("abcdef0123", min_size=1))
    state.journal_seq = draw(st.integers(0, 10**6))
    state.journal_replayed = {"s1": draw(st.integers(0, 100))}
    if kind == "str" and k:
        state.label_classes = np.unique(y)
    return state


@settings(max_examples=60, deadline=None)
@given(state=_states())
def test_to_dict_from_dict_round_trips(state):
    back = LabelState.from_dict(state.to_dict(), state.X)
    for key, attr in LabelState.SAVED.items():
        a, b = getattr(state, attr), getattr(back, attr)
        if attr == "rng":
            assert a.randint(10**9) == b.randint(10**9)  # same stream from here
        elif attr == "index":
            assert (a is None and b is None) or list(a) == list(b)
        elif isinstance(a, np.ndarray):
            assert a.dtype == b.dtype and np.array_equal(a, b), key
        else:
            assert a == b, key
    # the round trip neither copies fit's X nor shares the label arrays' state
    assert back.X is state.X


@settings(max_examples=40, deadline=None)
@given(state=_states(), data=st.data())
def test_add_commits_labels_and_leaves_the_pool(state, data):
    if not state.pool_indices.size:
        return
    rows = data.draw(
        st.lists(st.sampled_from(state.pool_indices.tolist()), min_size=1, unique=True)
    )
    rows = np.asarray(rows, dtype=np.intp)
    y_new = np.zeros(rows.size, dtype=state.y_labeled.dtype)
    n0, pool0 = state.n_labels, set(state.pool_indices.tolist())
    state.add(state.X[rows], y_new, pool_rows=rows)
    assert state.n_labels == n0 + rows.size
    assert set(state.pool_indices.tolist()) == pool0 - set(rows.tolist())
    assert np.array_equal(state.labeled_indices[-rows.size :], rows)
    assert np.array_equal(state.X_labeled[-rows.size :], state.X[rows])


@pytest.mark.parametrize(
    "key, value, match",
    [
        ("labeled_indices_", np.array([0, 0]), "duplicates"),
        ("pool_indices_", np.array([99]), "outside fit's X"),
        ("y_labeled_", np.zeros((2, 2)), "1-D"),
        ("fit_params", [1], "fit_params"),
        ("journal_seq", -1, "journal_seq"),
        ("sim", {"y": np.zeros(3)}, "sim"),
        ("fit_index", np.zeros(3), "fit_index"),
    ],
)
def test_from_dict_names_the_malformed_field(key, value, match):
    X = np.zeros((5, 2))
    state = LabelState(
        X, [0, 1], np.array([0, 1]), [2, 3, 4], rng=np.random.RandomState(0)
    )
    d = state.to_dict()
    d[key] = value
    with pytest.raises((TypeError, ValueError), match=match):
        LabelState.from_dict(d, X)


def test_a_row_labeled_and_in_the_pool_is_refused():
    X = np.zeros((4, 1))
    d = LabelState(X, [0], np.array([1]), [1, 2, 3], rng=np.random.RandomState(0))
    d = d.to_dict()
    d["pool_indices_"] = np.array([0, 1])
    with pytest.raises(ValueError, match="both labeled and in the pool"):
        LabelState.from_dict(d, X)


def test_learner_attributes_are_the_state(tmp_path):
    X = np.random.RandomState(0).normal(size=(40, 3))
    y = np.full(40, -1)
    y[:4] = [0, 1, 0, 1]
    learner = ActiveLearner(LogisticRegression(), n_instances=3, random_state=0)
    learner.fit(X, y)
    state = learner._state
    assert learner.X_labeled_ is state.X_labeled
    assert learner.pool_indices_ is state.pool_indices
    idx = learner.query()
    learner.teach(y=np.arange(3) % 2, indices=idx)
    assert learner.y_labeled_ is learner._state.y_labeled
    assert learner.y_labeled_.shape == (7,)
    assert not np.isin(idx, learner.pool_indices_).any()


def test_saved_session_keeps_the_dataframe_index_and_stop_observations(tmp_path):
    rng = np.random.RandomState(0)
    X = pd.DataFrame(rng.normal(size=(60, 3)), columns=list("abc"))
    X.index = [f"row{i}" for i in range(60)]
    y = np.full(60, -1)
    y[:6] = [0, 1, 2, 0, 1, 2]
    learner = ActiveLearner(
        LogisticRegression(),
        n_instances=4,
        random_state=0,
        stopping=StabilizingPredictions(window=1),
    ).fit(X, y)
    idx = learner.query()
    learner.teach(y=np.arange(4) % 3, indices=idx)
    learner.save(tmp_path / "s.skal")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        loaded = ActiveLearner.load(tmp_path / "s.skal")
    assert list(loaded.query(return_index=True)) == list(
        learner.query(return_index=True)
    )
    assert all(label.startswith("row") for label in loaded.query(return_index=True))
    assert len(loaded.stop_observations_) == len(learner.stop_observations_) == 2
    assert np.array_equal(
        loaded.stop_observations_[-1]["predictions"],
        learner.stop_observations_[-1]["predictions"],
    )

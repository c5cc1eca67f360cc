"""Hostile input: each case either behaves correctly or names the problem."""

import warnings

import numpy as np
import pytest
import scipy.sparse as sp
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.exceptions import NotFittedError
from sklearn.linear_model import LogisticRegression

from skal import ActiveLearner
from skal.strategies import MarginSampling, RandomSampling
from skal.utils._testing import MLP, make_net

_SETTINGS = settings(
    max_examples=15,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)


def _seed(y, per_class=2):
    """Two labeled rows per class, the rest -1 (object array for strings)."""
    y_seed = np.full(len(y), -1, dtype=object if y.dtype.kind in "USb" else y.dtype)
    for c in np.unique(y):
        rows = np.flatnonzero(y == c)[:per_class]
        y_seed[rows] = y[rows]
    return y_seed


def _net(n_classes=3, module=MLP, **kw):
    return make_net(module, max_epochs=1, n_classes=n_classes, **kw)


class Plain(torch.nn.Module):
    """A module that does not cast its input (unlike MLP's X.float())."""

    def __init__(self, n_classes=3):
        super().__init__()
        self.lin = torch.nn.LazyLinear(n_classes)

    def forward(self, X):
        return self.lin(X)


# ---------------------------------------------------------------- NaN / inf
@pytest.mark.parametrize("value", [np.nan, np.inf, -np.inf])
@pytest.mark.parametrize("model", ["sklearn", "skorch"])
def test_nan_inf_rejected_before_anything_is_recorded(tabular, value, model):
    X, y = tabular
    est = LogisticRegression() if model == "sklearn" else _net()
    bad = X.copy()
    bad[7, 1] = value
    with pytest.raises(ValueError, match="Input X contains (NaN|infinity)"):
        ActiveLearner(est).fit(bad, _seed(y))
    learner = ActiveLearner(est, n_instances=3).fit(X, _seed(y))
    with pytest.raises(ValueError, match="Input X contains"):
        learner.teach(bad[5:9], y[5:9])
    with pytest.raises(ValueError, match="Input X contains"):
        learner.query(bad)
    assert len(learner.y_labeled_) == 6


def test_nan_accepted_when_the_estimator_allows_it(tabular):
    X, y = tabular
    bad = X.copy()
    bad[::7, 2] = np.nan
    learner = ActiveLearner(
        HistGradientBoostingClassifier(max_iter=2, early_stopping=False),
        strategy=MarginSampling(),
        n_instances=4,
        random_state=0,
    ).fit(bad, _seed(y, 5))
    idx = learner.query()
    learner.teach(y=y[idx], indices=idx)
    learner.teach(bad[:2], y[:2])
    assert learner.predict(bad).shape == (300,)


@pytest.mark.filterwarnings("ignore:invalid value encountered in cast")
def test_nan_labels_rejected(tabular):
    X, y = tabular
    y_nan = _seed(y).astype(float)
    y_nan[10] = np.nan
    # NaN marks unlabeled rows by default (missing_label="auto", issue 23);
    # with an explicit marker it is refused
    with pytest.raises(ValueError, match="Input y contains NaN"):
        ActiveLearner(LogisticRegression(), missing_label=-1).fit(X, y_nan)


# ------------------------------------------------------ object / string X
def test_object_and_string_X(tabular):
    X, y = tabular
    # numbers in an object array: fine for scikit-learn
    learner = ActiveLearner(LogisticRegression(), n_instances=2).fit(
        X.astype(object), _seed(y)
    )
    assert learner.query().shape == (2,)
    # strings: scikit-learn's own errors name the problem
    words = np.full(X.shape, "abc")
    with pytest.raises(ValueError, match="could not convert string to float"):
        ActiveLearner(LogisticRegression()).fit(words, _seed(y))
    # numeric strings fit (scikit-learn parses them) but do not predict
    learner = ActiveLearner(LogisticRegression()).fit(X.astype(str), _seed(y))
    with pytest.raises(ValueError, match="not compatible with arrays of bytes/strings"):
        learner.query()
    # a skorch net: the dtype is named
    for bad in (X.astype(object), X.astype(str)):
        with pytest.raises(
            TypeError,
            match=rf"must hold numbers for a skorch net; "
            rf"got an array of dtype {bad.dtype}",
        ):
            ActiveLearner(_net()).fit(bad, _seed(y))


def test_teach_rows_of_another_dtype(tabular):
    X, y = tabular
    learner = ActiveLearner(LogisticRegression()).fit(X, _seed(y))
    with pytest.raises(
        TypeError,
        match="rows taught have dtype <U32, but the labeled rows .* have dtype float32",
    ):
        learner.teach(X[:2].astype(str), y[:2])
    with pytest.raises(TypeError, match=r"dtype float32, .* dtype int64"):
        ActiveLearner(LogisticRegression()).fit(
            (X * 10).astype(np.int64), _seed(y)
        ).teach(X[:2] + 0.5, y[:2])
    assert len(learner.y_labeled_) == 6  # nothing half-taught
    learner.teach(X[:2].astype(np.float64), y[:2])  # lossless: cast
    learner.teach((X[:2] * 0).astype(np.int64), y[:2])
    assert learner.X_labeled_.dtype == np.float32 and len(learner.y_labeled_) == 10


# ------------------------------------------------------------------ sparse
@pytest.mark.parametrize("fmt", ["csr", "csc", "coo"])
@pytest.mark.parametrize("model", ["sklearn", "skorch"])
def test_sparse_pools_are_supported(tabular, fmt, model):
    """scikit-learn models take sparse X; so does skorch (it densifies batches)."""
    X, y = tabular
    Xs = sp.random(
        300, 8, density=0.3, format=fmt, random_state=0, dtype=np.float32
    ) + sp.csr_matrix(X)
    est = LogisticRegression() if model == "sklearn" else _net()
    learner = ActiveLearner(
        est, strategy=MarginSampling(), n_instances=5, random_state=0
    ).fit(Xs, _seed(y))
    idx = learner.query()
    learner.teach(y=y[idx], indices=idx)
    learner.teach(sp.csr_matrix(X[:2]), y[:2])
    learner.teach(X[2:4], y[2:4])  # dense rows join the sparse labeled set
    assert sp.issparse(learner.X_labeled_) and learner.X_labeled_.shape == (15, 8)
    assert learner.predict(Xs).shape == (300,)


# ---------------------------------------------------------------- the pool
def test_pool_of_one_row_then_empty(tabular):
    X, y = tabular
    y_seed = y.copy()
    y_seed[5] = -1
    learner = ActiveLearner(
        LogisticRegression(), strategy=MarginSampling(), n_instances=10, random_state=0
    ).fit(X, y_seed)
    idx = learner.query()
    assert idx.tolist() == [5]
    learner.teach(y=y[idx], indices=idx)
    assert learner.pool_indices_.shape == (0,)
    for q in (learner.query(), learner.query(n_instances=10**6), learner.query(X[:0])):
        assert q.shape == (0,) and q.dtype.kind == "i"
    learner.teach(y=[], indices=[])  # nothing to teach: a no-op
    assert len(learner.y_labeled_) == 300


def test_simulation_budget_far_above_the_pool(tabular):
    X, y = tabular
    sim = ActiveLearner(
        LogisticRegression(),
        n_instances=120,
        n_initial=10,
        budget=10**6,
        random_state=0,
    ).fit(X[:100], y[:100])
    assert [h["n_labels"] for h in sim.history_] == [10, 100]
    assert sim.pool_indices_.shape == (0,)


@_SETTINGS
@given(
    n_pool=st.integers(0, 12),
    n_instances=st.integers(1, 40),
    duplicated=st.booleans(),
    seed=st.integers(0, 2**16),
)
def test_query_contract_on_tiny_and_duplicated_pools(
    n_pool, n_instances, duplicated, seed
):
    rng = np.random.RandomState(seed)
    X = rng.normal(size=(4 + n_pool, 3)).astype(np.float32)
    if duplicated:
        X[:] = X[0]
    y = np.r_[0, 1, 0, 1, np.full(n_pool, -1)]
    learner = ActiveLearner(
        LogisticRegression(),
        strategy=MarginSampling(),
        n_instances=n_instances,
        random_state=seed,
    ).fit(X, y)
    idx = learner.query()
    assert idx.shape == (min(n_instances, n_pool),)
    assert np.unique(idx).size == idx.size
    assert np.isin(idx, learner.pool_indices_).all()
    learner.teach(y=rng.randint(0, 2, idx.size), indices=idx)
    assert learner.pool_indices_.size == n_pool - idx.size


def test_fully_duplicated_pool_with_a_net():
    X = np.ones((40, 4), dtype=np.float32)
    y = np.r_[0, 1, 2, np.full(37, -1)]
    learner = ActiveLearner(
        _net(), strategy=MarginSampling(), n_instances=8, random_state=0
    ).fit(X, y)
    idx = learner.query()
    assert np.unique(idx).size == 8
    learner.teach(y=np.arange(8) % 3, indices=idx)


# ------------------------------------------------------------------ labels
@pytest.mark.parametrize("model", ["sklearn", "skorch"])
def test_single_labeled_class(tabular, model):
    X, y = tabular
    est = LogisticRegression() if model == "sklearn" else _net()
    y_seed = np.full_like(y, -1)
    y_seed[np.flatnonzero(y == 1)[:3]] = 1
    with pytest.warns(
        UserWarning,
        match=r"a single class \(1\): no model is "
        "fitted until a second class is taught",
    ):
        learner = ActiveLearner(
            est, strategy=MarginSampling(), n_instances=4, random_state=0
        ).fit(X, y_seed)
    assert learner.model_fitted_ is False
    with pytest.raises(NotFittedError, match="fewer than two classes"):
        learner.predict(X)
    idx = learner.query()  # initial_strategy (random) meanwhile
    assert idx.shape == (4,)
    learner.teach(y=np.ones(4, int), indices=idx)  # still one class
    assert learner.model_fitted_ is False and len(learner.y_labeled_) == 7
    rows = np.setdiff1d(np.flatnonzero(y == 0), learner.labeled_indices_)[:2]
    learner.teach(y=y[rows], indices=rows)
    assert learner.model_fitted_ is True


def test_single_class_without_pool_is_the_estimators_call(tabular):
    X, y = tabular
    with pytest.raises(ValueError, match="at least 2 classes"):
        ActiveLearner(LogisticRegression()).fit(X, np.ones_like(y))


@pytest.mark.parametrize("model", ["sklearn", "skorch"])
def test_string_labels(tabular, model):
    X, y = tabular
    names = np.array(["cat", "dog", "emu"])
    ys = names[y]
    est = LogisticRegression() if model == "sklearn" else _net()
    learner = ActiveLearner(
        est, strategy=MarginSampling(), n_instances=5, random_state=0
    ).fit(X, _seed(ys))
    idx = learner.query()
    learner.teach(y=ys[idx], indices=idx)
    learner.teach(X[:3], ys[:3])
    assert set(learner.classes_) == set(names)
    pred = learner.predict(X)
    assert set(pred) <= set(names)
    assert learner.predict_proba(X).shape == (300, 3)
    np.testing.assert_array_equal(
        learner.classes_[learner.predict_proba(X).argmax(1)], pred
    )
    assert 0 <= learner.score(X, ys) <= 1
    with pytest.raises(
        TypeError, match="holds number labels .* the labeled rows hold string labels"
    ):
        learner.teach(X[:1], [1])


def test_string_labels_with_more_outputs_than_classes(tabular):
    X, y = tabular
    ys = np.array(["a", "b"])[(y > 0).astype(int)]
    learner = ActiveLearner(_net(n_classes=5), random_state=0).fit(X, _seed(ys))
    proba = learner.predict_proba(X)
    assert proba.shape == (300, 2)
    np.testing.assert_allclose(proba.sum(1), 1, rtol=1e-5)
    assert set(learner.predict(X)) <= {"a", "b"}


@pytest.mark.parametrize("model", ["sklearn", "skorch"])
def test_class_appearing_only_in_teach(tabular, model):
    X, y = tabular
    est = LogisticRegression() if model == "sklearn" else _net()
    y_seed = _seed(y)
    y_seed[y_seed == 2] = -1
    learner = ActiveLearner(est, random_state=0, warm_start=True).fit(X, y_seed)
    assert list(learner.classes_) == [0, 1]
    rows = np.flatnonzero(y == 2)[:4]
    learner.teach(y=y[rows], indices=rows)
    assert list(learner.classes_) == [0, 1, 2] and not learner.model_stale_


def test_class_beyond_the_nets_outputs(tabular):
    X, y = tabular
    y_seed = _seed(y)
    y_seed[y_seed == 2] = -1
    learner = ActiveLearner(_net(n_classes=2), random_state=0).fit(X, y_seed)
    rows = np.flatnonzero(y == 2)[:2]
    with pytest.raises(
        ValueError,
        match="fewer output units than the labels need "
        r"\(Target 2 is out of bounds.*module__n_classes",
    ):
        learner.teach(y=y[rows], indices=rows)
    assert learner.model_stale_ and len(learner.y_labeled_) == 6


@pytest.mark.parametrize("model", ["sklearn", "skorch"])
def test_float_labels(tabular, model):
    X, y = tabular
    est = LogisticRegression() if model == "sklearn" else _net()
    learner = ActiveLearner(est, random_state=0).fit(X, _seed(y.astype(float)))
    assert set(learner.predict(X).tolist()) <= {0.0, 1.0, 2.0}
    with pytest.raises(ValueError, match="Unknown label type: continuous"):
        ActiveLearner(est).fit(X, _seed(y + 0.5))
    with pytest.raises(ValueError, match="Unknown label type: continuous"):
        learner.teach(X[:2], [0.5, 1.5])


@_SETTINGS
@given(
    kind=st.sampled_from(["int", "str", "float", "bool", "negative"]),
    n_classes=st.integers(2, 4),
    seed=st.integers(0, 2**16),
)
def test_any_label_set_round_trips_through_predict(kind, n_classes, seed):
    rng = np.random.RandomState(seed)
    X = rng.normal(size=(40, 3)).astype(np.float32)
    codes = np.r_[np.arange(n_classes), rng.randint(0, n_classes, 40 - n_classes)]
    n_classes = 2 if kind == "bool" else n_classes
    codes = codes % n_classes
    values = {
        "int": np.arange(n_classes) * 7,
        "str": np.array([f"class {i}" for i in range(n_classes)]),
        "float": np.arange(n_classes) * 2.0,
        "bool": np.array([False, True]),
        "negative": -np.arange(2, n_classes + 2),
    }[kind]
    y = values[codes]
    y_seed = np.array(
        list(y[: 2 * n_classes]) + [-1] * (40 - 2 * n_classes),
        dtype=object if kind in ("str", "bool") else y.dtype,
    )
    if len(np.unique(y[: 2 * n_classes])) < 2:
        return
    learner = ActiveLearner(
        LogisticRegression(),
        strategy=RandomSampling(),
        n_instances=5,
        random_state=seed,
    ).fit(X, y_seed)
    idx = learner.query()
    learner.teach(y=y[idx], indices=idx)
    assert set(learner.predict(X).tolist()) <= set(values.tolist())


# ------------------------------------------------------------ torch dtypes
def test_float64_and_int_X_for_nets(tabular):
    X, y = tabular
    # a module that casts (MLP's X.float()) works with either
    for Xd in (X.astype(np.float64), (X * 10).astype(np.int64)):
        learner = ActiveLearner(_net(), random_state=0).fit(Xd, _seed(y))
        assert learner.predict(Xd).shape == (300,)
    # a module that does not: the error names the dtype and the fix
    for Xd, name in (
        (X.astype(np.float64), "float64"),
        ((X * 10).astype(np.int64), "int64"),
    ):
        with pytest.raises(
            TypeError,
            match=rf"cannot train on X of dtype {name} .*"
            r"X.astype\(np.float32\)",
        ):
            ActiveLearner(_net(module=Plain)).fit(Xd, _seed(y))


def test_tensor_pool_keeps_its_dtype(tabular):
    X, y = tabular
    Xt = torch.as_tensor(X)
    learner = ActiveLearner(
        _net(module=Plain), strategy=MarginSampling(), n_instances=4, random_state=0
    ).fit(Xt, _seed(y))
    idx = learner.query()
    learner.teach(y=y[idx], indices=idx)
    learner.teach(X[:2].astype(np.float64), y[:2])  # numpy float64 rows
    assert isinstance(learner.X_labeled_, torch.Tensor)
    assert learner.X_labeled_.dtype == torch.float32
    assert learner.predict(Xt).shape == (300,)


def test_warnings_are_not_errors(tabular):
    """The whole battery runs without stray warnings on clean input."""
    X, y = tabular
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        learner = ActiveLearner(
            LogisticRegression(), n_instances=5, random_state=0
        ).fit(X, _seed(y))
        idx = learner.query()
        learner.teach(y=y[idx], indices=idx)


# ------------------------------------------- input contract (issue 15)
def _int_session(tabular):
    X, y = tabular
    return ActiveLearner(LogisticRegression(), n_instances=2).fit(X, _seed(y)), X, y


@pytest.mark.parametrize("kind", ["float", "Int64", "int32", "bool-free uint8"])
def test_labels_keep_the_dtype_of_the_first_labels(tabular, kind):
    pd = pytest.importorskip("pandas")
    learner, X, y = _int_session(tabular)
    labels = y[:4]
    taught = {
        "float": labels.astype(float),
        "Int64": pd.Series(labels, dtype="Int64"),
        "int32": labels.astype(np.int32),
        "bool-free uint8": labels.astype(np.uint8),
    }[kind]
    learner.teach(X[:4] + 1, taught)
    assert learner.y_labeled_.dtype == np.int64
    assert learner.classes_.dtype.kind == "i"
    assert learner.predict(X[:5]).dtype.kind == "i"


def test_pandas_nullable_y_at_fit_stays_int(tabular):
    pd = pytest.importorskip("pandas")
    X, y = tabular
    learner = ActiveLearner(LogisticRegression()).fit(
        X, pd.Series(_seed(y), dtype="Int64")
    )
    assert learner.y_labeled_.dtype == np.int64
    assert learner.predict(X[:3]).dtype == np.int64


def test_mixed_label_kinds_are_a_named_error(tabular):
    X, y = tabular
    mixed = _seed(y).astype(object)
    mixed[0] = "cat"
    with pytest.raises(TypeError, match=r"labels of the types \['int', 'str'\]"):
        ActiveLearner(LogisticRegression()).fit(X, mixed)
    learner, X, y = _int_session(tabular)
    with pytest.raises(TypeError, match=r"labels of the types \['int', 'str'\]"):
        learner.teach(X[:2], np.array([1, "dog"], dtype=object))
    with pytest.raises(TypeError, match="holds string labels .* number labels"):
        learner.teach(X[:2], np.array(["a", "b"]))
    assert len(learner.y_labeled_) == 6


@pytest.mark.parametrize("name", ["strategy", "initial_strategy"])
def test_a_strategy_class_is_refused_at_fit(tabular, name):
    X, y = tabular
    learner = ActiveLearner(LogisticRegression(), **{name: MarginSampling})
    with pytest.raises(TypeError, match=rf"'{name}' .* Got the class MarginSampling"):
        learner.fit(X, _seed(y))


def test_dataframe_session_keeps_dataframes_end_to_end(tabular, tmp_path):
    pd = pytest.importorskip("pandas")
    X, y = tabular
    df = pd.DataFrame(X, columns=[f"f{i}" for i in range(X.shape[1])])
    journal = str(tmp_path / "labels.jsonl")
    learner = ActiveLearner(
        LogisticRegression(), n_instances=3, random_state=0, journal=journal
    ).fit(df, _seed(y))
    with warnings.catch_warnings():
        warnings.filterwarnings("error", message=".*feature names")
        learner.teach(X[:3] + 0.5, y[:3])  # an ndarray
        idx = learner.query()
        learner.teach(y=y[idx], indices=idx)
    assert isinstance(learner.X_labeled_, pd.DataFrame)
    assert list(learner.X_labeled_.columns) == list(df.columns)
    assert (learner.X_labeled_.dtypes == np.float32).all()
    assert list(learner.estimator_.feature_names_in_) == list(df.columns)
    learner.save(tmp_path / "s.skal")
    loaded = ActiveLearner.load(tmp_path / "s.skal")
    assert isinstance(loaded.X_labeled_, pd.DataFrame)
    np.testing.assert_array_equal(loaded.predict_proba(df), learner.predict_proba(df))
    fresh = ActiveLearner(LogisticRegression(), n_instances=3).fit(df, _seed(y))
    fresh.replay_journal(journal)
    assert isinstance(fresh.X_labeled_, pd.DataFrame)
    assert list(fresh.X_labeled_.columns) == list(df.columns)
    np.testing.assert_array_equal(fresh.y_labeled_, learner.y_labeled_)


@pytest.mark.parametrize(
    "columns",
    [
        None,  # pd.DataFrame(X): a RangeIndex of ints
        [10, 3, 7, 1, 0, 5, 2, 4, 8, 9][:6],
        [1, 2.5, ("x", 1), None, 7, -3],
        [("g", 0), ("g", 1), ("h", 0), ("h", 1), ("i", 0), ("i", 1)],
    ],
)
def test_dataframe_with_any_scalar_column_names_saves_and_loads(
    tabular, tmp_path, columns
):
    pd = pytest.importorskip("pandas")
    X, y = tabular
    df = pd.DataFrame(X[:, :6])
    if columns is not None:
        df.columns = pd.Index(columns, tupleize_cols=False)
    learner = ActiveLearner(LogisticRegression(), n_instances=3, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # mixed names: sklearn drops them
        learner.fit(df, _seed(y))
        idx = learner.query()
        learner.teach(y=y[idx], indices=idx)
        learner.teach(df.iloc[:2] + 0.5, y[:2])
    learner.save(tmp_path / "s.skal")
    learner.save(tmp_path / "n.skal", include_X=False)
    loaded = ActiveLearner.load(tmp_path / "s.skal")
    again = ActiveLearner.load(tmp_path / "n.skal", X=df)
    expected = learner.query()
    for one in (loaded, again):
        assert list(one.X_labeled_.columns) == list(df.columns)
        pd.testing.assert_frame_equal(
            one.X_labeled_.reset_index(drop=True),
            learner.X_labeled_.reset_index(drop=True),
        )
        np.testing.assert_array_equal(one.query(), expected)
    pd.testing.assert_index_equal(loaded._state.X.columns, df.columns)


def test_dataframe_column_names_that_cannot_be_saved_name_a_fix(tabular, tmp_path):
    pd = pytest.importorskip("pandas")
    X, y = tabular
    df = pd.DataFrame(X[:, :2], columns=pd.to_datetime(["2024-01-01", "2024-01-02"]))
    learner = ActiveLearner(LogisticRegression(), random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        learner.fit(df, _seed(y))
    with pytest.raises(TypeError, match=r"X\.columns = X\.columns\.astype\(str\)"):
        learner.save(tmp_path / "s.skal")
    df.columns = df.columns.astype(str)
    ActiveLearner(LogisticRegression(), random_state=0).fit(df, _seed(y)).save(
        tmp_path / "s.skal"
    )
    ActiveLearner.load(tmp_path / "s.skal")

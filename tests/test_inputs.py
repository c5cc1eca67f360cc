"""Labels and data as users have them (issue 16).

Unlabeled markers (``missing_label``), look-alike labels, pandas indices,
DataFrames for nets, raw text, rows of the pool taught as rows, the default
strategy's parameters, and a simulation's progress.
"""

import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.datasets import load_iris
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline

from skal import ActiveLearner
from skal._labels import unlabeled_mask
from skal.strategies import ColdStartHybrid, MarginSampling
from skal.utils._testing import MLP, make_net

NAMES = np.array(["setosa", "versicolor", "virginica"])


@pytest.fixture
def iris():
    X, y = load_iris(return_X_y=True)
    seed = np.zeros(150, dtype=bool)
    seed[::10] = True  # 15 labels, every class
    return X, y, seed


def _marked(y, seed, fill, dtype):
    out = y.astype(dtype)
    out[~seed] = fill
    return out


@pytest.mark.parametrize(
    "missing, labels",
    [
        (np.nan, lambda y: y.astype(float)),
        (None, lambda y: NAMES[y].astype(object)),
        ("?", lambda y: NAMES[y]),
        (-1, lambda y: NAMES[y].astype(object)),
        (-1, lambda y: y),
    ],
    ids=["nan-float", "none-object", "str-marker", "-1-object", "-1-int"],
)
def test_missing_label_markers(iris, missing, labels):
    X, y, seed = iris
    lab = labels(y)
    yy = lab.astype(object) if lab.dtype.kind == "U" and missing is None else lab.copy()
    if lab.dtype.kind == "U" and not isinstance(missing, str):
        yy = lab.astype(object)
    yy[~seed] = missing
    learner = ActiveLearner(
        LogisticRegression(), missing_label=missing, n_instances=5, random_state=0
    ).fit(X, yy)
    assert learner.pool_indices_.tolist() == np.flatnonzero(~seed).tolist()
    assert len(learner.classes_) == 3
    assert missing not in learner.classes_.tolist()
    idx = learner.query()
    assert len(idx) == 5 and not np.isin(idx, np.flatnonzero(seed)).any()
    learner.teach(y=lab[idx], indices=idx)
    assert len(learner.pool_indices_) == (~seed).sum() - 5
    with pytest.raises(ValueError, match="unlabeled marker"):
        learner.teach(
            y=np.array([missing], dtype=object),
            indices=idx[:0].tolist() + [int(learner.pool_indices_[0])],
        )


def test_string_minus_one_never_becomes_a_class(iris):
    X, y, seed = iris
    ys = NAMES[y].copy()
    ys[~seed] = "-1"  # read from a CSV
    with pytest.raises(ValueError, match=r"look like the unlabeled marker.*'-1'"):
        ActiveLearner(LogisticRegression()).fit(X, ys)
    learner = ActiveLearner(LogisticRegression(), missing_label="-1").fit(X, ys)
    assert learner.classes_.tolist() == NAMES.tolist()
    assert len(learner.pool_indices_) == (~seed).sum()


def test_nan_or_none_without_the_marker_says_how(iris):
    X, y, seed = iris
    # the default ("auto") reads NaN and None as unlabeled
    ActiveLearner(LogisticRegression()).fit(X, _marked(y, seed, np.nan, float))
    ActiveLearner(LogisticRegression()).fit(X, _marked(NAMES[y], seed, None, object))
    # an explicit marker wins; the hint names one that works (no circle)
    with pytest.raises(ValueError, match="missing_label='auto'"):
        ActiveLearner(LogisticRegression(), missing_label=-1).fit(
            X, _marked(y, seed, np.nan, float)
        )
    with pytest.raises(ValueError, match="missing_label='auto'"):
        ActiveLearner(LogisticRegression(), missing_label=np.nan).fit(
            X, _marked(NAMES[y], seed, None, object)
        )
    with pytest.raises(TypeError, match="'missing_label' parameter"):
        ActiveLearner(LogisticRegression(), missing_label=[-1]).fit(X, y)


@settings(max_examples=50, deadline=None)
@given(
    st.lists(
        st.one_of(
            st.none(),
            st.just(np.nan),
            st.integers(-2, 2),
            st.sampled_from(["-1", "a", "nan"]),
        ),
        min_size=1,
        max_size=30,
    ),
    st.sampled_from([-1, np.nan, None, "-1"]),
)
def test_unlabeled_mask_matches_only_the_marker(values, missing):
    y = np.array(values, dtype=object)
    mask = unlabeled_mask(y, missing)

    def same(v):
        if missing is None:
            return v is None
        if isinstance(missing, float):
            return isinstance(v, float) and v != v
        if isinstance(missing, str):
            return isinstance(v, str) and v == missing
        return isinstance(v, int) and v == missing

    assert mask.tolist() == [same(v) for v in values]


def test_query_returns_dataframe_index_labels(iris):
    pd = pytest.importorskip("pandas")
    X, y, seed = iris
    df = pd.DataFrame(X, index=[f"row{i}" for i in range(150)])
    learner = ActiveLearner(
        LogisticRegression(), strategy=MarginSampling(), n_instances=4, random_state=0
    ).fit(df, np.where(seed, y, -1))
    pos = learner.query()
    learner2 = ActiveLearner(
        LogisticRegression(), strategy=MarginSampling(), n_instances=4, random_state=0
    ).fit(df, np.where(seed, y, -1))
    labels = learner2.query(return_index=True)
    assert list(labels) == [f"row{i}" for i in pos]
    # taught back as rows of the frame: they leave the pool
    learner2.teach(df.loc[labels], y[df.index.get_indexer(labels)])
    assert not np.isin(pos, learner2.pool_indices_).any()
    assert list(learner.query(df.iloc[:20], return_index=True))[0].startswith("row")
    with pytest.raises(ValueError, match="not a DataFrame"):
        ActiveLearner(LogisticRegression()).fit(X, np.where(seed, y, -1)).query(
            return_index=True
        )


def test_dataframe_reaches_a_skorch_net_as_an_array(iris):
    pd = pytest.importorskip("pandas")
    X, y, seed = iris
    df = pd.DataFrame(X.astype(np.float32), columns=[f"f {i} (cm)" for i in range(4)])
    net = make_net(MLP, n_classes=3, max_epochs=2)
    learner = ActiveLearner(
        net, strategy=MarginSampling(), n_instances=5, random_state=0
    ).fit(df, np.where(seed, y, -1))
    idx = learner.query()
    learner.teach(y=y[idx], indices=idx)
    assert learner.predict(df).shape == (150,)


@settings(max_examples=25, deadline=None)
@given(st.data())
def test_teach_pool_rows_takes_them_out_of_the_pool(data):
    X, y = load_iris(return_X_y=True)
    seed = np.zeros(150, dtype=bool)
    seed[::10] = True
    learner = ActiveLearner(LogisticRegression(), n_instances=3, random_state=0).fit(
        X, np.where(seed, y, -1)
    )
    pool = learner.pool_indices_
    idx = np.array(
        data.draw(
            st.lists(
                st.sampled_from(pool.tolist()), min_size=1, max_size=10, unique=True
            )
        )
    )
    with warnings.catch_warnings():
        warnings.filterwarnings("error", message="teach got")  # all in the pool
        learner.teach(X[idx], y[idx])
    assert len(learner.pool_indices_) == len(pool) - len(idx)
    dup = [i for i in idx if (X[pool] == X[i]).all(axis=1).sum() > 1]
    assert not np.isin(np.setdiff1d(idx, dup), learner.pool_indices_).any()
    # iris has duplicate rows: each taught row takes a distinct equal pool row
    taught = learner.labeled_indices_[-len(idx) :]
    assert np.array_equal(X[taught], X[idx]) and np.unique(taught).size == len(idx)


def test_teach_rows_partly_outside_the_pool_warns_and_names_indices(iris):
    X, y, seed = iris
    learner = ActiveLearner(LogisticRegression(), random_state=0).fit(
        X, np.where(seed, y, -1)
    )
    idx = learner.pool_indices_[:3]
    rows = X[idx].copy()
    rows[0] += 0.001
    with pytest.warns(UserWarning, match=r"indices="):
        learner.teach(rows, y[idx])
    assert len(learner.pool_indices_) == (~seed).sum()


def test_raw_text_pipeline():
    docs = np.array(
        [
            "good movie",
            "bad film",
            "great plot",
            "awful acting",
            "fine stuff",
            "terrible thing",
        ]
        * 10
    )
    y = np.array([1, 0, 1, 0, 1, 0] * 10)
    y_seed = np.where(np.arange(60) < 6, y, -1)
    est = make_pipeline(TfidfVectorizer(), LogisticRegression())
    learner = ActiveLearner(est, n_instances=4, random_state=0).fit(docs, y_seed)
    idx = learner.query()
    learner.teach(y=y[idx], indices=idx)
    assert learner.predict(np.array(["good plot"])).shape == (1,)
    learner.teach(np.array(["great film"]), np.array([1]))
    with pytest.raises(ValueError, match="1-D array"):
        ActiveLearner(LogisticRegression()).fit(np.arange(10.0), np.arange(10) % 2)


def test_default_strategy_parameters_need_the_object(iris):
    X, y, _ = iris
    learner = ActiveLearner(LogisticRegression())
    with pytest.raises(ValueError, match=r"strategy=ColdStartHybrid\(\)"):
        learner.set_params(strategy__random_share=0.5)
    learner.set_params(strategy=ColdStartHybrid(), strategy__random_share=0.5)
    assert learner.strategy.random_share == 0.5
    with pytest.raises(ValueError, match=r"initial_strategy=RandomSampling\(\)"):
        learner.set_params(initial_strategy__k=2)


def test_simulation_progress_bar_and_round_lines(capsys):
    X, y = np.random.RandomState(0).normal(size=(60, 3)), np.arange(60) % 2
    ActiveLearner(
        LogisticRegression(), n_instances=5, budget=20, random_state=0, verbose=1
    ).fit(X, y, eval_set=(X, y))
    out, err = capsys.readouterr()
    assert out.count("[ActiveLearner] round") == 4
    assert "20/20" in err and "label" in err and "round=3" in err
    ActiveLearner(LogisticRegression(), n_instances=5, budget=20, random_state=0).fit(
        X, y
    )
    out, err = capsys.readouterr()
    assert out == "" and err == ""  # not a terminal: quiet by default


@pytest.mark.parametrize("strategy", ["default", "coreset", "badge"])
def test_embedding_strategies_never_densify_a_sparse_pool(strategy):
    import tracemalloc

    import scipy.sparse as sp

    from skal.strategies import BADGE, CoreSet

    n, d = 1000, 20000  # dense float64: 160 MB
    X = sp.random(n, d, density=0.001, format="csr", random_state=0)
    y = np.random.RandomState(0).randint(0, 2, n)
    s = {"default": None, "coreset": CoreSet(), "badge": BADGE()}[strategy]
    learner = ActiveLearner(
        LogisticRegression(), strategy=s, n_instances=10, random_state=0
    ).fit(X, np.where(np.arange(n) < 40, y, -1))
    tracemalloc.start()
    try:
        idx = learner.query()
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert len(np.unique(idx)) == 10
    assert peak < 40 * 2**20, f"query used {peak / 2**20:.0f} MB"


def test_sparse_projection_is_shared_by_pool_and_labeled_rows():
    import scipy.sparse as sp

    from skal.utils._sparse import sparse_embedding

    X = sp.random(300, 500, density=0.02, format="csr", random_state=0)
    owner = LogisticRegression()
    a = sparse_embedding(X, owner=owner)
    b = sparse_embedding(X[:7], owner=owner)  # later call: same projection
    np.testing.assert_allclose(a[:7], b, rtol=1e-5, atol=1e-6)
    assert a.dtype == np.float32 and a.shape == (300, 128)


@pytest.mark.parametrize("container", ["TensorDataset", "Dataset", "SliceDataset"])
def test_torch_dataset_pools_work_for_skorch_nets(container):
    import torch
    from sklearn.datasets import load_digits
    from skorch.helper import SliceDataset
    from torch.utils.data import Dataset, TensorDataset

    from skal.strategies import BADGE

    X, y = load_digits(return_X_y=True)
    X, y = (X[:300] / 16).astype(np.float32), y[:300]
    y_seed = np.where(np.arange(300) < 40, y, -1)

    class Rows(Dataset):  # items are rows, no targets
        def __len__(self):
            return len(X)

        def __getitem__(self, i):
            return torch.from_numpy(X[i])

    tensors = TensorDataset(torch.from_numpy(X), torch.from_numpy(y))
    pool = {
        "TensorDataset": tensors,
        "Dataset": Rows(),
        "SliceDataset": SliceDataset(tensors),
    }[container]

    def session(data):
        learner = ActiveLearner(
            make_net(MLP, n_classes=10, max_epochs=2),
            strategy=BADGE(),
            n_instances=10,
            random_state=0,
        ).fit(data, y_seed)
        idx = learner.query()
        learner.teach(y=y[idx], indices=idx)
        return learner, idx, learner.query()

    ref, ref_idx, ref_next = session(X)
    learner, idx, nxt = session(pool)
    assert idx.tolist() == ref_idx.tolist() and nxt.tolist() == ref_next.tolist()
    assert len(learner.pool_indices_) == 300 - 40 - 10
    np.testing.assert_array_equal(learner.predict(pool), ref.predict(X))


def test_teach_pool_rows_in_another_dtype_still_leave_the_pool(tabular):
    X, y = tabular  # float32 pool
    learner = ActiveLearner(LogisticRegression(), random_state=0).fit(
        X, np.where(np.arange(len(y)) < 30, y, -1)
    )
    idx = learner.pool_indices_[[0, 5, 9]]
    learner.teach(X[idx].astype(np.float64), y[idx])  # a float64 copy
    assert not np.isin(idx, learner.pool_indices_).any()
    assert learner.X_labeled_.dtype == np.float32


def test_teach_sparse_pool_rows_leave_the_pool():
    import scipy.sparse as sp

    X = sp.random(200, 50, density=0.1, format="csr", random_state=0)
    y = np.arange(200) % 2
    learner = ActiveLearner(LogisticRegression(), random_state=0).fit(
        X, np.where(np.arange(200) < 20, y, -1)
    )
    idx = learner.pool_indices_[[3, 7, 11]]
    learner.teach(X[idx], y[idx])
    assert not np.isin(idx, learner.pool_indices_).any()
    idx = learner.pool_indices_[:3]
    rows = X[idx].tolil()
    rows[0, 0] = rows[0, 0] + 1.0  # no longer a pool row; the others are
    with pytest.warns(UserWarning, match="indices="):
        learner.teach(rows.tocsr(), y[idx])

"""Per-round callbacks: order of events, what they are told, sklearn's contract."""

import pickle

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV
from sklearn.utils._param_validation import InvalidParameterError

from skal import ActiveLearner
from skal.callbacks import Callback, History, PrintLog, ProgressBar
from skal.strategies import MarginSampling


class Recorder(Callback):
    """Records (event, info) pairs; a parameter to check get_params / clone."""

    def __init__(self, tag="r"):
        self.tag = tag

    def _log(self, event, info):
        self.__dict__.setdefault("events", []).append((event, info))

    def on_simulation_begin(self, learner, **info):
        self._log("sim_begin", info)

    def on_round_begin(self, learner, **info):
        self._log("begin", info)
        self.__dict__.setdefault("seen", []).append(learner.y_labeled_.shape[0])

    def on_round_end(self, learner, **info):
        self._log("end", info)
        # History ran first: the record is already in history_
        assert learner.history_[-1]["round"] == info["round"]

    def on_simulation_end(self, learner, **info):
        self._log("sim_end", info)


@pytest.fixture
def data():
    rng = np.random.RandomState(0)
    X = rng.normal(size=(80, 3))
    return X, (X[:, 0] > 0).astype(int)


def test_events_come_in_order_with_the_round_record(data):
    X, y = data
    rec = Recorder()
    learner = ActiveLearner(
        LogisticRegression(),
        strategy=MarginSampling(),
        n_instances=5,
        n_initial=4,
        budget=19,
        random_state=0,
        callbacks=[rec],
    ).fit(X, y, eval_set=(X, y))
    names = [e for e, _ in rec.events]
    assert names == ["sim_begin"] + ["begin", "end"] * 4 + ["sim_end"]
    assert rec.events[0][1] == {"total": 19, "initial": 0}
    begins = [i for e, i in rec.events if e == "begin"]
    assert [b["n_instances"] for b in begins] == [4, 5, 5, 5]
    assert [b["n_labels"] for b in begins] == [0, 4, 9, 14]
    assert rec.seen == [0, 4, 9, 14]  # as the round begins, its labels are not in
    ends = [i for e, i in rec.events if e == "end"]
    assert [e["n_labels"] for e in ends] == [4, 9, 14, 19]
    for end, hist in zip(ends, learner.history_, strict=True):
        assert set(end) == set(hist) >= {"indices", "query_seconds", "score"}
        assert np.array_equal(end["indices"], hist["indices"])


def test_fit_without_budget_is_round_zero(data):
    X, y = data
    y_seed = np.full_like(y, -1)
    seed_rows = np.r_[np.flatnonzero(y == 0)[:3], np.flatnonzero(y == 1)[:3]]
    y_seed[seed_rows] = y[seed_rows]
    rec = Recorder()
    ActiveLearner(LogisticRegression(), callbacks=[rec]).fit(X, y_seed)
    assert [e for e, _ in rec.events] == ["begin", "end"]
    assert rec.events[1][1]["n_labels"] == 6 and rec.events[1][1]["round"] == 0


def test_simulation_end_runs_when_a_round_fails(data):
    X, y = data

    class Boom(Callback):
        def on_round_end(self, learner, **info):
            if info["round"] == 1:
                raise RuntimeError("boom")

    rec = Recorder()
    learner = ActiveLearner(
        LogisticRegression(),
        n_instances=5,
        budget=20,
        random_state=0,
        callbacks=[rec, Boom()],
    )
    with pytest.raises(RuntimeError, match="boom"):
        learner.fit(X, y)
    assert rec.events[-1][0] == "sim_end"


def test_callbacks_are_a_plain_parameter(data):
    X, y = data
    learner = ActiveLearner(LogisticRegression(), callbacks=[Recorder(tag="a")])
    assert learner.get_params()["callbacks"][0].tag == "a"
    cloned = clone(learner)
    assert cloned.callbacks[0].tag == "a"
    assert cloned.callbacks[0] is not learner.callbacks[0]
    assert pickle.loads(pickle.dumps(learner)).callbacks[0].tag == "a"
    grid = GridSearchCV(
        ActiveLearner(LogisticRegression(), n_instances=5, budget=15, random_state=0),
        {"callbacks": [None, [History()]]},
        cv=2,
    ).fit(X, y)
    assert len(grid.cv_results_["params"]) == 2


@pytest.mark.parametrize("bad", [[object()], [Recorder]], ids=["no-hooks", "a-class"])
def test_a_bad_callback_names_the_parameter(data, bad):
    X, y = data
    with pytest.raises(InvalidParameterError, match="'callbacks' parameter"):
        ActiveLearner(LogisticRegression(), budget=10, callbacks=bad).fit(X, y)


def test_verbose_maps_onto_the_default_callbacks(data, capsys):
    X, y = data
    ActiveLearner(
        LogisticRegression(), n_instances=5, budget=10, random_state=0, verbose=1
    ).fit(X, y)
    out, err = capsys.readouterr()
    assert out.count("[ActiveLearner] round") == 2 and "10/10" in err
    # the same output from the callbacks given by hand, with verbose=0
    ActiveLearner(
        LogisticRegression(),
        n_instances=5,
        budget=10,
        random_state=0,
        callbacks=[ProgressBar(disable=False), PrintLog()],
    ).fit(X, y)
    out2, err2 = capsys.readouterr()
    assert out2.count("[ActiveLearner] round") == 2 and "10/10" in err2


def test_saved_callbacks_load_back(data, tmp_path):
    X, y = data
    learner = ActiveLearner(
        LogisticRegression(),
        n_instances=5,
        budget=10,
        random_state=0,
        callbacks=[PrintLog(), ProgressBar(disable=True)],
    ).fit(X, y)
    learner.save(tmp_path / "s.skal")
    loaded = ActiveLearner.load(tmp_path / "s.skal")
    assert [type(c).__name__ for c in loaded.callbacks] == ["PrintLog", "ProgressBar"]
    assert loaded.callbacks[1].disable is True

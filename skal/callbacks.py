"""Per-round callbacks: hooks that run as a learner's rounds begin and end.

skorch's style (``skorch.callbacks``): a callback is an object with methods
named after the event, each called with the learner and keyword arguments::

    from skal.callbacks import Callback

    class Accuracies(Callback):
        def __init__(self, X_val, y_val):
            self.X_val, self.y_val = X_val, y_val

        def on_round_end(self, learner, **info):
            score = learner.score(self.X_val, self.y_val)
            print(info["round"], info["n_labels"], score)

    ActiveLearner(net, budget=500, callbacks=[Accuracies(X_val, y_val)]).fit(X, y)

Events, in order:

* ``on_simulation_begin(learner, total, initial)``: a simulation (``fit``
  with ``budget``, :meth:`~skal.ActiveLearner.resume`) starts; ``total`` is
  the labels it will reach, ``initial`` the labels it starts from;
* ``on_round_begin(learner, round, n_labels, n_instances)``: before the
  round's query (``n_labels`` labels so far, ``n_instances`` to ask);
* ``on_round_end(learner, **record)``: the round's labels are taught and the
  model refit; ``record`` is the round's entry of ``history_`` (``round``,
  ``indices``, ``n_labels``, ``query_seconds``, ``fit_seconds``, and
  ``query_info``, ``score`` with ``eval_set``, ``stop_reason`` with
  ``stopping``);
* ``on_simulation_end(learner)``: the simulation ended (or failed).

``fit`` without ``budget`` runs one round (round 0, the labels it was
given), and so does every ``teach`` after it (a person's rounds: the same
record, the same hooks; ``on_round_begin`` comes once the taught labels are
recorded, before the refit). Every learner runs :class:`History` first
and, in simulations,
:class:`ProgressBar` (and :class:`PrintLog` with ``verbose >= 1``), then the
``callbacks`` parameter's, in their order. Callbacks are scikit-learn
estimators: ``clone``, ``get_params`` and ``repr`` work, and a list of them
is an ordinary parameter of :class:`~skal.ActiveLearner`.
"""

from __future__ import annotations

import sys

from sklearn.base import BaseEstimator
from sklearn.utils._param_validation import InvalidParameterError

__all__ = ["Callback", "History", "PrintLog", "ProgressBar"]


class Callback(BaseEstimator):
    """Base class of per-round callbacks: every hook does nothing.

    Subclass it and override the hooks you need; keep parameters in
    ``__init__`` (stored as given) so that ``clone`` and ``get_params`` work.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.linear_model import LogisticRegression
    >>> from skal import ActiveLearner
    >>> from skal.callbacks import Callback
    >>> class Rounds(Callback):
    ...     def on_round_end(self, learner, **info):
    ...         print(info["round"], info["n_labels"])
    >>> X, y = np.random.RandomState(0).normal(size=(40, 2)), np.arange(40) % 2
    >>> _ = ActiveLearner(LogisticRegression(), n_instances=5, budget=10,
    ...                   random_state=0, callbacks=[Rounds()]).fit(X, y)
    0 5
    1 10
    """

    def on_simulation_begin(self, learner, **info):
        """A simulation starts (``total``, ``initial``: labels)."""

    def on_round_begin(self, learner, **info):
        """A round starts (``round``, ``n_labels``, ``n_instances``)."""

    def on_round_end(self, learner, **info):
        """A round ended: ``info`` is its record (see ``history_``)."""

    def on_simulation_end(self, learner, **info):
        """A simulation ended, or stopped on an error."""


class History(Callback):
    """Records each round in ``learner.history_`` (always the first callback).

    Examples
    --------
    >>> from skal.callbacks import History
    >>> History()
    History()
    """

    def on_round_end(self, learner, **info):  # noqa: D102 - see Callback
        learner.history_.append(dict(info))


class ProgressBar(Callback):
    """A tqdm bar over a simulation's labels: rounds, score, time left.

    Parameters
    ----------
    disable : bool or None, default=None
        None draws the bar only when stderr is a terminal (tqdm's
        ``disable=None``), so logs, CI and ``GridSearchCV`` workers stay
        quiet; False always draws it; True never.
    leave : bool, default=False
        Keep the finished bar on screen.

    Examples
    --------
    >>> from skal.callbacks import ProgressBar
    >>> ProgressBar(disable=True)
    ProgressBar(disable=True)
    """

    def __init__(self, disable=None, leave=False):
        self.disable = disable
        self.leave = leave

    def on_simulation_begin(self, learner, *, total, initial, **info):  # noqa: D102
        from tqdm.auto import tqdm

        self.bar_ = tqdm(
            total=total,
            initial=initial,
            desc="active learning",
            unit="label",
            disable=self.disable,
            leave=self.leave,
            dynamic_ncols=True,
        )

    def on_round_end(self, learner, **info):  # noqa: D102 - see Callback
        bar = getattr(self, "bar_", None)
        if bar is None:
            return
        bar.update(info["n_labels"] - bar.n)
        post = {"round": info["round"]}
        if "score" in info:
            post["score"] = f"{info['score']:.4f}"
        bar.set_postfix(post, refresh=True)

    def on_simulation_end(self, learner, **info):  # noqa: D102 - see Callback
        bar = getattr(self, "bar_", None)
        if bar is not None:
            bar.close()
            del self.bar_


class PrintLog(Callback):
    """Prints one line per round on stdout, as the round ends.

    What ``verbose >= 1`` adds to an :class:`~skal.ActiveLearner`.

    Examples
    --------
    >>> from skal.callbacks import PrintLog
    >>> PrintLog().on_round_end(None, round=1, n_labels=20, query_seconds=0.5,
    ...                         fit_seconds=1.25)
    [ActiveLearner] round   1  labels=   20  query=0.50s  fit=1.25s
    """

    def on_round_end(self, learner, **info):  # noqa: D102 - see Callback
        extra = f"  score={info['score']:.4f}" if "score" in info else ""
        print(
            f"[ActiveLearner] round {info['round']:3d}  labels={info['n_labels']:5d}  "
            f"query={info['query_seconds']:.2f}s  fit={info['fit_seconds']:.2f}s"
            + extra,
            file=sys.stdout,
            flush=True,  # as the round ends, also through a pipe
        )


def default_callbacks(verbose):
    """The callbacks every learner runs first, for its ``verbose``."""
    bar = ProgressBar(disable=None if not verbose else False, leave=bool(verbose))
    out = [History(), bar]
    if verbose:
        out.append(PrintLog())
    return out


def check_callbacks(callbacks):
    """Each of ``callbacks`` has a hook, or an InvalidParameterError says so."""
    hooks = ("on_round_begin", "on_round_end")
    for cb in callbacks or ():
        if isinstance(cb, type) or not any(hasattr(cb, h) for h in hooks):
            raise InvalidParameterError(
                "The 'callbacks' parameter of ActiveLearner must be a list of "
                "callbacks (objects with on_round_begin / on_round_end, "
                f"skal.callbacks). Got {cb!r} in it instead."
            )


def notify(callbacks, event, learner, **info):
    """Call ``event`` on every callback that has it, in order."""
    for cb in callbacks:
        hook = getattr(cb, event, None)
        if hook is not None:
            hook(learner, **info)

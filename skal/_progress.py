"""Progress of a simulation: a tqdm bar over labels, rounds and time left.

Used by :meth:`skal.ActiveLearner.fit` when ``budget`` is set. With
``verbose=0`` the bar shows only on a terminal (tqdm's ``disable=None``), so
logs, CI and ``GridSearchCV`` workers stay quiet; with ``verbose >= 1`` it is
always drawn (on stderr) and the learner also prints one line per round, as
the round ends, on stdout.
"""

from __future__ import annotations

from contextlib import contextmanager

__all__ = []


@contextmanager
def simulation_bar(*, total, initial, verbose):
    """Yield ``update(record)``, called once per finished round."""
    from tqdm.auto import tqdm

    bar = tqdm(
        total=total,
        initial=initial,
        desc="active learning",
        unit="label",
        disable=None if not verbose else False,
        leave=bool(verbose),
        dynamic_ncols=True,
    )

    def update(rec):
        bar.update(rec["n_labels"] - bar.n)
        post = {"round": rec["round"]}
        if "score" in rec:
            post["score"] = f"{rec['score']:.4f}"
        bar.set_postfix(post, refresh=True)

    try:
        yield update
    finally:
        bar.close()

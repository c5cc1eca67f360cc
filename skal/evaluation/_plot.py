"""Drawing learning curves: :func:`plot_learning_curves`."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from sklearn.utils._param_validation import HasMethods, StrOptions, validate_params

from ._stats import _as_records, _default_metric, learning_curves


# --------------------------------------------------------------------------
# plot
# --------------------------------------------------------------------------
@validate_params(
    {
        "results": ["array-like", HasMethods(["to_dict"])],
        "ax": [HasMethods(["plot"]), None],
        "metric": [str, None],
        "band": [StrOptions({"ci", "std", "none"})],
        "log_x": ["boolean"],
        "strategies": ["array-like", None],
    },
    prefer_skip_nested_validation=True,
)
def plot_learning_curves(
    results,
    ax=None,
    *,
    metric: str | None = None,
    band: str = "ci",
    log_x: bool = True,
    strategies: Sequence[str] | None = None,
):
    """Mean learning curve of each strategy over seeds, with a band.

    Parameters
    ----------
    results : list of dict or DataFrame
        As returned by :func:`evaluate`, or one learner's ``history_`` (a
        simulation fitted with ``eval_set``: one curve named ``"learner"``).
    ax : matplotlib Axes, default=None
        Where to draw; None creates a figure.
    metric : str, default=None
        Column on the y axis; None uses ``"accuracy"`` for the results of
        :func:`evaluate` and ``"score"`` for a ``history_``.
    band : {"ci", "std", "none"}, default="ci"
        ``"ci"``: mean ± 1.96 standard errors over seeds (normal
        approximation of a 95 % interval); ``"std"``: ± one standard
        deviation.
    log_x : bool, default=True
        Logarithmic budget axis (suits geometric budgets).
    strategies : sequence of str, default=None
        Which strategies to draw, in this order; None draws all.

    Returns
    -------
    ax : matplotlib Axes
        With one line per strategy (``ax.get_figure()`` for the figure).

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> from skal.evaluation import plot_learning_curves
    >>> recs = [{"strategy": st, "seed": s, "n_labels": n, "accuracy": n / 10}
    ...         for st in ("a", "b") for s in (0, 1) for n in (1, 2)]
    >>> ax = plot_learning_curves(recs)
    >>> len(ax.get_lines())
    2
    """
    import matplotlib.pyplot as plt

    recs = _as_records(results)
    metric = _default_metric(recs, metric)
    curves = learning_curves(recs, metric)
    names = list(curves) if strategies is None else list(strategies)
    if ax is None:
        _, ax = plt.subplots(figsize=(6, 4))
    for name in names:
        n, _, v = curves[name]
        k = np.sum(np.isfinite(v), axis=0)
        mean = np.nanmean(v, axis=0)
        (line,) = ax.plot(
            n,
            mean,
            marker="o",
            markersize=3,
            label=name,
            lw=2.2 if name == "random" else 1.4,
            ls="--" if name == "random" else "-",
        )
        if band != "none" and v.shape[0] > 1:
            sd = np.nanstd(v, axis=0, ddof=1)
            half = 1.96 * sd / np.sqrt(np.maximum(k, 1)) if band == "ci" else sd
            ax.fill_between(
                n, mean - half, mean + half, color=line.get_color(), alpha=0.15, lw=0
            )
    if log_x:
        from matplotlib.ticker import NullFormatter

        ax.set_xscale("log")
        ticks = sorted({int(b) for name in names for b in curves[name][0]})
        if len(ticks) <= 12:  # label the budgets themselves, not powers of 10
            ax.set_xticks(ticks, [str(b) for b in ticks])
            ax.xaxis.set_minor_formatter(NullFormatter())
    ax.set_xlabel("labels")
    ax.set_ylabel(metric)
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize="small", ncol=2 if len(names) > 6 else 1)
    return ax

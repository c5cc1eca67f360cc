"""Fair comparison of query strategies: simulations, paired statistics, plots.

:func:`evaluate` runs every strategy with every seed on one data set and one
estimator, on a schedule of budgets, and returns tidy per-round records
(``_run``). :func:`paired_differences` compares each strategy with a baseline
(random sampling) seed by seed, with confidence intervals (t by default), and
:func:`equivalence_test` tests equivalence within a margin (``_stats``).
:func:`plot_learning_curves` draws the curves with bands (``_plot``).

Simulations follow the protocol that makes strategies comparable (DISTIL,
DeepAL+): for one seed every strategy starts from the **same** initial
labeled set (drawn with ``initial_strategy``, random by default) and the same
first model, and the same test set scores every round; only the queries
differ. Differences are then paired by seed.

Out-of-distribution rows
------------------------
Rows whose oracle label is ``ood_label`` (``-2``, as
:func:`skal.datasets.add_ood` marks them) stand for an annotator answering
"none of these classes". In a simulation such an answer **costs a label**
(``n_labels`` counts every query) but the row is **not taught**: it leaves the
pool and is never shown to the model (``n_trained`` counts the rows taught;
``n_ood`` the wasted queries). A strategy that favours junk rows pays for it
in accuracy at equal ``n_labels``.
"""

from ._plot import plot_learning_curves
from ._run import evaluate, geometric_budgets
from ._stats import (
    equivalence_test,
    learning_curves,
    paired_differences,
    paired_t_power,
    t_interval,
)

__all__ = [
    "equivalence_test",
    "evaluate",
    "geometric_budgets",
    "learning_curves",
    "paired_differences",
    "paired_t_power",
    "plot_learning_curves",
    "t_interval",
]

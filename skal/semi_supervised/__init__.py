"""Semi-supervised skorch nets: train on the labeled rows *and* the pool.

scikit-learn's convention: rows with ``y == -1`` are unlabeled.

- :class:`FixMatchClassifier` (Sohn et al. 2020): pseudo-labels from a weakly
  augmented view above a confidence threshold, a consistency loss on a
  strongly augmented view.
- :class:`FreeMatchClassifier` (Wang et al. 2023): FixMatch with
  self-adaptive global and class-wise thresholds and a fairness term, or
  FlexMatch's curriculum thresholds (``thresholding="flexmatch"``).
- :class:`PseudoLabelClassifier`: thresholded, class-balanced pseudo-labels
  with no augmentation family (tables and any data without one).
- :func:`is_semi_supervised`: whether :class:`skal.ActiveLearner` passes the
  pool to an estimator (skal's nets, scikit-learn's
  ``SelfTrainingClassifier`` / ``LabelSpreading`` / ``LabelPropagation``, a
  ``Pipeline`` ending in one, or any estimator whose ``__skal_tags__()``
  returns ``{"semi_supervised": True}``).
"""

from ._base import SemiSupervisedNet, is_semi_supervised
from ._fixmatch import FixMatchClassifier
from ._freematch import FreeMatchClassifier
from ._pseudo import PseudoLabelClassifier

__all__ = [
    "FixMatchClassifier",
    "FreeMatchClassifier",
    "PseudoLabelClassifier",
    "SemiSupervisedNet",
    "is_semi_supervised",
]

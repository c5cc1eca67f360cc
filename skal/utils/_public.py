"""The public modules of skal, shared by the docs build and the docs tests."""

PUBLIC_MODULES = (
    "skal",
    "skal.base",
    "skal.strategies",
    "skal.stopping",
    "skal.models",
    "skal.nets",
    "skal.augment",
    "skal.semi_supervised",
    "skal.representations",
    "skal.metrics",
    "skal.datasets",
    "skal.evaluation",
    "skal.callbacks",
    "skal.backends",
    "skal.utils.estimator_checks",
)

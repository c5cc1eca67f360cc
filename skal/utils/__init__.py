"""Utilities: the strategy check suite lives in :mod:`skal.utils.estimator_checks`."""

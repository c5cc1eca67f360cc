"""Parameter validation: scikit-learn's constraint machinery, one style for skal.

Estimators declare ``_parameter_constraints`` and call ``self._validate_params()``
where their parameters are used (``fit``); public functions use
:func:`sklearn.utils._param_validation.validate_params`. Both raise scikit-learn's
``InvalidParameterError`` (a ``ValueError`` and a ``TypeError``) that names the
parameter, what was expected and what was received. This module adds the few
constraints skal needs that scikit-learn lacks, and :func:`check_int` for a
number validated at call time (``query(n_instances=...)``).
"""

from __future__ import annotations

import numbers

import numpy as np
from sklearn.utils._param_validation import (
    HasMethods,
    Interval,
    make_constraint,
    validate_parameter_constraints,
)

__all__ = ["Count", "Described", "StrategyInstance", "check_int"]


class Count(Interval):
    """An int ``>= low`` (no upper bound); bools refused.

    scikit-learn's ``Interval(Integral, ...)`` takes ``True`` for ``1``; a count
    given as a bool is a mistake, so it is refused here.
    """

    def __init__(self, low=1):
        super().__init__(numbers.Integral, low, None, closed="left")

    def is_satisfied_by(self, val):
        return not isinstance(val, bool | np.bool_) and super().is_satisfied_by(val)


class _SkalConstraint(HasMethods):
    """Base of skal's own constraints.

    ``validate_parameter_constraints`` passes through only scikit-learn's own
    constraint classes (``Interval``, ``HasMethods``, ...); deriving from
    ``HasMethods`` lets a constraint that overrides ``is_satisfied_by`` and
    ``__str__`` through unchanged.
    """

    def __init__(self):
        super().__init__([])


class Described(_SkalConstraint):
    """A scikit-learn constraint, shown in the words of the docs.

    Parameters
    ----------
    constraint : constraint
        Anything :func:`validate_parameter_constraints` accepts (a type,
        ``HasMethods([...])``, ...).
    description : str, default=None
        What the message says is expected ("a skal executor (...)"); None
        keeps ``constraint``'s own words.
    refuse_bool : bool, default=False
        Refuse ``True`` and ``False`` even when ``constraint`` takes them
        (``Real`` does).
    """

    def __init__(self, constraint, description=None, *, refuse_bool=False):
        super().__init__()
        self.constraint = make_constraint(constraint)
        self.description = description
        self.refuse_bool = refuse_bool

    def is_satisfied_by(self, val):
        if self.refuse_bool and isinstance(val, bool | np.bool_):
            return False
        return self.constraint.is_satisfied_by(val)

    def __str__(self):
        return str(self.constraint) if self.description is None else self.description


class StrategyInstance(_SkalConstraint):
    """A skal query strategy object: callable, with ``get_params``, not a class."""

    def is_satisfied_by(self, val):
        return (
            not isinstance(val, type) and callable(val) and hasattr(val, "get_params")
        )

    def __str__(self):
        return (
            "a skal strategy instance (such as MarginSampling(); wrap a plain "
            "function with FunctionStrategy(func))"
        )


def check_int(value, name, owner, *, low=1):
    """Validate an int ``>= low`` given at call time; returns it as an ``int``.

    Parameters
    ----------
    value : object
        The value to check.
    name : str
        The parameter's name, for the message.
    owner : str
        Who takes the parameter (a class or function name), for the message.
    low : int, default=1
        Smallest valid value.

    Returns
    -------
    value : int

    Examples
    --------
    >>> from skal.utils._validation import check_int
    >>> check_int(3, "n_instances", "MarginSampling")
    3
    >>> try:
    ...     check_int(0, "n_instances", "MarginSampling")
    ... except ValueError as exc:
    ...     print(exc)
    The 'n_instances' parameter of MarginSampling must be an int in the range [1, inf). Got 0 instead.
    """  # noqa: E501
    validate_parameter_constraints({name: [Count(low)]}, {name: value}, owner)
    return int(value)

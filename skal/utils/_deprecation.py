"""Renamed public names: aliases that warn for one release (private).

skal renames a class, a parameter or a keyword in release ``RENAMED_IN`` and
keeps the old name working, with a :class:`FutureWarning` (as scikit-learn
warns), until ``REMOVED_IN``. A renamed parameter keeps its old name in the
signature with the default ``"deprecated"`` (scikit-learn's convention), so
``get_params`` / ``clone`` / grid searches keep working with either name.
"""

from __future__ import annotations

import warnings

from sklearn.utils import deprecated
from sklearn.utils._param_validation import Hidden, StrOptions

RENAMED_IN = "0.2"
REMOVED_IN = "0.3"

#: The default of a renamed parameter's old name: "not given".
DEPRECATED = "deprecated"
#: Its constraint, hidden from the error messages that list the options.
DEPRECATED_CONSTRAINT = Hidden(StrOptions({DEPRECATED}))


def renamed_class(new, old_name):
    """A subclass of ``new`` called ``old_name`` whose instances warn.

    Instances are ``new`` instances in every other respect (parameters,
    ``isinstance``, pickling under the old name).
    """
    alias = type(
        old_name,
        (new,),
        {
            "__doc__": (
                f"Deprecated alias of :class:`{new.__name__}` (renamed in "
                f"{RENAMED_IN}, removed in {REMOVED_IN})."
            ),
            "__module__": new.__module__,
            "__qualname__": old_name,
        },
    )
    return deprecated(
        f"it was renamed {new.__name__} in {RENAMED_IN} and will be removed in "
        f"{REMOVED_IN}; use {new.__name__}"
    )(alias)


def renamed_param(owner, old, new, old_value, new_value, new_default):
    """The value of parameter ``new``, taking ``old``'s when that one was given.

    Parameters
    ----------
    owner : str
        Who takes the parameter, for the messages (e.g. ``"evaluate"``).
    old, new : str
        The old and the new name.
    old_value : object
        What the old name got; :data:`DEPRECATED` when it was not given.
    new_value, new_default : object
        What the new name got, and its default.

    Returns
    -------
    value : object
        ``new_value``, or ``old_value`` (with a :class:`FutureWarning`) when
        only the old name was given.
    """
    if isinstance(old_value, str) and old_value == DEPRECATED:
        return new_value
    if new_value is not new_default and new_value != new_default:
        raise TypeError(
            f"{owner} got both '{old}' (deprecated) and '{new}'; pass only "
            f"'{new}'."
        )
    warnings.warn(
        f"The '{old}' parameter of {owner} was renamed '{new}' in {RENAMED_IN} "
        f"and will be removed in {REMOVED_IN}; pass {new}={old_value!r}.",
        FutureWarning,
        stacklevel=3,
    )
    return old_value

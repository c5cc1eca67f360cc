"""The allow-listed JSON codec of a session file: a small skops of its own.

:class:`_Writer` encodes values as JSON (arrays go to ``arrays.npz``);
:class:`_Reader` decodes only what :class:`_Writer` wrote, and rebuilds only
classes on an explicit allow-list (:func:`allowed_classes`), compared by name
so that no module a file names is imported.
"""

from __future__ import annotations

import importlib
import inspect
import os
import sys
import warnings

import numpy as np
from sklearn.base import BaseEstimator

from ._format import SessionFileError, _is_shape

# Types a skops file may hold beyond skops' own defaults (scikit-learn's
# estimators, numpy dtypes and ufuncs, builtin containers): exact class
# names, each checked to be a class by the tests. Never a prefix: skops
# reports functions as types, and ``builtins.eval`` is one. Never a type
# whose native code trusts indices it holds: scikit-learn's ``Tree``,
# ``TreePredictor``, ``KDTree`` and ``BallTree`` (and the distance metrics
# only they hold) index arrays without bounds checks, so a crafted node
# crashes or hangs the interpreter; a session of a tree or neighbours model
# needs ``estimator=`` and is refit from its labels.
SKOPS_ALLOWED_TYPES = frozenset(
    {
        "sklearn.neural_network._stochastic_optimizers.AdamOptimizer",
        "sklearn.neural_network._stochastic_optimizers.SGDOptimizer",
        "sklearn.calibration._CalibratedClassifier",
        "sklearn.calibration._SigmoidCalibration",
    }
)
#: Parameter names that name a file or a directory: never taken from a file.
PATH_PARAMS = frozenset(
    {
        "memory",
        "cache",
        "cache_dir",
        "cachedir",
        "cache_path",
        "location",
        "path",
        "filename",
        "file",
        "files",
        "dirname",
        "directory",
        "dir",
        "folder",
        "temp_folder",
        "tmp_dir",
        "log_dir",
        "logdir",
        "output_dir",
        "save_dir",
        "save_path",
        "checkpoint",
        "checkpoint_dir",
        "f_params",
        "f_optimizer",
        "f_history",
        "f_pickle",
    }
)


def is_path_like(name, value):
    """A parameter value that names a file or directory (None/False do not)."""
    if value is None or value is False:
        return False
    if isinstance(value, os.PathLike):
        return True
    leaf = name.rsplit("__", 1)[-1]
    if leaf in PATH_PARAMS:
        return True
    # a text vectorizer told to open the rows it gets as files
    return leaf == "input" and value in ("filename", "file")


# The members a session file may hold, and caps on what is read.
_MAX_DEPTH = 64  # nesting of JSON values


class _Unsaveable(Exception):
    pass


# ------------------------------------------------------------------ encoding
def _class_path(cls):
    return {"module": cls.__module__, "name": cls.__qualname__}


class _Writer:
    """JSON-encodes values; arrays go to ``self.arrays`` (saved as npz)."""

    def __init__(self):
        self.arrays = {}

    def _key(self, A):
        key = f"a{len(self.arrays)}"
        if A.dtype.kind == "O":
            # labels of one Python type (strings, say) in an object array
            types = {type(v) for v in A.flat}
            B = np.array(A.tolist()) if len(types) == 1 else None
            if (
                types <= {str, int, float, bool}
                and B is not None
                and B.dtype.kind in "biufUS"
                and B.shape == A.shape
            ):
                A = B
            else:
                raise _Unsaveable(f"an array of dtype object, shape {A.shape}")
        self.arrays[key] = A
        return key

    def value(self, v):
        """``v`` as JSON; an unsaveable ``v`` leaves no array behind."""
        n = len(self.arrays)
        try:
            return self._value(v)
        except _Unsaveable:
            for k in list(self.arrays)[n:]:
                del self.arrays[k]
            raise

    def _value(self, v):
        torch = sys.modules.get("torch")
        if isinstance(v, np.generic):
            v = v.item()
        if v is None or isinstance(v, bool | int | float | str):
            return v
        if isinstance(v, list):
            return [self.value(x) for x in v]
        if isinstance(v, tuple):
            return {"__tuple__": [self.value(x) for x in v]}
        if isinstance(v, dict):
            if not all(isinstance(k, str) for k in v):
                raise _Unsaveable(f"a dict with non-str keys {list(v)[:3]}")
            return {"__dict__": {k: self.value(x) for k, x in v.items()}}
        if isinstance(v, np.ndarray):
            return {"__array__": self._key(v)}
        if torch is not None and isinstance(v, torch.Tensor):
            A = v.detach().cpu()
            if A.dtype == torch.bfloat16:
                raise _Unsaveable("a bfloat16 tensor")
            return {"__tensor__": self._key(A.numpy()), "device": str(v.device)}
        if getattr(v, "format", None) in ("csr", "csc") and hasattr(v, "indptr"):
            return {
                "__sparse__": v.format,
                "shape": list(v.shape),
                "data": self._key(np.asarray(v.data)),
                "indices": self._key(np.asarray(v.indices)),
                "indptr": self._key(np.asarray(v.indptr)),
            }
        if hasattr(v, "iloc") and hasattr(v, "columns"):
            cols = []
            for j, c in enumerate(v.columns):
                if not _column_name_ok(c):
                    raise _Unsaveable(
                        f"a DataFrame with the column name {c!r:.80} (of type "
                        f"{type(c).__name__}; column names must be str, int, "
                        "float, bool or tuples of them)"
                    )
                cols.append([self.value(c), self._key(v.iloc[:, j].to_numpy())])
            out = {"__dataframe__": cols}
            if str(v.columns.dtype) in _COLUMN_DTYPES:
                out["columns_dtype"] = str(v.columns.dtype)
            return out
        if isinstance(v, np.random.RandomState):
            return {"__random_state__": self.value(v.get_state())}
        if inspect.isclass(v):
            return {"__class__": _class_path(v)}
        if isinstance(v, BaseEstimator) and type(v).__module__.startswith("skal."):
            params = {k: self.value(x) for k, x in v.get_params(deep=False).items()}
            return {"__skal__": _class_path(type(v)), "params": params}
        raise _Unsaveable(f"{v!r:.200} of type {type(v).__name__}")


_COLUMN_DTYPES = ("object", "str", "int64", "int32", "uint64", "float64", "bool")


def _column_name_ok(c, depth=0):
    if isinstance(c, np.generic):
        c = c.item()
    if c is None or isinstance(c, str | bool | int):
        return True
    if isinstance(c, float):
        return bool(np.isfinite(c))
    return isinstance(c, tuple) and depth == 0 and all(_column_name_ok(x, 1) for x in c)


def _holds_class(x):
    if inspect.isclass(x) or isinstance(x, os.PathLike):
        return True
    if isinstance(x, list | tuple):
        return any(_holds_class(y) for y in x)
    if isinstance(x, dict):
        return any(_holds_class(y) for y in x.values())
    return False


def referenced_arrays(doc):
    """The keys of arrays.npz that the JSON ``doc`` (as :class:`_Writer` wrote it)
    names."""
    out, stack = set(), [doc]
    while stack:
        v = stack.pop()
        if isinstance(v, list):
            stack.extend(v)
        elif isinstance(v, dict):
            for k in ("__array__", "__tensor__", "data", "indices", "indptr"):
                if isinstance(v.get(k), str):
                    out.add(v[k])
            cols = v.get("__dataframe__")
            if isinstance(cols, list):
                out.update(
                    c[1]
                    for c in cols
                    if isinstance(c, list) and len(c) == 2 and isinstance(c[1], str)
                )
            stack.extend(v.values())
    return out


# --------------------------------------------------------------- allow-list
# Classes a session file may name, by exact "module:qualname" — never a
# namespace, never a function. Built from the classes themselves, so the
# name in the file is compared as a string and no module it names is
# imported.
_SKAL_ESTIMATOR_MODULES = (
    "skal.strategies",
    "skal.base",
    "skal.models",
    "skal.stopping",
    "skal.augment",
    "skal.callbacks",
)
_SKAL_CLASS_MODULES = ("skal.nets", "skal.semi_supervised", "skal.utils._testing")
_REFUSED_SKAL = {"FunctionStrategy"}  # wraps a function
_allowed_cache = {}


def _key(cls):
    return f"{cls.__module__}:{cls.__qualname__}"


def _public_classes(module_name, base):
    try:
        mod = importlib.import_module(module_name)
    except ImportError:  # pragma: no cover - a module of this installation
        return []
    names = getattr(mod, "__all__", None) or [
        n for n, v in vars(mod).items() if getattr(v, "__module__", "") == module_name
    ]
    out = []
    for n in names:
        obj = getattr(mod, n, None)
        if inspect.isclass(obj) and issubclass(obj, base) and n not in _REFUSED_SKAL:
            out.append(obj)
    return out


def allowed_classes(kind):
    """The classes a session file may name: ``"skal"`` objects or ``"class"`` values.

    ``"skal"``: the public estimators of skal's strategies, base, models,
    stopping and augment modules (never an executor: those reach remote
    services, and never ``FunctionStrategy``: it wraps a function).
    ``"class"``: the classes a skorch net takes as parameters: skorch's nets,
    torch's layers and losses, optimizers, ``DataLoader`` and skorch's
    ``Dataset``, and the modules and nets of ``skal.nets`` and
    ``skal.semi_supervised``.
    """
    if kind in _allowed_cache:
        return _allowed_cache[kind]
    classes = []
    if kind == "skal":
        for m in _SKAL_ESTIMATOR_MODULES:
            classes += _public_classes(m, BaseEstimator)
    else:
        import skorch
        import torch
        import torch.nn.modules as nn_modules
        from skorch.dataset import Dataset as SkorchDataset

        classes += [getattr(skorch, n) for n in skorch.__all__]
        classes += _public_classes(nn_modules.__name__, torch.nn.Module)
        classes += [
            getattr(torch.optim, n)
            for n in torch.optim.__all__
            if inspect.isclass(getattr(torch.optim, n, None))
            and issubclass(getattr(torch.optim, n), torch.optim.Optimizer)
        ]
        classes += [torch.utils.data.DataLoader, SkorchDataset]
        for m in _SKAL_CLASS_MODULES:
            classes += _public_classes(m, (torch.nn.Module, skorch.NeuralNet))
    allowed = {}
    for cls in classes:
        if inspect.isclass(cls):
            allowed[_key(cls)] = cls
    _allowed_cache[kind] = allowed
    return allowed


def _resolve_class(path, *, kind="class", base=None):
    if not (
        isinstance(path, dict)
        and isinstance(path.get("module"), str)
        and isinstance(path.get("name"), str)
    ):
        raise SessionFileError(
            f"A class in the saved session is malformed: {path!r:.200}."
        )
    module, name = path["module"], path["name"]
    cls = allowed_classes(kind).get(f"{module}:{name}")
    if cls is None:
        raise SessionFileError(
            f"The saved session names the class {module}.{name}, which is not on "
            "skal's allow-list: only classes of skal, torch, skorch are rebuilt "
            "from a file, and only those listed (no functions, no executors). "
            "Pass the object itself (estimator= or params=) instead."
        )
    if base is not None and not issubclass(cls, base):
        raise SessionFileError(
            f"The saved session names {module}.{name}, which is not a "
            f"{getattr(base, '__name__', 'class')} subclass."
        )
    return cls


class _Reader:
    """Decodes the JSON of :class:`_Writer`; refuses anything it did not write."""

    def __init__(self, arrays, member):
        self.arrays = arrays
        self.member = member
        self.reset = []  # parameters of skal objects left at their defaults

    @staticmethod
    def unsafe(name, value, *, strings=False):
        """A class (a callable) or a file/directory name: not from a file.

        With ``strings``, any str holding a path separator counts as a path
        (the parameters of skal's objects: none takes such a string).
        """
        if is_path_like(name, value) or inspect.isclass(value):
            return True
        if strings and isinstance(value, str) and ("/" in value or "\\" in value):
            return True
        if isinstance(value, list | tuple):
            return any(_holds_class(x) for x in value)
        if isinstance(value, dict):
            return any(_holds_class(x) for x in value.values())
        return False

    def _bad(self, what):
        return SessionFileError(
            f"The saved session's {self.member} is malformed: {what}."
        )

    def _get(self, key):
        if not isinstance(key, str) or key not in self.arrays:
            raise SessionFileError(
                f"The saved session's {self.member} names the array {key!r:.80}, "
                "which arrays.npz lacks."
            )
        return self.arrays[key]

    def value(self, v, depth=0):
        if depth > _MAX_DEPTH:
            raise self._bad(f"values nested deeper than {_MAX_DEPTH}")
        if isinstance(v, list):
            return [self.value(x, depth + 1) for x in v]
        if not isinstance(v, dict):
            return v
        if len(v) == 1 and "__tuple__" in v and isinstance(v["__tuple__"], list):
            return tuple(self.value(x, depth + 1) for x in v["__tuple__"])
        if len(v) == 1 and "__dict__" in v and isinstance(v["__dict__"], dict):
            return {k: self.value(x, depth + 1) for k, x in v["__dict__"].items()}
        if len(v) == 1 and "__array__" in v:
            return self._get(v["__array__"])
        if "__tensor__" in v and set(v) <= {"__tensor__", "device"}:
            import torch

            A = self._get(v["__tensor__"])
            if A.dtype.kind not in "biufc":
                raise self._bad(f"a tensor of dtype {A.dtype}")
            t = torch.from_numpy(np.array(A))
            device = v.get("device", "cpu")
            if not isinstance(device, str):
                raise self._bad(f"the device {device!r:.80}")
            if device != "cpu":
                try:
                    t = t.to(device)
                except (RuntimeError, AssertionError, ValueError):
                    warnings.warn(
                        f"A tensor saved on {device!r:.80} is loaded on the CPU: "
                        "that device is not available here.",
                        UserWarning,
                        stacklevel=2,
                    )
            return t
        if "__sparse__" in v and set(v) == {
            "__sparse__",
            "shape",
            "data",
            "indices",
            "indptr",
        }:
            import scipy.sparse as sp

            fmt, shape = v["__sparse__"], v["shape"]
            if fmt not in ("csr", "csc") or not _is_shape(shape, 2):
                raise self._bad(f"a sparse matrix ({fmt!r:.20}, shape {shape!r:.80})")
            data, indices, indptr = (
                self._get(v[k]) for k in ("data", "indices", "indptr")
            )
            n_ptr = shape[0] if fmt == "csr" else shape[1]
            if (
                data.ndim != 1
                or indices.shape != data.shape
                or indptr.shape != (n_ptr + 1,)
                or indices.dtype.kind not in "iu"
                or indptr.dtype.kind not in "iu"
            ):
                raise self._bad("a sparse matrix whose arrays do not fit its shape")
            cls = sp.csr_matrix if fmt == "csr" else sp.csc_matrix
            M = cls((data, indices, indptr), shape=tuple(shape))
            M.check_format(full_check=True)
            return M
        if "__dataframe__" in v and set(v) <= {"__dataframe__", "columns_dtype"}:
            import pandas as pd

            cols = v["__dataframe__"]
            if not (
                isinstance(cols, list)
                and all(isinstance(c, list) and len(c) == 2 for c in cols)
            ):
                raise self._bad("a DataFrame")
            names = [self.value(c[0], depth + 1) for c in cols]
            if not all(_column_name_ok(c) for c in names):
                raise self._bad("a DataFrame's column names")
            data = [self._get(c[1]) for c in cols]
            if any(a.ndim != 1 for a in data) or len({a.shape[0] for a in data}) > 1:
                raise self._bad("a DataFrame whose columns differ in length")
            df = pd.DataFrame(dict(enumerate(data)))
            dtype = v.get("columns_dtype")
            if dtype is not None and dtype not in _COLUMN_DTYPES:
                raise self._bad(f"a DataFrame's column dtype {dtype!r:.40}")
            if dtype in (None, "int64") and names == list(range(len(names))):
                df.columns = pd.RangeIndex(len(names))
            else:
                df.columns = pd.Index(names, dtype=dtype, tupleize_cols=False)
            return df
        if len(v) == 1 and "__random_state__" in v:
            rs = np.random.RandomState()
            rs.set_state(self.value(v["__random_state__"], depth + 1))
            return rs
        if len(v) == 1 and "__class__" in v:
            return _resolve_class(v["__class__"], kind="class")
        if "__skal__" in v and set(v) == {"__skal__", "params"}:
            cls = _resolve_class(v["__skal__"], kind="skal", base=BaseEstimator)
            if not isinstance(v["params"], dict):
                raise self._bad(f"the parameters of {cls.__name__}")
            params = {}
            for k, x in v["params"].items():
                value = self.value(x, depth + 1)
                if self.unsafe(k, value, strings=True):
                    self.reset.append(f"{cls.__name__}.{k}")
                    continue
                params[k] = value
            return cls(**params)
        raise self._bad(f"an unknown value {v!r:.200}")

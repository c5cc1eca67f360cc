"""Save and resume an ActiveLearner without pickle.

``learner.save(path)`` writes one zip file; ``ActiveLearner.load(path,
estimator=None)`` reads it back. A session file is untrusted input: loading
executes no code from it and trusts nothing skal did not write.

* ``manifest.json``: format, version, and the SHA-256 and size of every
  other member. Members are known names only; each member's size is checked
  against the zip directory *before* it is read, it is read in bounded
  chunks, and the total is capped (:data:`MAX_BYTES`, or :data:`MAX_RATIO`
  times the file's size): a tampered, truncated or zip-bomb file is refused
  with a :class:`SessionFileError` before anything is decoded;
* ``params.json``: the learner's parameters as JSON. Strategies are
  described by class path and parameters, and only classes on an explicit
  allow-list (:func:`allowed_classes`: skal's strategies, skorch's nets,
  torch's layers, losses and optimizers — never a namespace, never a
  function, never an executor) are rebuilt. ``journal`` and ``executor``
  (they reach the file system or a remote service) are never taken from the
  file: ``load`` asks for them in ``params=``. A parameter that cannot be
  described (a ``FunctionStrategy`` around your function, a callback
  object) is recorded as unsaved: ``load`` then asks for it in ``params=``;
* ``state.json`` + ``arrays.npz`` (plain ``.npy`` members whose header is
  checked against their size, read with ``allow_pickle=False``): labels,
  ``X_labeled_``, ``pool_indices_``, ``labeled_indices_``, ``history_``, the
  random generator's state, the state of a running simulation, and by default
  ``fit``'s ``X`` (``save(path, include_X=False)`` stores only its SHA-256 and
  ``load`` then needs ``X=``). Every value is checked (types, lengths, indices
  inside ``X``);
* the model: for a skorch net the module's (and optimizer's) ``state_dict``
  via ``torch.save``, read with ``torch.load(weights_only=True)`` into a clone
  of ``estimator`` (needed unless the net's classes are all on the
  allow-list and its parameters are plain values); for a scikit-learn model
  a skops file, loaded only when every type skops reports as untrusted is on
  :data:`SKOPS_ALLOWED_TYPES` (exact class names). Otherwise ``estimator=`` is
  needed; a template read from the file is never refit on the file's rows.
  With ``estimator=`` given, the saved model is used only when it was fitted
  from an equal estimator (same class and parameters); else the given
  estimator is refit on the saved labels, with a warning.

Any malformation is a :class:`SessionFileError` naming the member.
"""

from __future__ import annotations

import hashlib
import importlib
import inspect
import io
import json
import os
import sys
import time
import warnings
import zipfile
from contextlib import contextmanager

import numpy as np
from sklearn.base import BaseEstimator, clone

from .._state import LabelState, check_indices
from .._version import __version__
from ..models import is_skorch_net
from ..utils._seeding import seeded_torch
from ._journal import attach, fingerprint

__all__ = ["SessionFileError", "save_learner", "load_learner"]

FORMAT = "skal.ActiveLearner"
VERSION = 1
# Types a skops file may hold beyond skops' own defaults (scikit-learn's
# estimators, numpy dtypes and ufuncs, builtin containers): exact class
# names, each checked to be a class by the tests. Never a prefix: skops
# reports functions as types, and ``builtins.eval`` is one.
SKOPS_ALLOWED_TYPES = frozenset(
    {
        "sklearn.tree._tree.Tree",
        "sklearn.ensemble._hist_gradient_boosting.predictor.TreePredictor",
        "sklearn.neighbors._kd_tree.KDTree",
        "sklearn.neighbors._ball_tree.BallTree",
        "sklearn.neural_network._stochastic_optimizers.AdamOptimizer",
        "sklearn.neural_network._stochastic_optimizers.SGDOptimizer",
        "sklearn.calibration._CalibratedClassifier",
        "sklearn.calibration._SigmoidCalibration",
        *(
            f"sklearn.metrics._dist_metrics.{m}Distance{b}"
            for m in ("Euclidean", "Manhattan", "Chebyshev", "Minkowski")
            for b in ("32", "64")
        ),
    }
)
# The members a session file may hold, and caps on what is read.
MEMBERS = frozenset(
    {
        "params.json",
        "state.json",
        "arrays.npz",
        "estimator.skops",
        "model.skops",
        "module.pt",
        "optimizer.pt",
    }
)
MAX_BYTES = 1 << 30  # total uncompressed size always allowed (1 GiB)
MAX_RATIO = 100  # above MAX_BYTES: at most this times the file's size
_MAX_DEPTH = 64  # nesting of JSON values


class SessionFileError(ValueError):
    """A saved session is damaged, tampered with, or cannot be restored.

    Examples
    --------
    >>> import os, tempfile
    >>> from skal import ActiveLearner, SessionFileError
    >>> path = os.path.join(tempfile.mkdtemp(), "session.skal")
    >>> with open(path, "wb") as f:
    ...     _ = f.write(b"garbage")
    >>> try:
    ...     ActiveLearner.load(path)
    ... except SessionFileError:
    ...     print("not a session")
    not a session
    """


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
            cols = list(v.columns)
            if not all(isinstance(c, str) for c in cols):
                raise _Unsaveable("a DataFrame with non-str column names")
            return {"__dataframe__": [[c, self._key(v[c].to_numpy())] for c in cols]}
        if isinstance(v, np.random.RandomState):
            return {"__random_state__": self.value(v.get_state())}
        if inspect.isclass(v):
            return {"__class__": _class_path(v)}
        if isinstance(v, BaseEstimator) and type(v).__module__.startswith("skal."):
            params = {k: self.value(x) for k, x in v.get_params(deep=False).items()}
            return {"__skal__": _class_path(type(v)), "params": params}
        raise _Unsaveable(f"{v!r:.200} of type {type(v).__name__}")


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
        if len(v) == 1 and "__dataframe__" in v:
            import pandas as pd

            cols = v["__dataframe__"]
            if not (
                isinstance(cols, list)
                and all(
                    isinstance(c, list) and len(c) == 2 and isinstance(c[0], str)
                    for c in cols
                )
            ):
                raise self._bad("a DataFrame")
            data = {c: self._get(k) for c, k in cols}
            if (
                any(a.ndim != 1 for a in data.values())
                or len({a.shape[0] for a in data.values()}) > 1
            ):
                raise self._bad("a DataFrame whose columns differ in length")
            return pd.DataFrame(data)
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
            params = {k: self.value(x, depth + 1) for k, x in v["params"].items()}
            return cls(**params)
        raise self._bad(f"an unknown value {v!r:.200}")


def _is_int(v):
    return isinstance(v, int | np.integer) and not isinstance(v, bool)


def _is_shape(shape, ndim=None):
    return (
        isinstance(shape, list | tuple)
        and (ndim is None or len(shape) == ndim)
        and all(_is_int(s) and 0 <= s < 1 << 40 for s in shape)
    )


# --------------------------------------------------------------- estimator
def _torch_bytes(obj):
    import torch

    buf = io.BytesIO()
    torch.save(obj, buf)
    return buf.getvalue()


def _save_estimator(learner, files, w):
    est = learner.estimator
    fitted = getattr(learner, "model_fitted_", False)
    if is_skorch_net(est):
        params, unsaved = {}, []
        for k, v in est.get_params(deep=False).items():
            if k.startswith("_"):
                continue
            try:
                params[k] = w.value(v)
            except _Unsaveable:
                unsaved.append(k)
        spec = {
            "kind": "skorch",
            "class": _class_path(type(est)),
            "params": params,
            "unsaved": unsaved,
        }
        if fitted:
            net = learner.estimator_
            files["module.pt"] = _torch_bytes(net.module_.state_dict())
            if hasattr(net, "optimizer_"):
                try:
                    files["optimizer.pt"] = _torch_bytes(net.optimizer_.state_dict())
                except Exception:  # pragma: no cover - exotic optimizers
                    pass
            try:
                spec["classes"] = w.value(np.asarray(net.classes_))
            except AttributeError:
                spec["classes"] = None
        return spec
    import skops.io as sio

    spec = {"kind": "sklearn"}
    try:
        files["estimator.skops"] = sio.dumps(est)
        if fitted:
            files["model.skops"] = sio.dumps(learner.estimator_)
    except Exception as exc:  # skops cannot describe this object
        warnings.warn(
            f"The estimator {type(est).__name__} cannot be saved with skops "
            f"({exc}); load will need estimator= and refits from the labels.",
            UserWarning,
            stacklevel=3,
        )
        files.pop("estimator.skops", None)
        files.pop("model.skops", None)
    return spec


def _skops_load(data, member):
    """Load skops bytes when every type in them is on the allow-list.

    Returns ``(object, [])``, or ``(None, types)`` naming the types that are
    not allowed; nothing is built then. skops itself is told to trust only
    the allowed types it reported, so it refuses anything else it meets.
    """
    import skops.io as sio

    with _member(member):
        _check_inner_zip(data)
    try:
        untrusted = sio.get_untrusted_types(data=data)
    except Exception as exc:
        raise SessionFileError(
            f"The saved session's {member} is not a readable skops file "
            f"({type(exc).__name__}: {exc})."
        ) from None
    if not isinstance(untrusted, list) or not all(
        isinstance(t, str) for t in untrusted
    ):
        raise SessionFileError(f"The saved session's {member} is malformed.")
    foreign = sorted(t for t in untrusted if t not in SKOPS_ALLOWED_TYPES)
    if foreign:
        return None, foreign
    try:
        obj = sio.loads(data, trusted=sorted(untrusted))
    except Exception as exc:
        raise SessionFileError(
            f"Cannot read the saved session's {member} ({type(exc).__name__}: {exc})."
        ) from None
    if not isinstance(obj, BaseEstimator):
        raise SessionFileError(
            f"The saved session's {member} holds a {type(obj).__name__}, "
            "not an estimator."
        )
    return obj, []


def _load_net(spec, files, reader, estimator):
    import torch
    from skorch import NeuralNet

    given = estimator is not None
    if not given:
        if spec["unsaved"]:
            raise SessionFileError(
                "The saved skorch net cannot be rebuilt from the file: its "
                f"parameters {spec['unsaved']} are objects, not plain values. "
                "Pass the net: ActiveLearner.load(path, estimator=net)."
            )
        with _member("params.json"):
            cls = _resolve_class(spec["class"], kind="class", base=NeuralNet)
            if not isinstance(spec["params"], dict):
                raise TypeError("the net's parameters are not a dict")
            estimator = cls(**{k: reader.value(v) for k, v in spec["params"].items()})
    elif not is_skorch_net(estimator):
        raise TypeError(
            "The saved session holds a skorch net; the 'estimator' passed to "
            f"load must be one too. Got {type(estimator).__name__}."
        )

    def _read(name):
        try:
            state = torch.load(
                io.BytesIO(files[name]), weights_only=True, map_location="cpu"
            )
        except Exception as exc:
            raise SessionFileError(
                f"Cannot read the saved session's {name} with "
                f"torch.load(weights_only=True): {exc}"
            ) from None
        if not isinstance(state, dict):
            raise SessionFileError(
                f"The saved session's {name} holds a {type(state).__name__}, "
                "not a state dict."
            )
        return state

    weights = _read("module.pt") if "module.pt" in files else None
    if not given:
        _check_net_size(estimator, weights)
    if weights is None:
        return estimator, None
    net = clone(estimator)
    with seeded_torch(0):  # initialization must not touch global RNGs
        if given:
            net.initialize()
        else:
            with _member("params.json"):
                net.initialize()

    try:
        net.module_.load_state_dict(weights)
    except (RuntimeError, KeyError, TypeError, ValueError, AttributeError) as exc:
        if isinstance(exc, SessionFileError):
            raise
        raise SessionFileError(
            f"The saved weights do not fit the module of the estimator "
            f"({type(net.module_).__name__}; module.pt): {exc}. Pass the net the "
            "session was saved with (same module class and module__ parameters)."
        ) from None
    if "optimizer.pt" in files and hasattr(net, "optimizer_"):
        opt_state = _read("optimizer.pt")
        try:
            net.optimizer_.load_state_dict(opt_state)
        except Exception:
            warnings.warn(
                "The saved optimizer state does not fit this net's optimizer; it "
                "is left freshly initialized.",
                UserWarning,
                stacklevel=3,
            )
    if spec.get("classes") is not None:
        with _member("params.json"):
            classes = reader.value(spec["classes"])
            if not isinstance(classes, np.ndarray) or classes.ndim != 1:
                raise TypeError("the net's classes are not a 1-D array")
        net.classes_inferred_ = classes
    return estimator, net


def _check_net_size(estimator, weights):
    """A net built from the file's parameters is no larger than its weights.

    It is first built on torch's ``meta`` device (no memory), so parameters
    such as ``module__hidden=10**9`` are refused before anything is
    allocated.
    """
    import torch
    from torch.nn.parameter import UninitializedParameter

    with _member("params.json"):
        probe = clone(estimator).set_params(device="meta")
        with seeded_torch(0), torch.device("meta"):
            probe.initialize()
        tensors = [*probe.module_.parameters(), *probe.module_.buffers()]
        size = sum(
            t.numel() for t in tensors if not isinstance(t, UninitializedParameter)
        )
    if weights is not None:
        limit = sum(t.numel() for t in weights.values() if hasattr(t, "numel"))
    else:
        limit = MAX_BYTES // 4
    if size > limit:
        raise SessionFileError(
            f"The net described by the saved session's params.json has {size} "
            f"parameters, more than the {limit} its saved weights hold; pass the "
            "net: ActiveLearner.load(path, estimator=net)."
        )


def _same_estimator(a, b):
    """Same class and parameters (nested estimators compared alike)."""
    if type(a) is not type(b):
        return False
    pa, pb = a.get_params(deep=False), b.get_params(deep=False)
    if pa.keys() != pb.keys():
        return False
    for k in pa:
        x, y = pa[k], pb[k]
        if isinstance(x, BaseEstimator) or isinstance(y, BaseEstimator):
            if not _same_estimator(x, y):
                return False
        elif isinstance(x, list | tuple) and isinstance(y, list | tuple):
            if len(x) != len(y) or repr(x) != repr(y):
                return False
        else:
            try:
                if not bool(np.all(x == y)):
                    return False
            except Exception:
                if repr(x) != repr(y):
                    return False
    return True


def _load_sklearn(spec, files, estimator):
    """The template and the fitted model (None: refit ``estimator``).

    A template or model is taken from the file only when every type in it
    is allowed; a template from the file is never refit here. With
    ``estimator`` given, the saved model is used only if it was fitted from
    an equal estimator (same class and parameters); otherwise the caller's
    estimator is refit on the saved labels.
    """
    saved = None
    if "estimator.skops" in files:
        saved, foreign = _skops_load(files["estimator.skops"], "estimator.skops")
    else:
        foreign = ["(not saved: skops could not describe it)"]
    if estimator is None:
        if saved is None:
            raise SessionFileError(
                "The saved estimator holds types outside scikit-learn's estimators "
                f"and skal's allow-list ({foreign}); they could run code. "
                "Pass the estimator: ActiveLearner.load(path, estimator=...); "
                "the model is then refit from the saved labels."
            )
        template = saved
    else:
        template = estimator
    model = None
    if "model.skops" in files:
        model, foreign_model = _skops_load(files["model.skops"], "model.skops")
        if model is None and estimator is None:
            raise SessionFileError(
                "The saved model holds types outside scikit-learn's estimators and "
                f"skal's allow-list ({foreign_model}); they could run code. "
                "Pass the estimator: ActiveLearner.load(path, estimator=...); "
                "the model is then refit from the saved labels."
            )
        if model is not None and type(model) is not type(template):
            if estimator is None:
                raise SessionFileError(
                    f"The saved session's model.skops holds a {type(model).__name__}"
                    f", but its estimator.skops a {type(template).__name__}."
                )
            model = None
        if model is not None and estimator is not None:
            if saved is None or not _same_estimator(saved, estimator):
                model = None  # fitted from another estimator: refit the caller's
    return template, model


# --------------------------------------------------------------------- save
def _sha256(data):
    return hashlib.sha256(data).hexdigest()


def save_learner(learner, path, *, include_X=True):
    """Write ``learner`` to the zip file ``path`` (atomically)."""
    w = _Writer()
    files = {}
    params, unsaved = {}, []
    for k, v in learner.get_params(deep=False).items():
        if k == "estimator":
            continue
        try:
            params[k] = w.value(v)
        except _Unsaveable as exc:
            params[k] = {"__unsaved__": str(exc)}
            unsaved.append(k)
    if unsaved:
        warnings.warn(
            f"The parameters {unsaved} of this ActiveLearner cannot be saved "
            "without pickle; load will ask for them in params=.",
            UserWarning,
            stacklevel=3,
        )
    params["estimator"] = _save_estimator(learner, files, w)

    labels = learner._state
    X_fit = labels.X
    state = {
        "n_samples": int(X_fit.shape[0]) if hasattr(X_fit, "shape") else len(X_fit),
        "X_fingerprint": fingerprint(X_fit),
        "model_fitted_": bool(learner.model_fitted_),
        "model_stale_": bool(learner.model_stale_),
        "sample_shape_": (
            None if learner.sample_shape_ is None else list(learner.sample_shape_)
        ),
    }
    if hasattr(learner, "n_features_in_"):
        state["n_features_in_"] = int(learner.n_features_in_)
    if hasattr(learner, "feature_names_in_"):
        state["feature_names_in_"] = [str(c) for c in learner.feature_names_in_]
    try:
        for name, value in labels.to_dict().items():
            state[name] = w.value(value)
        state["history_"] = w.value(learner.history_)
        state["X_fit"] = w.value(X_fit) if include_X else None
    except _Unsaveable as exc:
        raise TypeError(
            f"Cannot save this session without pickle: it holds {exc}. save "
            "stores numpy arrays (not of dtype object), torch tensors, scipy "
            "sparse matrices and DataFrames with str column names; pass "
            "include_X=False to leave fit's X out."
        ) from None
    try:
        state["stop_observations_"] = w.value(learner.stop_observations_)
    except _Unsaveable as exc:
        warnings.warn(
            f"The stopping criterion's observations hold {exc}; they are not "
            "saved (the loaded learner starts a new window of observations).",
            UserWarning,
            stacklevel=3,
        )

    files["params.json"] = json.dumps(params, indent=1).encode()
    files["state.json"] = json.dumps(state, indent=1).encode()
    buf = io.BytesIO()
    np.savez(buf, **w.arrays)
    files["arrays.npz"] = buf.getvalue()
    manifest = {
        "format": FORMAT,
        "version": VERSION,
        "skal": __version__,
        "created": time.time(),
        "include_X": bool(include_X),
        "files": {n: {"sha256": _sha256(d), "size": len(d)} for n, d in files.items()},
    }
    path = os.fspath(path)
    tmp = f"{path}.tmp-{os.getpid()}"
    try:
        with open(tmp, "wb") as f:
            with zipfile.ZipFile(f, "w", compression=zipfile.ZIP_DEFLATED) as zf:
                zf.writestr("manifest.json", json.dumps(manifest, indent=1))
                for name, data in files.items():
                    zf.writestr(name, data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


# --------------------------------------------------------------------- load
@contextmanager
def _member(name):
    """Any failure while decoding ``name`` is a SessionFileError naming it."""
    try:
        yield
    except SessionFileError:
        raise
    except (Exception, RecursionError) as exc:
        raise SessionFileError(
            f"The saved session's {name} is malformed ({type(exc).__name__}: "
            f"{str(exc)[:300]})."
        ) from None


def _read_member(zf, info, size, bad):
    """Read a member of known size, never more than ``size + 1`` bytes."""
    name = info.filename
    if info.file_size != size:
        raise SessionFileError(
            f"{bad}: the checksum of {name} does not match the manifest (it is "
            f"{info.file_size} bytes in the zip directory, {size} in the "
            "manifest); the file was modified or damaged."
        )
    try:
        with zf.open(info) as f:
            chunks, left = [], size + 1
            while left > 0:
                chunk = f.read(min(left, 1 << 24))
                if not chunk:
                    break
                chunks.append(chunk)
                left -= len(chunk)
    except Exception as exc:  # zlib.error, BadZipFile, NotImplementedError, ...
        raise SessionFileError(
            f"{bad}: {name} is damaged ({type(exc).__name__}: {exc})."
        ) from None
    data = b"".join(chunks)
    if len(data) != size:
        raise SessionFileError(
            f"{bad}: the checksum of {name} does not match the manifest (it "
            f"holds {len(data)} bytes, not {size}); the file was modified or "
            "damaged."
        )
    return data


def _read_files(path):
    path = os.fspath(path)
    bad = f"{path!r} is not a readable skal session file"
    try:
        file_size = os.path.getsize(path)
        zf = zipfile.ZipFile(path)
    except FileNotFoundError:
        raise
    except (zipfile.BadZipFile, OSError, EOFError, ValueError) as exc:
        raise SessionFileError(f"{bad} (truncated or not a zip: {exc}).") from None
    except Exception as exc:  # zipfile raises more than it documents
        raise SessionFileError(
            f"{bad} (truncated or not a zip: {type(exc).__name__}: {exc})."
        ) from None
    cap = max(MAX_BYTES, MAX_RATIO * file_size)
    with zf:
        infos = zf.infolist()
        names = [i.filename for i in infos]
        if len(set(names)) != len(names):
            raise SessionFileError(f"{bad}: it holds members of the same name twice.")
        by_name = {i.filename: i for i in infos}
        if "manifest.json" not in by_name:
            raise SessionFileError(f"{bad}: it has no manifest.json.")
        info = by_name["manifest.json"]
        if info.file_size > 1 << 20:
            raise SessionFileError(f"{bad}: its manifest.json is over 1 MiB.")
        raw = _read_member(zf, info, info.file_size, bad)
        try:
            manifest = json.loads(raw)
        except (ValueError, RecursionError) as exc:
            raise SessionFileError(
                f"{bad}: its manifest.json is damaged ({exc})."
            ) from None
        if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
            raise SessionFileError(f"{bad}: unknown format in its manifest.json.")
        version = manifest.get("version", 0)
        if not _is_int(version):
            raise SessionFileError(f"{bad}: its manifest.json has no version.")
        if version > VERSION:
            raise SessionFileError(
                f"{path!r} was saved by a newer skal (format version "
                f"{version}; this skal reads {VERSION}). Upgrade skal."
            )
        listed = manifest.get("files")
        if not isinstance(listed, dict) or not all(
            isinstance(m, dict)
            and _is_int(m.get("size"))
            and m["size"] >= 0
            and isinstance(m.get("sha256"), str)
            for m in listed.values()
        ):
            raise SessionFileError(
                f"{bad}: the member list of its manifest.json is malformed."
            )
        unknown = sorted(set(listed) - MEMBERS)
        if unknown:
            raise SessionFileError(
                f"{bad}: its manifest.json lists unknown members {unknown[:5]}."
            )
        present = set(names) - {"manifest.json"}
        if present != set(listed):
            raise SessionFileError(
                f"{bad}: its members {sorted(present)[:10]} differ from the "
                f"manifest's {sorted(listed)}; the file was modified."
            )
        total = sum(m["size"] for m in listed.values())
        if total > cap:
            big = max(listed, key=lambda n: listed[n]["size"])
            raise SessionFileError(
                f"{bad}: its members are {total} bytes uncompressed ({big}: "
                f"{listed[big]['size']}), over the cap of {cap} bytes (the larger "
                f"of {MAX_BYTES} and {MAX_RATIO} times the file's {file_size} "
                "bytes); a zip bomb, or raise skal._session.MAX_BYTES for a "
                "file you trust."
            )
        files = {}
        for name in sorted(listed):
            meta = listed[name]
            data = _read_member(zf, by_name[name], meta["size"], bad)
            if _sha256(data) != meta["sha256"]:
                raise SessionFileError(
                    f"{bad}: the checksum of {name} does not match the manifest; "
                    "the file was modified or damaged."
                )
            files[name] = data
    return manifest, files


def _load_arrays(data):
    """The arrays of arrays.npz: plain stored .npy members, sizes checked first."""
    from numpy.lib import format as npformat

    arrays = {}
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        infos = zf.infolist()
        if len({i.filename for i in infos}) != len(infos):
            raise ValueError("duplicate arrays")
        for info in infos:
            if info.compress_type != zipfile.ZIP_STORED or not info.filename.endswith(
                ".npy"
            ):
                raise ValueError(f"{info.filename!r} is not a stored .npy member")
            if info.file_size != info.compress_size:
                raise ValueError(f"{info.filename!r} declares two sizes")
            with zf.open(info) as f:
                version = npformat.read_magic(f)
                if version == (1, 0):
                    shape, fortran, dtype = npformat.read_array_header_1_0(f)
                elif version == (2, 0):
                    shape, fortran, dtype = npformat.read_array_header_2_0(f)
                else:
                    raise ValueError(f"{info.filename!r}: .npy version {version}")
                if dtype.hasobject:
                    raise ValueError(f"{info.filename!r} holds objects")
                count = 1
                for d in shape:
                    count *= int(d)
                header = f.tell() if hasattr(f, "tell") else None
                if header is None or count * dtype.itemsize + header != info.file_size:
                    raise ValueError(
                        f"{info.filename!r}: its shape {shape} does not fit its "
                        f"{info.file_size} bytes"
                    )
                f.seek(0)
                A = npformat.read_array(f, allow_pickle=False)
            arrays[info.filename[: -len(".npy")]] = A
    return arrays


def _check_inner_zip(data):
    """A zip inside the session (a skops file): sizes and .npy headers.

    Its members' declared sizes are capped like the session's own, and each
    ``.npy`` header must describe exactly the bytes that follow it, so no
    member inflates or allocates beyond what the file holds.
    """
    from numpy.lib import format as npformat

    cap = max(MAX_BYTES, MAX_RATIO * len(data))
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        infos = zf.infolist()
        if sum(i.file_size for i in infos) > cap:
            raise ValueError(f"its members are over the cap of {cap} bytes")
        for info in infos:
            if not info.filename.endswith(".npy"):
                continue
            with zf.open(info) as f:
                version = npformat.read_magic(f)
                read = {
                    (1, 0): npformat.read_array_header_1_0,
                    (2, 0): npformat.read_array_header_2_0,
                }.get(version)
                if read is None:
                    raise ValueError(f"{info.filename!r}: .npy version {version}")
                shape, _, dtype = read(f)
                count = 1
                for d in shape:
                    count *= int(d)
                if not dtype.hasobject and (
                    count * dtype.itemsize + f.tell() != info.file_size
                ):
                    raise ValueError(
                        f"{info.filename!r}: its shape {shape} does not fit its "
                        f"{info.file_size} bytes"
                    )


def _n_rows(X):
    return int(X.shape[0]) if hasattr(X, "shape") else len(X)


# Parameters that reach the file system or a remote service: never taken
# from a file, only from the caller (params=).
_CALLER_ONLY = ("journal", "executor")


def load_learner(cls, path, estimator=None, *, X=None, params=None):
    """Rebuild an ActiveLearner saved by :func:`save_learner`."""
    manifest, files = _read_files(path)
    for name in ("params.json", "state.json", "arrays.npz"):
        if name not in files:
            raise SessionFileError(f"The saved session lacks its {name}.")
    with _member("arrays.npz"):
        arrays = _load_arrays(files["arrays.npz"])
    with _member("params.json"):
        saved_params = json.loads(files["params.json"])
        if not isinstance(saved_params, dict) or not isinstance(
            saved_params.get("estimator"), dict
        ):
            raise TypeError("not a dict with an 'estimator' entry")
        spec = saved_params.pop("estimator")
        if spec.get("kind") == "skorch":
            if not (
                isinstance(spec.get("params"), dict)
                and isinstance(spec.get("unsaved"), list)
            ):
                raise TypeError("the net's description is incomplete")
        elif spec.get("kind") != "sklearn":
            raise TypeError(f"unknown estimator kind {spec.get('kind')!r:.40}")
    with _member("state.json"):
        state = json.loads(files["state.json"])
        if not isinstance(state, dict):
            raise TypeError("not a dict")
    reader = _Reader(arrays, "params.json")
    params = dict(params or {})
    kwargs = {}
    with _member("params.json"):
        for k, v in saved_params.items():
            if k in params:
                kwargs[k] = params.pop(k)
            elif k in _CALLER_ONLY:
                if v is not None:
                    warnings.warn(
                        f"The saved session had '{k}' set; a file does not choose "
                        f"a {k} (it reaches the file system or a remote service). "
                        f"It is None now: pass it to keep it, "
                        f"ActiveLearner.load(path, params={{'{k}': ...}}).",
                        UserWarning,
                        stacklevel=3,
                    )
                kwargs[k] = None
            elif isinstance(v, dict) and "__unsaved__" in v:
                raise SessionFileError(
                    f"The saved session's '{k}' parameter "
                    f"({str(v['__unsaved__'])[:200]}) could not be saved without "
                    "pickle. Pass it: "
                    f"ActiveLearner.load(path, params={{'{k}': ...}})."
                )
            else:
                kwargs[k] = reader.value(v)
    if params:
        raise ValueError(
            f"params= names {sorted(params)}, which are not parameters of the "
            f"saved ActiveLearner ({sorted(saved_params)})."
        )

    if spec["kind"] == "skorch":
        template, model = _load_net(spec, files, reader, estimator)
    else:
        template, model = _load_sklearn(spec, files, estimator)
    with _member("params.json"):
        learner = cls(template, **kwargs)
        learner._check_params()

    reader = _Reader(arrays, "state.json")
    with _member("state.json"):
        fp = state["X_fingerprint"]
        if not isinstance(fp, dict):
            raise TypeError("X_fingerprint is not a dict")
        X_saved = state["X_fit"]
        if X is None and X_saved is not None:
            X = reader.value(X_saved)
            if fingerprint(X) != fp:
                raise ValueError("X_fit does not match X_fingerprint")
    if X is None:
        raise SessionFileError(
            "This session was saved with include_X=False: pass fit's X again, "
            "ActiveLearner.load(path, estimator, X=X)."
        )
    if fingerprint(X) != fp:
        raise ValueError(
            "The 'X' passed to load is not the X the session was fitted on "
            f"(expected {fp.get('n_samples')} rows of shape "
            f"{fp.get('sample_shape')}, dtype {fp.get('dtype')}, SHA-256 "
            f"{fp.get('sha256')})."
        )
    with _member("state.json"):
        _restore_state(learner, state, reader, X)

    learner.estimator_ = clone(template)
    learner.model_fitted_ = False
    if state["model_fitted_"]:
        if model is not None:
            if spec["kind"] == "sklearn":
                with _member("model.skops"):
                    _check_model(model, learner)
            learner.estimator_ = model
            learner.model_fitted_ = True
        elif estimator is None:
            raise SessionFileError(
                "The saved model cannot be loaded without running code from the "
                "file, and a template from the file is never refit on its rows. "
                "Pass the estimator: ActiveLearner.load(path, estimator=...)."
            )
        else:
            warnings.warn(
                f"The estimator passed to load ({type(estimator).__name__}) is not "
                "the one the saved model was fitted from, or that model cannot be "
                "loaded without running code from the file; it is refit from the "
                "saved labels.",
                UserWarning,
                stacklevel=3,
            )
            # a fixed seed: the restored generator must not advance here
            learner._refit_keep_labels(seed=0)
    if learner.journal is not None:
        attach(learner._state, learner.journal)
    return learner


def _check_model(model, learner):
    """A fitted classifier on the learner's features and labels."""
    from sklearn.utils.validation import check_is_fitted

    if not hasattr(model, "predict_proba"):
        raise TypeError("the model has no predict_proba")
    check_is_fitted(model)
    n = getattr(learner, "n_features_in_", None)
    if n is not None and getattr(model, "n_features_in_", n) != n:
        raise ValueError(
            f"the model takes {model.n_features_in_} features, the session has {n}"
        )
    classes = getattr(model, "classes_", None)
    if classes is not None:
        labels = learner.y_labeled_
        if np.asarray(classes).dtype.kind != labels.dtype.kind and not (
            np.asarray(classes).dtype.kind in "biuf" and labels.dtype.kind in "biuf"
        ):
            raise TypeError("the model's classes are not of the labels' kind")
        if not np.isin(classes, labels).all():
            raise ValueError("the model knows classes that no label holds")


def _restore_state(learner, state, reader, X):
    """Set the fitted state from ``state.json``, checking every value."""
    n = _n_rows(X)
    for key in ("model_fitted_", "model_stale_"):
        if not isinstance(state[key], bool):
            raise TypeError(f"{key} is not a bool")
    shape = state["sample_shape_"]
    if shape is not None and not _is_shape(shape):
        raise TypeError("sample_shape_ is not a list of ints")
    learner.sample_shape_ = None if shape is None else tuple(shape)
    if "n_features_in_" in state:
        if not _is_int(state["n_features_in_"]):
            raise TypeError("n_features_in_ is not an int")
        learner.n_features_in_ = state["n_features_in_"]
    if "feature_names_in_" in state:
        names = state["feature_names_in_"]
        if not isinstance(names, list) or not all(isinstance(c, str) for c in names):
            raise TypeError("feature_names_in_ is not a list of str")
        learner.feature_names_in_ = np.asarray(names, dtype=object)
    saved = {k: reader.value(state[k]) for k in LabelState.SAVED if k in state}
    saved.setdefault("fit_index", None)  # files written before it was saved
    learner._state = LabelState.from_dict(saved, X, sample_shape=learner.sample_shape_)
    history = reader.value(state["history_"])
    if not isinstance(history, list) or not all(isinstance(r, dict) for r in history):
        raise TypeError("history_ is not a list of dicts")
    for rec in history:
        if "indices" in rec:
            rec["indices"] = check_indices(
                np.asarray(rec["indices"]), n, "an index list of history_"
            )
    learner.history_ = history
    observations = reader.value(state.get("stop_observations_", []))
    if not isinstance(observations, list) or not all(
        isinstance(o, dict) for o in observations
    ):
        raise TypeError("stop_observations_ is not a list of dicts")
    learner.stop_observations_ = observations
    learner.model_stale_ = state["model_stale_"]

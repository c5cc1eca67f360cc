"""Save and resume an ActiveLearner without pickle.

``learner.save(path)`` writes one zip file; ``ActiveLearner.load(path,
estimator=None)`` reads it back. Loading executes no code from the file:

* ``manifest.json``: format, version, and the SHA-256 and size of every
  other member — a tampered or truncated file is refused with a
  :class:`SessionFileError` before anything is decoded;
* ``params.json``: the learner's parameters as JSON. Strategies (and other
  skal objects such as executors) are described by class path and
  parameters, and only classes of skal's own package are rebuilt. A
  parameter that cannot be described (a ``FunctionStrategy`` around your
  function, a callback object) is recorded as unsaved: ``load`` then asks for
  it in ``params=``;
* ``state.json`` + ``arrays.npz`` (read with ``allow_pickle=False``): labels,
  ``X_labeled_``, ``pool_indices_``, ``labeled_indices_``, ``history_``, the
  random generator's state, the state of a running simulation, and by default
  ``fit``'s ``X`` (``save(path, include_X=False)`` stores only its SHA-256 and
  ``load`` then needs ``X=``);
* the model: for a skorch net the module's (and optimizer's) ``state_dict``
  via ``torch.save``, read with ``torch.load(weights_only=True)`` into a clone
  of ``estimator`` (needed unless the net's classes all live in skal, torch or
  skorch and its parameters are plain values); for a scikit-learn model a
  skops file, loaded only when every type in it is from scikit-learn, numpy
  or scipy — otherwise ``estimator=`` is needed and the model is refit from
  the saved labels.
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

import numpy as np
from sklearn.base import BaseEstimator, clone

from ._journal import fingerprint
from .models import is_skorch_net

__all__ = ["SessionFileError", "save_learner", "load_learner"]

FORMAT = "skal.ActiveLearner"
VERSION = 1
_TRUSTED_TYPE_PREFIXES = ("sklearn.", "numpy.", "scipy.", "builtins.")
_CLASS_MODULES = ("skal", "torch", "skorch")


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


def _resolve_class(path, *, base=None):
    module, name = path["module"], path["name"]
    if module.split(".")[0] not in _CLASS_MODULES:
        raise SessionFileError(
            f"The saved session names the class {module}.{name}; only classes "
            f"of {', '.join(_CLASS_MODULES)} are rebuilt from a file. Pass the "
            "object itself (estimator= or params=) instead."
        )
    try:
        obj = importlib.import_module(module)
        for part in name.split("."):
            obj = getattr(obj, part)
    except (ImportError, AttributeError) as exc:
        raise SessionFileError(
            f"The saved session names the class {module}.{name}, which this "
            f"installation does not have ({exc})."
        ) from None
    if not inspect.isclass(obj) or (base is not None and not issubclass(obj, base)):
        raise SessionFileError(
            f"The saved session names {module}.{name}, which is not a "
            f"{getattr(base, '__name__', 'class')} subclass."
        )
    return obj


class _Reader:
    def __init__(self, arrays):
        self.arrays = arrays

    def _get(self, key):
        if key not in self.arrays:
            raise SessionFileError(f"The saved session lacks the array {key!r}.")
        return self.arrays[key]

    def value(self, v):
        if isinstance(v, list):
            return [self.value(x) for x in v]
        if not isinstance(v, dict):
            return v
        if "__tuple__" in v:
            return tuple(self.value(x) for x in v["__tuple__"])
        if "__dict__" in v:
            return {k: self.value(x) for k, x in v["__dict__"].items()}
        if "__array__" in v:
            return self._get(v["__array__"])
        if "__tensor__" in v:
            import torch

            t = torch.from_numpy(np.array(self._get(v["__tensor__"])))
            device = v.get("device", "cpu")
            if device != "cpu":
                try:
                    t = t.to(device)
                except (RuntimeError, AssertionError):
                    warnings.warn(
                        f"A tensor saved on {device} is loaded on the CPU: "
                        f"{device} is not available here.",
                        UserWarning,
                        stacklevel=2,
                    )
            return t
        if "__sparse__" in v:
            import scipy.sparse as sp

            cls = sp.csr_matrix if v["__sparse__"] == "csr" else sp.csc_matrix
            return cls(
                (self._get(v["data"]), self._get(v["indices"]), self._get(v["indptr"])),
                shape=tuple(v["shape"]),
            )
        if "__dataframe__" in v:
            import pandas as pd

            return pd.DataFrame({c: self._get(k) for c, k in v["__dataframe__"]})
        if "__random_state__" in v:
            rs = np.random.RandomState()
            rs.set_state(self.value(v["__random_state__"]))
            return rs
        if "__class__" in v:
            import torch
            from skorch import NeuralNet

            return _resolve_class(
                v["__class__"],
                base=(
                    torch.nn.Module,
                    torch.optim.Optimizer,
                    NeuralNet,
                    torch.utils.data.DataLoader,
                    torch.utils.data.Dataset,
                ),
            )
        if "__skal__" in v:
            cls = _resolve_class(v["__skal__"], base=BaseEstimator)
            return cls(**{k: self.value(x) for k, x in v["params"].items()})
        raise SessionFileError(f"Unknown value in the saved session: {v!r:.200}")


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


def _skops_load(data, what):
    """Load skops bytes when every type in them is scikit-learn/numpy/scipy."""
    import skops.io as sio

    untrusted = sio.get_untrusted_types(data=data)
    foreign = [t for t in untrusted if not t.startswith(_TRUSTED_TYPE_PREFIXES)]
    if foreign:
        return None, foreign
    try:
        return sio.loads(data, trusted=untrusted), []
    except Exception as exc:
        raise SessionFileError(f"Cannot read the saved {what}: {exc}") from exc


def _load_net(spec, files, reader, estimator):
    import torch

    from ._learner import _seeded_torch

    if estimator is None:
        if spec["unsaved"]:
            raise ValueError(
                "The saved skorch net cannot be rebuilt from the file: its "
                f"parameters {spec['unsaved']} are objects, not plain values. "
                "Pass the net: ActiveLearner.load(path, estimator=net)."
            )
        from skorch import NeuralNet

        cls = _resolve_class(spec["class"], base=NeuralNet)
        estimator = cls(**{k: reader.value(v) for k, v in spec["params"].items()})
    elif not is_skorch_net(estimator):
        raise TypeError(
            "The saved session holds a skorch net; the 'estimator' passed to "
            f"load must be one too. Got {type(estimator).__name__}."
        )
    if "module.pt" not in files:
        return estimator, None
    net = clone(estimator)
    with _seeded_torch(0, True):  # initialization must not touch global RNGs
        net.initialize()

    def _read(name):
        try:
            return torch.load(
                io.BytesIO(files[name]), weights_only=True, map_location=net.device
            )
        except Exception as exc:
            raise SessionFileError(
                f"Cannot read the saved {name} with torch.load(weights_only=True): "
                f"{exc}"
            ) from exc

    try:
        net.module_.load_state_dict(_read("module.pt"))
    except (RuntimeError, KeyError) as exc:
        raise ValueError(
            f"The saved weights do not fit the module of the estimator passed "
            f"({type(net.module_).__name__}): {exc}. Pass the net the session "
            "was saved with (same module class and module__ parameters)."
        ) from exc
    if "optimizer.pt" in files and hasattr(net, "optimizer_"):
        try:
            net.optimizer_.load_state_dict(_read("optimizer.pt"))
        except (ValueError, RuntimeError, KeyError):
            warnings.warn(
                "The saved optimizer state does not fit this net's optimizer; it "
                "is left freshly initialized.",
                UserWarning,
                stacklevel=3,
            )
    if spec.get("classes") is not None:
        net.classes_inferred_ = reader.value(spec["classes"])
    return estimator, net


def _load_sklearn(spec, files, estimator):
    template = estimator
    if template is None:
        if "estimator.skops" not in files:
            raise ValueError(
                "The saved estimator could not be stored with skops; pass it: "
                "ActiveLearner.load(path, estimator=...)."
            )
        template, foreign = _skops_load(files["estimator.skops"], "estimator")
        if template is None:
            raise ValueError(
                "The saved estimator holds types outside scikit-learn, numpy and "
                f"scipy ({foreign}); they would run code when loaded. Pass the "
                "estimator: ActiveLearner.load(path, estimator=...); the model is "
                "then refit from the saved labels."
            )
    model = None
    if "model.skops" in files:
        model, foreign = _skops_load(files["model.skops"], "model")
    return template, model


# --------------------------------------------------------------------- save
def _sha256(data):
    return hashlib.sha256(data).hexdigest()


def save_learner(learner, path, *, include_X=True):
    """Write ``learner`` to the zip file ``path`` (atomically)."""
    from . import __version__

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

    X_fit = learner._X_fit
    state = {
        "n_samples": int(X_fit.shape[0]) if hasattr(X_fit, "shape") else len(X_fit),
        "X_fingerprint": fingerprint(X_fit),
        "model_fitted_": bool(learner.model_fitted_),
        "model_stale_": bool(learner.model_stale_),
        "sample_shape_": (
            None if learner.sample_shape_ is None else list(learner.sample_shape_)
        ),
        "journal_session": getattr(learner, "_journal_session", None),
        "journal_seq": int(getattr(learner, "_journal_seq", 0)),
    }
    if hasattr(learner, "n_features_in_"):
        state["n_features_in_"] = int(learner.n_features_in_)
    if hasattr(learner, "feature_names_in_"):
        state["feature_names_in_"] = [str(c) for c in learner.feature_names_in_]
    try:
        for name in (
            "X_labeled_",
            "y_labeled_",
            "labeled_indices_",
            "pool_indices_",
            "history_",
        ):
            state[name] = w.value(getattr(learner, name))
        state["X_fit"] = w.value(X_fit) if include_X else None
        state["fit_params"] = w.value(learner._fit_params)
        state["rng"] = w.value(learner._rng.get_state())
        state["label_classes"] = w.value(getattr(learner, "_label_classes", None))
        state["sim"] = w.value(getattr(learner, "_sim", None))
        state["sim_pending"] = w.value(getattr(learner, "_sim_pending", None))
        state["sim_round_start"] = w.value(getattr(learner, "_sim_round_start", None))
    except _Unsaveable as exc:
        raise TypeError(
            f"Cannot save this session without pickle: it holds {exc}. save "
            "stores numpy arrays (not of dtype object), torch tensors, scipy "
            "sparse matrices and DataFrames with str column names; pass "
            "include_X=False to leave fit's X out."
        ) from None

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
def _read_files(path):
    path = os.fspath(path)
    bad = f"{path!r} is not a readable skal session file"
    try:
        zf = zipfile.ZipFile(path)
    except FileNotFoundError:
        raise
    except (zipfile.BadZipFile, OSError, EOFError) as exc:
        raise SessionFileError(f"{bad} (truncated or not a zip: {exc}).") from None
    with zf:
        try:
            manifest = json.loads(zf.read("manifest.json"))
        except KeyError:
            raise SessionFileError(f"{bad}: it has no manifest.json.") from None
        except (zipfile.BadZipFile, ValueError, OSError, EOFError) as exc:
            raise SessionFileError(f"{bad}: its manifest is damaged ({exc}).") from None
        if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
            raise SessionFileError(f"{bad}: unknown format in its manifest.")
        if manifest.get("version", 0) > VERSION:
            raise SessionFileError(
                f"{path!r} was saved by a newer skal (format version "
                f"{manifest['version']}; this skal reads {VERSION}). Upgrade skal."
            )
        listed = manifest.get("files", {})
        present = set(zf.namelist()) - {"manifest.json"}
        if present != set(listed):
            raise SessionFileError(
                f"{bad}: its members {sorted(present)} differ from the manifest's "
                f"{sorted(listed)}; the file was modified."
            )
        files = {}
        for name, meta in listed.items():
            try:
                data = zf.read(name)
            except (zipfile.BadZipFile, OSError, EOFError, ValueError) as exc:
                raise SessionFileError(f"{bad}: {name} is damaged ({exc}).") from None
            if len(data) != meta["size"] or _sha256(data) != meta["sha256"]:
                raise SessionFileError(
                    f"{bad}: the checksum of {name} does not match the manifest; "
                    "the file was modified or damaged."
                )
            files[name] = data
    return manifest, files


def load_learner(cls, path, estimator=None, *, X=None, params=None):
    """Rebuild an ActiveLearner saved by :func:`save_learner`."""
    manifest, files = _read_files(path)
    try:
        saved_params = json.loads(files["params.json"])
        state = json.loads(files["state.json"])
        with np.load(io.BytesIO(files["arrays.npz"]), allow_pickle=False) as npz:
            arrays = {k: npz[k] for k in npz.files}
    except (KeyError, ValueError, OSError) as exc:
        raise SessionFileError(f"Cannot decode the saved session: {exc}") from None
    reader = _Reader(arrays)
    params = dict(params or {})
    spec = saved_params.pop("estimator")
    kwargs = {}
    for k, v in saved_params.items():
        if k in params:
            kwargs[k] = params.pop(k)
        elif isinstance(v, dict) and "__unsaved__" in v:
            raise ValueError(
                f"The saved session's '{k}' parameter ({v['__unsaved__']}) could "
                "not be saved without pickle. Pass it: "
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
    learner = cls(template, **kwargs)

    fp = state["X_fingerprint"]
    if X is not None:
        if fingerprint(X) != fp:
            raise ValueError(
                "The 'X' passed to load is not the X the session was fitted on "
                f"(expected {fp['n_samples']} rows of shape {fp['sample_shape']}, "
                f"dtype {fp['dtype']}, SHA-256 {fp['sha256']})."
            )
    elif state["X_fit"] is not None:
        X = reader.value(state["X_fit"])
    else:
        raise ValueError(
            "This session was saved with include_X=False: pass fit's X again, "
            "ActiveLearner.load(path, estimator, X=X)."
        )

    learner._X_fit = X
    learner.sample_shape_ = (
        None if state["sample_shape_"] is None else tuple(state["sample_shape_"])
    )
    if "n_features_in_" in state:
        learner.n_features_in_ = state["n_features_in_"]
    if "feature_names_in_" in state:
        learner.feature_names_in_ = np.asarray(state["feature_names_in_"], dtype=object)
    for name in ("X_labeled_", "y_labeled_", "labeled_indices_", "pool_indices_"):
        setattr(learner, name, reader.value(state[name]))
    learner.labeled_indices_ = learner.labeled_indices_.astype(np.intp)
    learner.pool_indices_ = learner.pool_indices_.astype(np.intp)
    learner.history_ = reader.value(state["history_"])
    for rec in learner.history_:
        if "indices" in rec:
            rec["indices"] = np.asarray(rec["indices"], dtype=np.intp)
    learner._fit_params = reader.value(state["fit_params"])
    learner._rng = np.random.RandomState()
    learner._rng.set_state(reader.value(state["rng"]))
    learner._label_classes = reader.value(state["label_classes"])
    learner._sim = reader.value(state["sim"])
    learner._sim_pending = reader.value(state["sim_pending"])
    learner._sim_round_start = reader.value(state["sim_round_start"])
    learner._journal_session = state["journal_session"]
    learner._journal_seq = state["journal_seq"]
    learner.estimator_ = clone(template)
    learner.model_fitted_ = False
    learner.model_stale_ = bool(state["model_stale_"])
    if state["model_fitted_"]:
        if model is not None:
            learner.estimator_ = model
            learner.model_fitted_ = True
        else:
            warnings.warn(
                "The saved model cannot be loaded without running code from the "
                "file; it is refit from the saved labels.",
                UserWarning,
                stacklevel=3,
            )
            # a fixed seed: the restored generator must not advance here
            learner._refit_keep_labels(seed=0)
    return learner

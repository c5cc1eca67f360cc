"""The model of a session file: skorch nets as state dicts, scikit-learn via skops.

A skorch net's module (and optimizer) ``state_dict`` is written with
``torch.save`` and read with ``torch.load(weights_only=True)`` into a clone
of the estimator; a net rebuilt from the file's parameters is first sized on
torch's ``meta`` device. A scikit-learn estimator is a skops file, loaded
only when every type skops reports as untrusted is allowed (never a tree
or neighbours structure: their native code trusts the indices they hold).

Nothing that names a file, a directory or a callable is taken from a file
unless the caller passes it: such parameters (``Pipeline(memory=...)``, a
vectorizer's ``input="filename"``, a class given where a net does not take
one) are reset to their defaults and named in a warning. A template read from
the file is size-checked before anything is fit: its parameters pass
scikit-learn's own validation, integers are bounded, and an
``MLPClassifier``'s weights are counted.
"""

from __future__ import annotations

import inspect
import io
import warnings

import numpy as np
from sklearn.base import BaseEstimator, clone

from ..models import is_skorch_net
from ..utils._arrays import take_rows
from ..utils._seeding import seeded_torch
from . import _container
from ._codec import (
    SKOPS_ALLOWED_TYPES,
    _class_path,
    _holds_class,
    _resolve_class,
    _Unsaveable,
    is_path_like,
)
from ._container import _check_inner_zip, _member
from ._format import SessionFileError, _n_rows


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


def _as_file(data):
    return io.BytesIO(data) if isinstance(data, bytes | bytearray) else data


def _skops_load(data, member, spare=0):
    """Load a skops member when every type in it is on the allow-list.

    ``data``: bytes or a file object. Returns ``(object, [])``, or ``(None,
    types)`` naming the types that are not allowed; nothing is built then.
    skops itself is told to trust only the allowed types it reported, so it
    refuses anything else it meets.
    """
    import skops.io as sio

    f = _as_file(data)
    with _member(member):
        _check_inner_zip(f, spare)
    try:
        untrusted = sio.get_untrusted_types(file=f)
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
        f.seek(0)
        obj = sio.load(f, trusted=sorted(untrusted))
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


#: The parameters of a skorch net that take a class, and the base it must have.
def _net_class_params():
    import torch
    from skorch.dataset import Dataset

    return {
        "module": torch.nn.Module,
        "criterion": torch.nn.Module,
        "optimizer": torch.optim.Optimizer,
        "iterator_train": torch.utils.data.DataLoader,
        "iterator_valid": torch.utils.data.DataLoader,
        "dataset": Dataset,
    }


def _net_params(params, reader, reset):
    """The file's net parameters, without paths and misplaced classes."""
    bases = _net_class_params()
    out = {}
    for k, v in params.items():
        value = reader.value(v)
        head = k.split("__", 1)[0]
        if is_path_like(k, value):
            reset.append(f"net.{k}")
            continue
        if inspect.isclass(value):
            base = bases.get(k)
            if base is not None and not issubclass(value, base):
                raise TypeError(
                    f"the net's {k} is {value.__name__}, not a {base.__name__}"
                )
            if base is None and head not in ("module", "criterion", "optimizer"):
                reset.append(f"net.{k}")
                continue
        elif _holds_class(value):
            reset.append(f"net.{k}")
            continue
        out[k] = value
    return out


def _load_net(spec, files, reader, estimator, reset=None, spare=0):
    import torch
    from skorch import NeuralNet

    reset = [] if reset is None else reset
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
            estimator = cls(**_net_params(spec["params"], reader, reset))
    elif not is_skorch_net(estimator):
        raise TypeError(
            "The saved session holds a skorch net; the 'estimator' passed to "
            f"load must be one too. Got {type(estimator).__name__}."
        )

    def _read(name):
        f = _as_file(files[name])
        with _member(name):
            _check_inner_zip(f, spare)
        try:
            state = torch.load(f, weights_only=True, map_location="cpu")
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
        limit = _container.MAX_BYTES // 4
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


# ------------------------------------------------- scikit-learn templates
#: Integer parameters bounded beyond the general bound (``_MAX_INT``).
_INT_LIMITS = {"n_estimators": 10_000, "n_jobs": 1024, "degree": 64}
#: Integers that count iterations or seed generators: bounded by 2**32 only.
_TIME_PARAMS = frozenset(
    {
        "random_state",
        "seed",
        "verbose",
        "max_iter",
        "max_fun",
        "n_iter_no_change",
        "max_no_improvement",
        "max_trials",
        "n_init",
    }
)
_MAX_INT = 1 << 24


def _nested(est):
    """``est`` and every estimator among its parameters (steps, transformers)."""
    out, stack, seen = [], [est], set()
    while stack:
        obj = stack.pop()
        if id(obj) in seen:
            continue
        seen.add(id(obj))
        out.append(obj)
        for v in obj.get_params(deep=False).values():
            items = v if isinstance(v, list | tuple) else [v]
            for item in items:
                if isinstance(item, tuple):
                    stack.extend(x for x in item if isinstance(x, BaseEstimator))
                elif isinstance(item, BaseEstimator):
                    stack.append(item)
    return out


def _default(obj, name):
    try:
        p = inspect.signature(type(obj).__init__).parameters[name]
    except (KeyError, TypeError, ValueError):
        return None
    return None if p.default is inspect.Parameter.empty else p.default


def reset_unsafe_params(est):
    """Reset parameters that name a file or directory; returns their names."""
    reset = []
    for obj in _nested(est):
        for k, v in obj.get_params(deep=False).items():
            if is_path_like(k, v):
                reset.append(f"{type(obj).__name__}.{k}={v!r:.60}")
                obj.set_params(**{k: _default(obj, k)})
    return reset


def _ints(value):
    if isinstance(value, bool):
        return []
    if isinstance(value, int | np.integer):
        return [int(value)]
    if isinstance(value, list | tuple):
        return [i for x in value for i in _ints(x)]
    return []


def check_template(est, n_features=None):
    """A scikit-learn template from a file: valid and of bounded size.

    Every nested estimator's parameters pass scikit-learn's validation;
    every integer parameter is bounded (:data:`_MAX_INT`, tighter for
    :data:`_INT_LIMITS`, looser for iteration counts and seeds); an MLP's
    weights fit the cap. Raises ValueError naming the parameter.
    """
    for obj in _nested(est):
        name = type(obj).__name__
        validate = getattr(obj, "_validate_params", None)
        if callable(validate):
            validate()
        for k, v in obj.get_params(deep=False).items():
            limit = _INT_LIMITS.get(k, 1 << 32 if k in _TIME_PARAMS else _MAX_INT)
            big = [i for i in _ints(v) if abs(i) > limit]
            if big:
                raise ValueError(
                    f"{name}'s {k}={v!r:.80} is over the bound of {limit} that a "
                    "template read from a file may hold"
                )
        sizes = getattr(obj, "hidden_layer_sizes", None)
        if sizes is not None:
            layers = [n_features or 1, *_ints(sizes), 1]
            weights = sum(a * b for a, b in zip(layers, layers[1:]))
            limit = _container.MAX_BYTES // 32  # float64, grads, optimizer state
            if weights > limit:
                raise ValueError(
                    f"{name}'s hidden_layer_sizes={sizes!r:.80} makes {weights} "
                    f"weights, over the bound of {limit} for a template read "
                    "from a file"
                )


def _load_sklearn(spec, files, estimator, *, n_features=None, reset=None, spare=0):
    """The template and the fitted model (None: refit ``estimator``).

    A template or model is taken from the file only when every type in it
    is allowed; a template from the file is never refit here, its size is
    checked and what names a file or directory is reset (named in
    ``reset``). With ``estimator`` given, the saved model is used only if it
    was fitted from an equal estimator (same class and parameters);
    otherwise the caller's estimator is refit on the saved labels.
    """
    reset = [] if reset is None else reset
    saved = None
    if "estimator.skops" in files:
        saved, foreign = _skops_load(files["estimator.skops"], "estimator.skops", spare)
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
        with _member("estimator.skops"):
            reset += reset_unsafe_params(template)
            check_template(template, n_features)
    else:
        template = estimator
    model = None
    if "model.skops" in files:
        model, foreign_model = _skops_load(files["model.skops"], "model.skops", spare)
        if model is None and estimator is None:
            raise SessionFileError(
                "The saved model holds types outside scikit-learn's estimators and "
                f"skal's allow-list ({foreign_model}); they could run code (a "
                "tree or neighbours structure is never read from a file: its "
                "native code trusts the indices it holds). Pass the estimator: "
                "ActiveLearner.load(path, estimator=...); the model is then "
                "refit from the saved labels."
            )
        if model is not None and estimator is None:
            with _member("model.skops"):
                reset_unsafe_params(model)
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


def _check_model(model, learner):
    """A fitted classifier on the learner's features and labels.

    Its ``predict_proba`` is tried on a few labeled rows: a tampered model
    fails here, at load, not at the first query.
    """
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
    rows = learner._state.X_labeled
    if _n_rows(rows) == 0:
        return
    rows = take_rows(rows, np.arange(min(4, _n_rows(rows))))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        proba = np.asarray(model.predict_proba(rows))
    n_classes = None if classes is None else len(classes)
    if (
        proba.ndim != 2
        or proba.shape[0] != _n_rows(rows)
        or (n_classes is not None and proba.shape[1] != n_classes)
    ):
        raise ValueError(f"its predict_proba gives an array of shape {proba.shape}")
    if not np.isfinite(proba).all():
        raise ValueError("its predict_proba gives values that are not finite")

"""The model of a session file: skorch nets as state dicts, scikit-learn via skops.

A skorch net's module (and optimizer) ``state_dict`` is written with
``torch.save`` and read with ``torch.load(weights_only=True)`` into a clone
of the estimator; a net rebuilt from the file's parameters is first sized on
torch's ``meta`` device. A scikit-learn estimator is a skops file, loaded
only when every type skops reports as untrusted is allowed.
"""

from __future__ import annotations

import io
import warnings

import numpy as np
from sklearn.base import BaseEstimator, clone

from ..models import is_skorch_net
from ..utils._seeding import seeded_torch
from . import _container
from ._codec import SKOPS_ALLOWED_TYPES, _class_path, _resolve_class, _Unsaveable
from ._container import _check_inner_zip, _member
from ._format import SessionFileError


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

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
  inside ``X``), and cross-checked (:mod:`._checks`): ``fit_params`` must be
  keywords the estimator's ``fit`` takes, each labeled row of the pool must
  be the row of ``X`` it names, labeled rows real and finite (NaN only for
  an estimator that takes it); every array must be one the JSON refers to;
* the model: for a skorch net the module's (and optimizer's) ``state_dict``
  via ``torch.save``, read with ``torch.load(weights_only=True)`` into a clone
  of ``estimator`` (needed unless the net's classes are all on the
  allow-list and its parameters are plain values); for a scikit-learn model
  a skops file, loaded only when every type skops reports as untrusted is on
  :data:`SKOPS_ALLOWED_TYPES` (exact class names; never a tree or
  neighbours structure, whose native code trusts its indices). Otherwise
  ``estimator=`` is needed; a template read from the file is never refit on
  the file's rows, is size-checked, and keeps no parameter that names a file,
  a directory or a class (reset to its default, with a warning, as a class
  or a path among the learner's and strategies' parameters is).
  With ``estimator=`` given, the saved model is used only when it was fitted
  from an equal estimator (same class and parameters); else the given
  estimator is refit on the saved labels, with a warning.

Any malformation is a :class:`SessionFileError` naming the member.
"""

from __future__ import annotations

import io
import json
import time
import warnings

import numpy as np
from sklearn.base import clone

from .._state import LabelState, check_indices
from .._version import __version__
from ._checks import check_fit_params, check_labeled_rows
from ._codec import _Reader, _Unsaveable, _Writer, referenced_arrays
from ._container import (
    _load_arrays,
    _member,
    _read_files,
    _sha256,
    array_names,
    write_zip,
)
from ._format import FORMAT, VERSION, SessionFileError, _is_int, _is_shape, _n_rows
from ._journal import attach
from ._journal_format import fingerprint
from ._model_io import _check_model, _load_net, _load_sklearn, _save_estimator

__all__ = ["SessionFileError", "save_learner", "load_learner"]


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
        "model_fitted_": bool(labels.model_fitted),  # the session owns them
        "model_stale_": bool(labels.model_stale),
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
        state["history_"] = w.value(labels.history)
        state["X_fit"] = w.value(X_fit) if include_X else None
    except _Unsaveable as exc:
        raise TypeError(
            f"Cannot save this session without pickle: it holds {exc}. save "
            "stores numpy arrays (not of dtype object), torch tensors, scipy "
            "sparse matrices and DataFrames whose column names are str, int, "
            "float, bool or tuples of them (else rename them, e.g. "
            "X.columns = X.columns.astype(str), before fit)."
        ) from None
    try:
        state["stop_observations_"] = w.value(labels.stop_observations)
    except _Unsaveable as exc:
        warnings.warn(
            f"The stopping criterion's observations hold {exc}; they are not "
            "saved (the loaded learner starts a new window of observations).",
            UserWarning,
            stacklevel=3,
        )

    files["params.json"] = json.dumps(params, indent=1).encode()
    files["state.json"] = json.dumps(state, separators=(",", ":")).encode()
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
    write_zip(path, manifest, files)


# Parameters that reach the file system or a remote service: never taken
# from a file, only from the caller (params=).
_CALLER_ONLY = ("journal", "executor")


def load_learner(cls, path, estimator=None, *, X=None, params=None):
    """Rebuild an ActiveLearner saved by :func:`save_learner`."""
    manifest, files, spare = _read_files(path)
    try:
        return _load(cls, files, spare, estimator, X, params)
    finally:
        for f in files.values():
            if not isinstance(f, bytes):
                f.close()


def _load(cls, files, spare, estimator, X, params):
    for name in ("params.json", "state.json", "arrays.npz"):
        if name not in files:
            raise SessionFileError(f"The saved session lacks its {name}.")
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
    _check_members(files, spec, state)
    with _member("arrays.npz"):
        present = set(array_names(files["arrays.npz"]))
    referenced = set()
    for member, doc in (("params.json", [saved_params, spec]), ("state.json", state)):
        keys = referenced_arrays(doc)
        missing = sorted(keys - present)
        if missing:
            raise SessionFileError(
                f"The saved session's {member} names the array {missing[0]!r:.80}, "
                "which arrays.npz lacks."
            )
        referenced |= keys
    unused = sorted(present - referenced)
    if unused:
        raise SessionFileError(
            f"The saved session's arrays.npz holds arrays that neither params.json "
            f"nor state.json refers to ({unused[:5]}); the file was modified."
        )
    with _member("arrays.npz"):
        arrays = _load_arrays(files["arrays.npz"], referenced)
    reader = _Reader(arrays, "params.json")
    params = dict(params or {})
    kwargs, reset = {}, []
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
                        stacklevel=4,
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
                value = reader.value(v)
                if reader.unsafe(k, value):
                    reset.append(k)
                else:
                    kwargs[k] = value
    if params:
        raise ValueError(
            f"params= names {sorted(params)}, which are not parameters of the "
            f"saved ActiveLearner ({sorted(saved_params)})."
        )
    reset += reader.reset

    if spec["kind"] == "skorch":
        template, model = _load_net(spec, files, reader, estimator, reset, spare)
    else:
        n_features = state.get("n_features_in_")
        template, model = _load_sklearn(
            spec,
            files,
            estimator,
            n_features=n_features if _is_int(n_features) else None,
            reset=reset,
            spare=spare,
        )
    if reset:
        warnings.warn(
            f"The saved session names a file, a directory or a class in {reset}; "
            "a file does not choose those (they reach the file system, or are "
            "called). They are back to their defaults: pass them to keep them, "
            "ActiveLearner.load(path, estimator=..., params={...}).",
            UserWarning,
            stacklevel=4,
        )
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
        check_fit_params(learner._state.fit_params, template)
        check_labeled_rows(
            learner._state, X, template, positions=state.get("label_provenance_")
        )

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
                stacklevel=4,
            )
            # a fixed seed: the restored generator must not advance here
            learner._refit_keep_labels(seed=0)
    if learner.journal is not None:
        attach(learner._state, learner.journal)
    return learner


def _check_members(files, spec, state):
    """Every member is one the session uses: none that nothing refers to."""
    if spec["kind"] == "skorch":
        model, used = "module.pt", {"module.pt", "optimizer.pt"}
    else:
        model, used = "model.skops", {"estimator.skops", "model.skops"}
    used |= {"params.json", "state.json", "arrays.npz"}
    unused = sorted(set(files) - used)
    if "optimizer.pt" in files and "module.pt" not in files:
        unused.append("optimizer.pt")
    if model in files and state.get("model_fitted_") is False:
        unused.append(model)
    if unused:
        raise SessionFileError(
            f"The saved session holds members nothing in it refers to "
            f"({sorted(unused)}, for a {spec['kind']} estimator); the file was "
            "modified."
        )


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

"""Model adapters: the only way strategies read a model.

A strategy never touches a net's internals; it asks an adapter for class
probabilities, logits, embeddings, MC-dropout samples or the factors of the
last-layer gradient embedding. :func:`get_adapter` picks the adapter for a
fitted skorch net or a scikit-learn classifier (or a ``Pipeline`` ending in
one).

Every method takes the pool ``X`` and optional ``candidates`` (row indices)
and returns one row per candidate. With ``as_tensor=True`` the result is a
float32 torch tensor on the adapter's :attr:`device` (the net's device), so
the selection kernels run there without a copy of the pool to the host;
otherwise numpy arrays (probabilities in float64, embeddings in float32).
"""

from __future__ import annotations

from contextlib import contextmanager

import numpy as np
from sklearn.exceptions import NotFittedError
from sklearn.pipeline import Pipeline
from sklearn.utils import check_random_state
from sklearn.utils.validation import _num_samples, check_is_fitted

from .._kernels._blocks import _Blocks, _is_out_of_core, _RowSubset
from ..utils._arrays import take_rows
from ..utils._deprecation import DEPRECATED, renamed_param
from ..utils._seeding import draw_seed, seeded_torch
from ..utils._sparse import is_sparse, sparse_embedding
from ..utils._validation import check_int
from ._delegate import ExecutorAdapter

__all__ = ["get_adapter", "SklearnAdapter", "SkorchAdapter", "is_skorch_net"]



def is_skorch_net(estimator) -> bool:
    """True when ``estimator`` is a skorch ``NeuralNet`` (skorch imported lazily).

    Examples
    --------
    >>> from sklearn.linear_model import LogisticRegression
    >>> from skal.models import is_skorch_net
    >>> is_skorch_net(LogisticRegression())
    False
    """
    try:
        from skorch import NeuralNet
    except ImportError:  # pragma: no cover - skorch is a dependency
        return False
    return isinstance(estimator, NeuralNet)


def _unwrap(obj):
    """The fitted estimator behind an ActiveLearner, or ``obj`` itself."""
    if getattr(obj, "_is_skal_learner", False):
        check_is_fitted(obj)
        if not getattr(obj, "model_fitted_", False):
            raise NotFittedError(
                "The learner's model is not fitted yet (no labeled rows, or a single "
                "class); use a "
                "strategy that needs no model (e.g. RandomSampling) as "
                "'initial_strategy' until the first labels are taught."
            )
        return obj.estimator_
    return obj


def get_adapter(obj, *, strategy=None):
    """Return the adapter for a learner or a fitted estimator.

    Parameters
    ----------
    obj : ActiveLearner or estimator
        A fitted :class:`~skal.ActiveLearner`, skorch net or scikit-learn
        classifier.
    strategy : object, default=None
        The strategy asking, only used to word error messages.

    Returns
    -------
    adapter : SkorchAdapter or SklearnAdapter

    Examples
    --------
    >>> from sklearn.linear_model import LogisticRegression
    >>> from skal.models import get_adapter
    >>> clf = LogisticRegression().fit([[0.0], [1.0]], [0, 1])
    >>> get_adapter(clf).predict_proba([[0.0], [1.0]]).shape
    (2, 2)
    """
    estimator = _unwrap(obj)
    asker = type(strategy).__name__ if strategy is not None else "This strategy"
    if is_skorch_net(estimator):
        adapter = SkorchAdapter(estimator, asker=asker)
    else:
        adapter = SklearnAdapter(estimator, asker=asker)
    # A learner whose executor scores in chunks (remote, or joblib-parallel)
    # gets its pool scoring delegated to it (skal.backends).
    executor = getattr(obj, "_executor_", None)
    if executor is not None and executor.chunked_scoring():
        return ExecutorAdapter(adapter, executor, estimator)
    return adapter


def _rows(X, candidates):
    return X if candidates is None else take_rows(X, candidates)


def _sk_rows(X, candidates):
    """Rows for a scikit-learn model; those of a pool larger than memory (an
    ``np.memmap``, an h5py / zarr dataset) stay on disk as a lazy view that
    is read in row blocks (see :mod:`skal._kernels`)."""
    if isinstance(X, _RowSubset):
        if candidates is None:
            return X
        base = np.arange(X.shape[0]) if X.rows is None else X.rows
        return _RowSubset(X.X, base[np.asarray(candidates, np.intp)])
    if not _is_out_of_core(X):
        return _rows(X, candidates)
    if candidates is not None:
        candidates = np.asarray(candidates, np.intp).reshape(-1)
        n = candidates.shape[0]
        if n == X.shape[0] and np.array_equal(candidates, np.arange(n)):
            candidates = None
    return _RowSubset(X, candidates)


def _is_lazy(Xc):
    return isinstance(Xc, _RowSubset)


def _raw_blocks(Xc):
    """The row blocks of a lazy view, as read (dtype and sample shape kept)."""
    for _, _, blk in _Blocks(Xc).raw():
        # writable (a copy of a read-only memmap's block): torch refuses to
        # wrap read-only arrays without a warning
        yield np.require(blk, requirements="W")


def _by_blocks(func, Xc):
    """``func`` applied to the row blocks of a lazy view, stacked."""
    out = None
    for s, e, blk in _Blocks(Xc).raw():
        r = np.asarray(func(blk))
        if out is None:
            out = np.empty((Xc.shape[0], *r.shape[1:]), dtype=r.dtype)
        out[s:e] = r
    return func(np.asarray(Xc)) if out is None else out


def _seed_from(random_state):
    return draw_seed(check_random_state(random_state))


def _check_n_draws(n_draws, n_samples, adapter):
    """``n_draws`` of ``mc_proba``, or its former name ``n_samples`` (warns)."""
    owner = f"{type(adapter).__name__}.mc_proba"
    n_draws = renamed_param(owner, "n_samples", "n_draws", n_samples, n_draws, 20)
    return check_int(n_draws, "n_draws", owner)


# --------------------------------------------------------------------------
# scikit-learn
# --------------------------------------------------------------------------
class SklearnAdapter:
    """Adapter for scikit-learn classifiers and pipelines ending in one.

    Probabilities come from ``predict_proba``; embeddings are the output of a
    pipeline's transformers (or of the steps up to ``layer``), else ``X``
    flattened to 2-D. Everything runs on the CPU.

    Parameters
    ----------
    estimator : classifier
        A fitted classifier or ``Pipeline``.
    asker : str, default="This strategy"
        Name used in error messages.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.linear_model import LogisticRegression
    >>> from sklearn.pipeline import make_pipeline
    >>> from sklearn.preprocessing import StandardScaler
    >>> from skal.models import get_adapter
    >>> X, y = np.array([[0.0], [1.0], [2.0], [3.0]]), np.array([0, 0, 1, 1])
    >>> model = make_pipeline(StandardScaler(), LogisticRegression()).fit(X, y)
    >>> adapter = get_adapter(model)
    >>> type(adapter).__name__, adapter.predict_proba(X, [0, 3]).shape
    ('SklearnAdapter', (2, 2))
    >>> adapter.embed(X).shape  # the output of the scaler
    (4, 1)
    """

    device = "cpu"

    def __init__(self, estimator, *, asker="This strategy"):
        self.estimator = estimator
        self.asker = asker

    def _proba(self, Xc):
        if not hasattr(self.estimator, "predict_proba"):
            raise TypeError(
                f"{self.asker} needs class probabilities, but the estimator "
                f"{type(self.estimator).__name__} has no 'predict_proba' method. "
                "Use a probabilistic classifier (e.g. LogisticRegression, or "
                "SVC(probability=True)) or a strategy that needs no model."
            )
        if _is_lazy(Xc):  # scored in row blocks, never loaded whole
            return _by_blocks(self._proba, Xc)
        return np.asarray(self.estimator.predict_proba(Xc), dtype=np.float64)

    def predict_proba(self, X, candidates=None, *, as_tensor=False):
        """Class probabilities of the candidate rows.

        Returns
        -------
        proba : ndarray of shape (n, n_classes), float64, or float32 tensor
        """
        return _out(self._proba(_sk_rows(X, candidates)), as_tensor)

    def logits(self, X, candidates=None, *, as_tensor=False):
        """Log-probabilities, clipped at ``log(1e-12)``.

        A scikit-learn classifier exposes no logits; log-probabilities are
        logits up to a per-row constant, which is all a softmax (and a logit
        margin) sees. An energy score computed from them is constant.
        """
        proba = self._proba(_sk_rows(X, candidates))
        return _out(np.log(np.clip(proba, 1e-12, None)), as_tensor)

    def embed(self, X, candidates=None, *, layer=None, as_tensor=False, lazy=False):
        """Embeddings: the output of a pipeline's transformers, else ``X``.

        Parameters
        ----------
        layer : str, default=None
            Name of a pipeline step: the embedding is the output of the steps
            up to and including it. None uses every step but the last.
        lazy : bool, default=False
            When the embedding is ``X`` itself and ``X`` is a pool larger
            than memory (``np.memmap``, h5py / zarr dataset), return a lazy
            view of the rows that the streaming kernels read in blocks,
            instead of loading them. Transformers run block by block.

        Returns
        -------
        emb : ndarray of shape (n, n_features), float32, or float32 tensor
        """
        Xc = _sk_rows(X, candidates)
        est = self.estimator
        steps = None
        if layer is not None:
            names = [n for n, _ in est.steps] if isinstance(est, Pipeline) else []
            if layer not in names[:-1]:
                raise ValueError(
                    f"The 'layer' parameter of {self.asker} must name a "
                    "transformer step of the estimator's pipeline; got "
                    f"{layer!r}. Known names: {names[:-1]}."
                )
            steps = est[: names.index(layer) + 1]
        elif isinstance(est, Pipeline) and len(est.steps) > 1:
            steps = est[:-1]
        if steps is not None:
            tr = steps.transform
            Xc = _by_blocks(tr, Xc) if _is_lazy(Xc) else tr(Xc)
        elif _is_lazy(Xc):
            if lazy:
                return Xc
            Xc = np.asarray(Xc)
        if is_sparse(Xc):  # never densified: the model's own LSA projection
            Xc = sparse_embedding(Xc, owner=est, key=layer)
        Xc = np.asarray(Xc, dtype=np.float32)
        return _out(Xc.reshape(Xc.shape[0], -1), as_tensor)

    def mc_proba(
        self,
        X,
        candidates=None,
        *,
        n_draws=20,
        random_state=None,
        as_tensor=False,
        consistent=False,
        n_samples=DEPRECATED,
    ):
        """``n_draws`` copies of ``predict_proba`` (no dropout to sample).

        A scikit-learn model is deterministic, so every sample is the same and
        every disagreement-based score (BALD, variation ratios) is zero.

        Returns
        -------
        proba : array of shape (n, n_draws, n_classes)
            A read-only broadcast view (no copy).
        """
        n_samples = _check_n_draws(n_draws, n_samples, self)
        proba = self._proba(_sk_rows(X, candidates))
        if as_tensor:
            import torch

            t = torch.as_tensor(proba, dtype=torch.float32)
            return t.unsqueeze(1).expand(-1, n_samples, -1)
        return np.broadcast_to(
            proba[:, None, :], (proba.shape[0], n_samples, proba.shape[1])
        )

    def grad_embedding_factors(
        self, X, candidates=None, *, layer=None, as_tensor=False, lazy=False
    ):
        """``(proba, emb)``: the factors of the gradient embeddings.

        For a linear softmax model on ``emb`` the gradient of the
        cross-entropy at the predicted label with respect to the weights is
        ``(proba - onehot(argmax proba)) (x) emb``. ``lazy``: see
        :meth:`embed`.
        """
        Xc = _sk_rows(X, candidates)
        proba = self._proba(Xc)
        emb = self.embed(Xc, layer=layer, lazy=lazy)
        return _out(proba, as_tensor), _out(emb, as_tensor)


def _out(a, as_tensor):
    if not as_tensor or _is_lazy(a):
        return a
    import torch

    return torch.as_tensor(np.ascontiguousarray(a), dtype=torch.float32)


# --------------------------------------------------------------------------
# skorch
# --------------------------------------------------------------------------
@contextmanager
def _module_mode(module, *, dropout=False):
    """Eval mode (dropout modules in train mode when asked), restored on exit."""
    from torch.nn.modules.dropout import _DropoutNd

    states = [(m, m.training) for m in module.modules()]
    try:
        module.eval()
        if dropout:
            for m in module.modules():
                if isinstance(m, _DropoutNd):
                    m.training = True
        yield
    finally:
        for m, training in states:
            m.training = training


class SkorchAdapter:
    """Adapter for fitted skorch nets: computed in batches on the net's device.

    Forward passes run under ``torch.no_grad`` in the net's own batches
    (``iterator_valid``), with the module in eval mode (and only its dropout
    modules in train mode for :meth:`mc_proba`); every module's train/eval
    state is restored afterwards, even on error. Embeddings are captured by a
    forward hook removed after the pass, so the user's module is unchanged.

    Parameters
    ----------
    net : skorch.NeuralNet
        A fitted net.
    asker : str, default="This strategy"
        Name used in error messages.

    Examples
    --------
    >>> import numpy as np
    >>> from skorch import NeuralNetClassifier
    >>> from torch import nn
    >>> from skal.models import get_adapter
    >>> X = np.random.RandomState(0).rand(20, 4).astype(np.float32)
    >>> module = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Dropout(0.5),
    ...                        nn.Linear(8, 2))
    >>> net = NeuralNetClassifier(module, criterion=nn.CrossEntropyLoss,
    ...                           max_epochs=1, train_split=None, verbose=0)
    >>> adapter = get_adapter(net.fit(X, np.arange(20) % 2))
    >>> adapter.embed(X).shape  # the input of the last nn.Linear
    (20, 8)
    >>> adapter.mc_proba(X, [0, 1], n_draws=5, random_state=0).shape
    (2, 5, 2)
    """

    def __init__(self, net, *, asker="This strategy"):
        self.net = net
        self.asker = asker

    @property
    def device(self):
        """The net's device (where tensors returned with ``as_tensor`` live)."""
        import torch

        return torch.device(self.net.device)

    # ------------------------------------------------------------ internals
    def _outputs(self, X, candidates, *, hook_layer=None, dropout=False, n_passes=1):
        """Yield ``(outputs, hooked)`` per batch, on the net's device.

        ``outputs`` is a list of ``n_passes`` module outputs (first element
        when the module returns a tuple) and ``hooked`` the flattened input
        of ``hook_layer`` of the first pass (or None).
        """
        import torch
        from skorch.dataset import unpack_data

        net = self.net
        module = net.module_
        Xc = _sk_rows(X, candidates)
        # a pool larger than memory goes through the net block by block
        parts = _raw_blocks(Xc) if _is_lazy(Xc) else [Xc]
        captured = []
        handle = None
        if hook_layer is not None:
            target = _find_layer(
                module, hook_layer if hook_layer is not True else None, asker=self.asker
            )

            def hook(_mod, inputs, _out):
                captured.append(inputs[0].detach().flatten(1))

            handle = target.register_forward_hook(hook)
        try:
            to_dataset = net.get_dataset  # skorch wraps X in its Dataset (no I/O)
            with _module_mode(module, dropout=dropout), torch.no_grad():
                for part in parts:
                    dataset = to_dataset(part)
                    for batch in net.get_iterator(dataset, training=False):
                        Xi, _ = unpack_data(batch)
                        outs = []
                        for _ in range(n_passes):
                            y = net.infer(Xi)
                            outs.append(y[0] if isinstance(y, tuple | list) else y)
                        hooked = captured[0] if captured else None
                        captured.clear()
                        yield outs, hooked
        finally:
            if handle is not None:
                handle.remove()

    def _nonlin(self):
        return self.net._get_predict_nonlinearity()

    # -------------------------------------------------------------- public
    def predict_proba(self, X, candidates=None, *, as_tensor=False):
        """Class probabilities of the candidate rows (the net's nonlinearity).

        Returns
        -------
        proba : ndarray of shape (n, n_classes), float64, or float32 tensor
        """
        nonlin = self._nonlin()
        out = _Gather(X, candidates, as_tensor)
        for o, _ in self._outputs(X, candidates):
            out.add(nonlin(o[0]))
        return out.result(np.float64)

    def logits(self, X, candidates=None, *, as_tensor=False):
        """The module's raw output (logits for a cross-entropy classifier).

        Returns
        -------
        logits : ndarray of shape (n, n_outputs), float32, or float32 tensor
        """
        out = _Gather(X, candidates, as_tensor)
        for o, _ in self._outputs(X, candidates):
            out.add(o[0])
        return out.result(np.float32)

    def embed(self, X, candidates=None, *, layer=None, as_tensor=False):
        """Embeddings: the input of the last ``nn.Linear`` (or of ``layer``).

        Captured with a forward hook (removed afterwards), so the user's
        module is not changed.

        Parameters
        ----------
        layer : str, default=None
            Name of a submodule (as in ``module.named_modules()``) whose
            flattened input is the embedding. None uses the last ``nn.Linear``.

        Returns
        -------
        emb : ndarray of shape (n, n_features), float32, or float32 tensor
        """
        out = _Gather(X, candidates, as_tensor)
        for _, h in self._outputs(X, candidates, hook_layer=layer or True):
            out.add(h)
        return out.result(np.float32)

    def grad_embedding_factors(
        self, X, candidates=None, *, layer=None, as_tensor=False
    ):
        """``(proba, emb)`` from one forward pass: factors of BADGE's gradients.

        The gradient of the cross-entropy at the predicted label with respect
        to the last linear layer's weights is ``(proba - onehot(argmax
        proba)) (x) emb``; returning the two factors lets BADGE work without
        ever building the ``n x (n_classes * n_features)`` matrix. Exact when
        ``layer`` is the output layer (the default last ``nn.Linear``).

        Returns
        -------
        proba : ndarray (n, n_classes), float64, or float32 tensor
        emb : ndarray (n, n_features), float32, or float32 tensor
        """
        nonlin = self._nonlin()
        probas = _Gather(X, candidates, as_tensor)
        embs = _Gather(X, candidates, as_tensor)
        for o, h in self._outputs(X, candidates, hook_layer=layer or True):
            probas.add(nonlin(o[0]))
            embs.add(h)
        return probas.result(np.float64), embs.result(np.float32)

    def mc_proba(
        self,
        X,
        candidates=None,
        *,
        n_draws=20,
        random_state=None,
        as_tensor=False,
        consistent=False,
        n_samples=DEPRECATED,
    ):
        """MC-dropout probability samples (Gal & Ghahramani, ICML 2016).

        Only the dropout modules are put in train mode (batch norm and the
        rest stay in eval mode); every module's state is restored afterwards,
        even on error, and the parameters are untouched. The draws are seeded
        from ``random_state`` inside :func:`torch.random.fork_rng`, so the
        global torch generators are left alone.

        Parameters
        ----------
        n_draws : int, default=20
            Stochastic forward passes per row (``n_samples``, its former
            name, warns until 0.3: scikit-learn's ``n_samples`` counts rows).
        random_state : int, RandomState instance or None
            Seeds the dropout masks.
        consistent : bool, default=False
            One dropout mask per sample shared by every row (and batch): sample
            ``k`` of every row is then the prediction of the same thinned
            network ``w_k``, as a joint over rows needs (BatchBALD's
            "consistent MC dropout", Kirsch et al., 2019). ``nn.Dropout``
            draws a mask per element and row: fine for one row's scores
            (BALD), but rows' samples are then independent, and a joint
            over rows sees no shared parameters. Applies to ``nn.Dropout``
            and ``nn.Dropout1d/2d/3d``; other dropout modules keep theirs.

        Returns
        -------
        proba : array of shape (n, n_draws, n_classes)
            float64 ndarray, or float32 tensor on the net's device.
        """
        import torch

        n_samples = _check_n_draws(n_draws, n_samples, self)
        nonlin = self._nonlin()
        out = _Gather(X, candidates, as_tensor)
        seed = _seed_from(random_state)
        handles = (
            _consistent_dropout(self.net.module_, n_samples, seed) if consistent else []
        )
        try:
            with seeded_torch(seed, self.device):
                for outs, _ in self._outputs(
                    X, candidates, dropout=True, n_passes=n_samples
                ):
                    out.add(torch.stack([nonlin(o) for o in outs], dim=1))
        finally:
            for h in handles:
                h.remove()
        return out.result(np.float64)


def _consistent_dropout(module, n_passes, seed):
    """Forward hooks making every dropout module apply, in pass ``k`` (its
    ``k``-th call modulo ``n_passes``), one mask shared by all rows and
    batches; returns the hook handles (remove them afterwards)."""
    import torch
    from torch import nn

    gen = torch.Generator().manual_seed(int(seed))
    handles = []
    for m in module.modules():
        if type(m) not in (nn.Dropout, nn.Dropout1d, nn.Dropout2d, nn.Dropout3d):
            continue
        masks, calls = {}, [0]

        def hook(mod, inputs, _out, masks=masks, calls=calls):
            x = inputs[0]
            k = calls[0] % n_passes
            calls[0] += 1
            if mod.p == 0:
                return x
            if k not in masks:
                if isinstance(mod, nn.Dropout):
                    shape = x.shape[1:]
                else:  # channel dropout: one draw per channel
                    shape = (x.shape[1],) + (1,) * (x.ndim - 2)
                keep = torch.rand(shape, generator=gen) >= mod.p
                masks[k] = keep.to(x.dtype) / (1.0 - mod.p)
            return x * masks[k].to(x.device)

        handles.append(m.register_forward_hook(hook))
    return handles


class _Gather:
    """Batch results written into one preallocated float32 tensor.

    On the net's device when ``as_tensor`` (no host copy), else on the host
    batch by batch; no list of chunks plus a concatenated copy, so the peak
    memory is the result itself.
    """

    def __init__(self, X, candidates, as_tensor):
        self.as_tensor = as_tensor
        try:
            self.n = len(candidates) if candidates is not None else _num_samples(X)
        except TypeError:  # e.g. dict inputs: size unknown, concatenate
            self.n = None
        self.out, self.chunks, self.pos = None, [], 0

    def add(self, t):
        t = t.detach().float()
        if not self.as_tensor:
            t = t.cpu()
        if self.n is None:
            self.chunks.append(t)
            return
        if self.out is None:
            import torch

            self.out = torch.empty((self.n, *t.shape[1:]), device=t.device)
        self.out[self.pos : self.pos + t.shape[0]] = t
        self.pos += t.shape[0]

    def result(self, np_dtype):
        import torch

        if self.out is not None:
            t = self.out[: self.pos]
        elif self.chunks:
            t = torch.cat(self.chunks)
        else:
            t = torch.empty((0, 0))
        if self.as_tensor:
            return t
        return t.numpy().astype(np_dtype, copy=False)


def _find_layer(module, name=None, *, asker="This strategy"):
    import torch

    if name is not None:
        modules = dict(module.named_modules())
        if name not in modules:
            raise ValueError(
                f"The 'layer' parameter of {asker} must name a submodule of "
                f"{type(module).__name__}; got {name!r}. "
                f"Known names: {sorted(k for k in modules if k)}."
            )
        return modules[name]
    linears = [m for m in module.modules() if isinstance(m, torch.nn.Linear)]
    if not linears:
        raise ValueError(
            f"Cannot find an nn.Linear layer in {type(module).__name__} to take "
            "embeddings from; pass 'layer' with the name of the layer whose "
            "input is the embedding."
        )
    return linears[-1]

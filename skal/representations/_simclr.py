"""SimCLR pretraining of a :mod:`skal.nets` body on the unlabeled pool."""

from __future__ import annotations

import copy
import math
from numbers import Real

import numpy as np
import torch
import torch.nn.functional as F
from sklearn.base import (
    BaseEstimator,
    ClassNamePrefixFeaturesOutMixin,
    TransformerMixin,
    _fit_context,
)
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import HasMethods, Interval
from sklearn.utils.validation import check_is_fitted, validate_data
from skorch.callbacks import Callback
from skorch.utils import multi_indexing
from torch import nn

from ..augment import ImageAugment, SignalAugment, TabularAugment
from ..nets import MLP, CNN1d, CNN2d
from ..utils._seeding import draw_seed, seeded_torch
from ..utils._validation import Count, Described

__all__ = ["PretrainedBody", "SimCLREncoder"]

# rank of X -> (body, strong augmentation) when module / augment are None
_DEFAULTS = {
    2: (MLP, TabularAugment),
    3: (CNN1d, SignalAugment),
    4: (CNN2d, ImageAugment),
}
_TRANSFORM_BATCH = 1024


def _positive_real():
    return Described(
        Interval(Real, 0, None, closed="neither"), "a float > 0", refuse_bool=True
    )


def _last_linear(module):
    """Name of the last ``nn.Linear`` of ``module`` (its input: the features)."""
    names = [n for n, m in module.named_modules() if isinstance(m, nn.Linear)]
    if not names:
        raise ValueError(
            f"SimCLREncoder needs a module with an nn.Linear output layer (its "
            f"input is the feature); {type(module).__name__} has none."
        )
    return names[-1]


def nt_xent(z1, z2, temperature):
    """SimCLR's NT-Xent loss of two batches of projections (row i ↔ row i)."""
    z = F.normalize(torch.cat([z1, z2]), dim=1)
    n = z1.shape[0]
    sim = z @ z.T / temperature
    sim.fill_diagonal_(float("-inf"))
    target = torch.cat([torch.arange(n, 2 * n), torch.arange(0, n)]).to(z.device)
    return F.cross_entropy(sim, target)


class SimCLREncoder(ClassNamePrefixFeaturesOutMixin, TransformerMixin, BaseEstimator):
    """Self-supervised features of unlabeled rows (SimCLR), as a transformer.

    ``fit(X)`` trains a body (by default the reference module of
    :mod:`skal.nets` for the rank of ``X``: :class:`~skal.nets.MLP` for
    tables, :class:`~skal.nets.CNN1d` for signals ``(N, C, L)``,
    :class:`~skal.nets.CNN2d` for images ``(N, C, H, W)``) and a two-layer
    projection head so that two strongly augmented views of a row are closer
    to each other than to the other rows of the batch: the NT-Xent loss of
    Chen, Kornblith, Norouzi & Hinton, "A Simple Framework for Contrastive
    Learning of Visual Representations", ICML 2020. ``y`` is ignored.
    ``transform(X)`` returns the body's features — the input of the
    module's last ``nn.Linear``, the layer skal's strategies call the
    embedding — as float32.

    SimCLR rather than BYOL: one network, one loss, no momentum encoder or
    predictor whose schedule must be tuned; with batches of a few hundred
    rows it trains stably in a few hundred CPU steps on the small nets of
    :mod:`skal.nets`.

    Uses: the ``embedding`` of TypiClust / ProbCover (or, until a model is
    fitted, their ``X``), as those papers use SimCLR features; the warm start
    of a :class:`~skal.nets.StepNetClassifier` or
    :class:`~skal.semi_supervised.FixMatchClassifier` through
    :meth:`init_net` (the MoBYv2AL / DALBT idea).

    Parameters
    ----------
    module : torch.nn.Module class or instance, default=None
        The body: a module whose last ``nn.Linear`` is the output layer (its
        input is the feature). None picks :class:`~skal.nets.MLP`,
        :class:`~skal.nets.CNN1d` or :class:`~skal.nets.CNN2d` from the rank
        of ``X`` (2, 3 or 4). An instance is copied, never trained in place.
    module_params : dict, default=None
        Keyword arguments of ``module`` when it is a class (e.g.
        ``{"channels": 32, "hidden": 128}``; keep them equal to the
        classifier's to warm-start it).
    augment : callable, default=None
        Called as ``augment(batch, generator=g)`` on a torch batch, twice per
        step (the two views). None: the strong preset of
        :class:`~skal.augment.TabularAugment`, :class:`~skal.augment.SignalAugment`
        or :class:`~skal.augment.ImageAugment` for the rank of ``X``.
    projection_dim : int, default=64
        Output width of the projection head (discarded after training).
    n_steps : int, default=1000
        Gradient steps (AdamW, cosine-annealed learning rate).
    batch_size : int, default=256
        Rows per step (each gives two views), at most the number of rows.
    temperature : float, default=0.1
        NT-Xent temperature. 0.1 is SimCLR's best value (its Table 5) and
        skal's measurement: a 10-NN probe of the features of a 4000-row
        MNIST-1D pool reads 0.703 at 0.1, 0.659 at 0.2 and 0.520 at 0.5
        (3000 steps); on digits 0.967 at 0.1 and 0.976 at 0.5, with a
        linear probe of 0.985 and 0.978 (600 steps;
        ``benchmarks/bench_ssl_probe.py``).
    lr : float, default=1e-3
    weight_decay : float, default=1e-4
    device : str, default="cpu"
        Torch device of training and ``transform``.
    random_state : int, RandomState instance or None, default=None
        Seeds the initial weights, the batches and the augmentations (torch's
        global generator is left untouched).

    Attributes
    ----------
    module_ : torch.nn.Module
        The trained body (in eval mode).
    projector_ : torch.nn.Module
        The trained projection head.
    layer_ : str
        Name of the body's last ``nn.Linear``, whose input is the feature.
    loss_curve_ : list of float
        NT-Xent loss of each step.
    n_features_in_ : int
        ``X.shape[1]`` at fit (the channels of a signal or an image).
    input_shape_ : tuple of int
        Shape of one row at fit; ``transform`` requires the same.

    Examples
    --------
    >>> import numpy as np
    >>> from skal.representations import SimCLREncoder
    >>> X = np.random.RandomState(0).normal(size=(64, 6)).astype(np.float32)
    >>> enc = SimCLREncoder(n_steps=5, batch_size=32, random_state=0).fit(X)
    >>> enc.transform(X).shape, enc.transform(X).dtype
    ((64, 128), dtype('float32'))
    """

    _parameter_constraints = {
        "module": [
            None,
            Described(
                HasMethods(["forward", "parameters"]),
                "a torch.nn.Module class or instance",
            ),
        ],
        "module_params": [dict, None],
        "augment": [None, callable],
        "projection_dim": [Count(1)],
        "n_steps": [Count(1)],
        "batch_size": [Count(2)],
        "temperature": [_positive_real()],
        "lr": [_positive_real()],
        "weight_decay": [
            Described(Interval(Real, 0, None, closed="left"), refuse_bool=True)
        ],
        "device": [str],
        "random_state": ["random_state"],
    }

    def __init__(
        self,
        module=None,
        *,
        module_params=None,
        augment=None,
        projection_dim=64,
        n_steps=1000,
        batch_size=256,
        temperature=0.1,
        lr=1e-3,
        weight_decay=1e-4,
        device="cpu",
        random_state=None,
    ):
        self.module = module
        self.module_params = module_params
        self.augment = augment
        self.projection_dim = projection_dim
        self.n_steps = n_steps
        self.batch_size = batch_size
        self.temperature = temperature
        self.lr = lr
        self.weight_decay = weight_decay
        self.device = device
        self.random_state = random_state

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.transformer_tags.preserves_dtype = ["float32"]  # torch features
        tags.input_tags.three_d_array = True  # signals (N, C, L), images
        tags.non_deterministic = self.random_state is None
        return tags

    # ------------------------------------------------------------------ fit
    def _build(self, ndim):
        module, augment = self.module, self.augment
        if module is None or augment is None:
            if ndim not in _DEFAULTS:
                raise ValueError(
                    f"SimCLREncoder has no default module / augmentation for X "
                    f"of rank {ndim} (2: tables, 3: signals (N, C, L), 4: images "
                    "(N, C, H, W)); pass 'module' and 'augment'."
                )
            default_module, default_augment = _DEFAULTS[ndim]
            module = default_module if module is None else module
            augment = default_augment("strong") if augment is None else augment
        if isinstance(module, nn.Module):
            if self.module_params:
                raise ValueError(
                    "The 'module_params' parameter of SimCLREncoder applies to a "
                    "module class; got a module instance and "
                    f"module_params={self.module_params!r}."
                )
            module = copy.deepcopy(module)
        else:
            module = module(**(self.module_params or {}))
        return module, augment

    def _features(self, module, Xb):
        """Input of the module's last ``nn.Linear`` for a torch batch."""
        out = []
        layer = dict(module.named_modules())[self.layer_]
        handle = layer.register_forward_hook(lambda _m, inp, _o: out.append(inp[0]))
        try:
            module(Xb)
        finally:
            handle.remove()
        return out[0].reshape(Xb.shape[0], -1)

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y=None):
        """Pretrain on the rows of ``X`` (labels, if any, are ignored).

        Parameters
        ----------
        X : array-like of shape (n_samples, ...)
            Unlabeled rows: a table, signals ``(N, C, L)`` or images
            ``(N, C, H, W)``.
        y : ignored

        Returns
        -------
        self
        """
        X = validate_data(
            self, X, allow_nd=True, dtype=np.float32, ensure_min_samples=2
        )
        self.input_shape_ = tuple(X.shape[1:])
        rng = check_random_state(self.random_state)
        seed = draw_seed(rng)
        device = torch.device(self.device)
        g = torch.Generator(device="cpu").manual_seed(draw_seed(rng))
        n = X.shape[0]
        batch = min(self.batch_size, n)
        with seeded_torch(seed, device):
            module, augment = self._build(X.ndim)
            module = module.to(device)
            self.layer_ = _last_linear(module)
            module.eval()
            with torch.no_grad():  # materialise lazy layers, read the width
                width = self._features(module, torch.as_tensor(X[:2], device=device))
            width = width.shape[1]
            projector = nn.Sequential(
                nn.Linear(width, width),
                nn.ReLU(),
                nn.Linear(width, self.projection_dim),
            ).to(device)
            params = [*module.parameters(), *projector.parameters()]
            optimizer = torch.optim.AdamW(
                params, lr=self.lr, weight_decay=self.weight_decay
            )
            schedule = torch.optim.lr_scheduler.CosineAnnealingLR(
                optimizer, T_max=self.n_steps
            )
            module.train()
            projector.train()
            losses = []
            order, pos = torch.randperm(n, generator=g), 0
            for _ in range(self.n_steps):
                if pos + batch > n:  # a new epoch: a fresh permutation
                    order, pos = torch.randperm(n, generator=g), 0
                idx = order[pos : pos + batch].numpy()
                pos += batch
                Xb = torch.as_tensor(X[np.sort(idx)], device=device)
                views = torch.cat([augment(Xb, generator=g), augment(Xb, generator=g)])
                z = projector(self._features(module, views))
                loss = nt_xent(z[:batch], z[batch:], self.temperature)
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                optimizer.step()
                schedule.step()
                value = float(loss.detach())
                if not math.isfinite(value):
                    raise FloatingPointError(
                        f"SimCLREncoder's loss became {value} at step "
                        f"{len(losses)}; lower 'lr' or raise 'temperature'."
                    )
                losses.append(value)
        self.module_ = module.eval()
        self.projector_ = projector.eval()
        self.loss_curve_ = losses
        self._n_features_out = width
        return self

    # ------------------------------------------------------------ transform
    def transform(self, X):
        """Features of ``X``: the input of the body's last ``nn.Linear``.

        Parameters
        ----------
        X : array-like of shape (n_samples, ...)
            Rows shaped as at ``fit``.

        Returns
        -------
        features : ndarray of shape (n_samples, n_features_out), float32
        """
        check_is_fitted(self, "module_")
        X = validate_data(self, X, allow_nd=True, dtype=np.float32, reset=False)
        if tuple(X.shape[1:]) != self.input_shape_:
            raise ValueError(
                f"X has rows of shape {tuple(X.shape[1:])}, but SimCLREncoder "
                f"was fitted on rows of shape {self.input_shape_}."
            )
        device = next(self.module_.parameters()).device
        out = np.empty((X.shape[0], self._n_features_out), dtype=np.float32)
        self.module_.eval()
        with torch.no_grad():
            for s in range(0, X.shape[0], _TRANSFORM_BATCH):
                Xb = torch.as_tensor(X[s : s + _TRANSFORM_BATCH], device=device)
                out[s : s + Xb.shape[0]] = self._features(self.module_, Xb).cpu()
        return out

    # ----------------------------------------------------------- warm start
    def body_state_dict(self):
        """The trained body's weights, without its last ``nn.Linear``.

        Returns
        -------
        state : dict of str to torch.Tensor
            CPU copies, keyed as in the module's ``state_dict``.
        """
        check_is_fitted(self, "module_")
        prefix = self.layer_ + "."
        return {
            k: v.detach().cpu().clone()
            for k, v in self.module_.state_dict().items()
            if not k.startswith(prefix)
        }

    def init_net(self, net):
        """Make every fresh ``fit`` of ``net`` start from the pretrained body.

        Adds a :class:`PretrainedBody` callback named ``"pretrained_body"``
        to ``net``'s callbacks (``net.set_params``; nothing is fitted), so
        the net survives :func:`~sklearn.base.clone` (as
        :class:`~skal.ActiveLearner` clones it) with the warm start. The
        net's module must have the body's architecture (the same class and
        ``module__*`` parameters as ``module`` / ``module_params``); its
        output layer keeps its fresh initialisation.

        Parameters
        ----------
        net : skorch.NeuralNet
            E.g. :func:`skal.nets.make_net` or a
            :class:`~skal.semi_supervised.FixMatchClassifier`.

        Returns
        -------
        net
        """
        callbacks = [
            cb
            for cb in (net.callbacks or [])
            if not (isinstance(cb, tuple) and cb[0] == "pretrained_body")
        ]
        callbacks.append(("pretrained_body", PretrainedBody(self.body_state_dict())))
        return net.set_params(callbacks=callbacks)


class PretrainedBody(Callback):
    """Load pretrained body weights into a skorch net when a fit starts.

    At the first ``on_train_begin`` after the net is (re)initialised — every
    ``fit`` of a net without ``warm_start`` — the tensors of ``state_dict``
    replace the matching ones of ``net.module_``; the other parameters (the
    output layer) keep their fresh initialisation. A continued fit
    (``warm_start=True``, ``partial_fit``) is left alone.

    Parameters
    ----------
    state_dict : dict of str to torch.Tensor
        E.g. :meth:`SimCLREncoder.body_state_dict`. Every key must exist in
        the net's module with the same shape.

    Examples
    --------
    >>> import numpy as np
    >>> from skal.nets import MLP, make_net
    >>> from skal.representations import PretrainedBody
    >>> body = MLP(n_classes=2, hidden=8)
    >>> _ = body(torch.zeros(1, 3))  # materialise the lazy input layer
    >>> state = {k: v for k, v in body.state_dict().items() if "head" not in k}
    >>> net = make_net("tabular", 2, module__hidden=8, lr=0.0, min_steps=2,
    ...                steps_per_label=0, callbacks=[("body", PretrainedBody(state))])
    >>> X = np.zeros((4, 3), dtype=np.float32)
    >>> _ = net.fit(X, np.array([0, 1, 0, 1]))
    >>> bool(torch.equal(net.module_.body[1].weight, state["body.1.weight"]))
    True
    """

    def __init__(self, state_dict):
        self.state_dict = state_dict

    def initialize(self):
        self.pending_ = True
        return self

    def on_train_begin(self, net, X=None, **kwargs):
        if not getattr(self, "pending_", True):
            return
        module = net.module_
        if X is not None and any(
            isinstance(p, nn.parameter.UninitializedParameter)
            for p in module.parameters()
        ):  # lazy layers (skal.nets.MLP): one forward pass gives their shapes
            mode = module.training
            module.eval()
            with torch.no_grad():
                net.infer(multi_indexing(X, slice(0, 1)))
            module.train(mode)
        target = module.state_dict()
        bad = [
            k
            for k, v in self.state_dict.items()
            if k not in target or tuple(target[k].shape) != tuple(v.shape)
        ]
        if bad:
            raise ValueError(
                f"PretrainedBody: the net's module "
                f"{type(net.module_).__name__} does not match the pretrained "
                f"body at {bad[:5]}; build the net's module with the encoder's "
                "module class and parameters."
            )
        net.module_.load_state_dict(self.state_dict, strict=False)
        self.pending_ = False

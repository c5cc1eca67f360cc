"""Seeded, batch-wise torch augmentations with a weak and a strong setting.

Each augmentation is a small scikit-learn estimator (so it clones, compares
and sits in a parameter grid) that is called on a torch batch and returns a
new batch of the same shape, dtype and device::

    aug = SignalAugment("strong")
    X_aug = aug(X_batch, generator=g)     # a torch.Tensor of shape (N, ..., L)

- :class:`SignalAugment`: 1-D signals ``(N, L)`` or ``(N, C, L)`` — random
  circular shift, amplitude scaling, Gaussian noise, time warp and (strong)
  cut-out of a segment.
- :class:`ImageAugment`: images ``(N, C, H, W)`` through
  ``kornia.augmentation`` (affine jitter, flips on request, noise and, when
  strong, random erasing).
- :class:`TabularAugment`: SCARF-style feature corruption (Bahri et al.
  2022): each feature of a row is, with probability ``corruption``, replaced
  by the same feature of another random row of the batch.

Randomness comes from ``generator`` when given (what the semi-supervised nets
pass), else from a private generator seeded by ``random_state`` (a fixed
``random_state`` makes the *sequence* of calls reproducible), else from
torch's global generator.
"""

from __future__ import annotations

from numbers import Integral, Real

import torch
import torch.nn.functional as F
from sklearn.base import BaseEstimator
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import (
    Interval,
    StrOptions,
    validate_parameter_constraints,
)

__all__ = ["ImageAugment", "SignalAugment", "TabularAugment"]


class _Augment(BaseEstimator):
    """Shared parts: validation, presets, the generator."""

    _presets: dict = {}

    def _setting(self, name):
        value = getattr(self, name)
        return self._presets[self.strength][name] if value is None else value

    def _check(self):
        validate_parameter_constraints(
            self._parameter_constraints,
            self.get_params(deep=False),
            type(self).__name__,
        )

    def _generator(self, generator, device):
        if generator is not None:
            return generator
        if self.random_state is None:
            return None
        g = self.__dict__.get("_torch_generator")
        if g is None:
            seed = check_random_state(self.random_state).randint(2**31 - 1)
            g = torch.Generator(device="cpu").manual_seed(int(seed))
            self.__dict__["_torch_generator"] = g
        return g

    def __getstate__(self):
        state = dict(self.__dict__)
        state.pop("_torch_generator", None)
        return state

    def __call__(self, X, *, generator=None):
        """Augment a torch batch; returns a new tensor of the same shape.

        Parameters
        ----------
        X : torch.Tensor
        generator : torch.Generator, optional
            Source of randomness (a CPU generator); see the module docstring.
        """
        self._check()
        if not isinstance(X, torch.Tensor):
            raise TypeError(
                f"{type(self).__name__} takes a torch.Tensor batch; got "
                f"{type(X).__name__} instead."
            )
        if X.shape[0] == 0:
            return X.clone()
        return self._augment(X, self._generator(generator, X.device))


def _uniform(shape, g, device, low=-1.0, high=1.0):
    return (torch.rand(shape, generator=g) * (high - low) + low).to(device)


class SignalAugment(_Augment):
    """Augment 1-D signals: shift, scale, noise, time warp, cut-out.

    Parameters
    ----------
    strength : {"weak", "strong"}, default="weak"
        The preset for every setting left at None. weak: shift ±3 samples,
        scale ±10 %, noise 0.05, no warp, no cut-out; strong: shift ±8,
        scale ±30 %, noise 0.2, warp ±20 %, a cut-out of 20 % of the length.
    shift : int, optional
        Largest circular shift, in samples.
    scale : float, optional
        Amplitude factor drawn in ``[1 - scale, 1 + scale]``.
    noise : float, optional
        Standard deviation of added Gaussian noise, relative to the batch's.
    time_warp : float, optional
        Stretch factor drawn in ``[1 - time_warp, 1 + time_warp]`` about the
        signal's centre (linear interpolation).
    cutout : float, optional
        Fraction of the length set to zero, in one random segment per row.
    random_state : int, optional

    Examples
    --------
    >>> import torch
    >>> X = torch.randn(4, 1, 40)
    >>> SignalAugment("strong", random_state=0)(X).shape
    torch.Size([4, 1, 40])
    >>> bool((SignalAugment("weak", random_state=0)(X) != X).any())
    True
    """

    _presets = {
        "weak": dict(shift=3, scale=0.1, noise=0.05, time_warp=0.0, cutout=0.0),
        "strong": dict(shift=8, scale=0.3, noise=0.2, time_warp=0.2, cutout=0.2),
    }
    _parameter_constraints = {
        "strength": [StrOptions({"weak", "strong"})],
        "shift": [Interval(Integral, 0, None, closed="left"), None],
        "scale": [Interval(Real, 0, 1, closed="left"), None],
        "noise": [Interval(Real, 0, None, closed="left"), None],
        "time_warp": [Interval(Real, 0, 1, closed="left"), None],
        "cutout": [Interval(Real, 0, 1, closed="left"), None],
        "random_state": ["random_state"],
    }

    def __init__(
        self,
        strength="weak",
        *,
        shift=None,
        scale=None,
        noise=None,
        time_warp=None,
        cutout=None,
        random_state=None,
    ):
        self.strength = strength
        self.shift = shift
        self.scale = scale
        self.noise = noise
        self.time_warp = time_warp
        self.cutout = cutout
        self.random_state = random_state

    def _augment(self, X, g):
        dtype = X.dtype
        X = X.float()
        squeeze = X.dim() == 2
        if squeeze:
            X = X.unsqueeze(1)
        n, _, length = X.shape
        dev = X.device
        warp = self._setting("time_warp")
        if warp > 0:
            factor = 1 + _uniform((n, 1), g, dev) * warp
            pos = torch.linspace(-1, 1, length, device=dev).unsqueeze(0) / factor
            grid = torch.stack([pos, torch.zeros_like(pos)], dim=-1).unsqueeze(1)
            X = F.grid_sample(
                X.unsqueeze(2), grid, align_corners=True, padding_mode="zeros"
            ).squeeze(2)
        shift = self._setting("shift")
        if shift > 0:
            s = torch.randint(-shift, shift + 1, (n, 1), generator=g).to(dev)
            idx = (torch.arange(length, device=dev).unsqueeze(0) - s) % length
            X = torch.gather(X, 2, idx.unsqueeze(1).expand_as(X))
        scale = self._setting("scale")
        if scale > 0:
            X = X * (1 + _uniform((n, 1, 1), g, dev) * scale)
        noise = self._setting("noise")
        if noise > 0:
            std = X.std().clamp_min(1e-8)
            X = X + torch.randn(X.shape, generator=g).to(dev) * noise * std
        cut = self._setting("cutout")
        if cut > 0:
            width = max(1, round(cut * length))
            start = torch.randint(0, length - width + 1, (n, 1), generator=g).to(dev)
            t = torch.arange(length, device=dev).unsqueeze(0)
            keep = ~((t >= start) & (t < start + width))
            X = X * keep.unsqueeze(1)
        if squeeze:
            X = X.squeeze(1)
        return X.to(dtype)


class ImageAugment(_Augment):
    """Augment images ``(N, C, H, W)`` with ``kornia.augmentation``.

    Parameters
    ----------
    strength : {"weak", "strong"}, default="weak"
        weak: translation up to 12.5 % of the size; strong: rotation ±15°,
        translation 12.5 %, scale ±15 %, shear ±10°, Gaussian noise 0.05 and
        random erasing (FixMatch's cut-out), each with probability 1 except
        erasing (0.5).
    hflip : bool, default=False
        Also flip horizontally with probability 0.5 (off by default: digits
        and text are not mirror-symmetric).
    random_state : int, optional

    Examples
    --------
    >>> import torch
    >>> X = torch.rand(3, 1, 8, 8)
    >>> ImageAugment("strong", random_state=0)(X).shape
    torch.Size([3, 1, 8, 8])
    """

    _parameter_constraints = {
        "strength": [StrOptions({"weak", "strong"})],
        "hflip": ["boolean"],
        "random_state": ["random_state"],
    }

    def __init__(self, strength="weak", *, hflip=False, random_state=None):
        self.strength = strength
        self.hflip = hflip
        self.random_state = random_state

    def _pipeline(self):
        import kornia.augmentation as K

        ops = []
        if self.hflip:
            ops.append(K.RandomHorizontalFlip(p=0.5))
        if self.strength == "weak":
            ops.append(K.RandomAffine(degrees=0, translate=(0.125, 0.125), p=1.0))
        else:
            ops += [
                K.RandomAffine(
                    degrees=15,
                    translate=(0.125, 0.125),
                    scale=(0.85, 1.15),
                    shear=10,
                    p=1.0,
                ),
                K.RandomGaussianNoise(std=0.05, p=1.0),
                K.RandomErasing(scale=(0.05, 0.2), p=0.5),
            ]
        return K.AugmentationSequential(*ops)

    def _augment(self, X, g):
        dtype = X.dtype
        squeeze = X.dim() == 3
        X = X.float().unsqueeze(1) if squeeze else X.float()
        seed = int(torch.randint(0, 2**31 - 1, (1,), generator=g))
        devices = [X.device] if X.device.type == "cuda" else []
        with torch.random.fork_rng(devices=devices):
            torch.manual_seed(seed)
            out = self._pipeline()(X)
        if squeeze:
            out = out.squeeze(1)
        return out.to(dtype)


class TabularAugment(_Augment):
    """SCARF feature corruption for tabular rows ``(N, D)``.

    Each entry is, with probability ``corruption``, replaced by the same
    feature of a random row of the batch (a draw from the feature's empirical
    marginal), so the corrupted row stays on each feature's support.

    Parameters
    ----------
    strength : {"weak", "strong"}, default="weak"
        weak: ``corruption=0.1``; strong: ``corruption=0.6`` (SCARF's rate).
    corruption : float, optional
        Overrides the preset.
    random_state : int, optional

    Examples
    --------
    >>> import torch
    >>> X = torch.arange(20.0).reshape(5, 4)
    >>> out = TabularAugment(corruption=0.5, random_state=0)(X)
    >>> out.shape, bool(torch.isin(out[:, 0], X[:, 0]).all())
    (torch.Size([5, 4]), True)
    """

    _presets = {"weak": dict(corruption=0.1), "strong": dict(corruption=0.6)}
    _parameter_constraints = {
        "strength": [StrOptions({"weak", "strong"})],
        "corruption": [Interval(Real, 0, 1, closed="both"), None],
        "random_state": ["random_state"],
    }

    def __init__(self, strength="weak", *, corruption=None, random_state=None):
        self.strength = strength
        self.corruption = corruption
        self.random_state = random_state

    def _augment(self, X, g):
        flat = X.reshape(X.shape[0], -1)
        n, d = flat.shape
        rate = self._setting("corruption")
        mask = (torch.rand((n, d), generator=g) < rate).to(X.device)
        donors = torch.randint(0, n, (n, d), generator=g).to(X.device)
        other = torch.gather(flat, 0, donors)
        return torch.where(mask, other, flat).reshape(X.shape)

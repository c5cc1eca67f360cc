"""Seeding: the one place that draws integer seeds and seeds torch (private).

Layer: utilities (imports nothing from skal).
"""

from __future__ import annotations

from contextlib import contextmanager

import numpy as np

#: The largest seed drawn from a ``RandomState`` (numpy's int32 range).
SEED_MAX = int(np.iinfo(np.int32).max)


def draw_seed(random_state) -> int:
    """An int seed in ``[0, SEED_MAX)`` drawn from a ``RandomState``."""
    return int(random_state.randint(SEED_MAX))


@contextmanager
def seeded_torch(seed, device=None, *, active=True):
    """Seed torch inside :func:`torch.random.fork_rng`: no global generator
    outside the block is touched.

    ``device=None`` forks every initialised CUDA device (and the CPU);
    a device forks only that one. ``active=False`` does nothing.
    """
    if not active:
        yield
        return
    import torch

    if device is None:
        devices = []
        if torch.cuda.is_available() and torch.cuda.is_initialized():
            devices = list(range(torch.cuda.device_count()))
        with torch.random.fork_rng(devices=devices):
            torch.manual_seed(seed)
            yield
        return
    device = torch.device(device)
    cuda = device.type == "cuda"
    index = None
    if cuda:
        index = (
            device.index if device.index is not None else torch.cuda.current_device()
        )
    with torch.random.fork_rng(devices=[index] if cuda else []):
        torch.default_generator.manual_seed(seed)
        if cuda:
            with torch.cuda.device(index):
                torch.cuda.manual_seed(seed)
        yield

"""Fast selection kernels in torch.

Pure functions, independent of the rest of skal, that implement the
geometric core of the diversity-based query strategies: k-center greedy
(CoreSet), k-means++ seeding (KMeansSampling), BADGE seeding on implicit
gradient embeddings, nearest neighbours / typicality (TypiClust) and radius
graphs (ProbCover).

Conventions shared by every function
------------------------------------
* Inputs may be torch tensors or numpy arrays (converted with
  :func:`torch.as_tensor`, without a copy when they already are contiguous
  float32). Work happens on the input's device, in float32.
* Pools larger than memory: the one-pass kernels (:func:`k_center_greedy`,
  :func:`kmeans_pp`, and the embeddings of :func:`badge_kmeans_pp`) also
  take an ``np.memmap`` or any 2-D array-like with ``shape``, ``dtype`` and
  row slicing (h5py / zarr datasets). Such a pool is read in row blocks of
  ``_STREAM_BYTES`` and never loaded whole: extra memory stays
  ``O(N + block)``. The pages of a shared or read-only memmap are released
  after each block, so the process's resident size stays small too. Blocks
  of any float dtype are converted to float32, so accumulation is float32
  and the selection is that of the float32 pool. A float16 file halves the
  bytes on disk, but torch's float16 -> float32 conversion on the CPU is slow
  (measured ~10x the float32 time per pick at 1M x 128): it saves space, not
  time. Other kernels load such a pool.
* Work is chunked over the pool: extra memory is ``O(N + chunk * B)`` where
  ``B`` is the width of a distance block (number of reference rows, centers or
  pool rows); an ``N x B`` or ``N x N`` matrix is never materialised.
* Greedy selections make exactly one pass over the pool per selected sample.
  All per-step state (argmax indices, picks, uniform draws) stays on the
  device: there is no host synchronisation inside the selection loop, the
  picks are transferred once at the end.
* Randomness comes only from ``random_state``, the name scikit-learn and the
  strategies use: an int seed, a :class:`torch.Generator` (used as is) or a
  numpy ``RandomState`` (:func:`batchbald_select` draws with numpy; the torch
  kernels take one seed from it). With ``random_state=None`` a generator is
  seeded from torch's default generator, so ``torch.manual_seed`` makes
  results reproducible.
  An int (or None) seeds a CPU generator whatever the device, and the draws
  are moved to the device, so CPU and GPU runs draw the same numbers.
* Selection functions return a CPU ``int64`` tensor of distinct row indices,
  of length ``min(n, N)``; nearest-neighbour helpers return tensors on the
  input's device.

Layout
------
Primitives, which hold no selection logic: :mod:`._blocks` (chunk sizes,
out-of-core pools read in row blocks, input conversion, generators) and
:mod:`._linalg` (the per-pick mat-vec, distances to a set and vector updates,
tuned for the device and its threads). Algorithms, each on top of them:
:mod:`._kcenter` (k-center greedy), :mod:`._kmeanspp` (k-means++ and BADGE
seeding), :mod:`._neighbors` (nearest neighbours, radius graphs,
typicality), :mod:`._clustering` (k-means, TypiClust), :mod:`._submodular`
(facility-location coverage) and :mod:`._batchbald` (BatchBALD).
The tuning constants (``_STREAM_BYTES``, ``_VEC_CHUNK``, ...) live in the
primitive module that reads them.
"""

from ._batchbald import batchbald_select
from ._blocks import (
    DEFAULT_BUDGET_BYTES,
    assert_finite_in_blocks,
    default_chunk_size,
)
from ._clustering import kmeans, nearest_to_centers, typiclust
from ._kcenter import k_center_greedy
from ._kmeanspp import badge_kmeans_pp, badge_sq_distances, kmeans_pp
from ._neighbors import knn, radius_graph, typicality

__all__ = [
    "DEFAULT_BUDGET_BYTES",
    "assert_finite_in_blocks",
    "badge_kmeans_pp",
    "badge_sq_distances",
    "batchbald_select",
    "default_chunk_size",
    "k_center_greedy",
    "kmeans",
    "kmeans_pp",
    "knn",
    "nearest_to_centers",
    "radius_graph",
    "typicality",
    "typiclust",
]

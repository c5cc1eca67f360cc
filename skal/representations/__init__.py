"""Self-supervised representations of the pool (no labels).

- :class:`SimCLREncoder`: a scikit-learn transformer pretrained on unlabeled
  rows with SimCLR's contrastive loss (Chen et al. 2020) over two strong
  views from :mod:`skal.augment`; ``transform`` returns the penultimate
  features of a :mod:`skal.nets` body. Use the features as a strategy's
  embedding (TypiClust and ProbCover at cold start) or the body as the
  classifier's warm start (:meth:`SimCLREncoder.init_net`).
- :class:`PretrainedBody`: the skorch callback that loads a pretrained body
  into a net at the start of every fresh ``fit``.
- :class:`SentenceEncoder`: raw text to sentence-transformers embeddings,
  offline when the model ships in a package, cached by content across clones
  (extra ``skal-learn[text]``).

Layer: beside :mod:`skal.augment` and :mod:`skal.nets` (imports those and
the utilities, never the strategies or the learner).
"""

from ._sentence import SentenceEncoder
from ._simclr import PretrainedBody, SimCLREncoder

__all__ = ["PretrainedBody", "SentenceEncoder", "SimCLREncoder"]

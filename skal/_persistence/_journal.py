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

import json
import os
import warnings
from contextlib import contextmanager

from ._container import fsync_dir
from ._format import _is_int
from ._journal_format import (
    JournalError,
    _check_record,
    _dumps,
    _incomplete_tail,
    _parse,
    correction_records,
    label_records,
    session_record,
)

# imported from here by the learner, the session mixin and the simulation
from ._journal_replay import plan_replay, read_journal, simulation_script  # noqa: F401

__all__ = ["JournalError", "read_journal"]

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
    if last["kind"] == "session" or batch is None or last["seq"] >= batch[1]:
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
        fsync_dir(os.path.dirname(os.path.abspath(path)))
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


def write_labels(
    state,
    path,
    y,
    *,
    indices=None,
    X=None,
    source="teach",
    round_=None,
    prov=None,
):
    """Journal a batch of labels, whole or not at all, before it is recorded.

    The state's sequence number advances only once the batch is on disk
    (fsynced); a failed batch is cut from the file, so the next batch reuses
    no sequence number that a record on disk holds.
    """

    def make(session, first):
        return label_records(
            session,
            first,
            y,
            indices=indices,
            X=X,
            source=source,
            round_=round_,
            prov=prov,
        )

    _write(state, path, make, "labels")


def write_correction(state, path, kind, indices, y=None):
    """Journal a ``relabel`` (labels ``y``) or an ``unlabel`` of rows of
    ``fit``'s ``X``, whole or not at all, before the state changes."""

    def make(session, first):
        return correction_records(session, first, kind, indices, y)

    _write(state, path, make, f"a {kind}")


def _write(state, path, make, what):
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
    records = make(session, seq + 1)
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
            f"Writing {what} to the journal {os.fspath(path)!r} failed ({exc}) "
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


def same_file(a, b):
    try:
        return os.path.samefile(a, b)
    except OSError:
        return os.path.abspath(os.fspath(a)) == os.path.abspath(os.fspath(b))

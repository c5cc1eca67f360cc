"""Reading and replaying a label journal.

:func:`read_journal` checks every line (a truncated last line is a write a
crash interrupted: skipped with a warning); :func:`plan_replay` decodes the
labels a learner lacks, checking that each session's records run 1, 2, 3,
...; :func:`simulation_script` gives the rounds of a recorded simulation.
"""

from __future__ import annotations

import os
import sys
import warnings

import numpy as np

from .._inputs import match_dtype
from ._format import _n_rows
from ._journal_format import (
    CORRECTION_KINDS,
    CORRECTIONS_VERSION,
    JournalError,
    _check_record,
    _parse,
    array_sha256,
    fingerprint,
    label_to_json,
    row_from_json,
)

__all__ = ["plan_replay", "read_journal", "simulation_script"]


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
        if r["kind"] != "session":  # labels and corrections come in batches
            last[r["session"]] = j
    drop = set()
    for s, j in last.items():
        r = out[j][1]
        batch = r.get("batch")
        if batch is not None and r["seq"] < batch[1]:
            drop.update(
                k
                for k, (_, q) in enumerate(out)
                if q["kind"] != "session"
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
    """Every session's label lines run 1, 2, 3, ... (a deleted line is a gap);
    corrections only in sessions of format version 2 or more."""
    last, versions = {}, {}
    for line, rec in lines:
        s = rec["session"]
        if rec["kind"] == "session":
            if s in last:
                raise JournalError(
                    f"Line {line} of the journal {path!r} repeats the session "
                    f"line of session {s}."
                )
            last[s] = 0
            versions[s] = rec["version"]
            continue
        if rec["kind"] in CORRECTION_KINDS and versions.get(s, 0) < CORRECTIONS_VERSION:
            raise JournalError(
                f"Line {line} of the journal {path!r} holds a {rec['kind']} "
                f"record in session {s}, whose session line is missing or of "
                f"format version {versions.get(s)}: corrections exist from "
                f"version {CORRECTIONS_VERSION} on. The journal was edited or "
                "cut at the front."
            )
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

    Returns ``(batches, applied)``: batches ``(kind, y, indices, X, prov)``
    to apply in order — ``"label"`` (``indices`` into ``state.X`` for pool
    rows, else the rows ``X``; ``prov`` their provenance), ``"relabel"``
    (new labels ``y`` of labeled rows ``indices``) or ``"unlabel"`` (rows
    returned to the pool) — and the new ``journal_replayed`` (per session,
    the last record applied: replaying again adds nothing). Records naming
    pool rows labeled already (or corrections of rows not labeled) are
    skipped with a warning. Nothing is applied here; everything is decoded
    and checked before the learner applies any of it.
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
    labeled = np.zeros(n, dtype=bool)
    labeled[state.labeled_indices] = True
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
            kind = "pool" if rec["kind"] == "label" else rec["kind"]
            if kind == "pool":
                if not in_pool[i]:
                    n_skipped += 1
                    continue
                in_pool[i], labeled[i] = False, True
            elif not labeled[i]:  # a correction of a row not labeled here
                n_skipped += 1
                continue
            elif kind == "unlabel":
                in_pool[i], labeled[i] = True, False
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
            if kind in CORRECTION_KINDS:
                idx = np.asarray([r["index"] for r in recs], dtype=np.intp)
                y = match_labels(_labels_array(recs)) if kind == "relabel" else None
                batches.append((kind, y, idx, None, None))
                continue
            y = match_labels(_labels_array(recs))
            if kind == "pool":
                idx = np.asarray([r["index"] for r in recs], dtype=np.intp)
                batches.append(("label", y, idx, None, _provenance(recs, idx)))
            else:
                rows = []
                for line, r in items:
                    try:
                        rows.append(row_from_json(r["row"]))
                    except JournalError as exc:
                        raise ValueError(f"line {line}: {exc}") from None
                X = _rows_like(rows, recs, state.X_labeled)
                X = match_dtype(X, state.X_labeled)
                batches.append(("label", y, None, X, _provenance(recs, None)))
        except (ValueError, TypeError, OverflowError) as exc:
            raise JournalError(
                f"The labels of the journal {spath!r} from line {first} on "
                f"cannot be applied to this learner ({str(exc)[:300]})."
            ) from None
    if n_skipped:
        warnings.warn(
            f"{n_skipped} journaled records name rows this learner has "
            "labeled already (or corrections of rows it has not labeled); "
            "they were skipped.",
            UserWarning,
            stacklevel=3,
        )
    return batches, applied


def _provenance(recs, idx):
    """The provenance the label records carry (round, strategy, score)."""
    out = []
    for i, r in enumerate(recs):
        out.append(
            {
                "row": None if idx is None else int(idx[i]),
                "round": int(r.get("round", 0)),
                "strategy": r.get("strategy"),
                "score": None if r.get("score") is None else float(r["score"]),
            }
        )
    return out


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

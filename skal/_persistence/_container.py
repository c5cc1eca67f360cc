"""The zip container of a session file: known members, bounded reads.

Reading (:func:`_read_files`): the path must name a regular file (a FIFO, a
device or a directory is refused before anything is read, without blocking);
members are known names only; each member's size is checked against the zip
directory *before* it is read; the total is capped (:data:`MAX_BYTES`, or
:data:`MAX_RATIO` times the file's size); the JSON members have their own
caps (:data:`MAX_JSON_BYTES`), checked before reading, and a bound on what
parsing them allocates, checked before parsing. Binary members are read in
chunks into temporary files (spooled to disk above 1 MiB), hashed on the way,
so a member's bytes and what is decoded from them are never both in memory:
loading a file peaks at about 1.5 times the cap.

Writing (:func:`write_zip`): a temporary file created exclusively in the
target's directory (``tempfile.mkstemp``: ``O_EXCL``, never through a
symlink), fsynced, renamed over the target, and the directory fsynced;
temporary files that an earlier save killed mid-write left behind are
removed.
"""

from __future__ import annotations

import hashlib
import json
import os
import stat
import sys
import tempfile
import zipfile
from contextlib import contextmanager

from ._format import FORMAT, VERSION, SessionFileError, _is_int

MEMBERS = frozenset(
    {
        "params.json",
        "state.json",
        "arrays.npz",
        "estimator.skops",
        "model.skops",
        "module.pt",
        "optimizer.pt",
    }
)
MAX_BYTES = 1 << 30  # total uncompressed size always allowed (1 GiB)
MAX_RATIO = 100  # above MAX_BYTES: at most this times the file's size
#: Caps on the JSON members, checked before they are read.
MAX_JSON_BYTES = {
    "manifest.json": 1 << 20,
    "params.json": 16 << 20,
    "state.json": 64 << 20,
}
#: What parsing JSON may allocate per value (a comma, colon or bracket) and
#: per byte: an upper bound on CPython's objects (an empty dict is 64 bytes,
#: a list entry 8 more). All JSON of a file must fit half the cap.
_JSON_COST_PER_VALUE = 96
_JSON_COST_PER_BYTE = 4
_CHUNK = 1 << 20
_SPOOL = 1 << 20  # binary members above this go to a temporary file
_TMP_TAG = ".skal-tmp."


def _sha256(data):
    return hashlib.sha256(data).hexdigest()


def json_cost(data):
    """An upper bound on the bytes ``json.loads(data)`` allocates."""
    values = data.count(b",") + data.count(b":") + data.count(b"[")
    values += data.count(b"{") + 1
    return _JSON_COST_PER_VALUE * values + _JSON_COST_PER_BYTE * len(data)


# --------------------------------------------------------------------- write
def fsync_dir(directory):
    """Make a directory's entries (a new or renamed file) durable (POSIX)."""
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


def _alive(pid):
    if sys.platform == "win32":  # pragma: no cover - os.kill(pid, 0) kills
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # another user's process
        return True
    return True


def _remove_stale_temps(directory, base):
    """Remove temporary files of saves to ``base`` whose process is gone.

    Only regular files named as :func:`write_zip` (or skal before it) names
    them, of a process that no longer runs: another process's save in
    progress is never touched, and no symlink is followed.
    """
    ours, legacy = f".{base}{_TMP_TAG}", f"{base}.tmp-"
    try:
        names = os.listdir(directory)
    except OSError:
        return []
    removed = []
    for name in names:
        if name.startswith(ours):
            pid = name[len(ours) :].split(".", 1)[0]
        elif name.startswith(legacy):
            pid = name[len(legacy) :]
        else:
            continue
        if not pid.isdigit() or int(pid) == os.getpid() or _alive(int(pid)):
            continue
        full = os.path.join(directory, name)
        try:
            if stat.S_ISREG(os.lstat(full).st_mode):
                os.unlink(full)
                removed.append(name)
        except OSError:
            pass
    return removed


def _umask():
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    return 0o022


def write_zip(path, manifest, files):
    """Write ``manifest.json`` and ``files`` to the zip file ``path`` (atomically).

    The data goes to a temporary file created exclusively beside ``path``
    (never through a planted symlink), is fsynced and renamed over ``path``
    (a symlink at ``path`` is replaced, not followed), then the directory is
    fsynced. Temporary files that a killed save left are removed first.
    """
    path = os.fspath(path)
    directory, base = os.path.split(os.path.abspath(path))
    _remove_stale_temps(directory, base)
    try:
        st = os.lstat(path)
        mode = stat.S_IMODE(st.st_mode) if stat.S_ISREG(st.st_mode) else None
    except OSError:
        mode = None
    if mode is None:
        mode = 0o666 & ~_umask()
    fd, tmp = tempfile.mkstemp(prefix=f".{base}{_TMP_TAG}{os.getpid()}.", dir=directory)
    try:
        with os.fdopen(fd, "wb") as f:
            if hasattr(os, "fchmod"):
                os.fchmod(f.fileno(), mode)
            with zipfile.ZipFile(f, "w", compression=zipfile.ZIP_DEFLATED) as zf:
                zf.writestr("manifest.json", json.dumps(manifest, indent=1))
                for name, data in files.items():
                    zf.writestr(name, data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
        tmp = None
        fsync_dir(directory)
    finally:
        if tmp is not None:
            try:
                os.unlink(tmp)
            except OSError:
                pass


# ---------------------------------------------------------------------- read
@contextmanager
def _member(name):
    """Any failure while decoding ``name`` is a SessionFileError naming it."""
    try:
        yield
    except SessionFileError:
        raise
    except (Exception, RecursionError) as exc:
        raise SessionFileError(
            f"The saved session's {name} is malformed ({type(exc).__name__}: "
            f"{str(exc)[:300]})."
        ) from None


def _read_member(zf, info, size, bad, sha256, *, spool=False):
    """Read a member of known size, never more than ``size + 1`` bytes.

    Returns its bytes, or with ``spool`` a temporary file (at offset 0)
    holding them; the SHA-256 is checked on the way.
    """
    name = info.filename
    if info.file_size != size:
        raise SessionFileError(
            f"{bad}: the checksum of {name} does not match the manifest (it is "
            f"{info.file_size} bytes in the zip directory, {size} in the "
            "manifest); the file was modified or damaged."
        )
    out = tempfile.SpooledTemporaryFile(max_size=_SPOOL) if spool else None
    chunks, n, h = [], 0, hashlib.sha256()
    try:
        with zf.open(info) as f:
            while n <= size:
                chunk = f.read(min(size + 1 - n, _CHUNK))
                if not chunk:
                    break
                n += len(chunk)
                h.update(chunk)
                if out is not None:
                    out.write(chunk)
                else:
                    chunks.append(chunk)
    except Exception as exc:  # zlib.error, BadZipFile, NotImplementedError, ...
        if out is not None:
            out.close()
        raise SessionFileError(
            f"{bad}: {name} is damaged ({type(exc).__name__}: {exc})."
        ) from None
    if n != size or (sha256 is not None and h.hexdigest() != sha256):
        if out is not None:
            out.close()
        what = f" (it holds {n} bytes, not {size})" if n != size else ""
        raise SessionFileError(
            f"{bad}: the checksum of {name} does not match the manifest{what}; "
            "the file was modified or damaged."
        )
    if out is not None:
        out.seek(0)
        return out
    return b"".join(chunks)


def _open_regular(path, bad):
    """A binary file object on ``path`` and its size: regular files only.

    A FIFO, a device (``/dev/zero``), a socket or a directory is refused
    before it is read: ``stat`` first, then the descriptor is opened without
    blocking (a FIFO without a writer would block) and checked again with
    ``fstat`` (the path may have changed in between).
    """

    def refuse(st):
        kind = (
            "a FIFO"
            if stat.S_ISFIFO(st.st_mode)
            else "a device"
            if stat.S_ISCHR(st.st_mode) or stat.S_ISBLK(st.st_mode)
            else "a directory"
            if stat.S_ISDIR(st.st_mode)
            else "not a regular file"
        )
        return SessionFileError(
            f"{bad}: it is {kind}; a session file is a regular file."
        )

    try:
        st = os.stat(path)
    except FileNotFoundError:
        raise
    except (OSError, ValueError) as exc:
        raise SessionFileError(f"{bad} ({type(exc).__name__}: {exc}).") from None
    if not stat.S_ISREG(st.st_mode):
        raise refuse(st)
    flags = os.O_RDONLY | getattr(os, "O_BINARY", 0)
    flags |= getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0)
    try:
        fd = os.open(path, flags)
    except FileNotFoundError:
        raise
    except OSError as exc:
        raise SessionFileError(f"{bad} ({type(exc).__name__}: {exc}).") from None
    st = os.fstat(fd)
    if not stat.S_ISREG(st.st_mode):
        os.close(fd)
        raise refuse(st)
    return os.fdopen(fd, "rb"), st.st_size


def _read_files(path):
    """``(manifest, files, spare)``: the checked members of a session file.

    ``files`` maps a member's name to its bytes (JSON members) or to a
    temporary file (binary members); ``spare`` is what is left of the cap
    (for zips inside members).
    """
    path = os.fspath(path)
    bad = f"{path!r} is not a readable skal session file"
    raw_file, file_size = _open_regular(path, bad)
    try:
        zf = zipfile.ZipFile(raw_file)
    except (zipfile.BadZipFile, OSError, EOFError, ValueError) as exc:
        raw_file.close()
        raise SessionFileError(f"{bad} (truncated or not a zip: {exc}).") from None
    except Exception as exc:  # zipfile raises more than it documents
        raw_file.close()
        raise SessionFileError(
            f"{bad} (truncated or not a zip: {type(exc).__name__}: {exc})."
        ) from None
    cap = max(MAX_BYTES, MAX_RATIO * file_size)
    with raw_file, zf:
        infos = zf.infolist()
        names = [i.filename for i in infos]
        if len(set(names)) != len(names):
            raise SessionFileError(f"{bad}: it holds members of the same name twice.")
        by_name = {i.filename: i for i in infos}
        if "manifest.json" not in by_name:
            raise SessionFileError(f"{bad}: it has no manifest.json.")
        info = by_name["manifest.json"]
        if info.file_size > MAX_JSON_BYTES["manifest.json"]:
            raise SessionFileError(f"{bad}: its manifest.json is over 1 MiB.")
        raw = _read_member(zf, info, info.file_size, bad, None)
        try:
            manifest = json.loads(raw)
        except (ValueError, RecursionError) as exc:
            raise SessionFileError(
                f"{bad}: its manifest.json is damaged ({exc})."
            ) from None
        if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
            raise SessionFileError(f"{bad}: unknown format in its manifest.json.")
        version = manifest.get("version", 0)
        if not _is_int(version):
            raise SessionFileError(f"{bad}: its manifest.json has no version.")
        if version > VERSION:
            raise SessionFileError(
                f"{path!r} was saved by a newer skal (format version "
                f"{version}; this skal reads {VERSION}). Upgrade skal."
            )
        listed = manifest.get("files")
        if not isinstance(listed, dict) or not all(
            isinstance(m, dict)
            and _is_int(m.get("size"))
            and m["size"] >= 0
            and isinstance(m.get("sha256"), str)
            for m in listed.values()
        ):
            raise SessionFileError(
                f"{bad}: the member list of its manifest.json is malformed."
            )
        unknown = sorted(set(listed) - MEMBERS)
        if unknown:
            raise SessionFileError(
                f"{bad}: its manifest.json lists unknown members {unknown[:5]}."
            )
        present = set(names) - {"manifest.json"}
        if present != set(listed):
            raise SessionFileError(
                f"{bad}: its members {sorted(present)[:10]} differ from the "
                f"manifest's {sorted(listed)}; the file was modified."
            )
        total = sum(m["size"] for m in listed.values())
        if total > cap:
            big = max(listed, key=lambda n: listed[n]["size"])
            raise SessionFileError(
                f"{bad}: its members are {total} bytes uncompressed ({big}: "
                f"{listed[big]['size']}), over the cap of {cap} bytes (the larger "
                f"of {MAX_BYTES} and {MAX_RATIO} times the file's {file_size} "
                "bytes); a zip bomb, or raise "
                "skal._persistence._container.MAX_BYTES for a file you trust."
            )
        for name, limit in MAX_JSON_BYTES.items():
            if name in listed and listed[name]["size"] > limit:
                raise SessionFileError(
                    f"{bad}: its {name} is {listed[name]['size']} bytes, over "
                    f"the cap of {limit} bytes for that member."
                )
        files = {}
        try:
            for name in sorted(listed):
                meta = listed[name]
                spool = name not in MAX_JSON_BYTES
                files[name] = _read_member(
                    zf, by_name[name], meta["size"], bad, meta["sha256"], spool=spool
                )
        except BaseException:
            for f in files.values():
                if not isinstance(f, bytes):
                    f.close()
            raise
    cost = sum(json_cost(d) for d in files.values() if isinstance(d, bytes))
    if cost > cap // 2:
        raise SessionFileError(
            f"{bad}: parsing its JSON members could allocate up to {cost} bytes, "
            f"over half the cap of {cap} bytes (a JSON bomb)."
        )
    return manifest, files, cap - total


def _npy_header(f, name):
    """``(shape, dtype)`` of a ``.npy`` stream; the position after its header."""
    from numpy.lib import format as npformat

    version = npformat.read_magic(f)
    read = {
        (1, 0): npformat.read_array_header_1_0,
        (2, 0): npformat.read_array_header_2_0,
    }.get(version)
    if read is None:
        raise ValueError(f"{name!r}: .npy version {version}")
    shape, _, dtype = read(f)
    return shape, dtype


def _npy_nbytes(shape, dtype):
    count = 1
    for d in shape:
        count *= int(d)
    return count * dtype.itemsize


def array_names(f):
    """The keys of the arrays in arrays.npz (a file object): nothing is read."""
    f.seek(0)
    with zipfile.ZipFile(f) as zf:
        return [
            i.filename[: -len(".npy")] if i.filename.endswith(".npy") else i.filename
            for i in zf.infolist()
        ]


def _load_arrays(f, referenced=None):
    """The arrays of arrays.npz (a file object): stored .npy members.

    Every member's header is read and its declared size checked against the
    member's bytes, and every member must be one that ``referenced`` names,
    before any array is read.
    """
    from numpy.lib import format as npformat

    f.seek(0)
    with zipfile.ZipFile(f) as zf:
        infos = zf.infolist()
        if len({i.filename for i in infos}) != len(infos):
            raise ValueError("duplicate arrays")
        for info in infos:
            if info.compress_type != zipfile.ZIP_STORED or not info.filename.endswith(
                ".npy"
            ):
                raise ValueError(f"{info.filename!r} is not a stored .npy member")
            if info.file_size != info.compress_size:
                raise ValueError(f"{info.filename!r} declares two sizes")
        keys = [i.filename[: -len(".npy")] for i in infos]
        if referenced is not None:
            unused = sorted(set(keys) - set(referenced))
            if unused:
                raise ValueError(
                    f"it holds arrays nothing in the session refers to: {unused[:5]}"
                )
        for info in infos:
            with zf.open(info) as g:
                shape, dtype = _npy_header(g, info.filename)
                if dtype.hasobject:
                    raise ValueError(f"{info.filename!r} holds objects")
                if _npy_nbytes(shape, dtype) + g.tell() != info.file_size:
                    raise ValueError(
                        f"{info.filename!r}: its shape {shape} does not fit its "
                        f"{info.file_size} bytes"
                    )
        arrays = {}
        for key, info in zip(keys, infos):
            with zf.open(info) as g:
                arrays[key] = npformat.read_array(g, allow_pickle=False)
    return arrays


#: Caps on members of a zip inside a member (a skops or torch file) that are
#: parsed whole: JSON (skops' schema) and pickles (torch's restricted one).
_INNER_CAPS = {".json": 64 << 20, ".pkl": 16 << 20}


def _check_inner_zip(f, spare=0):
    """A zip inside the session (a skops or torch file): sizes and headers.

    Its members together may not inflate beyond its own size plus what is
    left of the session's cap (``spare``); its JSON and pickle members have
    their own caps; each ``.npy`` header must describe exactly the bytes
    that follow it, so no member allocates beyond what the file holds.
    """
    f.seek(0, os.SEEK_END)
    size = f.tell()
    f.seek(0)
    cap = size + max(spare, 0)
    with zipfile.ZipFile(f) as zf:
        infos = zf.infolist()
        total = sum(i.file_size for i in infos)
        if total > cap:
            raise ValueError(
                f"its members are {total} bytes uncompressed, over what is left "
                f"of the session's cap ({cap} bytes)"
            )
        for info in infos:
            for ext, limit in _INNER_CAPS.items():
                if info.filename.endswith(ext) and info.file_size > limit:
                    raise ValueError(
                        f"{info.filename!r} is {info.file_size} bytes, over "
                        f"the cap of {limit}"
                    )
            if not info.filename.endswith(".npy"):
                continue
            with zf.open(info) as g:
                shape, dtype = _npy_header(g, info.filename)
                if not dtype.hasobject and (
                    _npy_nbytes(shape, dtype) + g.tell() != info.file_size
                ):
                    raise ValueError(
                        f"{info.filename!r}: its shape {shape} does not fit its "
                        f"{info.file_size} bytes"
                    )
    f.seek(0)

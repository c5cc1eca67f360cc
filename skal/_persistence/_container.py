"""The zip container of a session file: known members, bounded reads.

Members are known names only; each member's size is checked against the zip
directory *before* it is read, it is read in bounded chunks, and the total is
capped (:data:`MAX_BYTES`, or :data:`MAX_RATIO` times the file's size).
"""

from __future__ import annotations

import hashlib
import io
import json
import os
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


def _sha256(data):
    return hashlib.sha256(data).hexdigest()


def write_zip(path, manifest, files):
    """Write ``manifest.json`` and ``files`` to the zip file ``path`` (atomically)."""
    path = os.fspath(path)
    tmp = f"{path}.tmp-{os.getpid()}"
    try:
        with open(tmp, "wb") as f:
            with zipfile.ZipFile(f, "w", compression=zipfile.ZIP_DEFLATED) as zf:
                zf.writestr("manifest.json", json.dumps(manifest, indent=1))
                for name, data in files.items():
                    zf.writestr(name, data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


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


def _read_member(zf, info, size, bad):
    """Read a member of known size, never more than ``size + 1`` bytes."""
    name = info.filename
    if info.file_size != size:
        raise SessionFileError(
            f"{bad}: the checksum of {name} does not match the manifest (it is "
            f"{info.file_size} bytes in the zip directory, {size} in the "
            "manifest); the file was modified or damaged."
        )
    try:
        with zf.open(info) as f:
            chunks, left = [], size + 1
            while left > 0:
                chunk = f.read(min(left, 1 << 24))
                if not chunk:
                    break
                chunks.append(chunk)
                left -= len(chunk)
    except Exception as exc:  # zlib.error, BadZipFile, NotImplementedError, ...
        raise SessionFileError(
            f"{bad}: {name} is damaged ({type(exc).__name__}: {exc})."
        ) from None
    data = b"".join(chunks)
    if len(data) != size:
        raise SessionFileError(
            f"{bad}: the checksum of {name} does not match the manifest (it "
            f"holds {len(data)} bytes, not {size}); the file was modified or "
            "damaged."
        )
    return data


def _read_files(path):
    path = os.fspath(path)
    bad = f"{path!r} is not a readable skal session file"
    try:
        file_size = os.path.getsize(path)
        zf = zipfile.ZipFile(path)
    except FileNotFoundError:
        raise
    except (zipfile.BadZipFile, OSError, EOFError, ValueError) as exc:
        raise SessionFileError(f"{bad} (truncated or not a zip: {exc}).") from None
    except Exception as exc:  # zipfile raises more than it documents
        raise SessionFileError(
            f"{bad} (truncated or not a zip: {type(exc).__name__}: {exc})."
        ) from None
    cap = max(MAX_BYTES, MAX_RATIO * file_size)
    with zf:
        infos = zf.infolist()
        names = [i.filename for i in infos]
        if len(set(names)) != len(names):
            raise SessionFileError(f"{bad}: it holds members of the same name twice.")
        by_name = {i.filename: i for i in infos}
        if "manifest.json" not in by_name:
            raise SessionFileError(f"{bad}: it has no manifest.json.")
        info = by_name["manifest.json"]
        if info.file_size > 1 << 20:
            raise SessionFileError(f"{bad}: its manifest.json is over 1 MiB.")
        raw = _read_member(zf, info, info.file_size, bad)
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
        files = {}
        for name in sorted(listed):
            meta = listed[name]
            data = _read_member(zf, by_name[name], meta["size"], bad)
            if _sha256(data) != meta["sha256"]:
                raise SessionFileError(
                    f"{bad}: the checksum of {name} does not match the manifest; "
                    "the file was modified or damaged."
                )
            files[name] = data
    return manifest, files


def _load_arrays(data):
    """The arrays of arrays.npz: plain stored .npy members, sizes checked first."""
    from numpy.lib import format as npformat

    arrays = {}
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
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
            with zf.open(info) as f:
                version = npformat.read_magic(f)
                if version == (1, 0):
                    shape, fortran, dtype = npformat.read_array_header_1_0(f)
                elif version == (2, 0):
                    shape, fortran, dtype = npformat.read_array_header_2_0(f)
                else:
                    raise ValueError(f"{info.filename!r}: .npy version {version}")
                if dtype.hasobject:
                    raise ValueError(f"{info.filename!r} holds objects")
                count = 1
                for d in shape:
                    count *= int(d)
                header = f.tell() if hasattr(f, "tell") else None
                if header is None or count * dtype.itemsize + header != info.file_size:
                    raise ValueError(
                        f"{info.filename!r}: its shape {shape} does not fit its "
                        f"{info.file_size} bytes"
                    )
                f.seek(0)
                A = npformat.read_array(f, allow_pickle=False)
            arrays[info.filename[: -len(".npy")]] = A
    return arrays


def _check_inner_zip(data):
    """A zip inside the session (a skops file): sizes and .npy headers.

    Its members' declared sizes are capped like the session's own, and each
    ``.npy`` header must describe exactly the bytes that follow it, so no
    member inflates or allocates beyond what the file holds.
    """
    from numpy.lib import format as npformat

    cap = max(MAX_BYTES, MAX_RATIO * len(data))
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        infos = zf.infolist()
        if sum(i.file_size for i in infos) > cap:
            raise ValueError(f"its members are over the cap of {cap} bytes")
        for info in infos:
            if not info.filename.endswith(".npy"):
                continue
            with zf.open(info) as f:
                version = npformat.read_magic(f)
                read = {
                    (1, 0): npformat.read_array_header_1_0,
                    (2, 0): npformat.read_array_header_2_0,
                }.get(version)
                if read is None:
                    raise ValueError(f"{info.filename!r}: .npy version {version}")
                shape, _, dtype = read(f)
                count = 1
                for d in shape:
                    count *= int(d)
                if not dtype.hasobject and (
                    count * dtype.itemsize + f.tell() != info.file_size
                ):
                    raise ValueError(
                        f"{info.filename!r}: its shape {shape} does not fit its "
                        f"{info.file_size} bytes"
                    )

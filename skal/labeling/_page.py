"""The labeling page and how each kind of row is shown.

Rows become JSON the page's script turns into DOM nodes with ``textContent``
(text, tables) or ``<img>`` (PNG data URIs): no item text ever reaches
``innerHTML``. HTML from a user's ``render`` callable is shown in a
sandboxed ``<iframe srcdoc>`` (no scripts, no same-origin access).
Images are written as PNG with ``zlib`` (no imaging library needed),
scaled up by whole pixels so they stay crisp.
"""

from __future__ import annotations

import base64
import struct
import zlib
from importlib import resources

import numpy as np

__all__ = ["page_html", "png_bytes", "render_row", "static_file"]

_STATIC = {"app.js": "text/javascript", "app.css": "text/css"}


def static_file(name):
    """``(bytes, media type)`` of a packaged asset, or None for any other name."""
    if name not in _STATIC:  # a fixed list: no path from the browser is opened
        return None
    data = resources.files("skal.labeling").joinpath("static", name).read_bytes()
    return data, _STATIC[name]


def page_html(title="skal: label"):
    """The page: a shell that loads the packaged script and style."""
    from html import escape

    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{escape(title)}</title>
<link rel="stylesheet" href="static/app.css">
</head><body>
<main id="app">
  <section id="left">
    <div id="item" class="item" data-index="" aria-live="polite"></div>
    <div id="meta" class="meta"></div>
    <div id="buttons" class="buttons"></div>
    <div class="hints">keys: <kbd>1</kbd>–<kbd>9</kbd> label ·
      <kbd>z</kbd> undo · <kbd>s</kbd> skip ·
      <a href="export.csv" id="export">export CSV</a></div>
    <div id="message" class="message" role="status"></div>
  </section>
  <aside id="side">
    <h2>Labels</h2><table id="counts"></table>
    <h2>Stopping</h2><div id="stopping"></div>
    <h2>Model</h2><div id="model"></div>
    <div id="curve-box"><h2>Learning curve</h2><svg id="curve" width="260"
      height="140" role="img" aria-label="learning curve"></svg></div>
  </aside>
</main>
<script src="static/app.js"></script>
</body></html>
"""


# ------------------------------------------------------------------- PNG
def _chunk(kind, data):
    body = kind + data
    return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))


def png_bytes(image):
    """PNG bytes of a ``uint8`` array: (H, W) gray, (H, W, 3) RGB, (H, W, 4) RGBA."""
    a = np.ascontiguousarray(image, dtype=np.uint8)
    if a.ndim == 2:
        color, a = 0, a[:, :, None]
    elif a.ndim == 3 and a.shape[2] in (3, 4):
        color = 2 if a.shape[2] == 3 else 6
    else:
        raise ValueError(f"png_bytes needs (H, W[, 3|4]) uint8; got shape {a.shape}.")
    h, w = a.shape[:2]
    raw = b"".join(b"\x00" + a[i].tobytes() for i in range(h))
    header = struct.pack(">IIBBBBB", w, h, 8, color, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + _chunk(b"IHDR", header)
        + _chunk(b"IDAT", zlib.compress(raw, 6))
        + _chunk(b"IEND", b"")
    )


def _to_uint8(a):
    a = np.asarray(a)
    if a.dtype == np.uint8:
        return a
    a = a.astype(np.float64)
    finite = np.isfinite(a)
    if not finite.any():
        return np.zeros(a.shape, dtype=np.uint8)
    lo, hi = a[finite].min(), a[finite].max()
    scaled = (a - lo) / (hi - lo) if hi > lo else np.zeros_like(a)
    scaled[~finite] = 0
    return np.round(scaled * 255).astype(np.uint8)


def _image_hwc(a):
    """An image array as (H, W) or (H, W, C); channels-first is moved last."""
    if a.ndim == 2:
        return a
    if a.shape[0] in (1, 3, 4) and a.shape[2] not in (3, 4):  # C, H, W (nets)
        a = np.moveaxis(a, 0, -1)
    if a.shape[2] == 1:
        return a[:, :, 0]
    if a.shape[2] not in (3, 4):
        raise ValueError(f"an image needs 1, 3 or 4 channels; got shape {a.shape}.")
    return a


def image_uri(a, size=256):
    """A crisp PNG data URI of an image array, scaled up by whole pixels."""
    img = _to_uint8(_image_hwc(np.asarray(a)))
    scale = max(1, size // max(img.shape[:2]))
    img = np.repeat(np.repeat(img, scale, axis=0), scale, axis=1)
    return "data:image/png;base64," + base64.b64encode(png_bytes(img)).decode()


def _is_signal(a):
    """1-D, or (channels, length) with few channels and a long axis."""
    return a.ndim == 1 or (a.ndim == 2 and a.shape[0] <= 4 and a.shape[1] > 8)


def render_row(X, row, *, render=None, image_shape=None):
    """What the page shows for row ``row`` of ``X``, as JSON.

    ``{"kind": "image", "src": data URI}``, ``{"kind": "signal", "series":
    [[...]]}``, ``{"kind": "text", "text": str}``, ``{"kind": "table",
    "columns": [...], "values": [...]}`` or ``{"kind": "html", "html":
    str}`` (a ``render`` callable's HTML, shown sandboxed).
    """
    if render is not None:  # the CLI's renderers look rows up by position
        out = (
            render(row)
            if getattr(render, "by_position", False)
            else render(_take(X, row))
        )
        if isinstance(out, (bytes, bytearray)):
            uri = "data:image/png;base64," + base64.b64encode(bytes(out)).decode()
            return {"kind": "image", "src": uri}
        if isinstance(out, str):
            return {"kind": "html", "html": out}
        raise TypeError(
            "The 'render' callable must return str (HTML) or bytes (PNG); "
            f"got {type(out).__name__}."
        )
    if hasattr(X, "iloc"):  # pandas
        item = X.iloc[row]
        if hasattr(item, "index"):  # a DataFrame row (a Series)
            return {
                "kind": "table",
                "columns": [str(c) for c in item.index],
                "values": [_cell(v) for v in item.tolist()],
            }
        return {"kind": "text", "text": str(item)}
    item = X[row]
    if isinstance(item, (str, bytes)):
        text = item.decode("utf-8", "replace") if isinstance(item, bytes) else item
        return {"kind": "text", "text": text}
    a = np.asarray(item)
    if a.dtype.kind in "OUS":
        return {"kind": "text", "text": str(item)}
    if image_shape is not None:
        a = a.reshape(image_shape)
    if a.ndim == 3 or (a.ndim == 2 and not _is_signal(a)):
        return {"kind": "image", "src": image_uri(a)}
    if _is_signal(a):
        series = np.atleast_2d(a).astype(np.float64)
        return {"kind": "signal", "series": [_floats(s) for s in series]}
    return {"kind": "text", "text": np.array2string(a, threshold=200)}


def _take(X, row):
    return X.iloc[row] if hasattr(X, "iloc") else X[row]


def _floats(s):
    return [None if not np.isfinite(v) else round(float(v), 6) for v in s]


def _cell(v):
    if isinstance(v, np.generic):
        v = v.item()
    if isinstance(v, float):
        return None if not np.isfinite(v) else round(v, 6)
    return v if isinstance(v, (int, bool, str)) or v is None else str(v)

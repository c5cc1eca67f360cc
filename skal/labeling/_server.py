"""``serve``: the labeling page over HTTP (starlette + uvicorn).

Routes: ``/`` (the page), ``/static/app.js`` and ``/static/app.css`` (from
the package, a fixed list), ``/api/next``, ``/api/label``, ``/api/skip``,
``/api/undo``, ``/api/status`` and ``/export.csv``. Safe by default: it binds
127.0.0.1; any other host needs the token printed in the URL; the ``Host``
header must name the server (no DNS rebinding); request bodies are capped;
a bad request is a 4xx with a message, never a traceback.
"""

from __future__ import annotations

import csv
import hmac
import io
import json
import secrets
import socket
import sys
import threading
import time

from ._page import page_html, render_row, static_file
from ._session import LabelingError, LabelingSession

__all__ = ["ServerHandle", "build_app", "serve"]

_LOOPBACK = {"127.0.0.1", "localhost", "::1"}
MAX_BODY = 16 * 1024


def _starlette():
    try:
        import starlette  # noqa: F401
    except ImportError as exc:  # pragma: no cover - depends on the install
        raise ImportError(
            "skal.labeling needs starlette and uvicorn: "
            "pip install 'skal-learn[label]'."
        ) from exc


async def _json_body(request, limit):
    """The request's JSON object, reading at most ``limit`` bytes."""
    declared = request.headers.get("content-length")
    if declared is not None and (not declared.isdigit() or int(declared) > limit):
        raise LabelingError(f"Request body over {limit} bytes.", status=413)
    body = b""
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            raise LabelingError(f"Request body over {limit} bytes.", status=413)
    try:
        data = json.loads(body or b"{}")
    except (ValueError, UnicodeDecodeError) as exc:
        raise LabelingError(f"Request body is not JSON: {exc}.") from None
    if not isinstance(data, dict):
        raise LabelingError("Request body must be a JSON object.")
    return data


def _client(value):
    if not isinstance(value, str) or not 0 < len(value) <= 64:
        raise LabelingError("'client' must be a string of 1 to 64 characters.")
    return value


def build_app(
    session,
    *,
    token=None,
    render=None,
    image_shape=None,
    allowed_hosts=("127.0.0.1", "localhost", "[::1]"),
    max_body=MAX_BODY,
    title="skal: label",
):
    """The ASGI app of the page for a :class:`LabelingSession`.

    Parameters
    ----------
    session : LabelingSession
    token : str, default=None
        When set, every request needs it (``?token=`` or the
        ``X-Skal-Token`` header).
    render : callable, default=None
        ``render(row) -> str (HTML) or bytes (PNG)`` for rows the built-in
        renderers do not show well.
    image_shape : tuple, default=None
        Reshape each row to this shape and show it as an image.
    allowed_hosts : sequence of str, default=loopback names
        Values the ``Host`` header may take (without the port); ``"*"``
        allows any.
    max_body : int, default=16384
        Largest request body accepted, in bytes.
    """
    _starlette()
    from starlette.applications import Starlette
    from starlette.concurrency import run_in_threadpool
    from starlette.responses import HTMLResponse, JSONResponse, Response
    from starlette.routing import Route

    learner = session.learner
    X = learner._X_fit
    index = getattr(getattr(learner, "_state", None), "index", None)
    hosts = {h.lower() for h in allowed_hosts}

    def row_id(row):
        return str(index[row]) if index is not None else row

    def item_json(row):
        if row is None:
            return None
        info = session.info.get(row, {})
        return {
            "index": int(row),
            "id": row_id(row),
            "view": render_row(X, row, render=render, image_shape=image_shape),
            "strategy": info.get("strategy"),
            "score": info.get("score"),
            "rank": info.get("rank"),
            "label": session.label_of(row),
        }

    def guard(request):
        host = request.headers.get("host", "").lower()
        name = host.rsplit(":", 1)[0] if not host.endswith("]") else host
        if "*" not in hosts and name not in hosts:
            raise LabelingError(f"Host {host!r} is not served here.", status=421)
        if token is not None:
            given = request.query_params.get("token") or request.headers.get(
                "x-skal-token", ""
            )
            if not hmac.compare_digest(given.encode(), token.encode()):
                raise LabelingError("Missing or wrong token.", status=403)

    def endpoint(fn):
        async def wrapped(request):
            try:
                guard(request)
                return await fn(request)
            except LabelingError as exc:
                return JSONResponse({"error": str(exc)}, status_code=exc.status)
            except Exception as exc:  # never a traceback to the browser
                import traceback

                traceback.print_exc()
                return JSONResponse(
                    {"error": f"Internal error: {type(exc).__name__}."},
                    status_code=500,
                )

        return wrapped

    @endpoint
    async def index_page(request):
        return HTMLResponse(page_html(title))

    @endpoint
    async def static(request):
        found = static_file(request.path_params["name"])
        if found is None:
            raise LabelingError("No such file.", status=404)
        data, media = found
        return Response(data, media_type=media)

    def turn(method, *args):  # blocking: runs in starlette's thread pool
        row = method(*args)
        return {"item": item_json(row), "status": session.status()}

    async def call(method, *args):
        return JSONResponse(await run_in_threadpool(turn, method, *args))

    @endpoint
    async def next_item(request):
        client = _client(request.query_params.get("client", ""))
        return await call(session.next_item, client)

    @endpoint
    async def label(request):
        data = await _json_body(request, max_body)
        client = _client(data.get("client"))
        return await call(session.label, client, data.get("index"), data.get("label"))

    @endpoint
    async def skip(request):
        data = await _json_body(request, max_body)
        return await call(session.skip, _client(data.get("client")), data.get("index"))

    @endpoint
    async def undo(request):
        data = await _json_body(request, max_body)
        return await call(session.undo, _client(data.get("client")))

    @endpoint
    async def status(request):
        return JSONResponse(await run_in_threadpool(session.status))

    @endpoint
    async def export(request):
        text = await run_in_threadpool(export_csv, session)
        return Response(
            text,
            media_type="text/csv",
            headers={"Content-Disposition": 'attachment; filename="labels.csv"'},
        )

    routes = [
        Route("/", index_page),
        Route("/static/{name}", static),
        Route("/api/next", next_item),
        Route("/api/label", label, methods=["POST"]),
        Route("/api/skip", skip, methods=["POST"]),
        Route("/api/undo", undo, methods=["POST"]),
        Route("/api/status", status),
        Route("/export.csv", export),
    ]
    app = Starlette(routes=routes)
    app.state.session = session
    return app


def export_csv(session):
    """The labels as CSV: ``id,label`` (row of X, or the DataFrame's index label)."""
    learner = session.learner
    with session.lock:
        rows = [int(r) for r in learner.labeled_indices_]
        y = list(learner.y_labeled_)
    index = getattr(getattr(learner, "_state", None), "index", None)
    n_new = len(y) - len(rows)  # rows taught as new X have no row of X
    out = io.StringIO()
    w = csv.writer(out)
    w.writerow(["id", "label"])
    if n_new == 0:
        for r, lab in zip(rows, y):
            w.writerow([index[r] if index is not None else r, _plain(lab)])
    else:
        for p, lab in zip(_provenance_rows(learner, len(y)), y):
            if p is not None:
                w.writerow([index[p] if index is not None else p, _plain(lab)])
    return out.getvalue()


def _provenance_rows(learner, n):
    from ._compat import provenance

    prov = provenance(learner)
    if len(prov) == n:
        return [p.get("row") for p in prov]
    return [None] * n


def _plain(v):
    return v.item() if hasattr(v, "item") else v


class ServerHandle:
    """A page served in a background thread: ``url``, ``session``, ``stop()``."""

    def __init__(self, server, thread, session, url, restore=None):
        self._server, self._thread = server, thread
        self.session, self.url = session, url
        self._restore = restore

    def stop(self, timeout=10.0):
        """Stop serving and the background refits."""
        self._server.should_exit = True
        self._thread.join(timeout)
        self.session.close(timeout)
        if self._restore is not None:
            sys.setswitchinterval(self._restore)
            self._restore = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()

    def __repr__(self):
        return f"ServerHandle(url={self.url!r})"


def serve(
    learner,
    *,
    host="127.0.0.1",
    port=8000,
    block=True,
    render=None,
    classes=None,
    image_shape=None,
    n_instances=None,
    queue_size=None,
    eval_set=None,
    token=None,
    resume=True,
    max_body=MAX_BODY,
    switch_interval=0.001,
    log_level="warning",
    quiet=False,
):
    """Serve a page where a person labels the learner's queried rows.

    Parameters
    ----------
    learner : ActiveLearner
        Fitted; its stored pool (``fit``'s rows marked unlabeled) is what
        gets labeled. Give it a ``journal``: every pressed label is fsynced
        there before the next item shows, and a restart on the same journal
        resumes where the person stopped.
    host : str, default="127.0.0.1"
        Interface to bind. Any host other than loopback needs a token
        (made up when ``token`` is None, and printed in the URL).
    port : int, default=8000
        0 picks a free port.
    block : bool, default=True
        Serve until interrupted; False serves in a background thread and
        returns a :class:`ServerHandle` (``.url``, ``.stop()``).
    render : callable, default=None
        ``render(row) -> str (HTML, shown sandboxed) or bytes (PNG)``.
    classes : sequence, default=None
        Classes in key order (key 1 is the first); None asks the learner.
    image_shape : tuple, default=None
        Reshape each row to this shape and show it as an image (flat pixel
        rows such as scikit-learn's digits: ``(8, 8)``).
    n_instances : int, default=None
        Labels between background refits; None uses the learner's.
    queue_size : int, default=None
        Rows queried ahead from the last fitted model.
    eval_set : tuple (X_val, y_val), default=None
        Scored after every refit: the page draws the learning curve.
    token : str, default=None
        Required on every request when set (``?token=`` in the URL).
    resume : bool, default=True
        Apply the labels already in the learner's journal first.
    max_body : int, default=16384
        Largest request body accepted, in bytes.
    switch_interval : float or None, default=0.001
        The interpreter's thread switch interval (:func:`sys.setswitchinterval`,
        5 ms by default) while serving, restored after: with a refit running
        in a thread, a shorter interval keeps a key press from waiting for
        the interpreter lock. None leaves it as it is.
    log_level : str, default="warning"
        uvicorn's.
    quiet : bool, default=False
        Do not print the URL.

    Returns
    -------
    handle : ServerHandle or None
        None once a blocking server stops.

    Examples
    --------
    >>> from skal.labeling import serve
    >>> handle = serve(learner, port=0, block=False)   # doctest: +SKIP
    >>> handle.url                                      # doctest: +SKIP
    'http://127.0.0.1:53211/'
    >>> handle.stop()                                   # doctest: +SKIP
    """
    _starlette()
    import uvicorn

    loopback = host in _LOOPBACK
    if not loopback and token is None:
        token = secrets.token_urlsafe(16)
    session = LabelingSession(
        learner,
        classes=classes,
        n_instances=n_instances,
        queue_size=queue_size,
        eval_set=eval_set,
        resume=resume,
    )
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
        sock.listen(128)  # connections wait in the backlog until uvicorn runs
    except OSError:
        sock.close()
        session.close()
        raise
    bound = sock.getsockname()[1]
    name = f"[{host}]" if ":" in host else host
    allowed = ("*",) if host in ("0.0.0.0", "::") else (name, "127.0.0.1", "localhost")
    app = build_app(
        session,
        token=token,
        render=render,
        image_shape=image_shape,
        allowed_hosts=allowed,
        max_body=max_body,
    )
    url = f"http://{name}:{bound}/" + (f"?token={token}" if token else "")
    config = uvicorn.Config(app, log_level=log_level, access_log=False, lifespan="off")
    server = uvicorn.Server(config)
    previous = sys.getswitchinterval()
    if switch_interval is not None:
        sys.setswitchinterval(switch_interval)
    if not quiet:
        print(f"skal labeling page: {url}", flush=True)
    if block:
        try:
            server.run(sockets=[sock])
        finally:
            session.close()
            sys.setswitchinterval(previous)
        return None
    thread = threading.Thread(
        target=server.run, kwargs={"sockets": [sock]}, name="skal-labeling", daemon=True
    )
    thread.start()
    t0 = time.monotonic()
    while not server.started and thread.is_alive() and time.monotonic() - t0 < 30:
        time.sleep(0.01)
    restore = previous if switch_interval is not None else None
    return ServerHandle(server, thread, session, url, restore)

"""Label Studio's ML backend protocol, answered by a skal learner.

Point a Label Studio project at this app (Settings → Model → Connect
model) and it sees an ML backend:

- ``GET /health`` → ``{"status": "UP", "model_class": "ActiveLearner"}``.
- ``POST /setup`` (``project``, ``schema`` = the labeling config) →
  ``{"model_version": ...}``.
- ``POST /predict`` (``tasks``, ``label_config``, ``project``) →
  ``{"results": [{"result": [...], "score": s, "model_version": v}, ...]}``:
  one prediction per task, the model's class as a ``choices`` result, and a
  ``score`` such that sorting tasks by prediction score, lowest first (Label
  Studio's order), is skal's query order. The raw acquisition value, the
  strategy and the rank are in the result's ``meta``.
- ``POST /webhook``: ``ANNOTATION_CREATED`` teaches the row,
  ``ANNOTATION_UPDATED`` relabels it, ``ANNOTATION_DELETED`` returns it to
  the pool, ``START_TRAINING`` refits (in the background); other actions
  are acknowledged and ignored.

Tasks name their row of the learner's ``X`` in ``task["data"][row_field]``
(``"row"`` by default), as the console command's ``studio`` mode writes
them.
"""

from __future__ import annotations

import hmac
import xml.etree.ElementTree as ET

import numpy as np

from ._session import LabelingError, LabelingSession, _json_value

__all__ = ["label_studio", "parse_label_config"]

MAX_BODY = 4 * 1024 * 1024


def parse_label_config(config):
    """``(from_name, to_name, choices)`` of the first ``<Choices>`` of a config.

    ``choices`` lists the ``value`` of each ``<Choice>`` in order.
    """
    if not isinstance(config, str) or not config.strip():
        raise LabelingError("The labeling config is empty.")
    try:
        root = ET.fromstring(config)
    except ET.ParseError as exc:
        raise LabelingError(f"The labeling config is not XML: {exc}.") from None
    for node in root.iter():
        if node.tag == "Choices":
            name, to = node.get("name"), node.get("toName")
            if not name or not to:
                raise LabelingError("<Choices> needs 'name' and 'toName' attributes.")
            values = [c.get("value") for c in node.iter("Choice")]
            return name, to, [v for v in values if v is not None]
    raise LabelingError(
        "The labeling config has no <Choices> tag: the bridge serves "
        "classification projects."
    )


class _Bridge:
    """The protocol's state: the session, the config, the cached query order."""

    def __init__(self, session, row_field, max_rank):
        self.session = session
        self.row_field = row_field
        self.max_rank = max_rank
        self.from_name = self.to_name = None
        self._order = None  # (key, {row: (rank, info)}, n)

    @property
    def model_version(self):
        s = self.session
        return f"skal-{s.model_version}-{len(s.learner.y_labeled_)}"

    def configure(self, config):
        if config:
            self.from_name, self.to_name, choices = parse_label_config(config)
            names = [str(c) for c in self.session.classes]
            unknown = [c for c in choices if c not in names]
            if unknown:
                raise LabelingError(
                    f"Choices {unknown} of the labeling config are not classes "
                    f"of the learner {names}."
                )

    def row_of(self, task):
        if not isinstance(task, dict) or not isinstance(task.get("data"), dict):
            raise LabelingError("A task must be an object with a 'data' object.")
        row = task["data"].get(self.row_field)
        if isinstance(row, str) and row.isdigit():
            row = int(row)
        if isinstance(row, bool) or not isinstance(row, int):
            raise LabelingError(
                f"Task {task.get('id')!r} has no int '{self.row_field}' in its "
                f"data (the row of X it shows); got {row!r}."
            )
        return self.session._check_row(row, self.row_field)

    def order(self):
        """Rank of each pool row in skal's query order (cached per model)."""
        s = self.session
        key = (s.model_version, len(s.learner.y_labeled_))
        if self._order is None or self._order[0] != key:
            with s.lock:
                n = len(s._pool())
                k = n if self.max_rank is None else min(n, self.max_rank)
                rows = s._query(k)
                ranks = {r: (i, dict(s.info.get(r, {}))) for i, r in enumerate(rows)}
            self._order = (key, ranks, len(rows))
        return self._order[1], self._order[2]

    def predict(self, tasks):
        s = self.session
        ranks, n = self.order()
        rows = [self.row_of(t) for t in tasks]
        learner = s.learner
        proba = None
        if getattr(learner, "model_fitted_", False) and rows:
            from ..utils._arrays import take_rows

            proba = learner.predict_proba(take_rows(learner._X_fit, np.asarray(rows)))
            model_classes = [str(c) for c in learner.classes_]
        out = []
        for i, row in enumerate(rows):
            rank, info = ranks.get(row, (None, {}))
            score = 1.0 if rank is None else (rank + 1) / (n + 1)
            meta = {
                "skal_row": row,
                "rank": rank,
                "acquisition": _json_value(info.get("score")),
                "strategy": info.get("strategy"),
            }
            result = []
            if proba is not None and self.from_name:
                name = model_classes[int(np.argmax(proba[i]))]
                result.append(
                    {
                        "from_name": self.from_name,
                        "to_name": self.to_name,
                        "type": "choices",
                        "value": {"choices": [name]},
                        "meta": meta,
                    }
                )
            out.append(
                {
                    "result": result,
                    "score": float(score),
                    "model_version": self.model_version,
                    "meta": meta,
                }
            )
        return out

    def choice_of(self, annotation):
        if not isinstance(annotation, dict):
            raise LabelingError("'annotation' must be an object.")
        results = annotation.get("result")
        if not isinstance(results, list):
            raise LabelingError("'annotation.result' must be a list.")
        names = [str(c) for c in self.session.classes]
        for r in results:
            if not isinstance(r, dict) or r.get("type") != "choices":
                continue
            if self.from_name and r.get("from_name") not in (None, self.from_name):
                continue
            choices = (r.get("value") or {}).get("choices")
            if not isinstance(choices, list) or len(choices) != 1:
                raise LabelingError("A choices result must hold exactly one choice.")
            if choices[0] not in names:
                raise LabelingError(
                    f"Choice {choices[0]!r} is not a class of the learner {names}."
                )
            return names.index(choices[0])
        raise LabelingError("The annotation holds no choices result.")

    def webhook(self, data):
        action = data.get("action")
        s = self.session
        if action in ("ANNOTATION_CREATED", "ANNOTATION_UPDATED"):
            row = self.row_of(data.get("task"))
            k = self.choice_of(data.get("annotation"))
            changed = s.record(row, k, client="label-studio")
            return {"status": "ok", "row": row, "changed": changed}
        if action in ("ANNOTATION_DELETED", "ANNOTATIONS_DELETED"):
            rows = []
            tasks = data.get("tasks") or [data.get("task")]
            for t in tasks:
                row = self.row_of(t)
                if s.forget(row):
                    rows.append(row)
            return {"status": "ok", "unlabeled": rows}
        if action == "START_TRAINING":
            s.request_refit()
            return {"status": "ok", "training": True}
        return {"status": "ignored", "action": str(action)[:64]}


def label_studio(
    learner,
    *,
    classes=None,
    row_field="row",
    n_instances=None,
    max_rank=None,
    token=None,
    max_body=MAX_BODY,
    resume=True,
    background=True,
):
    """An ASGI app speaking Label Studio's ML backend protocol for ``learner``.

    Parameters
    ----------
    learner : ActiveLearner
        Fitted; its stored pool is what Label Studio's tasks show (each
        task's ``data[row_field]`` is its row of ``fit``'s ``X``). With a
        ``journal``, every annotation is on disk before the webhook answers.
    classes : sequence, default=None
        The classes; a ``<Choice value>`` must be ``str`` of one of them.
    row_field : str, default="row"
        The task data field holding the row of ``X``.
    n_instances : int, default=None
        Annotations between background refits; None uses the learner's.
    max_rank : int, default=None
        Rank only the first ``max_rank`` rows of skal's query order (the
        rest get score 1.0); None ranks the whole pool.
    token : str, default=None
        When set, required as ``?token=`` or the HTTP basic-auth password
        (Label Studio's "Use basic auth" of the model connection).
    max_body : int, default=4 MiB
        Largest request body accepted.
    resume : bool, default=True
        Replay the learner's journal first.
    background : bool, default=True
        Refit in a background thread.

    Returns
    -------
    app : starlette.applications.Starlette
        Run it with uvicorn (``uvicorn.run(app, port=9090)``); its
        ``state.bridge.session`` is the :class:`LabelingSession`.
    """
    import base64

    from starlette.applications import Starlette
    from starlette.concurrency import run_in_threadpool
    from starlette.responses import JSONResponse
    from starlette.routing import Route

    from ._server import _json_body

    session = LabelingSession(
        learner,
        classes=classes,
        n_instances=n_instances,
        resume=resume,
        background=background,
    )
    bridge = _Bridge(session, row_field, max_rank)

    def authorised(request):
        if token is None:
            return True
        given = request.query_params.get("token", "")
        auth = request.headers.get("authorization", "")
        if auth.lower().startswith("basic "):
            try:
                given = base64.b64decode(auth[6:]).decode().split(":", 1)[-1]
            except (ValueError, UnicodeDecodeError):
                given = ""
        elif auth.lower().startswith(("token ", "bearer ")):
            given = auth.split(" ", 1)[1]
        return hmac.compare_digest(given.encode(), token.encode())

    def endpoint(fn, status_code=200):
        async def wrapped(request):
            try:
                if not authorised(request):
                    raise LabelingError("Missing or wrong token.", status=401)
                data = (
                    await _json_body(request, max_body)
                    if request.method == "POST"
                    else {}
                )
                out = await run_in_threadpool(fn, data)
                return JSONResponse(out, status_code=status_code)
            except LabelingError as exc:
                return JSONResponse({"error": str(exc)}, status_code=exc.status)
            except Exception as exc:
                import traceback

                traceback.print_exc()
                return JSONResponse(
                    {"error": f"Internal error: {type(exc).__name__}."},
                    status_code=500,
                )

        return wrapped

    def health(data):
        return {"status": "UP", "model_class": "skal.ActiveLearner"}

    def setup(data):
        bridge.configure(data.get("schema"))
        return {"model_version": bridge.model_version}

    def predict(data):
        tasks = data.get("tasks")
        if not isinstance(tasks, list):
            raise LabelingError("'tasks' must be a list of tasks.")
        bridge.configure(data.get("label_config"))
        results = bridge.predict(tasks)
        return {"results": results, "model_version": bridge.model_version}

    def webhook(data):
        return bridge.webhook(data)

    def metrics(data):
        return {}

    app = Starlette(
        routes=[
            Route("/", endpoint(health)),
            Route("/health", endpoint(health)),
            Route("/setup", endpoint(setup), methods=["POST"]),
            Route("/predict", endpoint(predict), methods=["POST"]),
            Route("/webhook", endpoint(webhook, 201), methods=["POST"]),
            Route("/metrics", endpoint(metrics)),
        ]
    )
    app.state.bridge = bridge
    return app

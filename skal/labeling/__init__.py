"""Label where the person is: a page served by skal, and a Label Studio bridge.

- :func:`serve`: a keyboard-first page (keys 1–9 label, ``z`` undoes, ``s``
  skips) showing the learner's queried rows one at a time; every label is
  journaled (fsynced) before the next row shows, refits run in the
  background, a restart on the same journal resumes.
- :func:`label_studio`: an ASGI app speaking Label Studio's ML backend
  protocol (``/health``, ``/setup``, ``/predict``, ``/webhook``), so a Label
  Studio project orders its tasks as skal would query them.

Needs the extra ``skal-learn[label]`` (starlette, uvicorn). The layer above
:class:`skal.ActiveLearner`: nothing in skal below imports it.
"""

from ._label_studio import label_studio
from ._server import ServerHandle, build_app, export_csv, serve
from ._session import LabelingError, LabelingSession

__all__ = [
    "LabelingError",
    "LabelingSession",
    "ServerHandle",
    "build_app",
    "export_csv",
    "label_studio",
    "serve",
]

"""Interruptions: a Ctrl-C seen while a block runs (private).

Layer: utilities (imports nothing from skal).
"""

from __future__ import annotations

import signal
import threading
from contextlib import contextmanager

__all__ = ["sigint_watch"]


@contextmanager
def sigint_watch():
    """Record a SIGINT (Ctrl-C) while the block runs; it still raises.

    Only in the main thread and only over Python's default handler, so a
    handler of the user's (or of a notebook) is left alone.
    """
    seen = []
    if (
        threading.current_thread() is not threading.main_thread()
        or signal.getsignal(signal.SIGINT) is not signal.default_int_handler
    ):
        yield seen
        return

    def handler(signum, frame):
        seen.append(signum)
        raise KeyboardInterrupt

    signal.signal(signal.SIGINT, handler)
    try:
        yield seen
    finally:
        signal.signal(signal.SIGINT, signal.default_int_handler)

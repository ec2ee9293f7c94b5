"""Bounded logging for ``qlearn serve``: what a hostile client can make the server write is capped.

A refused websocket message, a kernel's stderr or a failing cell is logged with a short excerpt, at
most :data:`MAX_RECORDS` records a :data:`WINDOW` seconds; past that, one line says how many were
left out. So a client that sends a million bad messages costs a few kilobytes of log, not gigabytes.
"""
from __future__ import annotations

import logging
import threading
import time

#: Most records a :class:`BoundedLog` writes in one window.
MAX_RECORDS = 20
#: Seconds of one window.
WINDOW = 60.0
#: Most characters of a client- or kernel-supplied text that reach the log.
EXCERPT = 300


def excerpt(value, limit: int = EXCERPT) -> str:
    """``value`` as text, at most ``limit`` characters, with what was cut said.

    Examples
    --------
    >>> excerpt(b"x" * 1000, 10)
    "b'xxxxxxxx... (1000 bytes, 990 more)"
    >>> excerpt("short")
    'short'
    """
    if isinstance(value, (bytes, bytearray, memoryview)):
        text, n, unit = repr(bytes(value[:limit]))[:limit], len(value), "bytes"
    else:
        text = value if isinstance(value, str) else repr(value)
        n, unit = len(text), "characters"
        text = text[:limit]
    if n > limit:
        return f"{text}... ({n} {unit}, {n - limit} more)"
    return text


def tail(text: str, limit: int = 4000) -> str:
    """The last ``limit`` characters of ``text`` (a traceback's end names the failing line).

    Examples
    --------
    >>> tail("abcdef", 3)
    '[3 characters cut] def'
    """
    return text if len(text) <= limit else f"[{len(text) - limit} characters cut] {text[-limit:]}"


class BoundedLog:
    """A rate-limited view of a logger: at most ``max_records`` records a ``window`` seconds.

    Examples
    --------
    >>> import logging
    >>> seen = []
    >>> class Keep(logging.Handler):
    ...     def emit(self, record): seen.append(record.getMessage())
    >>> lg = logging.getLogger("qlearn.doctest.bounded"); lg.addHandler(Keep()); lg.propagate = False
    >>> lg.setLevel(logging.INFO)
    >>> log = BoundedLog(lg, max_records=2, window=3600)
    >>> for i in range(5): log.warning("refused %d", i)
    >>> seen
    ['refused 0', 'refused 1']
    >>> log.dropped
    3
    """

    def __init__(self, logger: logging.Logger, max_records: int = MAX_RECORDS, window: float = WINDOW):
        self.logger, self.max_records, self.window = logger, max_records, window
        self._lock = threading.Lock()
        self._start = time.monotonic()
        self._count = 0
        self.dropped = 0

    def _allow(self) -> bool:
        with self._lock:
            now = time.monotonic()
            if now - self._start >= self.window:
                if self.dropped:
                    self.logger.warning("qlearn: %d more such log records were left out in the last %.0f s",
                                        self.dropped, now - self._start)
                self._start, self._count, self.dropped = now, 0, 0
            if self._count < self.max_records:
                self._count += 1
                return True
            self.dropped += 1
            return False

    def log(self, level: int, msg: str, *args) -> None:
        if self._allow():
            self.logger.log(level, msg, *args)

    def warning(self, msg: str, *args) -> None:
        self.log(logging.WARNING, msg, *args)

    def error(self, msg: str, *args) -> None:
        self.log(logging.ERROR, msg, *args)


CELLS = BoundedLog(logging.getLogger("qlearn.serve"))


def _lesson_from_stack() -> str:
    """The notebook Voila is executing: found on the calling stack (Voila's ``NotebookRenderer``
    holds its path; nbclient's hook is not told which notebook it runs)."""
    import sys

    frame = sys._getframe(1)
    while frame is not None:
        owner = frame.f_locals.get("self")
        path = getattr(owner, "notebook_path", None)
        if isinstance(path, str) and path:
            return path
        frame = frame.f_back
    return "?"


def log_cell_error(cell=None, cell_index=None, execute_reply=None, **_):
    """nbclient's ``on_cell_error`` hook (``VoilaExecutor.on_cell_error``): a failing cell goes to
    the server log with its lesson, cell number and traceback. The page shows only the plain message.
    """
    from .websocket import strip_ansi

    content = (execute_reply or {}).get("content", {}) or {}
    tb = strip_ansi("\n".join(content.get("traceback") or []))
    CELLS.error("qlearn: cell %s of %s failed: %s: %s\n%s", cell_index, _lesson_from_stack(),
                content.get("ename"), excerpt(content.get("evalue", ""), 300), tail(tb, 4000))


def log_cell_stopped(cell_index, exc: BaseException, timeout=None) -> None:
    """A cell that did not finish: it ran past the page's per-cell timeout, its kernel died, or the
    server failed while running it. nbclient's ``on_cell_error`` hook is not called for these, and
    Voila logs them to the ``traitlets`` logger, which has only a NullHandler: without this the page
    says "the server log has the details" and the log has none. One line, no server traceback (the
    cause is the cell or the machine, not the server's code).
    """
    from nbclient.exceptions import DeadKernelError

    lesson = _lesson_from_stack()
    if isinstance(exc, TimeoutError):
        CELLS.error("qlearn: cell %s of %s did not finish within %s s (--timeout); the page says the lesson "
                    "took too long", cell_index, lesson, timeout if timeout is not None else "?")
    elif isinstance(exc, DeadKernelError):
        CELLS.error("qlearn: the kernel of %s stopped while running cell %s (shut down, or out of memory?): %s",
                    lesson, cell_index, excerpt(str(exc), 300))
    else:
        CELLS.error("qlearn: cell %s of %s could not run: %s: %s", cell_index, lesson, type(exc).__name__,
                    excerpt(str(exc), 300))


def logging_executor_class():
    """Voila's ``VoilaExecutor`` with every cell that stops a page logged with its lesson.

    A cell that raises is logged by :func:`log_cell_error` (nbclient's hook, which has the kernel's
    traceback); this subclass adds the cells nbclient's hook never sees (:func:`log_cell_stopped`).
    Installed by :func:`install_cell_logging`.
    """
    from nbclient.exceptions import CellExecutionError
    from voila.execute import VoilaExecutor

    class QlearnExecutor(VoilaExecutor):
        async def execute_cell(self, cell, resources, cell_index, store_history=True):
            try:
                return await super().execute_cell(cell, resources, cell_index, store_history)
            except CellExecutionError:  # already logged, with the traceback, by log_cell_error
                raise
            except Exception as e:
                log_cell_stopped(cell_index, e, timeout=self._get_timeout(cell))
                raise

    return QlearnExecutor


def install_cell_logging() -> None:
    """Make Voila's page renderer (in this process) execute notebooks with
    :func:`logging_executor_class`. Voila creates its executor by name in
    ``voila.notebook_renderer`` (no setting chooses the class), so the name is rebound there; pages
    rendered for a request and pre-heated ones both go through it. Idempotent."""
    import voila.notebook_renderer as renderer

    current = renderer.VoilaExecutor
    if getattr(current, "_qlearn_logging", False):
        return
    cls = logging_executor_class()
    cls._qlearn_logging = True
    renderer.VoilaExecutor = cls

"""Kernel limits for ``qlearn serve``: a cap per server and per client, and no kernel left behind.

Every lesson page gets a kernel (about 120 MB). Without limits, anyone who can reach the server can
start kernels until the machine runs out of memory: a page request dropped after its first bytes
still starts one, and a kernel whose page never connects lived until the idle cull (10 minutes).
:class:`QlearnKernelManager` (Voila's ``multi_kernel_manager_class``) adds:

* ``max_kernels``: most kernels at once, the pre-heated pool included. A page asked for when the
  server is full gets :func:`busy_page` (HTTP 503, "try again in a minute"), not a kernel; a pool
  refill waits for room instead of failing.
* ``max_kernels_per_client``: most kernels handed to one client address (HTTP 429 past it); not
  applied to 127.0.0.1 and ::1 (this machine's browser, or a reverse proxy on it).
* kernels handed to a page that never connects are shut down ``unconnected_timeout`` seconds after
  the page was sent, or after the page's last sign of life (:meth:`QlearnKernelManager.page_seen`:
  its watchdog asks about its kernel every few seconds while it loads; a handshake in progress
  counts too), so a page that is only slow on a loaded server keeps its kernel (at most
  ``unconnected_limit``, 600 s, after it was sent: asking is not connecting); kernels whose page
  went away (websocket closed, no unload) after ``disconnected_timeout``; kernels with a page
  connected but idle after ``connected_idle_timeout``.

The page handler (``qlearn.serve``) asks :meth:`QlearnKernelManager.admit` before Voila touches a
kernel, so a query string (``?x=1``) or an empty pool cannot skip the limits. See ``docs/hosting.md``.
"""
from __future__ import annotations

import asyncio
import contextvars
import html
import os
import time
from dataclasses import dataclass, field

from jupyter_server.services.kernels.kernelmanager import AsyncMappingKernelManager
from traitlets import Float, Int

from .pools import refill_delay

#: The client address (and lesson) of the page request being served; kernels started inside it are
#: attributed to it. A context variable, so concurrent requests do not see each other's.
CLIENT: contextvars.ContextVar[PageRequest | None] = contextvars.ContextVar("qlearn_client", default=None)
#: Client addresses the per-client cap does not apply to: this machine's own browser (one user, the
#: server cap is theirs) or a reverse proxy on it (every learner arrives from it). Other loopback
#: addresses (127.0.0.2...) are capped like any client.
UNCAPPED_CLIENTS = frozenset({"127.0.0.1", "::1"})
#: Memory a kernel is budgeted when the default cap is derived from the machine's memory.
KERNEL_BUDGET_BYTES = 160 * 2**20


def default_max_kernels(fraction: float = 0.6, lo: int = 8, hi: int = 200) -> int:
    """Kernels that fit in ``fraction`` of this machine's memory at about 160 MB each, in ``[lo, hi]``.

    Examples
    --------
    >>> 8 <= default_max_kernels() <= 200
    True
    """
    try:
        total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        return lo
    return max(lo, min(hi, int(total * fraction // KERNEL_BUDGET_BYTES)))


def kernel_processes(server_pid: int) -> list:
    """The kernel processes a server started: its *direct* children whose command line runs ipykernel
    (``python -m ipykernel_launcher -f kernel-<id>.json``), as :mod:`psutil` processes.

    For tests and benchmarks that count a server's kernels from outside. Only direct children: a
    process a kernel starts shows the kernel's command line until it has executed its own program, and
    every kernel starts one at start-up (debugpy, imported for ipykernel's debugger, calls
    ``platform.platform()``, which runs ``uname -p``: up to 245 ms before it ran ``uname`` on a busy
    2-core machine).
    Counting the server's descendants whose command line holds "ipykernel" counted that process too:
    7 "kernels" under a cap of 6. Raises ``psutil.NoSuchProcess`` if ``server_pid`` is gone.

    Examples
    --------
    >>> import os
    >>> all(p.ppid() == os.getpid() for p in kernel_processes(os.getpid()))
    True
    """
    import psutil  # a dependency of ipykernel; only tests and benchmarks call this

    out = []
    for p in psutil.Process(server_pid).children(recursive=False):
        try:
            if "ipykernel" in " ".join(p.cmdline()):
                out.append(p)
        except psutil.Error:  # gone, or a zombie (exited, not yet reaped by the server)
            pass
    return out


def _last_activity(kernel):
    """A kernel's ``last_activity``, or None while it is unset (the trait raises TraitError then)."""
    try:
        return kernel.last_activity
    except Exception:
        return None


class KernelLimitReached(RuntimeError):
    """No kernel started: the server (or this client) is at its kernel cap."""

    def __init__(self, message: str, status: int = 503):
        super().__init__(message)
        self.status = status


@dataclass(eq=False)
class PageRequest:
    """A lesson page being served: who asked, for which lesson, and the kernels started for it."""

    client: str
    lesson: str
    kernel_ids: list = field(default_factory=list)


@dataclass
class Handout:
    """A kernel given to a page: who asked, for which lesson, and what its page did since."""

    client: str
    lesson: str
    started: float
    sent: float | None = None  # page fully sent
    connected_ever: bool = False
    disconnected: float | None = None  # last time its connection count fell to 0
    seen: float | None = None  # last sign of life from its page before it connected (page_seen)
    connecting: int = 0  # its page's websocket handshakes in progress (waiting for the kernel)

    def quiet_since(self) -> float | None:
        """Since when the page that has not connected yet has given no sign of life (None: still
        being sent, or a handshake is in progress)."""
        if self.sent is None or self.connecting > 0:
            return None
        return self.sent if self.seen is None else max(self.sent, self.seen)


def busy_page(title: str, message: str, retry_after: int = 60) -> str:
    """A small self-contained HTML page for a refused request (no script, no external resource).

    Examples
    --------
    >>> "try again" in busy_page("The server is full", "Please try again in a minute.")
    True
    """
    t, m = html.escape(title), html.escape(message)
    return (
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>"
        f"<meta name='viewport' content='width=device-width, initial-scale=1'>"
        f"<meta http-equiv='refresh' content='{int(retry_after)}'><title>{t}</title>"
        "<style>body{font-family:system-ui,sans-serif;max-width:36em;margin:4em auto;padding:0 1em;"
        "line-height:1.5;color:#222}</style></head>"
        f"<body><h1>{t}</h1><p>{m}</p><p>This page tries again by itself in {int(retry_after)} seconds.</p>"
        "</body></html>")


FULL_TITLE = "The lesson server is full"
FULL_MESSAGE = ("Every place on this server is taken right now. Please try again in a minute; "
                "if it keeps happening, tell your teacher.")
CLIENT_TITLE = "Too many lessons open"
CLIENT_MESSAGE = ("This computer has {n} lessons open on this server, the most it allows. Close a "
                  "lesson tab you no longer need, then try again in a minute.")


class QlearnKernelManager(AsyncMappingKernelManager):
    """Jupyter Server's kernel manager with the caps and timeouts described in the module docstring."""

    max_kernels = Int(0, config=True, help="Most kernels at once, pool included (0: from memory).")
    max_kernels_per_client = Int(10, config=True, help="Most kernels per client address (0: no limit).")
    unconnected_timeout = Float(50.0, config=True, help="Seconds a sent page has to connect to its kernel.")
    unconnected_limit = Float(600.0, config=True,
                              help="Seconds a sent page may take to connect however often it shows signs of life "
                                   "(a page that asks about its kernel but never connects does not keep it for ever).")
    disconnected_timeout = Float(120.0, config=True, help="Seconds a kernel outlives its page's connection.")
    connected_idle_timeout = Float(4 * 3600.0, config=True, help="Seconds a connected kernel may stay idle.")
    check_interval = Float(10.0, config=True, help="Seconds between two passes of the kernel reaper.")

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self._handouts: dict[str, Handout] = {}
        self._starting_ids: set[str] = set()
        self._inflight: set[PageRequest] = set()
        self._reaper = None
        self.closing = False
        if self.max_kernels <= 0:
            self.max_kernels = default_max_kernels()
        if hasattr(self, "fill_if_needed"):  # Voila's pre-heating manager, built on this class
            self.fill_if_needed = self._fill_if_needed

    def _fill_if_needed(self, delay=None, notebook_name=None, **kwargs):
        """Voila's ``fill_if_needed``, with the delay of a taken kernel's replacement chosen by
        :func:`qlearn.server.pools.refill_delay` (Voila asks for its fixed ``fill_delay`` with
        ``delay=None``; an explicit delay, as the pool keeper's 0, is kept)."""
        if delay is None:
            delay = refill_delay(getattr(self, "_pools", {}).get(notebook_name, []))
        return type(self).fill_if_needed(self, delay=delay, notebook_name=notebook_name, **kwargs)

    # ------------------------------------------------------------------ admission

    @property
    def _starting(self) -> int:
        """Kernels being started that are not in the kernel table yet: with ``len(self)``, every kernel
        process this manager started, each once. (jupyter_client enters a kernel in the table a few
        event-loop turns before ``start_kernel`` returns; a plain counter of starts under way counted
        it twice meanwhile, up to a second here on a busy machine, and refused pages with room left.)
        """
        return sum(1 for kid in self._starting_ids if kid not in self._kernels)

    def client_kernels(self, client: str) -> int:
        """Kernels ``client`` holds: handed out and alive, plus page requests in flight without one yet."""
        held = sum(1 for kid, h in self._handouts.items() if h.client == client and kid in self)
        return held + sum(1 for r in self._inflight if r.client == client and not r.kernel_ids)

    def admit(self, request: PageRequest, has_ready_kernel: bool) -> None:
        """Raise :class:`KernelLimitReached` if ``request`` may not get a kernel now; else count it
        as in flight until :meth:`release`.

        ``has_ready_kernel``: a pre-heated kernel is waiting for this lesson (taking it does not
        raise the count).
        """
        self.start_reaper()
        cap = self.max_kernels_per_client
        if cap > 0 and request.client not in UNCAPPED_CLIENTS and self.client_kernels(request.client) >= cap:
            raise KernelLimitReached(CLIENT_MESSAGE.format(n=cap), status=429)
        if not has_ready_kernel and len(self) + self._starting >= self.max_kernels:
            raise KernelLimitReached(FULL_MESSAGE)
        self._inflight.add(request)

    def release(self, request: PageRequest) -> None:
        self._inflight.discard(request)

    async def start_kernel(self, *args, **kwargs):
        env = kwargs.get("env") or {}
        pool_refill = env.get("VOILA_PREHEAT") == "True"
        request = CLIENT.get()
        if pool_refill:  # a pre-heated kernel waits for room rather than failing
            while len(self) + self._starting >= self.max_kernels:
                if self.closing:
                    raise KernelLimitReached("the server is stopping")
                await asyncio.sleep(1.0)
        elif len(self) + self._starting >= self.max_kernels:
            raise KernelLimitReached(FULL_MESSAGE)
        # the id chosen here, so that the kernel is counted once from now on (see _starting)
        kernel_id = kwargs["kernel_id"] = kwargs.get("kernel_id") or self.new_kernel_id()
        self._starting_ids.add(kernel_id)
        try:
            kernel_id = await super().start_kernel(*args, **kwargs)
        finally:
            self._starting_ids.discard(kwargs["kernel_id"])
        if request is not None and not pool_refill:
            self.record_handout(kernel_id, request.client, request.lesson)
            request.kernel_ids.append(kernel_id)
        self.start_reaper()
        return kernel_id

    def record_handout(self, kernel_id: str, client: str, lesson: str) -> None:
        self._handouts[kernel_id] = Handout(client=client, lesson=lesson, started=time.monotonic())

    def page_sent(self, kernel_id: str) -> None:
        h = self._handouts.get(kernel_id)
        if h is not None and h.sent is None:
            h.sent = time.monotonic()

    def page_seen(self, kernel_id: str) -> None:
        """The page of ``kernel_id`` asked about its kernel (its watchdog, every few seconds from the
        moment the page starts): it is open, only slow to connect. On a loaded server (a class opening
        the same lesson at once, pages and kernels sharing two cores) a page took over 50 s from
        arriving to connecting, and the reaper freed its kernel under it."""
        h = self._handouts.get(kernel_id)
        if h is not None and not h.connected_ever:
            h.seen = time.monotonic()

    def connecting(self, kernel_id: str, delta: int) -> None:
        """A websocket handshake for ``kernel_id`` started (+1) or ended (-1): jupyter_server waits for
        the kernel's answer before completing it (up to a minute when the kernel is busy)."""
        h = self._handouts.get(kernel_id)
        if h is not None:
            h.connecting = max(0, h.connecting + delta)
            if delta < 0 and not h.connected_ever:
                h.seen = time.monotonic()

    def lesson_of(self, kernel_id: str) -> str:
        h = self._handouts.get(kernel_id)
        if h is not None:
            return h.lesson
        for name, data in (getattr(self, "notebook_data", None) or {}).items():
            if kernel_id in data.get("kernel_ids", ()):
                return name
        return "?"

    # ------------------------------------------------------------------ connections

    def notify_connect(self, kernel_id):
        super().notify_connect(kernel_id)
        h = self._handouts.get(kernel_id)
        if h is not None:
            h.connected_ever, h.disconnected = True, None

    def notify_disconnect(self, kernel_id):
        super().notify_disconnect(kernel_id)
        h = self._handouts.get(kernel_id)
        if h is not None and self._kernel_connections.get(kernel_id, 0) == 0:
            h.disconnected = time.monotonic()

    # ------------------------------------------------------------------ reaper

    def start_reaper(self) -> None:
        if self._reaper is None:
            from tornado.ioloop import PeriodicCallback

            self._reaper = PeriodicCallback(self.reap, 1000 * self.check_interval)
            self._reaper.start()

    def stop_reaper(self) -> None:
        if self._reaper is not None:
            self._reaper.stop()
            self._reaper = None

    def doomed(self, now: float | None = None) -> list[tuple[str, str]]:
        """Kernels to shut down now, each with the reason."""
        from jupyter_server._tz import utcnow

        now = time.monotonic() if now is None else now
        out = []
        for kid, h in list(self._handouts.items()):
            if kid not in self:
                del self._handouts[kid]
                continue
            conns = self._kernel_connections.get(kid, 0)
            quiet = h.quiet_since()
            if conns == 0 and not h.connected_ever and h.sent is not None and now - h.sent > self.unconnected_limit:
                out.append((kid, f"its page never connected ({now - h.sent:.0f} s after it was sent)"))
            elif conns == 0 and not h.connected_ever and quiet is not None and now - quiet > self.unconnected_timeout:
                out.append((kid, f"its page never connected ({now - h.sent:.0f} s after it was sent, "
                                 f"no sign of it for {now - quiet:.0f} s)"))
            elif conns == 0 and h.disconnected is not None and now - h.disconnected > self.disconnected_timeout:
                out.append((kid, f"its page went away {now - h.disconnected:.0f} s ago"))
            elif conns > 0:
                last = _last_activity(self._kernels.get(kid))
                if last is not None and (utcnow() - last).total_seconds() > self.connected_idle_timeout:
                    out.append((kid, "idle with a page connected for too long"))
        return out

    def awaiting_page(self, kernel_id: str, now: float | None = None) -> bool:
        """True while ``kernel_id`` was handed to a page that has not connected to it yet and may still
        (it is being rendered or sent, or was sent less than ``unconnected_timeout`` ago): the reaper's
        to free, not the idle culler's."""
        h = self._handouts.get(kernel_id)
        if h is None or h.connected_ever:
            return False
        quiet = h.quiet_since()
        now = time.monotonic() if now is None else now
        return quiet is None or now - quiet <= self.unconnected_timeout

    async def cull_kernel_if_idle(self, kernel_id):
        """jupyter_server's idle cull, skipping

        * a kernel still starting: its ``last_activity`` is not set yet, and reading it raised a
          TraitError traceback into the log;
        * a kernel just handed to a page (:meth:`awaiting_page`): a pre-heated kernel that waited in
          the pool longer than the idle timeout looks idle, and a cull pass between handing it out
          and the page connecting shut it down under the learner (their page then had no kernel, and
          the kernel's own traceback went to the log).
        """
        if _last_activity(self._kernels.get(kernel_id)) is None or self.awaiting_page(kernel_id):
            return None
        return await super().cull_kernel_if_idle(kernel_id)

    async def reap(self) -> None:
        for kid, why in self.doomed():
            self.log.info("qlearn: shutting down kernel %s (%s): %s", kid, self.lesson_of(kid), why)
            self._handouts.pop(kid, None)
            try:
                await self.shutdown_kernel(kid)
            except Exception as e:  # already gone
                self.log.debug("qlearn: kernel %s: %s", kid, e)
            # its place is free only now (its process may have exited a moment earlier)
            self.log.info("qlearn: kernel %s freed; %d of %d places taken", kid, len(self) + self._starting,
                          self.max_kernels)


def page_kernel_handler(base):
    """``base`` (jupyter_server's ``KernelHandler``, ``GET /api/kernels/<id>``) that also tells the
    kernel manager the page asking is alive (:meth:`QlearnKernelManager.page_seen`)."""

    class PageKernelHandler(base):
        async def get(self, kernel_id):
            km = self.kernel_manager
            if hasattr(km, "page_seen"):
                km.page_seen(kernel_id)
            return await super().get(kernel_id)

    PageKernelHandler.__name__ = PageKernelHandler.__qualname__ = "PageKernelHandler"
    return PageKernelHandler

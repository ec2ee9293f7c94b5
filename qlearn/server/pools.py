"""Pre-heated kernels where the next learners will be: the lesson in use, the next lesson, the landing page.

Voila keeps ``pool_size`` executed kernels per pre-heated notebook and, when one is taken, starts one
replacement. With one kernel per lesson (``qlearn serve``'s default, to keep 19 lessons in about
2.3 GB) the second learner on a lesson arrived while that replacement was still starting and
executing, and waited for all of it: about 11 s here against a few seconds for the first.

:class:`PoolKeeper` keeps more kernels ready only where they are about to be used:

* the lesson opened last (for :data:`HOT_SECONDS` after its last opening) and the lesson after it
  in the course (a class moves on together) are kept at ``burst`` ready kernels; the landing page
  counts as a lesson while no other is in use (its next lesson, 01, is then kept ready);
* the landing page, where every learner starts, always at ``burst``;
* every other pre-heated lesson at its ``pool_size``; a lesson that is no longer the last opened
  gives its extra kernels back (shut down) once nobody opened it for :data:`SHRINK_AFTER` seconds,
  so the memory goes back to the base. At most ``2 * (burst - pool_size)`` extra kernels for lessons
  (about 0.5 GB with the defaults) and ``burst - pool_size`` for the landing page.

It adds **one kernel at a time**, only when no page was asked for in the last :data:`QUIET_SECONDS`
(the learner's browser is still connecting to its kernel then), no page is being served and no
other pre-heated kernel is starting or executing its notebook (on 2 cores, a page asked for now
matters more than one that might be), never past ``max_kernels - RESERVE`` kernels, so extra
kernels never take the last places from learners, and not at all on a server whose ``max_kernels``
has no room for them (the base pools plus three times ``burst - 1`` plus ``RESERVE``). See
``docs/hosting.md``.
"""
from __future__ import annotations

import time

#: Seconds a lesson stays "hot" (kept at ``burst`` ready kernels) after it was last opened.
HOT_SECONDS = 600.0
#: Seconds a lesson that is no longer the last opened keeps its extra kernels (no churn when learners
#: go back and forth between two lessons).
SHRINK_AFTER = 60.0
#: Seconds after a page request during which no kernel is added (the page's browser is busy).
QUIET_SECONDS = 5.0
#: Places under the server's kernel cap that extra pre-heated kernels never take.
RESERVE = 2
#: Seconds between two passes of the keeper.
INTERVAL = 1.0
#: Seconds Voila waits before replacing a taken pre-heated kernel when the pool has none ready left
#: (Voila's own default): the next learner on that lesson would wait for it.
REFILL_DELAY_EMPTY = 1.0
#: ... and when a ready one is left: the replacement (a kernel starting and executing the lesson,
#: seconds of CPU) waits until the learner's page is drawn, as the keeper does (QUIET_SECONDS). On 2
#: cores shared with the browser, first figures came ~0.5-0.8 s sooner on average (bench_voila.py;
#: docs/hosting.md gives the runs, and the cost: key presses right after the page meet the replacement).
REFILL_DELAY_SPARE = QUIET_SECONDS


def is_ready(task) -> bool:
    """A pool entry whose kernel started and whose notebook has finished executing."""
    if not task.done() or task.cancelled() or task.exception() is not None:
        return False
    render = task.result().get("task")
    return render is None or render.done()


def refill_delay(pool) -> float:
    """Seconds before Voila replaces a kernel just taken from ``pool`` (the entries left in it).

    Examples
    --------
    >>> refill_delay([])
    1.0
    """
    return REFILL_DELAY_SPARE if any(is_ready(t) for t in pool) else REFILL_DELAY_EMPTY


def next_lessons(order) -> dict[str, str]:
    """``{lesson: the lesson after it}`` for a course order (a list of notebook file names).

    Examples
    --------
    >>> next_lessons(["00_index.ipynb", "01_a.ipynb", "02_b.ipynb"])
    {'00_index.ipynb': '01_a.ipynb', '01_a.ipynb': '02_b.ipynb'}
    """
    order = list(order)
    return dict(zip(order, order[1:]))


class PoolKeeper:
    """Grows and shrinks Voila's pre-heat pools (``km._pools``, ``km.kernel_pools_config``).

    Parameters
    ----------
    km : Voila's pre-heating kernel manager (``VoilaKernelManager`` over ``QlearnKernelManager``)
    base : dict
        ``{notebook: pool size}`` to keep at all times (what ``--preheat``/``--pool-size`` asked for).
    burst : int
        Ready kernels for the landing page and for a lesson in use or next in line (1: no extra).
    landing : str or None
        The landing page's file name (kept at ``burst`` when pre-heated).
    order : sequence of str
        Notebooks in course order (the lesson after a hot one is kept at ``burst`` too).
    clock : callable
        Seconds, monotonic (for tests).
    """

    def __init__(self, km, base: dict, burst: int, landing: str | None = None, order=(),
                 hot_seconds: float = HOT_SECONDS, clock=time.monotonic):
        self.km, self.base, self.burst, self.landing = km, dict(base), int(burst), landing
        self.after = next_lessons(order)
        self.hot_seconds, self.clock = hot_seconds, clock
        self.hot_until: dict[str, float] = {}
        # extra kernels only on a server with room for them: the base pools, the landing page's and
        # two lessons' extras, and RESERVE places for learners (a server capped tightly on purpose,
        # e.g. --max-kernels 6, keeps its places for pages)
        cap = getattr(km, "max_kernels", 0) or 0
        self.enabled = cap <= 0 or cap >= sum(self.base.values()) + 3 * max(0, self.burst - 1) + RESERVE
        self.last_opened: str | None = None
        self.last_page = float("-inf")
        self.started = False
        self._busy = False

    # ------------------------------------------------------------------ what is wanted

    def mark_opened(self, notebook: str) -> None:
        """A page of ``notebook`` was asked for: it and the lesson after it are hot."""
        now = self.clock()
        self.last_page = now
        if notebook not in self.base:
            return
        last = self.last_opened
        if notebook == self.landing and last not in (None, self.landing) \
                and self.hot_until.get(last, float("-inf")) > now:
            return  # a learner back on the course map: the lesson in use stays the one in use
        self.last_opened = notebook  # the landing page: its next lesson (01) is the one to keep ready
        self.hot_until[notebook] = now + self.hot_seconds

    def wanted(self, notebook: str) -> int:
        """Ready kernels wanted for ``notebook`` now."""
        base = self.base.get(notebook, 0)
        if base <= 0:
            return 0
        if notebook == self.landing:
            return max(base, self.burst)
        last = self.last_opened
        if last is not None and self.hot_until.get(last, float("-inf")) > self.clock() \
                and notebook in (last, self.after.get(last)):
            return max(base, self.burst)
        return base

    def _recent(self, notebook: str) -> bool:
        """Opened in the last SHRINK_AFTER seconds (its extra kernels are kept a while)."""
        until = self.hot_until.get(notebook)
        return until is not None and self.clock() - (until - self.hot_seconds) < SHRINK_AFTER

    # ------------------------------------------------------------------ the pools as they are

    def _pool(self, notebook: str) -> list:
        return getattr(self.km, "_pools", {}).get(notebook, [])

    _ready = staticmethod(is_ready)

    def warming(self) -> bool:
        """A pre-heated kernel is starting or executing its notebook somewhere (a pool entry that
        failed does not count)."""
        for pool in getattr(self.km, "_pools", {}).values():
            for t in pool:
                failed = t.done() and (t.cancelled() or t.exception() is not None)
                if not failed and not self._ready(t):
                    return True
        return False

    def pages_in_flight(self) -> bool:
        return bool(getattr(self.km, "_inflight", ()))

    def room(self) -> bool:
        cap = getattr(self.km, "max_kernels", 0) or 0
        if cap <= 0:
            return True
        return len(self.km) + getattr(self.km, "_starting", 0) + 1 <= cap - RESERVE

    # ------------------------------------------------------------------ one pass

    def plan(self) -> tuple[str, str] | None:
        """The one change to make now: ``("grow", notebook)``, ``("shrink", notebook)`` or None."""
        if not self.enabled or self.pages_in_flight() or self.warming() \
                or self.clock() - self.last_page < QUIET_SECONDS:
            return None
        for nb in self.base:
            if len(self._pool(nb)) > self.wanted(nb) and not self._recent(nb) \
                    and any(self._ready(t) for t in self._pool(nb)):
                return "shrink", nb
        if not self.room():
            return None
        # the landing page first, then the most recently opened lessons
        hot = sorted((nb for nb in self.base if self.wanted(nb) > len(self._pool(nb))),
                     key=lambda nb: (nb != self.landing, -self.hot_until.get(nb, 0.0)))
        return ("grow", hot[0]) if hot else None

    async def tick(self) -> str | None:
        """Make the change :meth:`plan` says; returns a short description (or None)."""
        if self._busy or getattr(self.km, "closing", False):
            return None
        self._busy = True
        try:
            step = self.plan()
            if step is None:
                return None
            what, nb = step
            pool = self._pool(nb)
            config = self.km.kernel_pools_config
            if what == "grow":
                config[nb] = {**config.get(nb, {}), "pool_size": len(pool) + 1}
                self.km.fill_if_needed(delay=0, notebook_name=nb)
                return f"grow {nb} to {len(pool)}"
            want = self.wanted(nb)
            config[nb] = {**config.get(nb, {}), "pool_size": want}
            surplus = [t for t in reversed(pool) if self._ready(t)][: len(pool) - want]
            for t in surplus:
                kid = t.result().get("kernel_id")
                if t in pool:
                    pool.remove(t)
                if kid and kid in self.km:
                    try:
                        await self.km.shutdown_kernel(kid)
                    except Exception as e:  # already gone; never a traceback from the keeper
                        log = getattr(self.km, "log", None)
                        if log is not None:
                            log.warning("qlearn: pre-heated kernel %s of %s: %s", kid, nb, type(e).__name__)
            log = getattr(self.km, "log", None)
            if log is not None:
                log.info("qlearn: %s is no longer the lesson in use: %d extra pre-heated kernel(s) shut down, "
                         "%d kept", nb, len(surplus), len(pool))
            return f"shrink {nb} to {len(pool)}"
        finally:
            self._busy = False

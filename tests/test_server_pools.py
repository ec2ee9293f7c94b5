"""qlearn.server.pools: more pre-heated kernels where the next learners will be, one at a time.

Against a stand-in for Voila's pre-heating kernel manager (its ``_pools`` of tasks, its
``kernel_pools_config`` and ``fill_if_needed``, as Voila 0.5.13 has them: see
tests/test_serve.py::test_the_internals_the_guard_relies_on_exist); the served behaviour is measured
by benchmarks/bench_voila.py (1st, 2nd and 3rd tab on a lesson).
"""
from __future__ import annotations

import asyncio
import inspect

import pytest

from qlearn.server.pools import (
    QUIET_SECONDS,
    REFILL_DELAY_EMPTY,
    REFILL_DELAY_SPARE,
    RESERVE,
    PoolKeeper,
    next_lessons,
    refill_delay,
)

LANDING, A, B, C = "00_index.ipynb", "01_a.ipynb", "02_b.ipynb", "03_c.ipynb"


class FakeKM:
    """Voila's pool bookkeeping: a pool entry is a task resolving to {"kernel_id", "task": render}."""

    def __init__(self, pools: dict, max_kernels: int = 50):
        self.kernel_pools_config = {"default": {"pool_size": 0}, **{nb: {"pool_size": n} for nb, n in pools.items()}}
        self._pools = {nb: [] for nb in pools}
        self.kernels: set[str] = set()
        self.max_kernels, self._starting, self._inflight, self.closing = max_kernels, 0, set(), False
        self.shut: list[str] = []
        self._n = 0
        for nb, n in pools.items():
            for _ in range(n):
                self._pools[nb].append(self.ready(nb))

    def __len__(self):
        return len(self.kernels)

    def __contains__(self, kid):
        return kid in self.kernels

    def ready(self, nb):
        """A pool entry whose kernel started and whose notebook ran."""
        self._n += 1
        kid = f"{nb}-{self._n}"
        self.kernels.add(kid)
        render = asyncio.get_running_loop().create_future()
        render.set_result(None)
        entry = asyncio.get_running_loop().create_future()
        entry.set_result({"kernel_id": kid, "task": render})
        return entry

    def fill_if_needed(self, delay=None, notebook_name=None, **kwargs):
        pool = self._pools.setdefault(notebook_name, [])
        for _ in range(self.kernel_pools_config[notebook_name]["pool_size"] - len(pool)):
            pool.append(asyncio.get_running_loop().create_future())  # starting

    def finish_warming(self):
        for nb, pool in self._pools.items():
            for i, t in enumerate(pool):
                if not t.done():
                    pool[i] = self.ready(nb)

    async def shutdown_kernel(self, kid):
        self.kernels.discard(kid)
        self.shut.append(kid)


class Clock:
    def __init__(self):
        self.t = 1000.0

    def __call__(self):
        return self.t


def sizes(km):
    return {nb: len(p) for nb, p in km._pools.items()}


def test_next_lessons_follow_the_course():
    assert next_lessons([LANDING, A, B]) == {LANDING: A, A: B}


def test_wanted_landing_always_hot_lessons_hot_when_opened_and_the_next_one_too():
    async def main():
        km, clock = FakeKM({LANDING: 1, A: 1, B: 1, C: 1}), Clock()
        k = PoolKeeper(km, {LANDING: 1, A: 1, B: 1, C: 1}, burst=3, landing=LANDING, order=[LANDING, A, B, C],
                       hot_seconds=600, clock=clock)
        assert [k.wanted(nb) for nb in (LANDING, A, B, C)] == [3, 1, 1, 1]
        k.mark_opened(A)
        assert [k.wanted(nb) for nb in (LANDING, A, B, C)] == [3, 3, 3, 1]
        clock.t += 601
        assert [k.wanted(nb) for nb in (LANDING, A, B, C)] == [3, 1, 1, 1]
        k.mark_opened(A)
        k.mark_opened(C)  # only the lesson opened last (and the next) is kept at the burst
        assert [k.wanted(nb) for nb in (LANDING, A, B, C)] == [3, 1, 1, 3]
        k.mark_opened(LANDING)  # back on the course map: the lesson in use stays C
        assert [k.wanted(nb) for nb in (LANDING, A, B, C)] == [3, 1, 1, 3]
        clock.t += 601
        k.mark_opened(LANDING)  # nobody on a lesson: the first lesson is kept ready
        assert [k.wanted(nb) for nb in (LANDING, A, B, C)] == [3, 3, 1, 1]
        k.mark_opened("not_preheated.ipynb")  # no pool: nothing wanted
        assert k.wanted("not_preheated.ipynb") == 0
        # a teacher's --pool-size larger than the burst stays
        assert PoolKeeper(km, {A: 30}, burst=3, clock=clock).wanted(A) == 30

    asyncio.run(main())


def test_grows_one_kernel_at_a_time_landing_first_and_waits_for_pages_and_warming():
    async def main():
        km, clock = FakeKM({LANDING: 1, A: 1, B: 1}), Clock()
        k = PoolKeeper(km, {LANDING: 1, A: 1, B: 1}, burst=3, landing=LANDING, order=[LANDING, A, B], clock=clock)
        k.mark_opened(A)
        assert k.plan() is None  # a page was just asked for: its browser is busy
        clock.t += 6
        steps = []
        for _ in range(40):
            step = await k.tick()
            if step is None:
                assert k.warming() or not k.plan()
                km.finish_warming()  # the kernel started and executed its notebook
                continue
            steps.append(step)
            assert sum(not t.done() for p in km._pools.values() for t in p) == 1  # one at a time
            assert await k.tick() is None  # nothing more while it warms
        assert steps[:2] == [f"grow {LANDING} to 2", f"grow {LANDING} to 3"]
        assert sizes(km) == {LANDING: 3, A: 3, B: 3} and len(steps) == 6
        # a page being served: the keeper waits
        clock.t += 1
        k.mark_opened(B)
        km._pools[B].pop(0)  # a learner took one
        clock.t += 6
        km._inflight.add("page")
        assert await k.tick() is None
        km._inflight.clear()
        assert await k.tick() == f"grow {B} to 3"  # A, no longer the last opened, keeps its extra a while
        km.finish_warming()
        assert await k.tick() is None and sizes(km)[A] == 3
        clock.t += 60
        assert await k.tick() == f"shrink {A} to 1"

    asyncio.run(main())


def test_never_takes_the_last_places_under_the_kernel_cap():
    async def main():
        km = FakeKM({LANDING: 1, A: 1}, max_kernels=8 + RESERVE)
        km.kernels |= {f"learner-{i}" for i in range(6)}  # 8 kernels: 2 pooled, 6 with learners
        k = PoolKeeper(km, {LANDING: 1, A: 1}, burst=3, landing=LANDING, order=[LANDING, A])
        assert k.enabled and k.plan() is None and await k.tick() is None
        km.kernels.discard("learner-2")
        assert await k.tick() == f"grow {LANDING} to 2"
        # a server capped tightly on purpose keeps every place for pages
        tight = FakeKM({LANDING: 1}, max_kernels=6)
        k = PoolKeeper(tight, {LANDING: 1}, burst=3, landing=LANDING, order=[LANDING])
        assert not k.enabled and await k.tick() is None and sizes(tight) == {LANDING: 1}

    asyncio.run(main())


def test_a_lesson_that_cooled_down_gives_its_extra_kernels_back():
    async def main():
        km, clock = FakeKM({LANDING: 1, A: 3, B: 3}), Clock()
        k = PoolKeeper(km, {LANDING: 1, A: 1, B: 1}, burst=3, landing=None, order=[LANDING, A, B],
                       hot_seconds=600, clock=clock)
        k.mark_opened(A)  # A and B hot: nothing to give back
        assert k.plan() is None
        clock.t += 601
        newest = km._pools[A][-1].result()["kernel_id"]
        assert await k.tick() == f"shrink {A} to 1"
        assert newest in km.shut and len(km.shut) == 2 and km.kernel_pools_config[A]["pool_size"] == 1
        assert await k.tick() == f"shrink {B} to 1"
        assert sizes(km) == {LANDING: 1, A: 1, B: 1} and await k.tick() is None
        km.closing = True  # stopping: the keeper does nothing
        k.mark_opened(A)
        assert await k.tick() is None

    asyncio.run(main())


def test_voila_still_reads_the_pool_size_at_each_refill():
    """The keeper changes ``kernel_pools_config[nb]["pool_size"]`` and calls ``fill_if_needed``;
    Voila must read the size there on every call (not once at start)."""
    from jupyter_server.services.kernels.kernelmanager import AsyncMappingKernelManager
    from voila.voila_kernel_manager import voila_kernel_manager_factory

    src = inspect.getsource(voila_kernel_manager_factory(AsyncMappingKernelManager, True, 0).fill_if_needed)
    assert "self.kernel_pools_config.get(" in src and '"pool_size"' in src
    assert "for _ in range(kernel_size - len(pool))" in src


def _entry(ready: bool):
    """A pool entry as Voila keeps it: a task resolving to {"kernel_id", "task": the render}."""
    loop = asyncio.new_event_loop()
    render = loop.create_future()
    if ready:
        render.set_result(None)
    entry = loop.create_future()
    entry.set_result({"kernel_id": "k", "task": render})
    return entry


def test_a_taken_kernel_is_replaced_soon_only_when_no_ready_one_is_left():
    assert refill_delay([]) == REFILL_DELAY_EMPTY == 1.0
    assert refill_delay([_entry(ready=False)]) == REFILL_DELAY_EMPTY  # the next learner waits for it
    assert refill_delay([_entry(ready=False), _entry(ready=True)]) == REFILL_DELAY_SPARE == QUIET_SECONDS


def test_voilas_refill_gets_the_chosen_delay(monkeypatch, tmp_path):
    """Voila's pre-heating manager built on QlearnKernelManager: its ``fill_if_needed(delay=None)``
    after taking a kernel gets :func:`refill_delay`; an explicit delay (the keeper's 0) is kept."""
    from voila.voila_kernel_manager import voila_kernel_manager_factory

    from qlearn.server.kernels import QlearnKernelManager

    cls = voila_kernel_manager_factory(QlearnKernelManager, True, 0)
    src = inspect.getsource(cls.get_rendered_notebook)  # Voila's call after taking a kernel
    assert "self.fill_if_needed(" in src and "delay=None" in src
    calls = []
    monkeypatch.setattr(cls, "fill_if_needed",
                        lambda self, delay=None, notebook_name=None, **kw: calls.append((notebook_name, delay)))
    from traitlets import Unicode
    from traitlets.config import Configurable

    class App(Configurable):  # what Voila's manager reads of its parent
        root_dir = Unicode(str(tmp_path))
        notebook_path = None

    km = cls(parent=App(), max_kernels=10)
    km._pools = {A: [_entry(ready=True)], B: []}
    km.fill_if_needed(delay=None, notebook_name=A)
    km.fill_if_needed(delay=None, notebook_name=B)
    km.fill_if_needed(delay=0, notebook_name=B)
    assert calls == [(A, REFILL_DELAY_SPARE), (B, REFILL_DELAY_EMPTY), (B, 0)]


@pytest.mark.parametrize("bad", [0, -1, 65, 2.5])
def test_pool_burst_is_checked(bad):
    from qlearn import serve

    with pytest.raises(ValueError, match="pool_burst"):
        serve.ServeOptions(pool_burst=bad)

"""qlearn.server.kernels.kernel_processes: a server's kernels counted from outside, as
tests/browser/test_hostile.py and benchmarks count them.

tests/browser/test_hostile.py once counted 7 kernels under a cap of 6: it counted every descendant of
the server whose command line held "ipykernel". The seventh was no kernel but the ``uname -p`` that each
kernel starts at start-up (debugpy calls ``platform.platform()``): a forked process shows its parent's
command line until it runs a program of its own. Here a stand-in kernel forks such a helper.
"""
from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time

import pytest

from qlearn.server.kernels import kernel_processes

psutil = pytest.importorskip("psutil")

#: A stand-in kernel (its command line runs ipykernel_launcher, as jupyter_client starts kernels) that
#: forks a helper: the helper keeps the same command line, as a kernel's ``uname -p`` does before exec.
FAKE_KERNEL = """
import os, sys, time
helper = os.fork()
if helper == 0:
    time.sleep(120)
    os._exit(0)
print(helper, flush=True)
time.sleep(120)
"""


def _ipykernel_cmdline(p) -> bool:
    try:
        return "ipykernel" in " ".join(p.cmdline())
    except psutil.Error:
        return False


@pytest.fixture
def kernel_with_helper():
    kernel = subprocess.Popen([sys.executable, "-c", FAKE_KERNEL, "-m", "ipykernel_launcher", "-f", "kernel-x.json"],
                              stdout=subprocess.PIPE, text=True)
    try:
        helper = int(kernel.stdout.readline())
        yield kernel.pid, helper
    finally:
        for pid in (locals().get("helper"), kernel.pid):
            if pid:
                try:
                    psutil.Process(pid).kill()
                except psutil.Error:
                    pass
        kernel.wait(30)
        kernel.stdout.close()


def test_a_process_a_kernel_started_is_not_a_kernel(kernel_with_helper):
    kernel, helper = kernel_with_helper
    me = psutil.Process()
    # the helper shows the kernel's command line: counting descendants counted it (the old count)
    old = {p.pid for p in me.children(recursive=True) if _ipykernel_cmdline(p)}
    assert {kernel, helper} <= old
    assert psutil.Process(helper).cmdline() == psutil.Process(kernel).cmdline()
    found = {p.pid for p in kernel_processes(os.getpid())}
    assert kernel in found and helper not in found


def test_an_exited_kernel_not_yet_reaped_is_not_counted():
    """A kernel process that exited (a zombie until its server reaps it) runs no kernel."""
    done = subprocess.Popen([sys.executable, "-c", "pass", "-m", "ipykernel_launcher"])
    try:
        p = psutil.Process(done.pid)
        end = time.monotonic() + 30
        while p.status() != psutil.STATUS_ZOMBIE and time.monotonic() < end:
            time.sleep(0.05)
        assert p.status() == psutil.STATUS_ZOMBIE
        assert done.pid not in {q.pid for q in kernel_processes(os.getpid())}
    finally:
        done.wait(30)


def test_a_kernel_is_counted_once_running_and_not_after_it_exited():
    kernel = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)", "-m", "ipykernel_launcher"])
    other = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"])  # not a kernel
    try:
        pids = {p.pid for p in kernel_processes(os.getpid())}
        assert kernel.pid in pids and other.pid not in pids
    finally:
        kernel.kill()
        other.kill()
        kernel.wait(30)
        other.wait(30)
    assert kernel.pid not in {p.pid for p in kernel_processes(os.getpid())}


def test_a_server_that_is_gone_raises():
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait(30)
    with pytest.raises(psutil.NoSuchProcess):
        kernel_processes(gone.pid)


# ----------------------------------------------------------------------------- the server's own count

def _km(**traits):
    from traitlets.config import Config

    from qlearn.server.kernels import QlearnKernelManager

    c = Config()
    for k, v in traits.items():
        setattr(c.QlearnKernelManager, k, v)
    km = QlearnKernelManager(config=c)
    km.start_reaper = lambda: None  # no periodic callback in these tests
    return km


def test_a_kernel_entered_in_the_table_before_its_start_returned_is_counted_once(monkeypatch):
    """jupyter_client enters a kernel in ``_kernels`` a few event-loop turns before ``start_kernel``
    returns (up to a second on a busy server). Counted as "starting" as well, a server with room refused
    pages (503) and held pool refills back."""
    from jupyter_server.services.kernels.kernelmanager import AsyncMappingKernelManager

    from qlearn.server.kernels import KernelLimitReached, PageRequest

    entered, finish = {}, None

    async def start(self, *args, kernel_id=None, **kwargs):  # jupyter_client's order: table first, return later
        kernel_id = kernel_id or self.new_kernel_id()
        self._kernels[kernel_id] = object()
        entered[kernel_id] = True
        await finish.wait()
        return kernel_id

    monkeypatch.setattr(AsyncMappingKernelManager, "start_kernel", start)

    async def scenario():
        nonlocal finish
        finish = asyncio.Event()
        km = _km(max_kernels=3)
        km._kernels["held"] = object()  # a learner's kernel
        first = asyncio.ensure_future(km.start_kernel(kernel_name="python3"))
        while not entered:
            await asyncio.sleep(0)
        assert len(km) + km._starting == 2  # two kernel processes: the learner's and the one starting
        km.admit(PageRequest("10.0.0.1", "01.ipynb"), has_ready_kernel=False)  # room for a third
        second = asyncio.ensure_future(km.start_kernel(kernel_name="python3"))
        while len(entered) < 2:
            await asyncio.sleep(0)
        assert len(km) + km._starting == 3
        with pytest.raises(KernelLimitReached):  # full now: the cap still holds
            await km.start_kernel(kernel_name="python3")
        with pytest.raises(KernelLimitReached):
            km.admit(PageRequest("10.0.0.2", "01.ipynb"), has_ready_kernel=False)
        finish.set()
        ids = await asyncio.gather(first, second)
        assert set(ids) == set(entered) and len(km) + km._starting == 3 and not km._starting_ids

    asyncio.run(scenario())


def test_a_start_that_fails_is_no_longer_counted(monkeypatch):
    from jupyter_server.services.kernels.kernelmanager import AsyncMappingKernelManager

    async def start(self, *args, **kwargs):
        raise RuntimeError("the kernel did not start")

    monkeypatch.setattr(AsyncMappingKernelManager, "start_kernel", start)
    km = _km(max_kernels=3)
    with pytest.raises(RuntimeError):
        asyncio.run(km.start_kernel(kernel_name="python3"))
    assert len(km) + km._starting == 0

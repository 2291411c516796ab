"""dockyard.locks.file_lock: one holder at a time, across processes; released when the holder dies."""

from __future__ import annotations

import multiprocessing
import os

from dockyard.locks import file_lock


def _hold(path, started, release):
    with file_lock(path):
        started.set()
        release.wait(10)


def test_a_second_holder_waits_for_the_first(tmp_path):
    path = tmp_path / "deep" / "x.lock"
    ctx = multiprocessing.get_context("fork")
    started, release = ctx.Event(), ctx.Event()
    p = ctx.Process(target=_hold, args=(path, started, release))
    p.start()
    assert started.wait(10)
    order = []

    def second():
        with file_lock(path):
            order.append("second")

    import threading
    t = threading.Thread(target=second)
    t.start()
    t.join(0.3)
    order.append("first released")
    release.set()
    t.join(10)
    p.join(10)
    assert order == ["first released", "second"]


def test_a_holder_that_dies_releases_it(tmp_path):
    path = tmp_path / "x.lock"
    pid = os.fork()
    if pid == 0:
        with file_lock(path):
            os._exit(0)  # never leaves the with: the kernel drops the lock with the process
    os.waitpid(pid, 0)
    with file_lock(path):  # would wait forever if the dead holder still held it
        pass


def test_the_folder_is_created_with_the_mode_asked_for(tmp_path):
    with file_lock(tmp_path / "private" / "x.lock", dir_mode=0o700):
        pass
    assert (tmp_path / "private").stat().st_mode & 0o777 == 0o700

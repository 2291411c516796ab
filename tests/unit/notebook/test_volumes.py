"""Lesson 07's helpers that read what they are given: query output, files' owners, docker inspect's mounts, the
CLIs on PATH, the survival plot. (What -v makes of a source is asked of a real daemon: tests/integration/lessons/
test_07_checks.py.)"""

from __future__ import annotations

import os
import sqlite3

import pytest

from dockyard.notebook import volumes


def test_rows_read_the_last_line_and_none_when_the_query_failed():
    assert volumes._rows("noise\n[(1, 'coffee'), (2, 'tea')]\n") == [(1, "coffee"), (2, "tea")]
    assert volumes._rows("Traceback ...\nsqlite3.OperationalError: unable to open database file\n") is None
    assert volumes._rows("") is None


def test_rows_on_host_opens_the_file_read_only(tmp_path):
    db = tmp_path / "shop.db"
    with sqlite3.connect(db) as c:
        c.execute("CREATE TABLE orders (id INTEGER PRIMARY KEY, item TEXT)")
        c.execute("INSERT INTO orders (item) VALUES ('tea')")
    assert volumes.rows_on_host(str(db)) == [(1, "tea")]
    with pytest.raises(sqlite3.OperationalError):
        volumes.rows_on_host(str(tmp_path / "missing.db"))  # mode=ro: no empty database is made
    assert not (tmp_path / "missing.db").exists()


def test_owners_lists_uid_gid_and_the_hosts_name(tmp_path):
    (tmp_path / "a.txt").write_text("hi")
    rows = volumes.owners(str(tmp_path)).rows
    me = os.stat(tmp_path / "a.txt")
    assert rows[0][:3] == ["a.txt", str(me.st_uid), str(me.st_gid)]
    assert rows[0][3] != "(no such user on this host)"


class _Api:
    def __init__(self, ins):
        self.ins = ins

    def inspect_container(self, name):
        return self.ins


class _Box:
    def __init__(self, ins):
        self.client = type("Client", (), {"api": _Api(ins)})()


# docker inspect of `docker run -v dbdata:/data --tmpfs /cache:size=8m -v /srv/conf:/conf:ro ...` (shortened)
INSPECT = {
    "Mounts": [
        {"Type": "volume", "Name": "dbdata", "Source": "/var/lib/docker/volumes/dbdata/_data", "Destination": "/data",
         "RW": True},
        {"Type": "bind", "Source": "/srv/conf", "Destination": "/conf", "RW": False},
    ],
    "HostConfig": {"Tmpfs": {"/cache": "size=8m"}},
}


def test_mounts_include_the_tmpfs_that_docker_lists_only_in_host_config(monkeypatch):
    monkeypatch.setattr(volumes, "sandbox", lambda: _Box(INSPECT))
    rows = volumes.mounts("web").rows
    assert rows == [["volume", "dbdata", "/data", "True"], ["bind", "/srv/conf", "/conf", "False"],
                    ["tmpfs", "(memory: size=8m)", "/cache", "True"]]


def test_clis_lists_each_docker_once_path_first(monkeypatch, tmp_path):
    fake = tmp_path / "docker"
    fake.write_text("#!/bin/sh\n")
    fake.chmod(0o755)
    monkeypatch.setenv("PATH", str(tmp_path))
    found = volumes.clis()
    assert found[0] == str(fake)
    assert found[1:] == (["/usr/bin/docker"] if os.path.exists("/usr/bin/docker") else [])
    monkeypatch.setenv("PATH", "/usr/bin")
    assert volumes.clis() == (["/usr/bin/docker"] if os.path.exists("/usr/bin/docker") else [])


def test_survival_plot_draws_a_bar_per_step_and_marks_the_lost_ones(monkeypatch):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    shown = []
    monkeypatch.setattr(plt, "show", lambda: shown.append(plt.gcf()))
    assert volumes.survival_plot({"in the container": 3, "after rm": 0, "restored": 3}) is None
    ax = shown[0].axes[0]
    assert [round(p.get_height()) for p in ax.patches] == [3, 0, 3]
    assert [t.get_text() for t in ax.texts] == ["3", "gone", "3"]
    plt.close("all")


def test_short_error_keeps_what_the_daemon_says_about_the_path():
    err = ('docker: Error response from daemon: create ./config: "./config" includes invalid characters for a local '
           'volume name, only "[a-zA-Z0-9][a-zA-Z0-9_.-]" are allowed. If you intended to pass a host directory, '
           'use absolute path.')
    assert volumes.short_error(err) == ('"./config" includes invalid characters for a local volume name (…). '
                                        'If you intended to pass a host directory, use absolute path.')

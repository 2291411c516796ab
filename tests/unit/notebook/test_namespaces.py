"""dockyard.notebook.namespaces: who shares what, the coloured table, and the /proc readers, on a fake /proc."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from dockyard.notebook import namespaces as ns


def fake_proc(tmp_path, pid="42", status="", netdev="", shm=None, kinds=("mnt", "net", "pid")):
    d = tmp_path / pid
    (d / "net").mkdir(parents=True)
    (d / "status").write_text(status)
    (d / "net" / "dev").write_text(netdev)
    (tmp_path / "self" / "ns").mkdir(parents=True)
    for k in kinds:
        (tmp_path / "self" / "ns" / k).write_text("")
    (tmp_path / "self" / "ns" / "pid_for_children").write_text("")
    if shm is not None:
        (tmp_path / "sysvipc").mkdir()
        (tmp_path / "sysvipc" / "shm").write_text(shm)
    return tmp_path


@pytest.mark.parametrize("labels, ids, verdict", [
    (["a", "b"], ["1", "1"], "shared"),
    (["a", "b"], ["1", "2"], "separate"),
    (["h", "a", "b"], ["1", "1", "1"], "shared by all"),
    (["h", "a", "b"], ["1", "2", "3"], "all separate"),
    (["h", "a", "b"], ["1", "2", "2"], "shared: a = b"),
])
def test_who_shares(labels, ids, verdict):
    assert ns.who_shares(labels, ids) == verdict


def test_rows_cover_all_eight_kinds_and_a_missing_kind_shows_a_dash():
    rows = ns.ns_rows({"host": {k: "1" for k in ns.NAMESPACES}, "c": {"net": "2"}})
    assert [r[0] for r in rows] == list(ns.NAMESPACES)
    net = next(r for r in rows if r[0] == "net")
    assert net == ("net", "1", "2", "separate")
    assert next(r for r in rows if r[0] == "time") == ("time", "1", "-", "separate")


def test_the_html_colours_only_shared_cells_and_escapes_labels():
    t = ns.NsTable([("net", "1", "1", "2", "shared: a = b"), ("pid", "3", "4", "5", "all separate")],
                   ["namespace", "<host>", "a", "b", "who shares"], title="t")
    out = t._repr_html_()
    assert out.count("background:") == 2 and "&lt;host&gt;" in out
    assert "<code>5</code>" in out


def test_kinds_table_lists_eight_kinds_and_what_this_kernel_has(tmp_path):
    proc = fake_proc(tmp_path, kinds=("mnt", "net"))
    rows = {r[0]: r for r in ns.kinds_table(proc).rows}
    assert list(rows) == list(ns.NAMESPACES)
    assert rows["net"][-1] == "yes" and rows["time"][-1].startswith("no")
    assert "v1" in rows["cgroup"][2] and "v2" in rows["cgroup"][2]   # says both versions


def test_status_readers(tmp_path):
    proc = fake_proc(tmp_path, status="Name:\tsleep\nUid:\t0\t0\t0\t0\nNSpid:\t4242\t1\n")
    assert ns.nspid(42, proc) == [4242, 1]
    assert ns.uids("42", proc) == [0, 0, 0, 0]


def test_interfaces_skip_the_two_header_lines(tmp_path):
    dev = ("Inter-|   Receive\n face |bytes\n    lo: 0 0 0\n  eth0: 1 2 3\n")
    assert ns.interfaces(42, fake_proc(tmp_path, netdev=dev)) == ["eth0", "lo"]


def test_segments_from_ipcs_and_from_proc_print_the_same_keys(tmp_path):
    ipcs = ("------ Shared Memory Segments --------\nkey        shmid  owner\n0x1a2b3c4d 5      root\n")
    assert ns.segments(ipcs) == ["0x1a2b3c4d"]
    shm = "       key      shmid perms\n 439041101          5   644\n        -1          6   600\n"
    proc = fake_proc(tmp_path, shm=shm)
    assert ns.host_segments(proc) == ["0x1a2b3c4d", "0xffffffff"]


def test_tinyrun_explains_its_usage_without_arguments():
    run = subprocess.run([sys.executable, str(ns.TINY)], capture_output=True, text=True)
    assert run.returncode == 1 and "ROOTFS COMMAND" in run.stderr


@pytest.mark.skipif(not os.path.exists("/bin/busybox") and not os.path.exists("/usr/bin/busybox"),
                    reason="needs a static busybox to make a root filesystem")
def test_tinyrun_runs_a_command_as_root_of_its_own_namespaces(tmp_path):
    import shutil
    busybox = shutil.which("busybox")
    (tmp_path / "bin").mkdir()
    (tmp_path / "proc").mkdir()
    shutil.copy(busybox, tmp_path / "bin" / "busybox")
    for tool in ("sh", "hostname", "id", "cat"):
        os.symlink("busybox", tmp_path / "bin" / tool)
    run = subprocess.run([sys.executable, str(ns.TINY), str(tmp_path), "/bin/sh", "-c",
                          "hostname; id -u; echo $$; cat /proc/self/uid_map"],
                         capture_output=True, text=True, timeout=30)
    if run.returncode != 0 and "unshare failed" in run.stderr:
        pytest.skip(f"this host forbids new user namespaces here: {run.stderr.strip()}")
    assert run.returncode == 0, run.stderr
    lines = run.stdout.split("\n")
    assert lines[:3] == ["tiny", "0", "1"]
    assert lines[3].split()[:2] == ["0", str(os.getuid())]


def test_interfaces_table_counts_and_shortens(tmp_path):
    dev = "h1\nh2\n" + "".join(f"  if{i}: 0\n" for i in range(8))
    t = ns.interfaces_table({"host": 42}, show=3, proc=fake_proc(tmp_path, netdev=dev))
    assert t.rows == [["host", "8", "if0, if1, if2 ..."]]

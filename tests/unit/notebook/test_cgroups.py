"""dockyard.notebook.cgroups: finding a container's cgroup on v1 and v2, and parsing what its files say."""

from __future__ import annotations


import pytest

from dockyard.cgroups import Hierarchy
from dockyard.notebook import cgroups as cg

V1_PROC = ("12:cpu,cpuacct:/dockyard-x/abc\n7:blkio:/dockyard-x/abc\n3:pids:/dockyard-x/abc\n"
           "1:name=systemd:/dockyard-x/abc\n")


def hierarchy(tmp_path, version):
    for sub in ("cpu,cpuacct", "cpu", "blkio", "pids"):
        (tmp_path / sub).mkdir()
    return Hierarchy(version=version, root=tmp_path, controllers=["cpu,cpuacct", "blkio", "pids"])


def test_v2_has_one_tree(tmp_path):
    h = Hierarchy(version=2, root=tmp_path, controllers=["cpu", "memory"])
    assert cg.cgroup_path("0::/dockyard-x/abc\n", "memory", h) == tmp_path / "dockyard-x" / "abc"


def test_v1_finds_the_tree_of_the_controller_through_its_mount_or_alias(tmp_path):
    h = hierarchy(tmp_path, 1)
    assert cg.cgroup_path(V1_PROC, "pids", h) == tmp_path / "pids" / "dockyard-x" / "abc"
    assert cg.cgroup_path(V1_PROC, "cpuacct", h) == tmp_path / "cpu,cpuacct" / "dockyard-x" / "abc"
    assert cg.cgroup_path(V1_PROC, "cpu", h) == tmp_path / "cpu" / "dockyard-x" / "abc"   # the alias link
    with pytest.raises(LookupError, match="no memory cgroup"):
        cg.cgroup_path(V1_PROC, "memory", h)


def test_kv_keeps_numbers_only():
    assert cg.kv("nr_periods 10\nnr_throttled 9\nbad line here\nmax -1\n") == {"nr_periods": 10, "nr_throttled": 9,
                                                                             "max": -1}
    assert cg.kv(None) == {}


@pytest.mark.parametrize("args, want", [
    (("cpu", "cpu", 2, set(), set(), {"cpu"}), "v2: available"),
    (("net_cls", None, 2, set(), set(), set()), "v2: built into every cgroup"),
    (("hugetlb", "hugetlb", 2, set(), set(), {"cpu"}), "v2: not available"),
    (("blkio", "io", 1, {"blkio"}, {"blkio"}, set()), "v1: mounted"),
    (("net_prio", None, 1, set(), {"net_prio"}, set()), "v1: in the kernel, not mounted"),
    (("pids", "pids", 1, set(), set(), {"pids"}), "v1: not in this kernel; v2 (unified tree): available"),
])
def test_controller_state(args, want):
    assert cg.controller_state(*args) == want


def test_every_v1_controller_of_the_outline_is_mapped_and_blkio_is_io_not_storage():
    rows = {r[0]: r for r in cg.MAPPING}
    assert {"cpu", "cpuset", "memory", "blkio", "net_cls", "net_prio", "pids"} <= set(rows)
    assert "I/O" in rows["blkio"][1] and rows["blkio"][3] == "io"
    assert rows["net_cls"][3] is None and "tags" in rows["net_cls"][1]


def test_controllers_table_reads_this_machine(tmp_path):
    h = hierarchy(tmp_path, 1)
    (tmp_path / "unified").mkdir()
    (tmp_path / "unified" / "cgroup.controllers").write_text("")
    proc = tmp_path / "proc"
    proc.mkdir()
    (proc / "cgroups").write_text("#subsys_name\thierarchy\nblkio\t7\t1\t1\nnet_cls\t0\t1\t1\n")
    rows = {r[0]: r[-1] for r in cg.controllers_table(h, proc).rows}
    assert rows["blkio"] == "v1: mounted" and rows["net_cls"] == "v1: in the kernel, not mounted"
    assert rows["devices"] == "v1: not in this kernel"


def test_disks_leave_out_loop_ram_and_optical(tmp_path):
    for name in ("loop0", "ram1", "zram0", "sr0", "vda", "nvme0n1"):
        (tmp_path / name).mkdir()
    assert cg.disks(tmp_path) == ["/dev/nvme0n1", "/dev/vda"]


def test_active_schedulers_are_the_bracketed_ones(tmp_path):
    for disk, text in (("vda", "[mq-deadline] none\n"), ("sda", "mq-deadline [bfq] none\n"), ("sr0", "none\n")):
        (tmp_path / disk / "queue").mkdir(parents=True)
        (tmp_path / disk / "queue" / "scheduler").write_text(text)
    assert cg.active_schedulers(tmp_path) == {"mq-deadline", "bfq"}


def test_io_bytes_both_versions():
    v2 = "254:0 rbytes=4096 wbytes=100 rios=1 wios=1\n8:0 rbytes=1 wbytes=2\n"
    assert cg.io_bytes(v2, 2) == (4097, 102)
    v1 = "254:0 Read 4096\n254:0 Write 100\n254:0 Total 4196\nTotal 4196\n"
    assert cg.io_bytes(v1, 1) == (4096, 100)
    assert cg.io_bytes(None, 1) == (0, 0)


def test_race_shares_measured_and_expected():
    r = cg.Race(shares={"hi": 1024, "lo": 512}, weights={"hi": 1024, "lo": 512}, used={"hi": 3.0, "lo": 1.5}, wall=5)
    assert r.expected == pytest.approx({"hi": 2 / 3, "lo": 1 / 3})
    assert r.measured == pytest.approx({"hi": 2 / 3, "lo": 1 / 3})
    assert [row[0] for row in r.table().rows] == ["hi", "lo"]

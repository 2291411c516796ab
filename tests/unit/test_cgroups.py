"""cgroups against fake trees in tmp_path: v2, v1, hybrid v1 and nothing at all."""

import errno
from pathlib import Path

import pytest

from dockyard import cgroups
from dockyard.cgroups import Hierarchy, SandboxCgroup, detect
from dockyard.errors import CgroupError

MiB = 1024**2
NAME = "dockyard-t1"
V1_NO_LIMIT = "9223372036854771712"  # what v1 shows in memory.limit_in_bytes when unlimited


def v2_tree(root: Path, controllers="cpuset cpu io memory pids") -> Path:
    root.mkdir()
    (root / "cgroup.controllers").write_text(controllers + "\n")
    (root / "cgroup.subtree_control").write_text("")
    (root / "cgroup.procs").write_text("1\n")
    return root


def v1_tree(root: Path, hybrid=False) -> Path:
    for ctrl in ("memory", "pids", "cpu", "cpuacct", "systemd"):
        (root / ctrl).mkdir(parents=True)
        (root / ctrl / "cgroup.procs").write_text("1\n")
    if hybrid:
        (root / "unified").mkdir()
        (root / "unified" / "cgroup.procs").write_text("1\n")
        (root / "unified" / "cgroup.controllers").write_text("")
    return root


def cg(root: Path) -> SandboxCgroup:
    return SandboxCgroup(NAME, detect(root))


# --- detect -------------------------------------------------------------------------

def test_detect_v2(tmp_path):
    h = detect(v2_tree(tmp_path / "cg"))
    assert h.version == 2
    assert h.controllers == ("cpuset", "cpu", "io", "memory", "pids")
    assert h.label == "cgroup v2 (unified)"


def test_detect_v1_ignores_systemd(tmp_path):
    h = detect(v1_tree(tmp_path))
    assert h.version == 1
    assert h.controllers == ("cpu", "cpuacct", "memory", "pids")
    assert h.label == "cgroup v1"


def test_detect_hybrid_v1(tmp_path):
    h = detect(v1_tree(tmp_path, hybrid=True))
    assert h.version == 1
    assert "unified" not in h.controllers
    assert h.label == "cgroup v1 + unified (hybrid)"


@pytest.mark.parametrize("layout", ["empty dir", "missing", "only systemd"])
def test_detect_nothing_usable(tmp_path, layout):
    root = tmp_path / "cg"
    if layout == "empty dir":
        root.mkdir()
    elif layout == "only systemd":
        (root / "systemd").mkdir(parents=True)
        (root / "systemd" / "cgroup.procs").write_text("")
    h = detect(root)
    assert (h.version, h.controllers, h.label) == (None, (), "no cgroup filesystem")


# --- create / limits / usage: v2 --------------------------------------------------------

def test_create_v2_writes_caps(tmp_path):
    root = v2_tree(tmp_path / "cg")
    c = cg(root)
    assert not c.exists()
    c.create(memory=512 * MiB, pids=256, cpus=1.5)
    d = root / NAME
    assert c.exists() and c.paths() == [d]
    assert (root / "cgroup.subtree_control").read_text() == "+cpuset +cpu +io +memory +pids"
    assert (d / "cgroup.subtree_control").read_text() == "+cpuset +cpu +io +memory +pids"
    assert (d / "memory.max").read_text() == str(512 * MiB)
    assert (d / "pids.max").read_text() == "256"
    assert (d / "cpu.max").read_text() == "150000 100000"
    assert not (d / "memory.swap.max").exists()  # written only where the kernel offers it
    assert c.limits() == {"memory": 512 * MiB, "pids": 256, "cpus": 1.5}


def test_create_v2_turns_swap_off_when_offered(tmp_path):
    root = v2_tree(tmp_path / "cg")
    (root / NAME).mkdir()
    (root / NAME / "memory.swap.max").write_text("max\n")
    cg(root).create(memory=256 * MiB, pids=64, cpus=1)
    assert (root / NAME / "memory.swap.max").read_text() == "0"


def test_create_v2_skips_missing_controllers_and_has_a_cpu_floor(tmp_path):
    root = v2_tree(tmp_path / "cg", controllers="cpu pids")
    c = cg(root)
    c.create(memory=256 * MiB, pids=64, cpus=0.001)
    assert (root / "cgroup.subtree_control").read_text() == "+cpu +pids"
    assert not (root / NAME / "memory.max").exists()
    assert (root / NAME / "cpu.max").read_text() == "1000 100000"
    assert c.limits() == {"memory": None, "pids": 64, "cpus": 0.01}


def test_limits_and_usage_v2_read_unlimited_as_none(tmp_path):
    root = v2_tree(tmp_path / "cg")
    d = root / NAME
    d.mkdir()
    for f, v in {"memory.max": "max\n", "pids.max": "max\n", "cpu.max": "max 100000\n",
                 "memory.current": "1048576\n", "pids.current": "7\n"}.items():
        (d / f).write_text(v)
    c = cg(root)
    assert c.limits() == {"memory": None, "pids": None, "cpus": None}
    assert c.usage() == {"memory": 1048576, "pids": 7}


def test_limits_and_usage_when_the_cgroup_is_absent(tmp_path):
    c = cg(v2_tree(tmp_path / "cg"))
    assert c.limits() == {"memory": None, "pids": None, "cpus": None}
    assert c.usage() == {"memory": None, "pids": None}


# --- create / limits / usage: v1 --------------------------------------------------------

def test_create_v1_writes_caps_per_controller(tmp_path):
    root = v1_tree(tmp_path)
    c = cg(root)
    c.create(memory=512 * MiB, pids=300, cpus=2)
    assert (root / "memory" / NAME / "memory.limit_in_bytes").read_text() == str(512 * MiB)
    assert not (root / "memory" / NAME / "memory.memsw.limit_in_bytes").exists()
    assert (root / "pids" / NAME / "pids.max").read_text() == "300"
    assert (root / "cpu" / NAME / "cpu.cfs_period_us").read_text() == "100000"
    assert (root / "cpu" / NAME / "cpu.cfs_quota_us").read_text() == "200000"
    assert not (root / "cpuacct" / NAME).exists()  # not capped: left to dockerd
    assert not (root / "systemd" / NAME).exists()
    assert c.limits() == {"memory": 512 * MiB, "pids": 300, "cpus": 2.0}
    assert sorted(c.paths()) == sorted(root / x / NAME for x in ("cpu", "cpuacct", "memory", "pids"))


def test_create_v1_caps_swap_when_memsw_is_offered(tmp_path):
    root = v1_tree(tmp_path)
    (root / "memory" / NAME).mkdir()
    (root / "memory" / NAME / "memory.memsw.limit_in_bytes").write_text(V1_NO_LIMIT)
    cg(root).create(memory=128 * MiB, pids=64, cpus=1)
    assert (root / "memory" / NAME / "memory.memsw.limit_in_bytes").read_text() == str(128 * MiB)


def test_limits_and_usage_v1_unlimited_values(tmp_path):
    root = v1_tree(tmp_path)
    files = {"memory/memory.limit_in_bytes": V1_NO_LIMIT, "pids/pids.max": "max", "cpu/cpu.cfs_quota_us": "-1",
             "cpu/cpu.cfs_period_us": "100000", "memory/memory.usage_in_bytes": "2097152", "pids/pids.current": "4"}
    for rel, value in files.items():
        ctrl, fname = rel.split("/")
        (root / ctrl / NAME).mkdir(exist_ok=True)
        (root / ctrl / NAME / fname).write_text(value + "\n")
    c = cg(root)
    assert c.limits() == {"memory": None, "pids": None, "cpus": None}
    assert c.usage() == {"memory": 2097152, "pids": 4}


# --- errors ---------------------------------------------------------------------------

def test_create_without_cgroups_raises(tmp_path):
    (tmp_path / "cg").mkdir()
    c = cg(tmp_path / "cg")
    with pytest.raises(CgroupError) as err:
        c.create(memory=256 * MiB, pids=64, cpus=1)
    assert str(tmp_path / "cg") in err.value.problem
    assert err.value.fix
    assert list((tmp_path / "cg").iterdir()) == []
    assert c.paths() == [] and c.limits() == {"memory": None, "pids": None, "cpus": None}


def test_create_when_a_cap_file_cannot_be_written(tmp_path):
    root = v2_tree(tmp_path / "cg")
    (root / NAME / "memory.max").mkdir(parents=True)  # writing to a directory fails like a read-only file
    with pytest.raises(CgroupError) as err:
        cg(root).create(memory=256 * MiB, pids=64, cpus=1)
    assert str(root / NAME / "memory.max") in err.value.problem
    assert "--backend existing" in err.value.fix
    assert err.value.context["path"] == str(root / NAME / "memory.max")


def test_create_on_read_only_cgroupfs(tmp_path, monkeypatch):
    root = v1_tree(tmp_path)

    def refuse(self, *_a, **_kw):
        raise PermissionError(errno.EACCES, "Permission denied", str(self))

    monkeypatch.setattr(Path, "write_text", refuse)
    with pytest.raises(CgroupError) as err:
        cg(root).create(memory=256 * MiB, pids=64, cpus=1)
    assert str(root / "memory" / NAME / "memory.limit_in_bytes") in err.value.problem
    assert "Permission denied" in err.value.problem
    assert "run as root" in err.value.fix
    assert isinstance(err.value.__cause__, PermissionError)


def test_create_when_the_cgroup_dir_cannot_be_made(tmp_path):
    root = v1_tree(tmp_path)
    (root / "memory" / NAME).write_text("a file where the cgroup should go")
    with pytest.raises(CgroupError) as err:
        cg(root).create(memory=256 * MiB, pids=64, cpus=1)
    assert f"cannot create cgroup {root / 'memory' / NAME}" in err.value.problem
    assert err.value.fix


# --- remove ---------------------------------------------------------------------------

def test_remove_v2_bottom_up(tmp_path):
    root = v2_tree(tmp_path / "cg")
    (root / NAME / "abc123" / "nested").mkdir(parents=True)  # what dockerd makes per container
    (root / NAME / "def456").mkdir()
    c = cg(root)
    assert c.remove() == []
    assert not (root / NAME).exists() and not c.exists()
    assert (root / "cgroup.controllers").exists()


def test_remove_v1_covers_every_hierarchy(tmp_path):
    root = v1_tree(tmp_path, hybrid=True)
    for ctrl in ("memory", "pids", "cpu", "cpuacct", "systemd", "unified"):
        (root / ctrl / NAME / "container1").mkdir(parents=True)
    assert cg(root).remove() == []
    assert not any((root / ctrl / NAME).exists() for ctrl in ("memory", "pids", "cpu", "cpuacct", "systemd", "unified"))


def test_remove_reports_what_it_could_not_remove(tmp_path):
    # On a plain filesystem the cap files keep their directories non-empty (on cgroupfs they vanish).
    root = v1_tree(tmp_path)
    c = cg(root)
    c.create(memory=256 * MiB, pids=64, cpus=1)
    (root / "cpuacct" / NAME / "child").mkdir(parents=True)
    left = c.remove()
    assert sorted(left) == sorted(str(root / x / NAME) for x in ("memory", "pids", "cpu"))
    assert not (root / "cpuacct" / NAME).exists()


def test_remove_when_nothing_exists(tmp_path):
    assert cg(v2_tree(tmp_path / "cg")).remove() == []
    assert SandboxCgroup(NAME, Hierarchy(None, tmp_path / "none", ())).remove() == []


def test_parent_arg():
    assert SandboxCgroup("dockyard-x", Hierarchy(2, Path("/x"), ())).parent_arg == "/dockyard-x"


# --- fencing a grading kernel ---------------------------------------------------------------

def test_add_writes_the_pid_to_every_capped_hierarchy_and_procs_reads_them_back(tmp_path):
    c = cg(v1_tree(tmp_path / "cg"))
    c.create(memory=64 * MiB, pids=64, cpus=1)
    for ctrl in ("memory", "pids", "cpu"):
        (tmp_path / "cg" / ctrl / NAME / "cgroup.procs").write_text("")
    c.add(4242)
    assert (tmp_path / "cg" / "pids" / NAME / "cgroup.procs").read_text() == "4242"
    (tmp_path / "cg" / "memory" / NAME / "cgroup.procs").write_text("4242\n4243\n")
    assert c.procs() == {4242, 4243}
    step = tmp_path / "cg" / "pids" / NAME / "buildkit" / "abc123"  # a BuildKit RUN step's cgroup
    step.mkdir(parents=True)
    (step / "cgroup.procs").write_text("5151\n")
    assert c.procs() == {4242, 4243} and c.procs(nested=True) == {4242, 4243, 5151}


def test_oom_kills_and_pids_max_hits_v1(tmp_path):
    c = cg(v1_tree(tmp_path / "cg"))
    c.create(memory=64 * MiB, pids=64, cpus=1)
    assert (c.oom_kills(), c.pids_max_hits()) == (0, 0)
    (tmp_path / "cg" / "memory" / NAME / "memory.oom_control").write_text(
        "oom_kill_disable 0\nunder_oom 0\noom_kill 2\n")
    (tmp_path / "cg" / "pids" / NAME / "pids.events").write_text("max 17\n")
    assert (c.oom_kills(), c.pids_max_hits()) == (2, 17)


def test_oom_kills_and_pids_max_hits_v2(tmp_path):
    c = cg(v2_tree(tmp_path / "cg"))
    c.create(memory=64 * MiB, pids=64, cpus=1)
    (tmp_path / "cg" / NAME / "memory.events").write_text("low 0\nhigh 0\nmax 9\noom 1\noom_kill 1\n")
    (tmp_path / "cg" / NAME / "pids.events").write_text("max 3\n")
    assert (c.oom_kills(), c.pids_max_hits()) == (1, 3)


def test_one_reader_says_unlimited_one_way_for_v1_and_v2():
    assert [cgroups.read_limit(t) for t in ("max", "-1", str(2**63 - 4096), "4096", None, "x")] == \
        [cgroups.UNLIMITED, cgroups.UNLIMITED, cgroups.UNLIMITED, 4096, None, None]
    # the sandbox's own caps: "no cap" whether the file is missing or says unlimited
    assert [cgroups._num(t) for t in ("max", "-1", None, "64")] == [None, None, None, 64]


# --- BuildKit's RUN steps: <parent>/buildkit/<id> -------------------------------------------------

def test_builds_capped_v1_caps_memory_and_swap_in_the_right_order_and_gives_the_old_text_back(tmp_path):
    c = cg(v1_tree(tmp_path / "cg"))
    c.create(memory=1024 * MiB, pids=64, cpus=1)
    builds = tmp_path / "cg" / "memory" / NAME / "buildkit"
    builds.mkdir()
    unlimited = str(2**63 - 4096)
    (builds / "memory.limit_in_bytes").write_text(unlimited)
    (builds / "memory.memsw.limit_in_bytes").write_text(unlimited)
    (tmp_path / "cg" / "cpu" / NAME / "buildkit").mkdir()
    (tmp_path / "cg" / "cpu" / NAME / "buildkit" / "cpu.shares").write_text("1024")
    order = []
    real = Path.write_text

    def spy(self, text, *a, **kw):
        if self.name.startswith("memory."):
            order.append(self.name)
        return real(self, text, *a, **kw)

    Path.write_text = spy
    try:
        with c.builds_capped(512 * MiB, cpu_shares=512):
            lowered, order[:] = list(order), []
            assert (builds / "memory.limit_in_bytes").read_text() == str(512 * MiB)
            assert (tmp_path / "cg" / "cpu" / NAME / "buildkit" / "cpu.shares").read_text() == "512"
    finally:
        Path.write_text = real
    assert lowered == ["memory.limit_in_bytes", "memory.memsw.limit_in_bytes"]  # memsw never below the limit
    assert order == ["memory.memsw.limit_in_bytes", "memory.limit_in_bytes"]
    assert (builds / "memory.limit_in_bytes").read_text() == unlimited
    assert (tmp_path / "cg" / "cpu" / NAME / "buildkit" / "cpu.shares").read_text() == "1024"


def test_builds_capped_v2_writes_memory_max_swap_and_weight(tmp_path):
    c = cg(v2_tree(tmp_path / "cg"))
    c.create(memory=1024 * MiB, pids=64, cpus=1)
    builds = tmp_path / "cg" / NAME / "buildkit"
    builds.mkdir()
    for name, value in (("memory.max", "max"), ("memory.swap.max", "max"), ("cpu.weight", "100")):
        (builds / name).write_text(value)
    with c.builds_capped(512 * MiB, cpu_shares=512):
        assert (builds / "memory.max").read_text() == str(512 * MiB)
        assert (builds / "memory.swap.max").read_text() == "0"
        assert (builds / "cpu.weight").read_text() == "20"  # 512 shares, as runc converts them
    assert [(builds / n).read_text() for n in ("memory.max", "memory.swap.max", "cpu.weight")] == ["max", "max", "100"]


# --- builds_capped: the caps of one build, and the files' own text given back after it ------------

def v1_builds(root: Path, limit: str, memsw: str, shares: str) -> tuple[Path, Path]:
    """A v1 sandbox whose ``buildkit`` cgroups hold these caps (the text as the kernel shows it)."""
    memory, cpu = root / "memory" / NAME / "buildkit", root / "cpu" / NAME / "buildkit"
    for d in (memory, cpu):
        d.mkdir(parents=True)
    (memory / "memory.limit_in_bytes").write_text(limit)
    (memory / "memory.memsw.limit_in_bytes").write_text(memsw)
    (cpu / "cpu.shares").write_text(shares)
    return memory, cpu


def v2_builds(root: Path, memory: str, swap: str, weight: str) -> Path:
    d = root / NAME / "buildkit"
    d.mkdir(parents=True)
    for name, text in (("memory.max", memory), ("memory.swap.max", swap), ("cpu.weight", weight)):
        (d / name).write_text(text)
    return d


def texts(*dirs: Path) -> dict:
    return {f"{d.name}/{f.name}": f.read_text() for d in dirs for f in sorted(d.iterdir())}


@pytest.fixture
def v1_kernel(monkeypatch):
    """Writes to v1 memory limits as the kernel takes them: a memsw limit below the memory limit is refused
    (EINVAL), whichever of the two is written; so is a memory limit below ``in_use[0]`` bytes (EBUSY).
    Records the order of the memory writes."""
    real, order, in_use = Path.write_text, [], [0]

    def write(self, text, *a, **kw):
        if self.name in ("memory.limit_in_bytes", "memory.memsw.limit_in_bytes"):
            now = {n: (self.with_name(n).read_text() if self.with_name(n).exists() else "-1")
                   for n in ("memory.limit_in_bytes", "memory.memsw.limit_in_bytes")}
            now[self.name] = text
            limit, memsw = (cgroups._bytes(now[n].strip())
                            for n in ("memory.limit_in_bytes", "memory.memsw.limit_in_bytes"))
            if memsw < limit:
                raise OSError(errno.EINVAL, "Invalid argument")
            if self.name == "memory.limit_in_bytes" and limit < in_use[0]:
                raise OSError(errno.EBUSY, "Device or resource busy")
            order.append((self.name, text.strip()))
        return real(self, text, *a, **kw)

    monkeypatch.setattr(Path, "write_text", write)
    return order, in_use


def test_builds_capped_v2_caps_then_gives_back_the_exact_text_of_every_file(tmp_path):
    c = cg(v2_tree(tmp_path / "cg"))
    c.create(memory=1024 * MiB, pids=64, cpus=1)
    d = v2_builds(tmp_path / "cg", "805306368\n", "1048576\n", "37\n")  # weight 37 → shares → 36: the old drift
    before = texts(d)
    with c.builds_capped(512 * MiB, cpu_shares=512):
        assert texts(d) == {"buildkit/cpu.weight": "20", "buildkit/memory.max": str(512 * MiB),
                            "buildkit/memory.swap.max": "0"}
    assert texts(d) == before


def test_builds_capped_v2_restores_exactly_after_a_failing_build(tmp_path):
    c = cg(v2_tree(tmp_path / "cg"))
    c.create(memory=1024 * MiB, pids=64, cpus=1)
    d = v2_builds(tmp_path / "cg", "max\n", "max\n", "100\n")
    with pytest.raises(RuntimeError, match="the build failed"):
        with c.builds_capped(256 * MiB):
            raise RuntimeError("the build failed")
    assert texts(d) == {"buildkit/cpu.weight": "100\n", "buildkit/memory.max": "max\n",
                        "buildkit/memory.swap.max": "max\n"}


def test_builds_capped_v2_writes_only_the_files_its_controllers_give(tmp_path):
    root = v2_tree(tmp_path / "cg", controllers="cpu pids")
    c = cg(root)
    c.create(memory=1024 * MiB, pids=64, cpus=1)
    d = root / NAME / "buildkit"
    d.mkdir()
    (d / "cpu.weight").write_text("100\n")
    with c.builds_capped(256 * MiB, cpu_shares=512):
        assert texts(d) == {"buildkit/cpu.weight": "20"}
    assert texts(d) == {"buildkit/cpu.weight": "100\n"}


def test_builds_capped_v1_widens_memsw_before_the_limit_and_narrows_it_after(tmp_path, v1_kernel):
    order, _in_use = v1_kernel
    c = cg(v1_tree(tmp_path / "cg"))
    c.create(memory=1024 * MiB, pids=64, cpus=1)
    memory, cpu = v1_builds(tmp_path / "cg", f"{256 * MiB}\n", f"{384 * MiB}\n", "1024\n")
    before, order[:] = texts(memory, cpu), []
    with c.builds_capped(512 * MiB, cpu_shares=512):  # memsw grows 384 → 512 MiB: it goes first
        assert texts(memory, cpu) == {"buildkit/cpu.shares": "512", "buildkit/memory.limit_in_bytes": str(512 * MiB),
                                      "buildkit/memory.memsw.limit_in_bytes": str(512 * MiB)}
    assert texts(memory, cpu) == before
    assert order == [("memory.memsw.limit_in_bytes", str(512 * MiB)), ("memory.limit_in_bytes", str(512 * MiB)),
                     ("memory.limit_in_bytes", str(256 * MiB)), ("memory.memsw.limit_in_bytes", str(384 * MiB))]


def test_builds_capped_v1_narrows_the_limit_first_and_restores_unlimited_exactly(tmp_path, v1_kernel):
    order, _in_use = v1_kernel
    c = cg(v1_tree(tmp_path / "cg"))
    c.create(memory=1024 * MiB, pids=64, cpus=1)
    memory, cpu = v1_builds(tmp_path / "cg", V1_NO_LIMIT + "\n", V1_NO_LIMIT + "\n", "1024\n")
    before, order[:] = texts(memory, cpu), []
    with pytest.raises(RuntimeError):
        with c.builds_capped(128 * MiB, cpu_shares=512):
            raise RuntimeError("a RUN step failed")
    assert texts(memory, cpu) == before  # swap too: v1's memsw is given back its own value, not the limit's
    assert [name for name, _text in order] == ["memory.limit_in_bytes", "memory.memsw.limit_in_bytes",
                                               "memory.memsw.limit_in_bytes", "memory.limit_in_bytes"]


def test_builds_capped_a_refused_cap_says_so_and_leaves_the_files_as_they_were(tmp_path, v1_kernel):
    _order, in_use = v1_kernel
    c = cg(v1_tree(tmp_path / "cg"))
    c.create(memory=1024 * MiB, pids=64, cpus=1)
    memory, cpu = v1_builds(tmp_path / "cg", V1_NO_LIMIT + "\n", V1_NO_LIMIT + "\n", "1024\n")
    before = texts(memory, cpu)
    in_use[0] = 200 * MiB  # the kernel will not set a limit below what the cgroup already uses
    ran = []
    with pytest.raises(CgroupError) as err:
        with c.builds_capped(128 * MiB, cpu_shares=512):
            ran.append(True)
    assert not ran
    assert err.value.problem.startswith("could not cap BuildKit's RUN steps: cannot write '134217728' to ")
    assert "Device or resource busy" in err.value.problem and err.value.fix
    assert texts(memory, cpu) == before


def test_builds_capped_a_refused_restore_names_the_file_and_how_to_fix_it(tmp_path, v1_kernel):
    _order, in_use = v1_kernel
    c = cg(v1_tree(tmp_path / "cg"))
    c.create(memory=1024 * MiB, pids=64, cpus=1)
    memory, cpu = v1_builds(tmp_path / "cg", f"{64 * MiB}\n", f"{64 * MiB}\n", "2048\n")
    with pytest.raises(CgroupError) as err:
        with c.builds_capped(512 * MiB, cpu_shares=512):
            in_use[0] = 100 * MiB  # the build left 100 MiB in use: the old 64 MiB limit cannot come back
    limit = memory / "memory.limit_in_bytes"
    assert f"{limit} refused '{64 * MiB}'" in err.value.problem
    assert f"echo {64 * MiB} > {limit}" in err.value.fix
    assert (cpu / "cpu.shares").read_text() == "2048\n"  # the others were given back all the same


def test_builds_capped_cannot_save_a_file_it_cannot_read(tmp_path):
    c = cg(v1_tree(tmp_path / "cg"))
    c.create(memory=1024 * MiB, pids=64, cpus=1)
    memory, cpu = v1_builds(tmp_path / "cg", V1_NO_LIMIT, V1_NO_LIMIT, "1024")
    (cpu / "cpu.shares").unlink()  # nothing to give back afterwards: so nothing is capped
    ran = []
    with pytest.raises(CgroupError, match="cannot read .*cpu.shares"):
        with c.builds_capped(128 * MiB):
            ran.append(True)
    assert not ran and (memory / "memory.limit_in_bytes").read_text() == V1_NO_LIMIT

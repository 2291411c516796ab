"""Lesson 02's self-checks: each Try it solved as the notebook asks passes; wrong attempts fail with
messages that quote the limit found and the limit wanted.

The exercises are done as a learner would, with the docker CLI pointed at the sandbox. The limits
check reads both Docker's configuration and the container's cgroup files, so one test also changes
a cgroup file behind Docker's back and expects the check to notice.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from . import helpers
from .helpers import docker, assert_all_pass, assert_fails
from dockyard import cgroups
from dockyard.notebook.cgroups import disks

LAB = "02-cgroups"
NOTEBOOK = Path(__file__).resolve().parents[3] / "notebooks" / "02-cgroups.ipynb"
NAMES = ["try-mem", "try-cpu", "try-shares", "try-io", "try-nonet"]
MiB = 2**20


@pytest.fixture
def box(sandbox, tracked):
    return helpers.without(sandbox, tracked, NAMES)


def grade(box, task: str | None) -> dict:
    return helpers.grade(box, LAB, task)


def enforced(result) -> dict:
    """What the check read from the cgroup files (it must have read them: the container runs)."""
    __tracebackhide__ = True
    values = result.evidence.get("enforced")
    assert isinstance(values, dict), f"{result.id} did not read the cgroup files: {values!r}"
    return values


def test_nothing_done_fails_every_check_naming_the_container(box):
    helpers.assert_nothing_done_fails_every_check(box, LAB, "missing", "there is no container named try-",
                                                  hint="docker run")


# --- 1. try-mem ------------------------------------------------------------------------
def test_mem_solution_passes_and_is_read_from_the_cgroup(box):
    r = helpers.graded_after(box, LAB, "try-mem", "docker run -d --name try-mem -m 128m busybox sleep 3600")
    assert_all_pass(r)
    assert enforced(r["try-mem-memory"])["memory"] == 128 * MiB
    assert "enforced by its cgroup" in r["try-mem-memory"].message


def test_mem_with_the_lessons_64m_fails_quoting_both_sizes(box):
    r = helpers.graded_after(box, LAB, "try-mem",
                             "docker run -d --name try-mem -m 64m --memory-swap 64m busybox sleep 3600")
    assert r["try-mem-running"].passed
    assert_fails(r["try-mem-memory"], "wrong_value", "memory limit is 64 MiB", "expected 128 MiB", hint="--memory 128m")


def test_mem_without_a_limit_fails(box):
    r = helpers.graded_after(box, LAB, "try-mem", "docker run -d --name try-mem busybox sleep 3600")
    assert_fails(r["try-mem-memory"], "no_limit", "no memory limit is set", "expected 128 MiB",
                 hint="docker update --memory 128m try-mem")


def test_mem_container_that_exited_fails_with_the_lessons_hint(box):
    # no command: busybox runs sh, which ends at once without a terminal
    r = helpers.graded_after(box, LAB, "try-mem", "docker run --name try-mem -m 128m busybox")
    assert_fails(r["try-mem-running"], "not_running", "try-mem is exited", "expected running", hint="sleep 3600")
    # the configured limit is right; it is reported as configured only, the cgroup being gone
    assert r["try-mem-memory"].passed
    assert "not running" in r["try-mem-memory"].message


# --- 2. try-cpu ------------------------------------------------------------------------
def test_cpu_solution_passes_and_is_read_from_the_cgroup(box):
    r = helpers.graded_after(box, LAB, "try-cpu",
                             "docker run -d --name try-cpu --cpus 0.5 --pids-limit 50 busybox sleep 3600")
    assert_all_pass(r)
    seen = enforced(r["try-cpu-limits"])
    assert seen["cpus"] == pytest.approx(0.5) and seen["pids"] == 50


def test_cpu_with_a_whole_cpu_and_no_pids_limit_names_both_problems(box):
    r = helpers.graded_after(box, LAB, "try-cpu", "docker run -d --name try-cpu --cpus 1 busybox sleep 3600")
    assert_fails(r["try-cpu-limits"], "wrong_value", "CPU limit is 1 CPU", "expected 0.5 CPUs",
                 "no process limit is set; expected 50", hint="--pids-limit 50")
    assert "--cpus 0.5" in r["try-cpu-limits"].hint


def test_cpu_limit_changed_behind_dockers_back_is_caught(box):
    """Configured right, but the kernel enforces something else: only the cgroup file tells."""
    docker(box, "docker run -d --name try-cpu --cpus 0.5 --pids-limit 50 busybox sleep 3600")
    pid = int(docker(box, "docker inspect -f '{{.State.Pid}}' try-cpu"))
    h = cgroups.detect()
    line = next(ln.split(":", 2) for ln in Path(f"/proc/{pid}/cgroup").read_text().splitlines()
                if (h.version == 2 and ln.startswith("0::")) or (h.version == 1 and "pids" in ln.split(":")[1].split(",")))
    if h.version == 2:
        pids_max = h.root / line[2].lstrip("/") / "pids.max"
    else:
        pids_max = (h.root / "pids" if (h.root / "pids").is_dir() else h.root / line[1]) / line[2].lstrip("/") / "pids.max"
    pids_max.write_text("100")
    r = grade(box, "try-cpu")
    assert_fails(r["try-cpu-limits"], "not_enforced", "process limit is configured as 50",
                 "enforces 100", str(pids_max), hint="docker restart try-cpu")


# --- 3. try-shares ---------------------------------------------------------------------
def test_shares_solution_passes_and_is_read_from_the_cgroup(box):
    r = helpers.graded_after(box, LAB, "try-shares",
                             "docker run -d --name try-shares --cpu-shares 512 --cpuset-cpus 0 busybox sleep 3600")
    assert_all_pass(r)
    seen = enforced(r["try-shares-limits"])
    assert seen["cpuset"] == "0"
    assert seen["cpu_shares"] == 512  # on v2 the check compares cpu.weight with Docker's conversion of 512


def test_shares_with_default_weight_on_both_cpus_fails(box):
    r = helpers.graded_after(box, LAB, "try-shares",
                             "docker run -d --name try-shares --cpuset-cpus 0-1 busybox sleep 3600")
    assert_fails(r["try-shares-limits"], "no_limit", "no CPU share weight is set; expected 512",
                 "CPU set is 0-1", "expected 0", hint="--cpu-shares 512 --cpuset-cpus 0")


def test_shares_pinned_to_the_wrong_cpu_fails(box):
    if (os.cpu_count() or 1) < 2:
        pytest.skip("needs a second CPU to pin to")
    r = helpers.graded_after(box, LAB, "try-shares",
                             "docker run -d --name try-shares --cpu-shares 512 --cpuset-cpus 1 busybox sleep 3600")
    assert r["try-shares-running"].passed
    assert_fails(r["try-shares-limits"], "wrong_value", "CPU set is 1; expected 0", hint="--cpuset-cpus 0")


# --- 4. try-io (the outline's "Storage: blkio") ------------------------------------------
def test_io_solution_passes(box):
    helpers.assert_solution_passes(
        box, LAB, "try-io",
        f"docker run -d --name try-io --device-write-bps {disks()[0]}:1mb busybox sleep 3600")


def test_io_with_another_rate_fails(box):
    r = helpers.graded_after(box, LAB, "try-io",
                             f"docker run -d --name try-io --device-write-bps {disks()[0]}:2mb busybox sleep 3600")
    assert r["try-io-running"].passed
    assert_fails(r["try-io-write-bps"], "wrong_exit_code", "exited with 1; expected 0", "2097152",
                 hint="--device-write-bps")


def test_io_with_a_blkio_weight_instead_fails(box):
    # where the kernel has no blkio.weight file Docker warns and drops the weight; the container runs either way
    r = helpers.graded_after(box, LAB, "try-io", "docker run -d --name try-io --blkio-weight 300 busybox sleep 3600")
    assert_fails(r["try-io-write-bps"], "wrong_exit_code", "write limits: none", hint="--blkio-weight is a share")


# --- 5. try-nonet (the outline's "Network: net_cls, net_prio") ----------------------------
def test_nonet_solution_passes(box):
    helpers.assert_solution_passes(box, LAB, "try-nonet",
                                   "docker run -d --name try-nonet --network none busybox sleep 3600")


def test_nonet_on_the_default_network_fails(box):
    r = helpers.graded_after(box, LAB, "try-nonet", "docker run -d --name try-nonet busybox sleep 3600")
    assert r["try-nonet-running"].passed
    assert_fails(r["try-nonet-no-eth0"], "wrong_exit_code", "exited with 0; expected 1", hint="--network none")


def test_every_task_of_the_spec_is_a_try_it_of_the_lesson():
    assert sorted(helpers.notebook_check_tasks(LAB)) == sorted(helpers.spec_task_ids(LAB))

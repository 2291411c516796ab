"""Lesson 11's self-checks: each Try it solved the way the notebook asks passes; the shortcuts fail usefully.

The exercises are done here as a learner would, with the docker CLI pointed at the sandbox; the checks read
the containers' main processes in /proc, as they do for a learner.
"""

from __future__ import annotations

import grader
import pytest

from . import helpers
from .helpers import assert_all_pass, assert_fails, docker

LAB = "11-security"
NAMES = ["try-user", "try-caps", "try-ro", "try-nnp", "try-limits"]
DEFAULT_CAPS = ("CHOWN DAC_OVERRIDE FOWNER FSETID KILL SETGID SETUID SETPCAP NET_BIND_SERVICE NET_RAW SYS_CHROOT "
                "MKNOD AUDIT_WRITE SETFCAP").split()
SUID_DEMO = """FROM debian:bookworm-slim
RUN cp /usr/bin/id /usr/local/bin/suid-id && chmod u+s /usr/local/bin/suid-id
USER nobody
"""


@pytest.fixture
def box(sandbox, tracked):
    return helpers.without(sandbox, tracked, NAMES)


@pytest.fixture
def suid_demo(box, tracked, tmp_path):
    """The lesson's image: USER nobody and a setuid-root copy of id."""
    (tmp_path / "Dockerfile").write_text(SUID_DEMO)
    docker(box, "docker pull -q debian:bookworm-slim")
    docker(box, f"docker build -q -t suid-demo {tmp_path}")
    tracked["images"].append("suid-demo")
    return "suid-demo"


def grade(box, task):
    return helpers.grade(box, LAB, task)


def test_the_notebooks_try_its_are_the_specs_tasks():
    assert helpers.notebook_check_tasks(LAB) == helpers.spec_task_ids(LAB)


def test_nothing_done_fails_every_check_naming_the_container(box):
    report = grader.grade(grader.find_lab(LAB), sandbox=box)
    assert report.score == 0
    for r in report.results:
        assert not r.passed and r.status == "failed", r.message
        assert r.reason == "missing" or r.id == "user-image", (r.id, r.reason)


# --- user ----------------------------------------------------------------------------
@pytest.fixture
def user_image(box, tracked, tmp_path):
    """Build try-user from a Dockerfile with the USER given; returns a function."""
    def build(user_line: str):
        (tmp_path / "Dockerfile").write_text(f'FROM busybox\n{user_line}\nCMD ["sleep", "600"]\n')
        docker(box, f"docker build -q -t try-user {tmp_path}")
        tracked["images"].append("try-user")
    return build


def test_user_image_with_user_1000_passes(box, user_image):
    user_image("USER 1000")
    docker(box, "docker run -d --name try-user try-user")
    results = grade(box, "user")
    assert_all_pass(results)
    assert "on the host" in results["user-not-root"].message


def test_user_the_outlines_way_without_user_fails_both_as_root(box, user_image):
    user_image("")
    docker(box, "docker run -d --name try-user try-user")
    r = grade(box, "user")
    assert_fails(r["user-image"], "wrong_user", "runs as root", hint="USER 1000 before CMD")
    assert_fails(r["user-not-root"], "root", "runs as root (uid 0)", "not set")


def test_user_flag_alone_passes_the_container_but_not_the_image(box):
    docker(box, "docker run -d --name try-user --user 1000 busybox sleep 600")
    r = grade(box, "user")
    assert r["user-not-root"].passed
    assert not r["user-image"].passed


def test_user_image_overridden_with_root_fails_the_container(box, user_image):
    user_image("USER 1000")
    for flags in ("--user root:root", "--user 0"):
        docker(box, f"docker rm -f try-user; docker run -d --name try-user {flags} try-user")
        r = grade(box, "user")
        assert r["user-image"].passed
        assert_fails(r["user-not-root"], "root", "runs as root (uid 0)", hint="do not override it")


def test_user_another_uid_fails_as_wrong_uid(box, user_image):
    user_image("USER 65534")
    docker(box, "docker run -d --name try-user try-user")
    r = grade(box, "user")
    assert_fails(r["user-image"], "wrong_user", "expected user `1000`")
    assert_fails(r["user-not-root"], "wrong_uid", "uid 65534; expected uid 1000")


def test_user_that_exited_fails_as_not_running(box, user_image):
    user_image("USER 1000")
    docker(box, "docker run --name try-user try-user true")
    assert_fails(grade(box, "user")["user-not-root"], "not_running", "exited (exit code 0)", hint="sleep")


# --- caps ----------------------------------------------------------------------------
def test_caps_drop_all_add_bind_passes_and_the_kernel_agrees(box):
    docker(box, "docker run -d --name try-caps --cap-drop ALL --cap-add NET_BIND_SERVICE busybox sleep 600")
    assert "CapBnd:\t0000000000000400" in docker(box, "docker exec try-caps grep CapBnd /proc/1/status")
    assert_all_pass(grade(box, "caps"))


def test_caps_with_every_default_added_back_fails_though_inspect_says_drop_all(box):
    adds = " ".join(f"--cap-add {c}" for c in DEFAULT_CAPS)
    docker(box, f"docker run -d --name try-caps --cap-drop ALL {adds} busybox sleep 600")
    assert docker(box, "docker inspect -f '{{.HostConfig.CapDrop}}' try-caps").strip() == "[ALL]"
    assert_fails(grade(box, "caps")["caps-only-bind"], "added_back", "adds back", "NET_RAW", hint="default set again")


def test_caps_dropping_one_fails_as_not_dropped(box):
    docker(box, "docker run -d --name try-caps --cap-drop NET_RAW busybox sleep 600")
    assert_fails(grade(box, "caps")["caps-only-bind"], "not_dropped", "drops only NET_RAW", hint="--cap-drop ALL")


def test_caps_drop_all_alone_fails_as_missing_the_one(box):
    docker(box, "docker run -d --name try-caps --cap-drop ALL busybox sleep 600")
    assert_fails(grade(box, "caps")["caps-only-bind"], "missing_cap", "lacks NET_BIND_SERVICE",
                 hint="--cap-add NET_BIND_SERVICE")


def test_caps_add_all_is_refused_by_the_seal(box):
    out = docker(box, "docker run -d --name try-caps --cap-drop ALL --cap-add ALL busybox sleep 600", ok=False)
    assert "authorization denied" in out and "--cap-add ALL is refused" in out


# --- readonly ------------------------------------------------------------------------
def test_readonly_with_tmpfs_passes(box):
    docker(box, "docker run -d --name try-ro --read-only --tmpfs /tmp busybox sleep 600")
    results = grade(box, "readonly")
    assert_all_pass(results)
    assert "a write as root in / fails with Read-only file system" in results["ro-root"].message


def test_readonly_with_mount_tmpfs_passes_too(box):
    docker(box, "docker run -d --name try-ro --read-only --mount type=tmpfs,target=/tmp busybox sleep 600")
    assert_all_pass(grade(box, "readonly"))


def test_readonly_missing_fails_as_writable_root(box):
    docker(box, "docker run -d --name try-ro --tmpfs /tmp busybox sleep 600")
    r = grade(box, "readonly")
    assert_fails(r["ro-root"], "writable_root", "ReadonlyRootfs false", hint="--read-only")
    assert r["ro-tmp"].passed


def test_readonly_with_a_writable_volume_fails_as_writable_mount(box, tracked):
    tracked["volumes"].append("try-ro-data")
    docker(box, "docker run -d --name try-ro --read-only --tmpfs /tmp -v try-ro-data:/srv busybox sleep 600")
    assert_fails(grade(box, "readonly")["ro-root"], "writable_mount", "/srv (volume)")


def test_readonly_without_tmpfs_fails_only_the_tmpfs(box):
    docker(box, "docker run -d --name try-ro --read-only busybox sleep 600")
    r = grade(box, "readonly")
    assert r["ro-root"].passed
    assert_fails(r["ro-tmp"], "missing", "nothing is mounted at /tmp", hint="--tmpfs /tmp")


# --- nnp -----------------------------------------------------------------------------
def test_nnp_passes_and_the_setuid_program_raises_nothing(box, suid_demo):
    docker(box, "docker run -d --name try-nnp --security-opt no-new-privileges suid-demo sleep 600")
    assert "euid=0" not in docker(box, "docker exec try-nnp suid-id")
    assert_all_pass(grade(box, "nnp"))


def test_nnp_false_fails_as_set_false_and_the_setuid_program_is_root(box, suid_demo):
    docker(box, "docker run -d --name try-nnp --security-opt no-new-privileges:false suid-demo sleep 600")
    assert "euid=0(root)" in docker(box, "docker exec try-nnp suid-id")
    assert_fails(grade(box, "nnp")["nnp-on"], "set_false", "no-new-privileges:false", hint="switches it off")


def test_nnp_missing_fails_as_not_set(box, suid_demo):
    docker(box, "docker run -d --name try-nnp suid-demo sleep 600")
    assert_fails(grade(box, "nnp")["nnp-on"], "not_set", "NoNewPrivs is 0", hint="--security-opt no-new-privileges")


# --- limits --------------------------------------------------------------------------
def test_limits_pass(box):
    docker(box, "docker run -d --name try-limits --pids-limit 50 --memory 64m busybox sleep 600")
    assert_all_pass(grade(box, "limits"))


def test_limits_pids_only_fails_naming_memory(box):
    docker(box, "docker run -d --name try-limits --pids-limit 50 busybox sleep 600")
    assert_fails(grade(box, "limits")["limits-set"], "no_limit", "no memory limit is set", hint="--memory 64m")


# --- the lesson's helpers against the real seal and kernel -----------------------------
@pytest.fixture
def lesson_env(box, monkeypatch):
    for key, value in box.env().items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("DOCKYARD_SANDBOX", box.name)
    return box


def test_refusals_table_shows_what_the_seal_refused_and_what_ran(lesson_env):
    from dockyard.notebook.security import refusals

    table = refusals(["docker run --rm --privileged busybox true", "docker run --rm -v /:/host busybox true",
                      "docker run --rm busybox true"])
    assert [r[1] for r in table.rows] == ["refused", "refused", "ran"]
    assert "take it over" in table.rows[0][2] and "workspace" in table.rows[1][2]


def test_caps_table_decodes_what_containers_print(lesson_env):
    from dockyard.notebook import sh
    from dockyard.notebook.security import caps_table

    cmd = "docker run --rm {} busybox grep Cap /proc/self/status"
    table = caps_table({f or "default": sh(cmd.format(f), quiet=True)
                        for f in ("", "--cap-drop ALL --cap-add NET_BIND_SERVICE")})
    rows = {r[0]: r[1:] for r in table.rows}
    assert rows["(count)"] == ["14", "1"] and rows["NET_BIND_SERVICE"] == ["✓", "✓"] and rows["NET_RAW"] == ["✓", ""]

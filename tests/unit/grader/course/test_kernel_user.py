"""What a grading kernel may see, which uid it gets, and how its files are copied back (no daemon)."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from dockyard import uids
from grader.course import kernel_user as ku


def test_the_masks_cover_course_run_home_root_and_the_labs(tmp_path):
    for d in ("course", "run", "home", "labs", "repo/labs", "repo/.git", "repo/tests/data/labs"):
        (tmp_path / d).mkdir(parents=True)
    kw = dict(course=tmp_path / "course", run_tmp=tmp_path / "run", dockyard_home=tmp_path / "home",
              labs=[tmp_path / "labs"], repo=tmp_path / "repo")
    got = ku.masks(**kw)
    assert {str(tmp_path / d) for d in ("course", "run", "home")} <= set(got)
    assert "/root" in got or not os.path.isdir("/root")
    assert {str(tmp_path / d) for d in ("labs", "repo/labs", "repo/.git", "repo/tests/data/labs")} <= set(got)
    assert "/" not in got


def test_masks_are_real_paths_and_missing_ones_are_skipped(tmp_path):
    (tmp_path / "real").mkdir()
    (tmp_path / "link").symlink_to(tmp_path / "real")
    got = ku.masks(course=tmp_path / "link", run_tmp=tmp_path / "gone", dockyard_home=tmp_path / "gone2",
                   labs=[])
    assert str(tmp_path / "real") in got and str(tmp_path / "link") not in got
    assert not any("gone" in m for m in got)


def test_outermost_drops_folders_inside_others_but_not_lookalike_names():
    assert ku.outermost(["/a/b", "/a", "/ab", "/a/b/c", "/x"]) == ["/a", "/ab", "/x"]


def test_private_dirs_are_the_world_writable_ones_each_once():
    got = ku.private_dirs()
    assert "/tmp" in got and len(got) == len(set(got))
    assert all(os.path.realpath(p) == p for p in got)


def test_binds_under_a_mask_come_back_and_masks_inside_a_bound_folder_are_mounted_after_it():
    plan = ku.Plan(uid=1, mask=["/root", "/root/repo/labs", "/srv/course"], private=["/tmp"], folder="/tmp/run/f", binds=[("/root/home/g1/docker.sock", True), ("/root/repo", False),
                                               ("/opt/visible", False)])
    first, binds, later = plan.layers("/tmp/run/f")
    assert first == ["/root", "/srv/course", "/tmp"]
    assert binds[0] == ("/tmp/run/f", True)  # the kernel's folder, always
    assert ("/root/home/g1/docker.sock", True) in binds and ("/root/repo", False) in binds
    assert ("/opt/visible", False) not in binds  # not masked: nothing to bring back
    assert later == ["/root/repo/labs"]  # the repo comes back, its labs stay hidden


def test_a_plan_survives_the_environment():
    plan = ku.Plan(uid=7, mask=["/m"], private=["/tmp"], folder="/f", binds=[("/x", True)])
    assert ku.Plan.from_env(plan.to_env()) == plan


# --- uids ---------------------------------------------------------------------------------
def test_the_default_uid_range_is_free_on_this_machine():
    lo, hi = ku.UID_RANGE
    assert 1_879_048_192 <= lo <= hi < 2_147_352_576  # systemd's unallocated block, below 2^31
    claimed = ku.claimed_ids()
    assert not any(lo <= i <= hi for i in claimed)


def test_a_uid_is_usable_only_when_no_one_claims_runs_as_or_sub_allocates_it():
    assert ku.usable(5000, set(), [], set())
    assert not ku.usable(5000, {5000}, [], set())  # /etc/passwd or /etc/group
    assert not ku.usable(5000, set(), [(4000, 6000)], set())  # /etc/subuid
    assert not ku.usable(5000, set(), [], {5000})  # a process runs as it


def test_subuid_ranges_are_read(tmp_path):
    f = tmp_path / "subuid"
    f.write_text("ann:100000:65536\nbroken line\nbob:2000000000:10\n")
    assert uids.id_ranges(str(f)) == [(100000, 165535), (2000000000, 2000000009)]


def test_uid_range_from_the_environment(monkeypatch):
    monkeypatch.setenv("DOCKYARD_KERNEL_UIDS", "1990000100-1990000199")
    assert ku.uid_range() == (1990000100, 1990000199)
    monkeypatch.setenv("DOCKYARD_KERNEL_UIDS", "0-10")
    with pytest.raises(ValueError):
        ku.uid_range()


@pytest.mark.skipif(os.geteuid() != 0, reason="locks live in /run/dockyard (root)")
def test_two_allocations_get_two_uids_and_a_closed_one_is_free_again(tmp_path, monkeypatch):
    monkeypatch.setenv("DOCKYARD_KERNEL_UIDS", "1990000900-1990000901")
    a = ku.KernelUser.allocate(locks=tmp_path)
    b = ku.KernelUser.allocate(locks=tmp_path)
    try:
        assert {a.uid, b.uid} == {1990000900, 1990000901}
        with pytest.raises(RuntimeError, match="no free kernel uid"):
            ku.KernelUser.allocate(locks=tmp_path)
    finally:
        b.close()
    c = ku.KernelUser.allocate(locks=tmp_path)
    assert c.uid == b.uid
    c.close()
    a.close()
    assert list(tmp_path.iterdir()) == []  # no lock file left


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to change uid")
def test_drop_to_has_no_way_back():
    pid = os.fork()
    if pid == 0:
        try:
            ku.drop_to(1990000950)
            ok = os.getuid() == os.geteuid() == 1990000950 and os.getgroups() == [] and os.getgid() == 1990000950
            try:
                os.setuid(0)
                ok = False
            except PermissionError:
                pass
            os._exit(0 if ok else 1)
        except BaseException:
            os._exit(2)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0


# --- files the kernel wrote -------------------------------------------------------------------
def hostile_tree(root: Path) -> Path:
    (root / "sub").mkdir(parents=True)
    (root / "Dockerfile").write_text("FROM busybox\n")
    (root / "sub" / "app.py").write_text("print('hi')\n")
    (root / "shadow").symlink_to("/etc/shadow")
    (root / "etc").symlink_to("/etc")
    (root / "sub" / "up").symlink_to("../Dockerfile")
    os.mkfifo(root / "fifo")
    (root / "big").write_bytes(b"x" * 5000)
    return root


def test_copy_untrusted_takes_regular_files_and_folders_and_follows_no_link(tmp_path):
    src = hostile_tree(tmp_path / "src")
    left_out = ku.copy_untrusted(src, tmp_path / "dest", max_file=4096)
    dest = tmp_path / "dest"
    assert sorted(str(p.relative_to(dest)) for p in dest.rglob("*")) == ["Dockerfile", "sub", "sub/app.py"]
    assert sorted(left_out) == ["big", "etc", "fifo", "shadow", "sub/up"]
    assert not any(p.is_symlink() for p in dest.rglob("*"))


@pytest.mark.skipif(os.geteuid() != 0, reason="chown needs root")
def test_copy_untrusted_gives_the_copies_to_an_owner_without_setuid_bits(tmp_path):
    src = tmp_path / "src"
    src.mkdir()
    (src / "tool").write_text("#!/bin/sh\n")
    os.chmod(src / "tool", 0o4777)
    ku.copy_untrusted(src, tmp_path / "dest", owner=1990000960)
    st = os.stat(tmp_path / "dest" / "tool")
    assert (st.st_uid, st.st_gid, stat.S_IMODE(st.st_mode)) == (1990000960, 1990000960, 0o755)
    assert os.stat(tmp_path / "dest").st_uid == 1990000960


@pytest.mark.skipif(os.geteuid() != 0, reason="chown needs root")
def test_give_then_reclaim_leaves_root_only_plain_files_and_folders(tmp_path):
    folder = hostile_tree(tmp_path / "autograded")
    os.chmod(folder / "Dockerfile", 0o4755)
    outside = tmp_path / "outside"
    outside.write_text("not the kernel's")
    os.link(outside, folder / "hard")
    ku.give(folder, 1990000990)
    assert os.stat(folder / "sub" / "app.py").st_uid == 1990000990 and os.stat(folder).st_uid == 1990000990
    assert os.stat("/etc/shadow").st_uid == 0  # a link in the folder was not followed
    removed = ku.reclaim(folder, 1990000990)
    assert sorted(removed) == ["etc", "fifo", "hard", "shadow", "sub/up"]
    left = [folder, *folder.rglob("*")]
    assert sorted(str(p.relative_to(folder)) for p in left[1:]) == ["Dockerfile", "big", "sub", "sub/app.py"]
    assert all(os.lstat(p).st_uid == 0 and not stat.S_IMODE(os.lstat(p).st_mode) & 0o7022 for p in left)
    assert outside.read_text() == "not the kernel's"


def test_remove_tree_follows_no_link(tmp_path):
    keep = tmp_path / "keep"
    keep.mkdir()
    (keep / "precious").write_text("x")
    tree = tmp_path / "tree"
    (tree / "ro").mkdir(parents=True)
    (tree / "ro" / "f").write_text("y")
    (tree / "link").symlink_to(keep)
    os.chmod(tree / "ro", 0o500)
    ku.remove_tree(tree)
    assert not tree.exists() and (keep / "precious").exists()


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to start a process as another uid")
def test_end_processes_kills_every_process_of_the_uid_and_only_those():
    import subprocess

    user = ku.KernelUser(1990000980, None, None)
    theirs = subprocess.Popen(["sleep", "60"], user=user.uid, group=user.gid, extra_groups=[])
    other = subprocess.Popen(["sleep", "60"], user=1990000981, group=1990000981, extra_groups=[])
    try:
        for _ in range(50):
            if user.uid in ku.process_uids():
                break
        user.end_processes()
        assert theirs.wait(timeout=10) == -9
        assert other.poll() is None
    finally:
        for p in (theirs, other):
            p.kill()
            p.wait()


def test_autograde_reclaims_the_folder_right_after_execute():
    from traitlets.config import Config

    from grader.course.config import apply
    from grader.course.reclaim import ReclaimFolder

    c = Config()
    apply(c, "/nonexistent-course")
    steps = list(c.Autograde.autograde_preprocessors)
    assert steps[steps.index(ReclaimFolder) - 1].__name__ == "TrustedExecute"
    assert ReclaimFolder().enabled  # nbconvert's own Preprocessor is off unless enabled

"""Disk caps for grading: a hand-in that fills its sandbox's disk or its notebook's folder gets
"disk-full", its other cells still count, and the host's disk is as it was afterwards."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import nbformat

from dockyard import mounts
from dockyard.config import home
from grader.course import labnb
from grader.course.grading import Limits, grade_class, sandbox_name
from grader.course.layout import Course
from grader.course.release import release
from tests.integration.conftest import _require_host
from tests.integration.grader.test_course_grading import FIXTURES

LAB = "90-fixture"
CAP = 256 * 1024**2
FILLS = {
    # a build whose RUN writes more than the disk holds
    "build-fill": 'import pathlib\n'
                  'pathlib.Path("fill").mkdir(exist_ok=True)\n'
                  'pathlib.Path("fill/Dockerfile").write_text("FROM busybox\\nRUN dd if=/dev/zero of=/big bs=1M\\n")\n'
                  'sh("docker build -t fill fill")\n',
    # a container that writes until its disk is full, and stays (its layer keeps the disk full)
    "container-fill": 'sh("docker run --name filler busybox dd if=/dev/zero of=/big bs=1M")\n',
    # plain Python in the kernel, writing a huge file in the notebook's own folder
    "cell-fill": 'chunk = b"x" * (1 << 20)\n'
                 'with open("huge.bin", "wb") as fh:\n'
                 '    for _ in range(50 * 1024):\n'
                 '        fh.write(chunk)\n',
}


def fill_hand_in(course: Course, student: str, answer: str) -> None:
    dest = labnb.write_submission(FIXTURES / LAB, course.release(LAB), course.submitted(LAB, student))
    path = dest / f"{LAB}.ipynb"
    nb = labnb.answered(nbformat.read(course.release(LAB) / f"{LAB}.ipynb", as_version=4),
                        labnb.read(FIXTURES / LAB), {"answer-data": answer})
    nbformat.write(nb, path)


def ours(course: Course, students) -> list[str]:
    """Sandboxes, cgroups, mounts and loop devices of these hand-ins still there (only theirs: other
    grading runs may be under way on this machine)."""
    names = [sandbox_name(course, LAB, s) for s in students]
    found = [f"sandbox {n}" for n in names if (home() / n).exists()]
    found += [f"cgroup {d}" for d in Path("/sys/fs/cgroup").rglob("dockyard-g*") if any(n in d.name for n in names)]
    found += subprocess.run(["findmnt", "-rn", "-o", "TARGET"], capture_output=True, text=True).stdout.splitlines()
    found += subprocess.run(["losetup", "-a"], capture_output=True, text=True).stdout.splitlines()
    return [line for line in found if any(n in line for n in names)]  # other runs on this machine may grade now


def test_disk_filling_hand_ins_get_disk_full_and_leave_the_host_as_it_was(tmp_path, monkeypatch):
    _require_host()
    monkeypatch.setenv("DOCKYARD_LABS", str(FIXTURES))
    course = Course.at(tmp_path / "course")
    release(course, [LAB], progress=lambda _m: None)
    labnb.write_submission(FIXTURES / LAB, course.release(LAB), course.submitted(LAB, "solution"))
    for student, answer in FILLS.items():
        fill_hand_in(course, student, answer)
    before = shutil.disk_usage(home()).free
    outcomes = {o.student: o for o in grade_class(course, LAB, jobs=2,
                                                  limits=Limits(cell_timeout=60, notebook_timeout=300, disk="256m"))}
    after = shutil.disk_usage(home()).free
    for o in outcomes.values():
        print(f"{o.student}: {o.status} {o.score} {o.message}")
    # a normal hand-in is graded as without a cap
    assert (outcomes["solution"].status, outcomes["solution"].score) == ("ok", 3), outcomes["solution"].message
    for student in ("build-fill", "container-fill"):
        o = outcomes[student]
        assert o.status == "disk-full", (student, o.status, o.message)
        assert "the sandbox's 256 MiB disk filled up (a build or container wrote too much)" in o.message, o.message
        assert o.merged and o.score == 1, (student, o.score, o.message)  # the web cell still counts
    cell = outcomes["cell-fill"]
    assert cell.status == "disk-full", cell.message
    assert "the notebook folder's 256 MiB disk filled up (a cell wrote too much into it)" in cell.message
    # a kernel that is not root leaves nbgrader the disk's root-only reserve to save the notebook in;
    # a root kernel fills that too, and then no grade is saved: never a silent zero either way
    assert (cell.merged, cell.score) in ((True, 1), (False, None)), (cell.merged, cell.score, cell.message)
    if cell.merged:
        assert not (course.autograded("cell-fill", LAB) / "huge.bin").exists()  # the course keeps no gigabytes
    # three hand-ins wrote 256 MiB or more each; all of it is given back (others on this machine may
    # write meanwhile: the margin is well under one leaked disk)
    assert before - after < 64 * 1024**2, f"host free space went down by {(before - after) >> 20} MiB"
    assert ours(course, outcomes) == []


def test_a_disk_is_sparse_and_leaves_nothing_behind(tmp_path):
    _require_host()
    image, target = tmp_path / "d.img", tmp_path / "mnt"
    mounts.mount_disk(image, 4 * 1024**3, target, reserve=32 * 1024**2)
    try:
        assert mounts.is_mountpoint(target) and mounts.loops_of(image)
        assert image.stat().st_blocks * 512 < 16 * 1024**2  # 4 GiB of disk, a few MB of host
        usage = mounts.disk_usage(target)
        assert 3.7 * 1024**3 < usage["total"] <= 4 * 1024**3  # less ext4 metadata
        assert not mounts.is_full(target)
    finally:
        left = mounts.remove_disk(image, target)
    assert left == [] and not image.exists() and not mounts.is_mountpoint(target)
    assert str(image) not in subprocess.run(["losetup", "-a"], capture_output=True, text=True).stdout

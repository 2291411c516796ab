"""Hostile hand-ins graded by the real ``grade_class``: the kernel runs as its own uid, sees only its folder.

Each hostile hand-in is the fixture lab's reference solution with one more cell of attack
code. Its kernel must fail at every attack and still score exactly what the honest hand-in
scores, graded beside it in one run; the course and the host must be left as they were.
"""

from __future__ import annotations

import hashlib
import os
import stat
import subprocess
import textwrap
from pathlib import Path

import nbformat
import pytest

from grader.course import labnb
from grader.course.grading import grade_class, sandbox_name
from grader.course.kernel_user import private_dirs, process_uids
from grader.course.layout import Course
from grader.course.release import release
from tests.integration.conftest import _require_host
from tests.integration.grader.test_course_grading import leftovers

REPO = Path(__file__).resolve().parents[3]
FIXTURES = REPO / "tests" / "data" / "labs"
LAB = "90-fixture"
UIDS = (1_990_000_500, 1_990_000_509)  # a range of this test's own: other runs on the machine take the lowest

ATTACKS = {
    # writes into the lab spec, the course (gradebook, source, others' hand-ins) and hands itself points
    "writer": """
        import glob, os
        targets = [f"{LABS}/{LAB}/lab.yaml", f"{COURSE}/gradebook.db", f"{COURSE}/source/{LAB}/{LAB}.ipynb",
                   f"{COURSE}/pwned.txt", *glob.glob(f"{COURSE}/submitted/*/{LAB}/{LAB}.ipynb")]
        for t in targets:
            try:
                with open(t, "a") as fh:
                    fh.write("\\n  - check: container.state  # free points\\n")
                print("WROTE", t)
            except OSError as exc:
                print("blocked", type(exc).__name__)
    """,
    # reads the lab spec (hidden checks included) and prints it into its notebook and feedback
    "spy": """
        import glob, os
        for pattern in (f"{LABS}/{LAB}/*", f"{LABS}/*/*.yaml", f"{REPO}/labs/*/lab.yaml", f"{REPO}/.git/*",
                        f"{COURSE}/source/{LAB}/*"):
            for f in glob.glob(pattern):
                try:
                    print(open(f).read())
                except OSError as exc:
                    print("blocked", type(exc).__name__)
        print("kernel uid", os.getuid(), "groups", os.getgroups())
    """,
    "shadow": """
        for f in ("/etc/shadow", "/etc/gshadow", "/root/.bash_history"):
            try:
                print(open(f).read())
            except OSError as exc:
                print("blocked", type(exc).__name__)
    """,
    # lists the other hand-ins, the other grading slots' temp folders and every sandbox
    "lister": """
        import glob, os
        for pattern in (f"{COURSE}/submitted/*", "/tmp/dockyard-grade-*/*", f"{HOME}/*", "/run/dockyard/*"):
            print(pattern.split("/")[-2], sorted(os.path.basename(p) for p in glob.glob(pattern)))
    """,
    # writes on the host (its private /var/tmp, /dev/shm and /run/lock take it, and vanish), and plants links for the root processes that read its folder afterwards
    "escaper": """
        import os
        for f in ("/etc/dockyard-pwned", "/root/dockyard-pwned", "/usr/local/bin/dockyard-pwned",
                  "/var/tmp/dockyard-pwned", "/dev/shm/dockyard-pwned", "/run/lock/dockyard-pwned",
                  f"{HOME}/dockyard-pwned"):
            try:
                open(f, "w").write("pwned")
                print("WROTE", f)
            except OSError as exc:
                print("blocked", type(exc).__name__)
        # CANARY: a root-only 0600 file of the test's, standing in for /etc/passwd and /etc/shadow
        os.symlink(CANARY, "canary-copy")  # nbgrader, as root, chmods every file of the folder to 0444
        os.symlink(os.path.dirname(CANARY), "etc")
        os.symlink(CANARY, "passwd.ipynb")
        os.mkfifo("pipe")
        try:
            os.link(CANARY, "hard-canary")  # fs.protected_hardlinks refuses; else reclaim removes it
        except OSError as exc:
            print("blocked", type(exc).__name__)
        os.replace("passwd.ipynb", f"{LAB}.ipynb")  # nbgrader, as root, writes the executed notebook here
        open("made-by-a-cell.txt", "w").write("kept")
    """,
}


def _hostile(course: Course, student: str, code: str) -> None:
    dest = course.submitted(LAB, student)
    labnb.write_submission(FIXTURES / LAB, course.release(LAB), dest)
    nb = nbformat.read(dest / f"{LAB}.ipynb", as_version=4)
    i = next(i for i, c in enumerate(nb.cells) if labnb.meta(c).get("grade_id") == "answer-data")
    nb.cells.insert(i + 1, nbformat.v4.new_code_cell(code))
    nbformat.write(nb, dest / f"{LAB}.ipynb")


def _tree_hash(*roots: Path) -> str:
    h = hashlib.sha256()
    for root in roots:
        for p in sorted(root.rglob("*")):
            h.update(str(p).encode() + b"\0")
            if p.is_file() and not p.is_symlink():
                h.update(p.read_bytes())
    return h.hexdigest()


def _outputs(nb_path: Path) -> str:
    nb = nbformat.read(nb_path, as_version=4)
    return "\n".join(str(o) for c in nb.cells for o in c.get("outputs", []))


def _host_mounts(paths: set[str]) -> list[str]:
    """The mounts of the host on ``paths`` (a path mounted twice is listed twice)."""
    points = [line.split()[4] for line in Path("/proc/self/mountinfo").read_text().splitlines()]
    return sorted(p for p in points if p in paths)


def test_hostile_kernels_score_like_the_honest_hand_in_and_leave_course_and_host_untouched(tmp_path, monkeypatch):
    _require_host()
    monkeypatch.setenv("DOCKYARD_LABS", str(FIXTURES))
    monkeypatch.setenv("DOCKYARD_KERNEL_UIDS", f"{UIDS[0]}-{UIDS[1]}")
    course = Course.at(tmp_path / "course")
    release(course, [LAB], progress=lambda _m: None)
    labnb.write_submission(FIXTURES / LAB, course.release(LAB), course.submitted(LAB, "honest"))
    from dockyard.config import home

    canary = tmp_path / "host" / "canary"
    canary.parent.mkdir(mode=0o700)
    canary.write_text("root's own\n")
    canary.chmod(0o600)
    names = {"LAB": LAB, "LABS": FIXTURES, "COURSE": course.root, "REPO": REPO, "HOME": home(), "CANARY": canary}
    for student, code in ATTACKS.items():
        _hostile(course, student, "\n".join(f"{k} = {str(v)!r}" for k, v in names.items())
                 + "\n" + textwrap.dedent(code))
    watched = [FIXTURES / LAB, course.root / "source", course.root / "submitted", course.root / "release"]
    before = _tree_hash(*watched)
    host_files = {p: Path(p).read_bytes() for p in ("/etc/passwd", "/etc/group", "/etc/shadow")}
    shadow_mode = os.stat("/etc/shadow").st_mode
    # what a kernel's namespace mounts over; were one to leak, the host would have it once more
    ours = {*private_dirs(), "/root", "/run/dockyard", str(course.root), str(FIXTURES), str(REPO), str(REPO / "labs"),
            str(REPO / ".git"), str(home())}
    mounts_before = _host_mounts(ours)

    outcomes = {o.student: o for o in grade_class(course, LAB, jobs=2)}

    assert canary.read_text() == "root's own\n" and stat.S_IMODE(canary.stat().st_mode) == 0o600, \
        "root wrote or chmodded through a link the kernel planted"
    got = {s: (o.status, o.score) for s, o in outcomes.items()}
    assert got == {s: ("ok", 3.0) for s in ["honest", *ATTACKS]}, {s: o.message for s, o in outcomes.items()}
    assert _tree_hash(*watched) == before, "the lab spec or the course's files changed"
    assert not (course.root / "pwned.txt").exists()
    seen = {s: _outputs(course.autograded(s, LAB) / f"{LAB}.ipynb") for s in outcomes}
    pages = {s: (course.feedback(s, LAB) / f"{LAB}.html").read_text() for s in outcomes}
    assert "WROTE" not in seen["writer"] and "blocked" in seen["writer"]
    # the kernel really ran as an unprivileged uid of the range, with no groups
    uid = int(seen["spy"].split("kernel uid ", 1)[1].split()[0])
    assert UIDS[0] <= uid <= UIDS[1] and "groups []" in seen["spy"]
    spec = (FIXTURES / LAB / "lab.yaml").read_text()
    for secret in ("stdout_contains", "A two-task lab for testing class grading", spec.splitlines()[-1].strip()):
        assert secret not in seen["spy"] and secret not in pages["spy"], secret
    shadow_lines = [ln for ln in host_files["/etc/shadow"].decode().splitlines() if ln.strip()]
    assert shadow_lines and not any(ln in seen["shadow"] or ln in pages["shadow"] for ln in shadow_lines)
    assert seen["shadow"].count("blocked") == 3
    others = [sandbox_name(course, LAB, s) for s in outcomes if s != "lister"]
    assert not any(s in seen["lister"] for s in outcomes if s != "lister"), seen["lister"]
    assert not any(n in seen["lister"] for n in others), seen["lister"]
    wrote = [ln.split()[1] for ln in seen["escaper"].replace("\\n", "\n").splitlines() if ln.startswith("WROTE ")]
    assert sorted(wrote) == ["/dev/shm/dockyard-pwned", "/run/lock/dockyard-pwned", "/var/tmp/dockyard-pwned"]
    for f in ("/etc/dockyard-pwned", "/root/dockyard-pwned", "/usr/local/bin/dockyard-pwned",
              "/var/tmp/dockyard-pwned", "/dev/shm/dockyard-pwned", "/run/lock/dockyard-pwned",
              home() / "dockyard-pwned"):
        assert not os.path.lexists(f), f
    # root took the folder back before writing in it: no link, no fifo; the notebook nbgrader wrote, the cell's file
    kept = course.autograded("escaper", LAB)
    assert not [p for p in kept.rglob("*") if p.is_symlink() or not (p.is_file() or p.is_dir())]
    assert (kept / "made-by-a-cell.txt").read_text() == "kept"
    assert nbformat.read(kept / f"{LAB}.ipynb", as_version=4).cells
    assert {p: Path(p).read_bytes() for p in host_files} == host_files and os.stat("/etc/shadow").st_mode == shadow_mode
    # nothing left: sandboxes, cgroups, processes or files of the kernels' uids, mounts of their namespaces
    assert [x for x in leftovers() if any(sandbox_name(course, LAB, st) in x for st in outcomes)] == []
    assert not [u for u in process_uids() if UIDS[0] <= u <= UIDS[1]]
    assert _host_mounts(ours) == mounts_before, "a kernel's mounts reached the host"
    owned = subprocess.run(["find", "/", "-xdev", "(", "-uid", f"+{UIDS[0] - 1}", "-uid", f"-{UIDS[1] + 1}", ")",
                            "-print", "-quit"], capture_output=True, text=True)
    assert owned.stdout == "", owned.stdout
    assert not list(Path("/run/dockyard/kernel-uids").glob("19900005*"))


@pytest.mark.parametrize("student", ["honest"])
def test_the_kernels_docker_socket_is_its_own(tmp_path, monkeypatch, student):
    """Only the hand-in's uid (and root) can use its sandbox's socket; its cells still run docker."""
    _require_host()
    monkeypatch.setenv("DOCKYARD_LABS", str(FIXTURES))
    course = Course.at(tmp_path / "course")
    release(course, [LAB], progress=lambda _m: None)
    _hostile(course, student, textwrap.dedent("""
        import os, stat, subprocess
        sock = os.environ["DOCKER_HOST"].removeprefix("unix://")
        st = os.stat(sock)
        print("socket", st.st_uid == os.getuid(), oct(stat.S_IMODE(st.st_mode)))
        print(subprocess.run(["docker", "ps", "--format", "{{.Names}}"], capture_output=True, text=True).stdout)
    """))
    outcomes = grade_class(course, LAB, jobs=1)
    assert [(o.status, o.score) for o in outcomes] == [("ok", 3.0)], outcomes[0].message
    out = _outputs(course.autograded(student, LAB) / f"{LAB}.ipynb")
    assert "socket True 0o600" in out and "web" in out
    assert [x for x in leftovers() if sandbox_name(course, LAB, student) in x] == []

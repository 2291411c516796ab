"""dockyard.safefs: a hand-in copied and read without following links, within caps, race-free."""

from __future__ import annotations

import os
import threading
from pathlib import Path

import pytest

from dockyard.errors import DockyardError
from dockyard.safefs import FileTooLarge, OutsideTree, TreeTooLarge, copy_tree, read_beneath

CAPS = {"max_bytes": 1 << 20, "max_files": 1000, "max_depth": 10}


def snapshot(root: Path) -> dict:
    """Every entry under ``root``: a link's target, a file's bytes and mode, a folder's mode."""
    out = {}
    for p in sorted(root.rglob("*")):
        rel = str(p.relative_to(root))
        if p.is_symlink():
            out[rel] = ("link", os.readlink(p))
        elif p.is_dir():
            out[rel] = ("dir", p.stat().st_mode & 0o7777)
        else:
            out[rel] = ("file", p.read_bytes(), p.stat().st_mode & 0o7777, p.stat().st_mtime_ns)
    return out


def plant(root: Path, files: dict[str, str]) -> None:
    for rel, text in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text)


@pytest.fixture
def honest(tmp_path) -> Path:
    src = tmp_path / "hand-in"
    (src / "app" / "static").mkdir(parents=True)
    (src / "Dockerfile").write_text("FROM python:3.12-slim\nCOPY app /app\n")
    (src / "app" / "main.py").write_text("print('hi')\n")
    (src / "app" / "run.sh").write_text("#!/bin/sh\n")
    (src / "app" / "run.sh").chmod(0o755)
    (src / "app" / "static" / "logo.bin").write_bytes(bytes(range(256)) * 40)
    (src / ".dockerignore").write_text("*.pyc\n")
    os.symlink("app/main.py", src / "main.py")  # links that stay inside are kept, as links
    os.symlink("../Dockerfile", src / "app" / "Dockerfile")
    os.symlink("static", src / "app" / "assets")
    return src


def test_an_honest_tree_is_copied_identically(honest, tmp_path):
    dst = tmp_path / "copy"
    report = copy_tree(honest, dst, **CAPS)
    assert snapshot(dst) == snapshot(honest)
    assert report.skipped == ()
    assert report.files == len(snapshot(honest))
    assert report.bytes == sum(len(p.read_bytes()) for p in honest.rglob("*") if p.is_file() and not p.is_symlink())


def test_a_second_tree_is_merged_over_the_first(honest, tmp_path):
    starter = tmp_path / "starter"
    (starter / "app").mkdir(parents=True)
    (starter / "app" / "main.py").write_text("starter")
    (starter / "requirements.txt").write_text("flask\n")
    (starter / "Dockerfile").mkdir()  # the hand-in's file wins over a folder of that name
    dst = tmp_path / "copy"
    copy_tree(starter, dst, **CAPS)
    copy_tree(honest, dst, **CAPS)
    assert (dst / "requirements.txt").read_text() == "flask\n"
    assert (dst / "app" / "main.py").read_text() == "print('hi')\n"
    assert (dst / "Dockerfile").read_text().startswith("FROM python")


def test_links_out_of_the_tree_are_left_out_and_listed(honest, tmp_path):
    os.symlink("/etc/passwd", honest / "passwd")
    os.symlink("../../../../../../etc/passwd", honest / "app" / "up")
    os.symlink("/", honest / "root")
    os.symlink(".", honest / "here")
    os.symlink("here/..", honest / "out")  # inside when read as text, outside when resolved
    os.symlink("nowhere", honest / "dangling")
    dst = tmp_path / "copy"
    report = copy_tree(honest, dst, **CAPS)
    left_out = {rel for rel, _why in report.skipped}
    assert left_out == {"passwd", "app/up", "root", "out", "dangling"}
    assert os.readlink(dst / "here") == "."
    assert not any(p.name in left_out for p in dst.rglob("*"))
    assert not os.path.lexists(dst / "root")


def test_a_fifo_is_left_out_without_blocking(honest, tmp_path):
    os.mkfifo(honest / "app" / "pipe")  # nobody writes to it: opening it to read would wait forever
    report = copy_tree(honest, tmp_path / "copy", **CAPS)
    assert [rel for rel, _why in report.skipped] == ["app/pipe"]
    assert not os.path.lexists(tmp_path / "copy" / "app" / "pipe")


@pytest.mark.parametrize("cap, value, figure", [("max_bytes", 10_000, "10000 bytes"), ("max_files", 5, "5"),
                                                ("max_depth", 1, "1")])
def test_each_cap_stops_the_copy_and_leaves_nothing(honest, tmp_path, cap, value, figure):
    dst = tmp_path / "copy"
    with pytest.raises(TreeTooLarge) as caught:
        copy_tree(honest, dst, **{**CAPS, cap: value})
    assert isinstance(caught.value, DockyardError)
    assert caught.value.context["cap"] == cap.removeprefix("max_")
    assert caught.value.context["reached"] > value
    assert caught.value.problem.startswith(f"{honest} holds ") and "nothing of it was graded" in caught.value.problem
    assert caught.value.fix == f"remove build outputs / node_modules / large data from the hand-in; the cap is {figure}"
    assert not os.path.lexists(dst)


def test_a_tree_exactly_at_the_caps_is_copied(honest, tmp_path):
    size = sum(len(p.read_bytes()) for p in honest.rglob("*") if p.is_file() and not p.is_symlink())
    report = copy_tree(honest, tmp_path / "copy", max_bytes=size, max_files=len(snapshot(honest)), max_depth=2)
    assert report.bytes == size


def test_a_link_given_as_the_tree_is_refused(honest, tmp_path):
    os.symlink(honest, tmp_path / "link")
    with pytest.raises(OutsideTree):
        copy_tree(tmp_path / "link", tmp_path / "copy", **CAPS)
    assert not os.path.lexists(tmp_path / "copy")


def swap_until(stop: threading.Event, folder: Path, secret: Path) -> None:
    """The learner's kernel during the copy: ``sub`` and ``notes.txt`` turn into links to ``secret``
    and back, by renames, as fast as it can."""
    sub, held, notes, kept = folder / "sub", folder / "held", folder / "notes.txt", folder / "kept.txt"
    while not stop.is_set():
        os.rename(sub, held)
        os.symlink(secret, sub)
        os.rename(notes, kept)
        os.symlink(secret / "shadow", notes)
        os.unlink(sub)
        os.rename(held, sub)
        os.unlink(notes)
        os.rename(kept, notes)


def test_a_tree_changed_under_the_copy_never_lets_a_link_be_followed(tmp_path):
    secret, src = tmp_path / "secret", tmp_path / "hand-in"
    plant(secret, {"shadow": "SECRET root:$6$hash"})
    # more to list, a wider window between listing and opening
    plant(src, {"sub/shadow": "honest", "notes.txt": "honest", **{f"f{i:02}": "x" * 100 for i in range(30)}})
    stop = threading.Event()
    swapper = threading.Thread(target=swap_until, args=(stop, src, secret))
    swapper.start()
    leaked = []
    try:
        for i in range(200):
            dst = tmp_path / f"copy{i}"
            copy_tree(src, dst, **CAPS)
            leaked += [str(p) for p in dst.rglob("*") if p.is_file() and "SECRET" in p.read_text()]
            leaked += [str(p) for p in dst.rglob("*") if p.is_symlink() and "secret" in os.readlink(p)]
    finally:
        stop.set()
        swapper.join()
    assert leaked == []


# --- read_beneath ---------------------------------------------------------------------------

def test_read_beneath_reads_a_file_of_the_tree(honest):
    assert read_beneath(honest, "app/main.py", 100) == b"print('hi')\n"
    assert read_beneath(honest, "./app//main.py", 12) == b"print('hi')\n"  # exactly at the cap


@pytest.mark.parametrize("rel", ["../hand-in/Dockerfile", "app/../../x", "/etc/passwd", ".."])
def test_read_beneath_refuses_to_leave_the_tree(honest, rel):
    with pytest.raises(OutsideTree) as caught:
        read_beneath(honest, rel, 1000)
    assert caught.value.fix == "hand in the file itself, not a link to a file elsewhere"


def test_read_beneath_refuses_a_link_at_any_component(honest, tmp_path):
    (tmp_path / "elsewhere").mkdir()
    (tmp_path / "elsewhere" / "f").write_text("secret")
    os.symlink(tmp_path / "elsewhere", honest / "app" / "other")
    for rel in ("app/other/f", "app/assets/logo.bin", "main.py"):  # a middle link, an inner one, the file
        with pytest.raises(OutsideTree):
            read_beneath(honest, rel, 1000)


def test_read_beneath_says_what_is_wrong(honest):
    with pytest.raises(FileNotFoundError):
        read_beneath(honest, "app/missing.py", 10)
    with pytest.raises(FileNotFoundError):
        read_beneath(honest, "Dockerfile/inside", 10)
    with pytest.raises(IsADirectoryError):
        read_beneath(honest, "app", 10)
    with pytest.raises(IsADirectoryError):
        read_beneath(honest, ".", 10)
    with pytest.raises(FileTooLarge):
        read_beneath(honest, "app/main.py", 11)
    os.mkfifo(honest / "pipe")
    with pytest.raises(FileNotFoundError):
        read_beneath(honest, "pipe", 10)

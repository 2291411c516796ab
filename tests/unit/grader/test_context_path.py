"""A hand-in's files are read only inside the hand-in: the grader runs as root, links out are not followed."""

from __future__ import annotations

import os

import pytest

from grader.context import Context, OutsideSubmission
from grader.runner import run_check
from grader.spec import CheckSpec


def test_a_file_of_the_hand_in_resolves_inside_it(tmp_path):
    (tmp_path / "Dockerfile").write_text("FROM busybox\n")
    (tmp_path / "sub").mkdir()
    os.symlink("../Dockerfile", tmp_path / "sub" / "link")  # a link that stays inside is fine
    ctx = Context(None, submission=tmp_path)
    assert ctx.path("Dockerfile") == (tmp_path / "Dockerfile").resolve()
    assert ctx.path("sub/link") == (tmp_path / "Dockerfile").resolve()
    assert ctx.path(".") == tmp_path.resolve()


@pytest.mark.parametrize("rel", ["../outside.txt", "secret", "/etc/shadow"])
def test_a_path_that_leaves_the_hand_in_is_refused(tmp_path, rel):
    hand_in = tmp_path / "hand-in"
    hand_in.mkdir()
    (tmp_path / "outside.txt").write_text("root only\n")
    os.symlink(tmp_path / "outside.txt", hand_in / "secret")
    with pytest.raises(OutsideSubmission) as exc:
        Context(None, submission=hand_in).path(rel)
    assert "leads outside the hand-in" in exc.value.problem and "not a link" in exc.value.fix


def test_a_check_on_a_linked_out_dockerfile_fails_without_reading_it(tmp_path):
    (tmp_path / "outside").write_text("FROM secret-line-of-a-root-only-file\n")
    hand_in = tmp_path / "hand-in"
    hand_in.mkdir()
    os.symlink(tmp_path / "outside", hand_in / "Dockerfile")
    spec = CheckSpec(type="dockerfile.parses", id="parses", title="parses", points=1.0, params={},
                     hints={}, hidden=False)
    result = run_check(Context(None, submission=hand_in), spec, "t")
    assert not result.passed and result.reason == "outside" and result.status == "failed"
    assert "secret-line" not in result.message + (result.hint or "")


def test_read_gives_a_files_bytes_up_to_a_cap_and_follows_a_link_only_inside(tmp_path):
    from dockyard.safefs import FileTooLarge

    (tmp_path / "docker").mkdir()
    (tmp_path / "docker" / "Dockerfile.prod").write_text("FROM busybox\n")
    os.symlink("docker/Dockerfile.prod", tmp_path / "Dockerfile")
    ctx = Context(None, submission=tmp_path)
    assert ctx.read("Dockerfile") == b"FROM busybox\n"
    assert ctx.text("docker/Dockerfile.prod", cap=13) == "FROM busybox\n"
    with pytest.raises(FileTooLarge):
        ctx.read("Dockerfile", cap=12)
    with pytest.raises(IsADirectoryError):
        ctx.read("docker")
    with pytest.raises(FileNotFoundError):
        ctx.read("nothing-here")


def test_read_refuses_a_link_out_and_a_fifo_without_blocking(tmp_path):
    hand_in = tmp_path / "hand-in"
    hand_in.mkdir()
    (tmp_path / "outside.txt").write_text("root only\n")
    os.symlink(tmp_path / "outside.txt", hand_in / "secret")
    os.mkfifo(hand_in / "pipe")
    ctx = Context(None, submission=hand_in)
    with pytest.raises(OutsideSubmission):
        ctx.read("secret")
    with pytest.raises(OSError):
        ctx.read("pipe")  # nothing writes to it: a read that waited would hang the test


def test_a_dockerfile_too_large_to_read_fails_as_the_hand_ins_not_the_graders(tmp_path):
    (tmp_path / "Dockerfile").write_bytes(b"FROM busybox\n" + b"# padding\n" * 200_000)
    spec = CheckSpec(type="dockerfile.parses", id="parses", title="parses", points=1.0, params={},
                     hints={}, hidden=False)
    result = run_check(Context(None, submission=tmp_path), spec, "t")
    assert not result.passed and result.reason == "too_large" and result.status == "failed", result
    assert "1024 KiB" in result.message

"""Which docker CLIs the BuildKit chooser is willing to run at all, and how long its answer is kept.

The grader may run as root, and it runs ``<candidate> --version`` for every ``docker`` on its PATH: a file that
someone else could write (or swap through a folder they can write) must be skipped, never run. The CLIs here are
small scripts like those of test_buildkit.py; an unsafe one leaves a marker file when it runs."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from dockyard import buildkit
from dockyard.errors import ConfigError

NOBODY = 65534


@pytest.fixture(autouse=True)
def no_settings(monkeypatch):
    monkeypatch.delenv("DOCKYARD_BUILDER", raising=False)
    monkeypatch.delenv("DOCKYARD_DOCKER_CLI", raising=False)
    monkeypatch.setattr(buildkit, "KNOWN", ())  # only the fake CLIs of each test, not this machine's


def marked_cli(folder: Path, version: str, marker: Path) -> Path:
    """A docker CLI that answers --version and leaves ``marker`` behind when it is run."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "docker"
    path.write_text(f"#!/bin/sh\ntouch '{marker}'\necho 'Docker version {version}, build 297e128'\n")
    path.chmod(0o755)
    return path


def test_a_world_writable_cli_is_skipped_never_run_and_the_note_says_why(tmp_path):
    marker = tmp_path / "ran"
    cli = marked_cli(tmp_path / "open", "20.10.24+dfsg1", marker)
    cli.chmod(0o777)
    builder = buildkit.choose(path=str(cli.parent))
    assert not builder.buildkit and buildkit.find_cli(str(cli.parent)) is None
    assert f"not run, as not safe to run: {cli} (writable by everyone)" in builder.note
    assert not marker.exists()


@pytest.mark.parametrize("how,reason", [
    ("group-writable file", "writable by its group"),
    ("file of another user", f"owned by uid {NOBODY}"),
    ("world-writable folder", "writable by everyone"),
    ("folder of another user", f"owned by uid {NOBODY}"),
])
@pytest.mark.skipif(os.geteuid() != 0, reason="giving a file to another uid needs root")
def test_a_cli_someone_else_could_change_is_skipped(tmp_path, how, reason):
    marker = tmp_path / "ran"
    cli = marked_cli(tmp_path / "box" / "bin", "20.10.24+dfsg1", marker)
    {"group-writable file": lambda: cli.chmod(0o775),
     "file of another user": lambda: os.chown(cli, NOBODY, NOBODY),
     "world-writable folder": lambda: cli.parent.chmod(0o777),
     "folder of another user": lambda: os.chown(cli.parent.parent, NOBODY, NOBODY)}[how]()
    assert buildkit.cli_at(str(cli)) is None and not marker.exists()
    assert reason in buildkit.skipped([str(cli)])[0]
    assert reason in buildkit.choose(path=str(cli.parent)).note


def test_a_link_to_an_unsafe_cli_is_judged_by_the_file_it_points_at(tmp_path):
    marker = tmp_path / "ran"
    cli = marked_cli(tmp_path / "open", "20.10.24+dfsg1", marker)
    cli.parent.chmod(0o777)
    (tmp_path / "bin").mkdir()
    (tmp_path / "bin" / "docker").symlink_to(cli)
    assert buildkit.find_cli(str(tmp_path / "bin")) is None and not marker.exists()


def test_a_safe_cli_beside_an_unsafe_one_is_chosen(tmp_path):
    marker = tmp_path / "ran"
    bad = marked_cli(tmp_path / "open", "20.10.24+dfsg1", marker)
    bad.chmod(0o777)
    good = marked_cli(tmp_path / "usr", "20.10.24+dfsg1", tmp_path / "good-ran")
    builder = buildkit.choose(path=os.pathsep.join([str(bad.parent), str(good.parent)]))
    assert builder.buildkit and builder.cli.path == str(good) and not marker.exists()


def test_a_named_unsafe_cli_is_refused_with_the_reason(tmp_path, monkeypatch):
    marker = tmp_path / "ran"
    cli = marked_cli(tmp_path / "open", "20.10.24+dfsg1", marker)
    cli.chmod(0o757)
    monkeypatch.setenv("DOCKYARD_DOCKER_CLI", str(cli))
    with pytest.raises(ConfigError) as err:
        buildkit.find_cli("")
    assert "not safe to run" in str(err.value) and "writable by everyone" in str(err.value)
    assert not marker.exists()


def test_the_choice_is_kept_until_a_candidate_changes(tmp_path, monkeypatch):
    asked = []
    real = buildkit._choose_buildkit
    monkeypatch.setattr(buildkit, "_choose_buildkit", lambda *a: asked.append(a) or real(*a))
    cli = marked_cli(tmp_path / "usr", "20.10.24+dfsg1", tmp_path / "ran")
    first = buildkit.choose(path=str(cli.parent))
    assert buildkit.choose(path=str(cli.parent)) is first and len(asked) == 1
    assert buildkit.choose("classic", path=str(cli.parent)).name == "classic" and len(asked) == 1
    st = cli.stat()
    os.utime(cli, (st.st_atime, st.st_mtime + 10))  # a new CLI in the same place
    assert buildkit.choose(path=str(cli.parent)).buildkit and len(asked) == 2
    cli.chmod(0o777)  # chmod changes no mtime: the answer must not outlive it
    assert not buildkit.choose(path=str(cli.parent)).buildkit and len(asked) == 3

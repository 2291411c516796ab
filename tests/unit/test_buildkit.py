"""Which docker CLI builds with BuildKit through the seal, and the lesson environment made from it.

The CLIs here are small scripts that answer ``--version`` as docker CLIs of each release do."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from dockyard import buildkit
from dockyard.errors import ConfigError


@pytest.fixture(autouse=True)
def no_settings(monkeypatch):
    monkeypatch.delenv("DOCKYARD_BUILDER", raising=False)
    monkeypatch.delenv("DOCKYARD_DOCKER_CLI", raising=False)
    monkeypatch.setattr(buildkit, "KNOWN", ())  # only the fake CLIs of each test, not this machine's


def fake_cli(folder: Path, version: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "docker"
    path.write_text(f"#!/bin/sh\necho 'Docker version {version}, build 297e128'\n")
    path.chmod(0o755)
    return path


def test_versions_as_docker_clis_print_them():
    assert buildkit.parse_version("Docker version 20.10.24+dfsg1, build 297e128\n") == "20.10.24+dfsg1"
    assert buildkit.parse_version("Docker version 28.2.2, build e6534b4") == "28.2.2"
    assert buildkit.parse_version("podman version 4.3.1") is None


@pytest.mark.parametrize("version, builtin", [("18.06.3-ce", False), ("18.09.0", True), ("20.10.24+dfsg1", True),
                                              ("22.06.0-beta.0", True), ("23.0.0", False), ("28.2.2", False)])
def test_only_clis_from_18_09_to_22_have_buildkit_without_buildx(version, builtin):
    assert buildkit.Cli("/x/docker", version).builtin_buildkit is builtin


def test_the_first_cli_on_path_with_buildkit_built_in_wins(tmp_path):
    new = fake_cli(tmp_path / "local", "28.2.2")  # Docker's own CLI, first on PATH, without buildx
    old = fake_cli(tmp_path / "usr", "20.10.24+dfsg1")
    path = os.pathsep.join([str(new.parent), str(old.parent)])
    assert buildkit.candidates(path) == [str(new), str(old)]
    cli = buildkit.find_cli(path)
    assert cli == buildkit.Cli(str(old), "20.10.24+dfsg1")
    builder = buildkit.choose(path=path)
    assert builder.buildkit and builder.name == "buildkit" and builder.cli == cli
    assert builder.note == f"BuildKit (DOCKER_BUILDKIT=1) with {old} 20.10.24+dfsg1"


def test_without_such_a_cli_the_classic_builder_is_chosen_and_the_note_says_why(tmp_path):
    new = fake_cli(tmp_path / "local", "28.2.2")
    builder = buildkit.choose(path=str(new.parent))
    assert not builder.buildkit and builder.cli is None and builder.name == "classic"
    assert f"docker CLIs found: {new} 28.2.2" in builder.note
    assert "DOCKER_BUILDKIT=0" in builder.note and "buildx" in builder.note and "docker.io" in builder.note
    assert "docker CLIs found: none" in buildkit.choose(path=str(tmp_path / "empty")).note


def test_the_classic_builder_can_be_asked_for(tmp_path, monkeypatch):
    old = fake_cli(tmp_path / "usr", "20.10.24+dfsg1")
    monkeypatch.setenv("DOCKYARD_BUILDER", "classic")
    assert not buildkit.choose(path=str(old.parent)).buildkit
    monkeypatch.setenv("DOCKYARD_BUILDER", "kaniko")
    with pytest.raises(ConfigError) as err:
        buildkit.choose(path=str(old.parent))
    assert "buildkit (the default) or classic" in err.value.fix


def test_a_named_cli_is_the_only_one_looked_at(tmp_path, monkeypatch):
    old = fake_cli(tmp_path / "usr", "20.10.24+dfsg1")
    new = fake_cli(tmp_path / "local", "28.2.2")
    monkeypatch.setenv("DOCKYARD_DOCKER_CLI", str(new))
    assert buildkit.find_cli(str(old.parent)) is None
    monkeypatch.setenv("DOCKYARD_DOCKER_CLI", str(old))
    assert buildkit.find_cli(str(new.parent)).path == str(old)
    monkeypatch.setenv("DOCKYARD_DOCKER_CLI", str(tmp_path / "nothing"))
    with pytest.raises(ConfigError):
        buildkit.find_cli("")


def test_the_lesson_environment_puts_the_buildkit_cli_first_as_docker(tmp_path):
    new = fake_cli(tmp_path / "local", "28.2.2")
    old = fake_cli(tmp_path / "usr", "20.10.24+dfsg1")
    folder = tmp_path / "box" / "bin"
    path = os.pathsep.join([str(new.parent), str(old.parent)])
    env = buildkit.lesson_env(folder, path)
    assert env["DOCKER_BUILDKIT"] == "1"
    assert env["PATH"].split(os.pathsep) == [str(folder), str(new.parent), str(old.parent)]
    assert os.readlink(folder / "docker") == str(old)
    # applied again (the lab's server, then the learner's session): the same, the folder not counted as a CLI
    assert buildkit.lesson_env(folder, env["PATH"]) == env
    # the CLI went away: the link goes too, and the classic builder is back
    old.unlink()
    again = buildkit.lesson_env(folder, env["PATH"])
    assert again["DOCKER_BUILDKIT"] == "0" and "no docker CLI before 23" in again["DOCKYARD_BUILDER_NOTE"]
    assert again["PATH"].split(os.pathsep) == [str(new.parent), str(old.parent)]
    assert folder.is_dir() and not os.path.lexists(folder / "docker")


def test_a_sandbox_lesson_environment_has_buildkit(tmp_path, monkeypatch):
    from dockyard import Sandbox, SandboxConfig

    old = fake_cli(tmp_path / "usr", "20.10.24+dfsg1")
    monkeypatch.setenv("PATH", str(old.parent))
    box = Sandbox(SandboxConfig(name="lesson1", home=tmp_path))
    env = box.lesson_env()
    assert env["DOCKER_BUILDKIT"] == "1" and env["PATH"] == os.pathsep.join([str(box.bin), str(old.parent)])
    assert box.bin == tmp_path / "lesson1" / "bin" and os.readlink(box.bin / "docker") == str(old)
    assert env["DOCKER_HOST"] == box.docker_host


def test_the_lab_server_and_the_learner_session_get_it(tmp_path, monkeypatch):
    import sys

    from dockyard import Sandbox, SandboxConfig, lab

    old = fake_cli(tmp_path / "usr", "20.10.24+dfsg1")
    monkeypatch.setenv("PATH", str(old.parent))
    box = Sandbox(SandboxConfig(name="lesson1", home=tmp_path))
    env = lab.lab_env(box)
    assert env["DOCKER_BUILDKIT"] == "1"
    assert env["PATH"].split(os.pathsep) == [str(Path(sys.executable).parent), str(box.bin), str(old.parent)]
    # what LearnerSession.env adds on top: the sandbox's docker first, nothing twice
    again = box.lesson_env(path=env["PATH"])
    assert again["PATH"].split(os.pathsep) == [str(box.bin), str(Path(sys.executable).parent), str(old.parent)]


def test_the_seal_refusal_of_grpc_says_which_cli_builds():
    from dockyard.authz import Policy, check

    refusal = check(Policy(), "POST", "/v1.41/grpc", {})
    assert refusal is not None
    assert "docker buildx" in refusal.what and "23 or later" in refusal.what
    assert "DOCKER_BUILDKIT=1 /usr/bin/docker build" in refusal.instead
    assert "DOCKER_BUILDKIT=0 docker build" in refusal.instead

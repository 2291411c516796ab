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


# --- one build through the CLI: a stand-in CLI that prints, writes --iidfile and sleeps as told -------------------
FAKE_BUILD = r"""#!/bin/sh
for a in "$@"; do case "$a" in --iidfile=*) iid="${a#--iidfile=}";; esac; done
echo "$$" > "$(dirname "$0")/pid"
echo "args: $*"
echo "env: DOCKER_HOST=$DOCKER_HOST DOCKER_BUILDKIT=$DOCKER_BUILDKIT config=$DOCKER_CONFIG"
echo "#1 [internal] load build definition from Dockerfile"
i=0; while [ $i -lt "${LINES_OUT:-0}" ]; do echo "#5 0.1 line $i"; i=$((i+1)); done
[ -n "$SLEEP" ] && sleep "$SLEEP"
[ -n "$FAIL" ] && { echo "executor failed running [/bin/sh -c false]: exit code: 1"; exit 1; }
echo "sha256:$(printf 'a%.0s' $(seq 64))" > "$iid"
exit 0
"""


def fake_build_cli(tmp_path, **env) -> buildkit.Cli:
    path = tmp_path / "bin" / "docker"
    path.parent.mkdir(parents=True, exist_ok=True)
    settings = "".join(f"{k}={v}\n" for k, v in env.items())
    path.write_text(FAKE_BUILD.replace("#!/bin/sh\n", "#!/bin/sh\n" + settings, 1))
    path.chmod(0o755)
    return buildkit.Cli(str(path), "20.10.24")


def test_build_command_asks_for_plain_progress_no_network_an_iidfile_and_labels(tmp_path):
    cmd = buildkit.build_command(buildkit.Cli("/usr/bin/docker", "20.10.24"), tmp_path, dockerfile=tmp_path / "D",
                                 tag="dockyard-grade/web:1", iidfile=tmp_path / "iid", labels={"a": "1", "b": "x y"})
    assert cmd == ["/usr/bin/docker", "build", "--progress=plain", "--network=none", f"--iidfile={tmp_path}/iid",
                   f"--file={tmp_path}/D", "--tag=dockyard-grade/web:1", "--label=a=1", "--label=b=x y", str(tmp_path)]


def test_run_build_returns_the_image_and_runs_the_cli_with_only_what_it_needs(tmp_path, monkeypatch):
    monkeypatch.setenv("DOCKER_CONFIG", "/root/.docker")  # the caller's credentials and aliases: not passed on
    run = buildkit.run_build(fake_build_cli(tmp_path), "unix:///x/docker.sock", tmp_path, tag="t:1", timeout=30)
    assert run.returncode == 0 and not run.timed_out and run.image_id == "sha256:" + "a" * 64
    assert "env: DOCKER_HOST=unix:///x/docker.sock DOCKER_BUILDKIT=1 config=/" in run.log
    assert "config=/root/.docker" not in run.log and "--network=none" in run.log
    failing = buildkit.run_build(fake_build_cli(tmp_path, FAIL=1), "unix:///x.sock", tmp_path, tag="t:1")
    assert failing.returncode == 1 and failing.image_id is None and "exit code: 1" in failing.tail


def test_run_build_caps_the_log_and_keeps_the_tail(tmp_path):
    run = buildkit.run_build(fake_build_cli(tmp_path, LINES_OUT=2000, FAIL=1), "unix:///x.sock", tmp_path, tag="t",
                             log_cap=500, tail_cap=200)
    assert len(run.log) == 500 and run.truncated and len(run.tail) == 200
    assert run.tail.rstrip().endswith("exit code: 1") and "[... output cut at 500 characters ...]" in run.text


def test_run_build_kills_the_cli_at_the_timeout(tmp_path):
    run = buildkit.run_build(fake_build_cli(tmp_path, SLEEP=60), "unix:///x.sock", tmp_path, tag="t", timeout=0.5)
    assert run.timed_out and run.returncode is None and run.image_id is None
    pid = int((tmp_path / "bin" / "pid").read_text())
    assert not os.path.exists(f"/proc/{pid}") or "zombie" in open(f"/proc/{pid}/status").read().lower()

import os
import sys
from pathlib import Path

import pytest

from dockyard import lab
from dockyard.errors import DockyardError


class FakeBox:
    docker_host = "unix:///tmp/dy/class1/docker.sock"

    def env(self):
        return {"DOCKER_HOST": self.docker_host, "DOCKYARD_SANDBOX": "class1"}

    def lesson_env(self, path=None):
        return {**self.env(), "TMPDIR": "/tmp/dy/class1/scratch"}


def test_lab_command_binds_to_loopback(tmp_path, monkeypatch):
    monkeypatch.setattr(os, "geteuid", lambda: 1000)
    cmd = lab.lab_command(tmp_path, 8890, open_browser=False)
    assert cmd[:3] == [sys.executable, "-m", "jupyterlab"]
    assert "--ServerApp.ip=127.0.0.1" in cmd
    assert "--ServerApp.port=8890" in cmd
    assert f"--ServerApp.root_dir={tmp_path}" in cmd
    assert "--no-browser" in cmd
    assert "--allow-root" not in cmd


def test_lab_command_as_root_opening_a_browser(tmp_path, monkeypatch):
    monkeypatch.setattr(os, "geteuid", lambda: 0)
    cmd = lab.lab_command(tmp_path, 8888, open_browser=True)
    assert "--allow-root" in cmd
    assert "--no-browser" not in cmd


def test_lab_env_points_docker_at_the_sandbox(monkeypatch):
    monkeypatch.setenv("DOCKER_HOST", "unix:///var/run/docker.sock")
    monkeypatch.setenv("SOME_SETTING", "kept")
    monkeypatch.setenv("PATH", "/usr/bin:/bin")
    env = lab.lab_env(FakeBox())
    assert env["DOCKER_HOST"] == FakeBox.docker_host
    assert env["DOCKYARD_SANDBOX"] == "class1"
    assert env["SOME_SETTING"] == "kept"
    assert env["TMPDIR"] == "/tmp/dy/class1/scratch"  # the lessons' temporary folders: inside the sealed workspace
    assert env["PATH"].split(os.pathsep) == [str(Path(sys.executable).parent), "/usr/bin", "/bin"]
    assert os.environ["DOCKER_HOST"] == "unix:///var/run/docker.sock"  # the caller's environment is untouched


def test_lab_env_does_not_repeat_the_python_bin_dir(monkeypatch):
    bindir = str(Path(sys.executable).parent)
    monkeypatch.setenv("PATH", f"/usr/bin{os.pathsep}{bindir}")
    assert lab.lab_env(FakeBox())["PATH"] == f"/usr/bin{os.pathsep}{bindir}"


def test_notebooks_dir_prefers_the_working_directory(tmp_path, monkeypatch):
    (tmp_path / "notebooks").mkdir()
    monkeypatch.chdir(tmp_path)
    assert lab.notebooks_dir() == tmp_path / "notebooks"


def test_notebooks_dir_missing(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(lab, "__file__", str(tmp_path / "site-packages" / "dockyard" / "lab.py"))
    with pytest.raises(DockyardError) as err:
        lab.notebooks_dir()
    assert "checkout" in err.value.fix


def test_lab_runs_offline_without_news_or_update_checks():
    import json

    from dockyard import lab

    cmd = lab.lab_command(Path("/x"), 8888, open_browser=False)
    assert "--LabApp.news_url=None" in cmd
    assert f"--LabApp.app_settings_dir={lab.SETTINGS}" in cmd
    overrides = json.loads((lab.SETTINGS / "overrides.json").read_text())
    assert overrides["@jupyterlab/apputils-extension:notification"]["fetchNews"] == "false"


def test_the_workspace_is_the_lessons_and_the_labs(tmp_path, monkeypatch):
    (tmp_path / "notebooks").mkdir()
    (tmp_path / "labs").mkdir()
    monkeypatch.chdir(tmp_path)
    assert lab.workspace_dirs() == (str(tmp_path / "notebooks"), str(tmp_path / "labs"))


def test_a_sandbox_lends_lessons_its_scratch_folder(tmp_path):
    from dockyard import Sandbox, SandboxConfig

    box = Sandbox(SandboxConfig(name="lesson1", home=tmp_path))
    env = box.lesson_env()
    assert env["TMPDIR"] == str(tmp_path / "lesson1" / "scratch") == str(box.scratch)
    assert env["DOCKER_HOST"] == box.docker_host

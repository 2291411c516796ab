from pathlib import Path

import pytest

from dockyard.config import SandboxConfig, home, human_size, parse_size
from dockyard.errors import ConfigError

MiB, GiB = 1024**2, 1024**3


@pytest.mark.parametrize("text, expected", [
    ("64m", 64 * MiB),
    ("4g", 4 * GiB),
    ("20G", 20 * GiB),
    ("512MiB", 512 * MiB),
    ("512mb", 512 * MiB),
    ("1.5g", 3 * GiB // 2),
    ("100k", 102400),
    (" 2t ", 2 * 1024**4),
    ("4096", 4096),
    ("4096b", 4096),
    (1024, 1024),
])
def test_parse_size(text, expected):
    assert parse_size(text) == expected


@pytest.mark.parametrize("bad", ["", "lots", "4x", "-1g", "g4", "4 gigs", "1e9"])
def test_parse_size_rejects_non_sizes_with_a_fix(bad):
    with pytest.raises(ConfigError) as err:
        parse_size(bad)
    assert repr(bad) in err.value.problem
    assert "512m" in err.value.fix


@pytest.mark.parametrize("n, text", [
    (None, "-"), (0, "0 B"), (1023, "1023 B"), (1024, "1 KiB"), (1536, "1.5 KiB"),
    (64 * MiB, "64 MiB"), (int(2.5 * GiB), "2.5 GiB"), (3 * 1024**5, "3072 TiB"),
])
def test_human_size(n, text):
    assert human_size(n) == text


@pytest.mark.parametrize("name", ["Bad", "a" * 13, "-x", "", "has space", "under_score", "dot.ted"])
def test_invalid_names_are_refused_with_a_fix(name):
    with pytest.raises(ConfigError) as err:
        SandboxConfig(name=name)
    assert "15 characters" in err.value.fix


@pytest.mark.parametrize("name", ["a", "default", "class-1", "0abc", "a" * 12])
def test_valid_names(name):
    cfg = SandboxConfig(name=name)
    assert len(cfg.bridge) <= 15  # Linux interface name limit


@pytest.mark.parametrize("kw, fix", [
    ({"memory": 64 * MiB - 1}, "--memory"),
    ({"pids": 31}, "--pids"),
    ({"cpus": 0}, "--cpus"),
    ({"cpus": -1.0}, "--cpus"),
    ({"storage_driver": "btrfs"}, "overlay2"),
])
def test_caps_and_driver_are_validated(kw, fix):
    with pytest.raises(ConfigError) as err:
        SandboxConfig(**kw)
    assert fix in err.value.fix


def test_smallest_allowed_caps():
    cfg = SandboxConfig(memory=64 * MiB, pids=32, cpus=0.1, storage_driver="vfs")
    assert (cfg.memory, cfg.pids, cfg.cpus) == (64 * MiB, 32, 0.1)


def test_from_env_reads_dockyard_variables(monkeypatch):
    monkeypatch.setenv("DOCKYARD_SANDBOX", "class1")
    monkeypatch.setenv("DOCKYARD_MEMORY", "2g")
    monkeypatch.setenv("DOCKYARD_PIDS", "512")
    monkeypatch.setenv("DOCKYARD_CPUS", "1.5")
    monkeypatch.setenv("DOCKYARD_SEED_PORT", "6000")
    cfg = SandboxConfig.from_env()
    assert (cfg.name, cfg.memory, cfg.pids, cfg.cpus, cfg.seed_port) == ("class1", 2 * GiB, 512, 1.5, 6000)


def test_from_env_explicit_overrides_win_and_none_is_ignored(monkeypatch):
    monkeypatch.setenv("DOCKYARD_SANDBOX", "class1")
    monkeypatch.setenv("DOCKYARD_MEMORY", "2g")
    cfg = SandboxConfig.from_env(name="other", memory="1g", pids=None, disk="20G")
    assert (cfg.name, cfg.memory, cfg.pids, cfg.disk) == ("other", GiB, 2048, 20 * GiB)


def test_from_env_validates_env_values(monkeypatch):
    monkeypatch.setenv("DOCKYARD_SANDBOX", "Bad Name")
    with pytest.raises(ConfigError):
        SandboxConfig.from_env()


@pytest.mark.parametrize("var", ["DOCKYARD_PIDS", "DOCKYARD_CPUS", "DOCKYARD_SEED_PORT"])
def test_from_env_non_numbers_give_config_error(monkeypatch, var):
    monkeypatch.setenv(var, "lots")
    with pytest.raises(ConfigError):
        SandboxConfig.from_env()


def test_home_follows_dockyard_home_then_xdg(monkeypatch, tmp_path):
    assert home() == tmp_path / "home"  # set by the autouse fixture
    monkeypatch.delenv("DOCKYARD_HOME")
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "xdg"))
    assert home() == tmp_path / "xdg" / "dockyard"


def test_derived_paths(dockyard_home):
    cfg = SandboxConfig(name="class1")
    assert cfg.home == dockyard_home
    assert cfg.dir == dockyard_home / "class1"
    assert cfg.socket == dockyard_home / "class1" / "docker.sock"
    assert cfg.docker_host == f"unix://{dockyard_home}/class1/docker.sock"
    assert cfg.data_root.parent == cfg.pidfile.parent == cfg.state_file.parent == cfg.dir
    assert cfg.state_file.name == "sandbox.json"
    assert cfg.exec_root == Path("/run/dockyard/class1")
    assert cfg.bridge == "dy-class1"
    assert cfg.cgroup_name == "dockyard-class1"
    assert cfg.seed_dir == dockyard_home / "seed"


@pytest.mark.parametrize("name", ["seed", "hub-cache"])
def test_sandbox_dir_cannot_be_a_shared_directory(name):
    with pytest.raises(ConfigError):
        SandboxConfig(name=name)


def test_default_subnet_index_is_stable_and_in_range():
    names = ["default", "a", "class1", "class2", "z" * 12] + [f"s{i}" for i in range(300)]
    indexes = [SandboxConfig(name=n).default_subnet_index for n in names]
    assert all(1 <= i <= 250 for i in indexes)
    assert indexes == [SandboxConfig(name=n).default_subnet_index for n in names]
    # sha256("default") mod 250 + 1: the same on every machine and every Python
    assert SandboxConfig(name="default").default_subnet_index == 96
    assert len(set(indexes)) > 100  # spread out, not constant

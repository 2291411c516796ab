import sys
import urllib.error

import pytest
import yaml

from dockyard import network
from dockyard.errors import ResourceInUse
from dockyard.registry import Registry, config_yaml


def test_config_yaml_for_a_sandbox_registry(tmp_path):
    cfg = yaml.safe_load(config_yaml(tmp_path / "storage", 5001))
    assert cfg["http"]["addr"] == "127.0.0.1:5001"
    assert cfg["storage"]["filesystem"]["rootdirectory"] == str(tmp_path / "storage")
    assert cfg["storage"]["maintenance"]["readonly"]["enabled"] is False
    assert cfg["storage"]["delete"]["enabled"] is True
    assert "proxy" not in cfg


def test_config_yaml_for_the_read_only_seed_and_the_hub_cache(tmp_path):
    seed = yaml.safe_load(config_yaml(tmp_path, 5959, readonly=True))
    assert seed["storage"]["maintenance"]["readonly"]["enabled"] is True
    hub = yaml.safe_load(config_yaml(tmp_path, 5960, proxy_remote="https://registry-1.docker.io"))
    assert hub["proxy"] == {"remoteurl": "https://registry-1.docker.io"}
    assert hub["http"]["addr"] == "127.0.0.1:5960"


def test_addresses_and_paths(tmp_path):
    reg = Registry(tmp_path / "registry", 5001)
    assert reg.url == "http://127.0.0.1:5001" and reg.host == "127.0.0.1:5001"
    assert reg.storage == tmp_path / "registry" / "storage"
    assert reg.config_path.parent == reg.pidfile.parent == reg.log.parent == tmp_path / "registry"


def test_add_layer_writes_what_a_push_would(tmp_path):
    reg = Registry(tmp_path / "registry", 5001)
    data = tmp_path / "layer.tar.gz"
    data.write_bytes(b"gzipped layer")
    digest = "sha256:" + "ab" * 32
    reg.add_layer("library/python", digest, data)
    reg.add_layer("library/python", digest, data)  # twice: the same files
    blob = reg.blob_path(digest)
    assert blob == reg.storage / "docker/registry/v2/blobs/sha256/ab" / ("ab" * 32) / "data"
    assert blob.read_bytes() == b"gzipped layer"
    assert blob.stat().st_ino != data.stat().st_ino  # a copy: no file shared with another registry
    link = reg.storage / "docker/registry/v2/repositories/library/python/_layers/sha256" / ("ab" * 32) / "link"
    assert link.read_text() == digest
    assert [p.name for p in blob.parent.iterdir()] == ["data"]


def test_start_on_free_port_takes_another_when_one_is_taken_first(tmp_path, monkeypatch):
    # sandboxes graded side by side come up at once: a free port can be gone before the registry binds it
    ports = iter([40001, 40002, 40003, 40004])
    monkeypatch.setattr(network, "free_port", lambda host="127.0.0.1": next(ports))
    tried = []

    def start(reg, timeout=10):
        tried.append(reg.port)
        if reg.port in (40001, 40003, 40004):
            raise ResourceInUse(f"port 127.0.0.1:{reg.port} is taken by another program")
        return 4242

    monkeypatch.setattr(Registry, "start", start)
    reg = Registry(tmp_path / "registry", 0)
    assert reg.start_on_free_port() == 4242 and reg.port == 40002
    with pytest.raises(ResourceInUse, match="40004"):
        reg.start_on_free_port(tries=2)
    assert tried == [40001, 40002, 40003, 40004]


def test_api_against_a_fake_registry(tmp_path, fake_registry):
    reg = Registry(tmp_path, fake_registry.port)
    assert reg.ping() is True
    assert reg.catalog() == ["class1/web", "library/busybox", "library/python"]
    assert reg.tags("library/python") == ["3.11-slim"]
    assert reg.tags("class1/web") == []  # the registry says "tags": null
    digest, manifest = reg.manifest("library/busybox", "latest")
    assert digest == fake_registry.manifest_digest and manifest == fake_registry.manifest
    assert reg.image_config("library/busybox", "latest") == fake_registry.image_config


def test_manifest_asks_for_v2_and_oci_types(tmp_path, fake_registry):
    Registry(tmp_path, fake_registry.port).manifest("library/busybox", "latest")
    path, headers = fake_registry.requests[-1]
    assert path == "/v2/library/busybox/manifests/latest"
    accept = headers["Accept"]
    assert "application/vnd.docker.distribution.manifest.v2+json" in accept
    assert "application/vnd.oci.image.index.v1+json" in accept


def test_unknown_repository_or_tag(tmp_path, fake_registry):
    reg = Registry(tmp_path, fake_registry.port)
    assert reg.tags("library/nope") == []
    assert reg.manifest("library/nope", "latest") is None
    assert reg.manifest("library/busybox", "1.0") is None
    assert reg.image_config("library/nope", "latest") is None
    with pytest.raises(urllib.error.HTTPError):
        reg.blob("library/busybox", "sha256:0000")


def test_ping_when_nothing_listens(tmp_path):
    assert Registry(tmp_path, network.free_port()).ping() is False


def test_start_refuses_a_port_somebody_else_uses(tmp_path, fake_registry):
    reg = Registry(tmp_path / "registry", fake_registry.port)
    with pytest.raises(ResourceInUse) as err:
        reg.start()
    assert str(fake_registry.port) in err.value.problem
    assert "DOCKYARD_SEED_PORT" in err.value.fix
    assert not reg.pidfile.exists()


def test_pid_ignores_a_stale_pidfile(tmp_path, spawn):
    reg = Registry(tmp_path, 5001)
    assert reg.pid() is None and reg.running() is False
    proc = spawn(sys.executable, "-c", "import time; time.sleep(30)")
    reg.pidfile.write_text(str(proc.pid))  # alive, but not a registry serving our config
    assert reg.pid() is None
    assert reg.stop() is False
    assert proc.poll() is None  # stop() left the stranger alone
    assert not reg.pidfile.exists()


def test_pid_of_a_process_serving_our_config(tmp_path, spawn):
    reg = Registry(tmp_path, network.free_port())
    proc = spawn(sys.executable, "-c", "import time; time.sleep(30)", "serve", str(reg.config_path))
    reg.pidfile.write_text(f"{proc.pid}\n")
    assert reg.pid() == proc.pid
    assert reg.running() is False  # alive, but nothing answers on the port
    assert reg.stop() is True
    assert not reg.pidfile.exists() and proc.poll() is not None

"""The sandbox's state file as a typed record: round trip, files older versions wrote, missing and corrupt files."""

import dataclasses
import json

import pytest

from dockyard.state import SandboxState


def test_a_missing_file_is_a_sandbox_that_never_started(tmp_path):
    st = SandboxState.load(tmp_path / "nowhere" / "sandbox.json")
    assert st == SandboxState()
    assert (st.running, st.pid, st.bridge, st.workspace, st.network_bridges, st.extra) == (False, None, None, (), (), {})


@pytest.mark.parametrize("text", ["{truncated", "", "[1, 2]", '"a string"', "null"])
def test_a_corrupt_file_reads_as_empty(tmp_path, text):
    """The documented recovery: `dockyard up` rewrites the file (and recovers what a crash left)."""
    path = tmp_path / "sandbox.json"
    path.write_text(text)
    assert SandboxState.load(path) == SandboxState()


def test_round_trip(tmp_path):
    path = tmp_path / "box" / "sandbox.json"  # its folder is made on save
    st = SandboxState(running=True, pid=123, authz_pid=124, config={"name": "t1", "memory": 2**30}, up_seconds=1.5,
                      workspace=["/srv/course", "/tmp/x"], bridge="dy-t1", subnet="10.213.7.0/24",
                      address_pool="10.214.0.0/20", cgroup={"name": "dockyard-t1", "version": 2}, disk=2**30,
                      storage_driver="overlay2", registry_port=5123, mirror="http://127.0.0.1:5959",
                      network_bridges=["br-abc"], extra={"from_a_newer_version": [1]})
    st.save(path)
    assert SandboxState.load(path) == st
    assert st.workspace == ("/srv/course", "/tmp/x") and st.network_bridges == ("br-abc",)
    assert not path.with_suffix(".tmp").exists()  # written beside it, then renamed over it


def test_the_file_is_the_json_object_the_previous_version_wrote(tmp_path):
    path = tmp_path / "sandbox.json"
    SandboxState(bridge="dy-t1", workspace=("/w",)).save(path)
    data = json.loads(path.read_text())
    assert data["bridge"] == "dy-t1" and data["workspace"] == ["/w"] and data["running"] is False
    assert "extra" not in data


def test_an_old_file_with_keys_this_version_does_not_know_loads_and_keeps_them(tmp_path):
    path = tmp_path / "sandbox.json"
    path.write_text(json.dumps({"running": True, "pid": 77, "subnet": "10.213.9.0/24", "retired_key": "kept",
                                "nested": {"a": [1, 2]}}))
    st = SandboxState.load(path)
    assert (st.running, st.pid, st.subnet) == (True, 77, "10.213.9.0/24")
    assert st.extra == {"retired_key": "kept", "nested": {"a": [1, 2]}}
    st.replace(registry_port=5000).save(path)
    data = json.loads(path.read_text())
    assert data["retired_key"] == "kept" and data["nested"] == {"a": [1, 2]} and data["registry_port"] == 5000


def test_a_file_with_only_some_keys_gets_the_defaults_for_the_rest(tmp_path):
    path = tmp_path / "sandbox.json"
    path.write_text('{"subnet": "10.213.9.0/24"}')
    assert SandboxState.load(path) == SandboxState(subnet="10.213.9.0/24")


def test_replace_makes_a_copy_and_refuses_a_misspelt_field():
    st = SandboxState()
    changed = st.replace(running=True, network_bridges=["br-1"])
    assert (changed.running, changed.network_bridges) == (True, ("br-1",))
    assert st == SandboxState()
    with pytest.raises(TypeError):
        st.replace(registy_port=5000)
    with pytest.raises(dataclasses.FrozenInstanceError):
        st.running = True

import fcntl
import io
import json
import tarfile
from pathlib import Path

import pytest

from dockyard.seed import RECIPES, Recipe, SeedStore, _elf_has_interpreter, busybox_rootfs, recipe

BUSYBOX = Path("/bin/busybox")


def test_repo_and_tag():
    assert (Recipe("busybox").repo, Recipe("busybox").tag) == ("library/busybox", "latest")
    py = Recipe("python:3.11-slim")
    assert (py.repo, py.tag) == ("library/python", "3.11-slim")


def test_key_is_stable_and_follows_the_recipe():
    a = Recipe("python:3.11-slim", include=("python3",), changes=('CMD ["python3"]',))
    same = Recipe("python:3.11-slim", include=("python3",), changes=('CMD ["python3"]',))
    assert a.key == same.key and len(a.key) == 16 and int(a.key, 16) >= 0
    assert Recipe("python:3.11-slim", include=("python3", "python3-pip"), changes=a.changes).key != a.key
    assert Recipe("python:3.11-slim", include=a.include, changes=('CMD ["bash"]',)).key != a.key
    assert Recipe("python:3.12-slim", include=a.include, changes=a.changes).key != a.key
    assert Recipe("busybox", busybox=True).key != Recipe("busybox").key


def test_all_changes_adds_the_stand_in_label():
    r = recipe("python:3.11-slim")
    changes = r.all_changes()
    assert changes[:-1] == list(r.changes)
    label = changes[-1]
    assert label.startswith("LABEL ")
    assert 'org.dockyard.stand-in="true"' in label
    assert f'org.dockyard.recipe="{r.key}"' in label
    assert "python3-pip" in label
    assert "busybox-static" in recipe("busybox").all_changes()[-1]


def test_recipe_lookup():
    assert recipe("busybox") is RECIPES[0]
    assert recipe("busybox").busybox is True
    py = recipe("python:3.11-slim")
    assert "python3" in py.include and 'CMD ["python3"]' in py.changes
    with pytest.raises(KeyError):
        recipe("python")  # there is no python:latest stand-in
    with pytest.raises(KeyError):
        recipe("nginx")


def test_recipe_accepts_an_explicit_latest_tag():
    assert recipe("busybox:latest") is recipe("busybox")


def test_recipe_names_are_unique():
    assert len({r.name for r in RECIPES}) == len(RECIPES)
    assert len({r.key for r in RECIPES}) == len(RECIPES)


# --- ELF check and the busybox root filesystem -------------------------------------------

def test_elf_interpreter_on_garbage():
    assert _elf_has_interpreter(b"") is False
    assert _elf_has_interpreter(b"#!/bin/sh\necho hi\n") is False
    assert _elf_has_interpreter(b"\x7fELF\x01" + b"\0" * 60) is False  # 32-bit: not checked


@pytest.mark.skipif(not BUSYBOX.exists(), reason="needs /bin/busybox")
def test_elf_interpreter_on_real_binaries():
    assert _elf_has_interpreter(BUSYBOX.read_bytes()[:4096]) is False  # busybox-static
    assert _elf_has_interpreter(Path("/bin/ls").read_bytes()[:4096]) is True


@pytest.mark.skipif(not BUSYBOX.exists(), reason="needs /bin/busybox (busybox-static)")
def test_busybox_rootfs():
    with tarfile.open(fileobj=io.BytesIO(busybox_rootfs())) as tf:
        members = {m.name: m for m in tf.getmembers()}
        passwd = tf.extractfile("etc/passwd").read().decode()
    bb = members["bin/busybox"]
    assert bb.isfile() and bb.mode == 0o755 and bb.size == BUSYBOX.stat().st_size
    for applet in ("bin/sh", "bin/ls", "bin/cat"):
        assert members[applet].issym() and members[applet].linkname == "/bin/busybox"
    assert members["tmp"].isdir() and members["tmp"].mode == 0o1777
    assert members["root"].mode == 0o700
    assert passwd.startswith("root:x:0:0:root:/root:/bin/sh\n")
    assert "etc/group" in members
    assert all(not m.name.startswith("/") for m in members.values())


# --- the seed store's index ---------------------------------------------------------------

def seeded(store: SeedStore, recipes, tag_dirs=True):
    store.dir.mkdir(parents=True, exist_ok=True)
    store.index_path.write_text(json.dumps({r.name: {"key": r.key, "digest": "sha256:x"} for r in recipes}))
    if tag_dirs:
        for r in recipes:
            (store.registry.storage / "docker/registry/v2/repositories" / r.repo / "_manifests/tags" / r.tag
             ).mkdir(parents=True)


def test_missing_everything_at_first(tmp_path):
    store = SeedStore(tmp_path / "seed", 5959)
    assert store.index() == {}
    assert store.missing() == list(RECIPES)


def test_missing_nothing_when_seeded(tmp_path):
    store = SeedStore(tmp_path / "seed", 5959)
    seeded(store, RECIPES)
    assert store.missing() == []
    assert store.registry.readonly is True and store.registry.port == 5959


def test_missing_when_the_recipe_changed(tmp_path):
    store = SeedStore(tmp_path / "seed", 5959)
    seeded(store, RECIPES)
    idx = store.index()
    idx["node:18-slim"]["key"] = "0123456789abcdef"
    store.index_path.write_text(json.dumps(idx))
    assert [r.name for r in store.missing()] == ["node:18-slim"]


def test_missing_when_the_storage_lost_the_image(tmp_path):
    store = SeedStore(tmp_path / "seed", 5959)
    seeded(store, RECIPES, tag_dirs=False)
    assert store.missing() == list(RECIPES)


def test_corrupt_index_counts_as_empty(tmp_path):
    store = SeedStore(tmp_path / "seed", 5959)
    store.dir.mkdir()
    store.index_path.write_text("{not json")
    assert store.index() == {} and store.missing() == list(RECIPES)


def test_lock_is_exclusive(tmp_path):
    store = SeedStore(tmp_path / "seed", 5959)
    with store.lock():
        with open(store.dir / "seed.lock") as other, pytest.raises(BlockingIOError):
            fcntl.flock(other, fcntl.LOCK_EX | fcntl.LOCK_NB)
    with open(store.dir / "seed.lock") as other:
        fcntl.flock(other, fcntl.LOCK_EX | fcntl.LOCK_NB)  # released afterwards


def test_seeding_tells_a_bar_each_image_start_and_its_time_and_keeps_the_time(tmp_path, monkeypatch):
    from dockyard import seed as seed_mod

    store = SeedStore(tmp_path / "seed", 5959)
    monkeypatch.setattr(seed_mod.Registry, "start", lambda self, timeout=10: 1)
    monkeypatch.setattr(seed_mod.Registry, "stop", lambda self: True)
    monkeypatch.setattr(SeedStore, "_build_and_push", lambda self, client, r, writer: "sha256:" + "0" * 64)
    steps = []
    built = store.seed(object(), progress=lambda _m: None, step=lambda r, s: steps.append((r.name, s is None)))
    assert built == [r.name for r in RECIPES]
    assert steps == [(name, started) for name in built for started in (True, False)]  # start, then done, each
    assert all(isinstance(store.index()[name]["seconds"], float) for name in built)  # the next bar's guess

"""The image template: base layers linked into a fresh data-root, metadata copied."""

import json
import os

import pytest

from dockyard import dataroot, seed, template
from dockyard.errors import DockyardError
from dockyard.registry import Registry


def test_clone_links_layers_and_copies_metadata(tmp_path):
    tpl = tmp_path / "tpl"
    (tpl / "overlay2" / "abc" / "diff" / "usr").mkdir(parents=True)
    layer_file = tpl / "overlay2" / "abc" / "diff" / "usr" / "python"
    layer_file.write_text("binary")
    (tpl / "overlay2" / "stacked" / "diff").mkdir(parents=True)
    (tpl / "overlay2" / "stacked" / "lower").write_text("l/SHORT")
    (tpl / "overlay2" / "l").mkdir()
    os.symlink("../abc/diff", tpl / "overlay2" / "l" / "SHORT")
    (tpl / "image" / "overlay2").mkdir(parents=True)
    (tpl / "image" / "overlay2" / "repositories.json").write_text("{}")
    root = tmp_path / "sandbox" / "data"
    dataroot.clone(tpl, root)
    # a base layer is one link to the template's folder: it reaches into another filesystem (a disk)
    assert os.readlink(root / "overlay2" / "abc") == str(tpl / "overlay2" / "abc")
    cloned = root / "overlay2" / "abc" / "diff" / "usr" / "python"
    assert cloned.read_text() == "binary" and cloned.stat().st_ino == layer_file.stat().st_ino  # shared, not copied
    # a layer dockerd may mount as an upper directory is the sandbox's own
    assert not (root / "overlay2" / "stacked").is_symlink() and (root / "overlay2" / "stacked" / "lower").exists()
    assert os.readlink(root / "overlay2" / "l" / "SHORT") == "../abc/diff"
    meta = root / "image" / "overlay2" / "repositories.json"
    assert meta.read_text() == "{}"
    assert meta.stat().st_ino != (tpl / "image" / "overlay2" / "repositories.json").stat().st_ino  # dockerd rewrites it
    os.remove(root / "overlay2" / "abc")  # docker rmi in one sandbox: Go's os.RemoveAll unlinks the link...
    assert layer_file.exists()  # ...and leaves the template whole


def test_clone_failure_is_explained(tmp_path, monkeypatch):
    tpl = tmp_path / "tpl"
    (tpl / "overlay2").mkdir(parents=True)
    target = tmp_path / "data"
    target.mkdir()
    (target / "overlay2").write_text("in the way")  # cp cannot put a directory here
    with pytest.raises(DockyardError, match="could not clone the image template"):
        dataroot.clone(tpl, target)


def test_template_key_follows_the_seed(tmp_path):
    (tmp_path / "seed").mkdir()
    (tmp_path / "seed" / "seeded.json").write_text('{"busybox": {"key": "1"}}')
    first = template._key(tmp_path)
    (tmp_path / "seed" / "seeded.json").write_text('{"busybox": {"key": "2"}}')
    assert template._key(tmp_path) != first


def test_images_in_finds_the_seeded_images_a_lab_mentions(tmp_path):
    (tmp_path / "lab.yaml").write_text("with: {image: busybox}\n")
    (tmp_path / "solution").mkdir()
    (tmp_path / "solution" / "Dockerfile").write_text("FROM python:3.11-slim\n")
    (tmp_path / "notes.md").write_text("not my-busybox-fork, nor node:18-slimmer\n")
    assert template.images_in(tmp_path) == ("busybox", "python:3.11-slim")
    empty = tmp_path / "empty"
    empty.mkdir()
    assert template.images_in(empty) == template.ALL  # nothing recognised: every image, never too few


def test_each_image_set_has_its_own_template(tmp_path):
    assert template.template_dir(tmp_path, ("busybox",)).name == "busybox"
    assert template.template_dir(tmp_path, template.ALL).name == "all"
    assert template._key(tmp_path, ("busybox",)) != template._key(tmp_path, ("python:3.11-slim",))
    with pytest.raises(DockyardError, match="no seeded image alpine"):
        template.ensure(tmp_path, images=("alpine",))


def test_seed_registry_gives_the_sandbox_registry_the_pulled_layers(tmp_path):
    seed, mine = Registry(tmp_path / "seed", 5959), Registry(tmp_path / "mine", 5001)
    pulled, absent, built = "sha256:" + "1" * 64, "sha256:" + "2" * 64, "sha256:" + "3" * 64
    seed.blob_path(pulled).parent.mkdir(parents=True)
    seed.blob_path(pulled).write_bytes(b"base layer")
    meta = tmp_path / "data" / dataroot.V2METADATA
    meta.mkdir(parents=True)
    base = [{"Digest": pulled, "SourceRepository": "docker.io/library/python", "HMAC": ""}]
    (meta / ("a" * 64)).write_text(json.dumps(base))
    gone = [{"Digest": absent, "SourceRepository": "docker.io/library/node", "HMAC": ""}]  # not in the seed
    (meta / ("b" * 64)).write_text(json.dumps(gone))
    pushed = [{"Digest": built, "SourceRepository": "127.0.0.1:4000/web", "HMAC": "x"}]  # pushed elsewhere
    (meta / ("c" * 64)).write_text(json.dumps(pushed))

    assert dataroot.seed_registry(tmp_path / "data", mine, seed) == ["library/python"]
    assert mine.blob_path(pulled).read_bytes() == b"base layer"
    assert not mine.blob_path(absent).exists() and not mine.blob_path(built).exists()
    # dockerd mounts a layer from a repository of the registry it pushes to, when its metadata names one
    assert json.loads((meta / ("a" * 64)).read_text()) == base + [
        {"Digest": pulled, "SourceRepository": "127.0.0.1:5001/library/python", "HMAC": ""}]
    assert json.loads((meta / ("b" * 64)).read_text()) == gone
    assert json.loads((meta / ("c" * 64)).read_text()) == pushed
    assert sorted(p.name for p in meta.iterdir()) == ["a" * 64, "b" * 64, "c" * 64]


def test_seed_registry_without_push_metadata_does_nothing(tmp_path):
    mine = Registry(tmp_path / "mine", 5001)
    assert dataroot.seed_registry(tmp_path / "data", mine, Registry(tmp_path / "seed", 5959)) == []
    assert not mine.storage.exists()


class FakePullClient:
    """docker-py's low-level pull stream, canned."""

    def __init__(self, events):
        self.events, self.pulled = events, []

        class Api:
            def pull(api, repo, tag=None, stream=False, decode=False):
                assert stream and decode
                self.pulled.append((repo, tag))
                return iter(self.events)

        self.api = Api()


def seeded_store(tmp_path):
    """A seed registry's storage holding python:3.11-slim with one 67 MB layer, as distribution lays it out."""
    from dockyard.seed import SeedStore

    store = SeedStore(tmp_path / "seed", 5959)
    layer = "sha256:" + "ab" * 32
    manifest = json.dumps({"schemaVersion": 2, "layers": [{"digest": layer, "size": 67_020_040}]})
    mdigest = "sha256:" + "cd" * 32
    store.registry.blob_path(mdigest).parent.mkdir(parents=True)
    store.registry.blob_path(mdigest).write_text(manifest)
    link = store.registry.storage / "docker/registry/v2/repositories/library/python/_manifests/tags/3.11-slim/current/link"
    link.parent.mkdir(parents=True)
    link.write_text(mdigest)
    return store


def test_the_build_plan_knows_each_pulls_bytes_and_each_seed_builds_last_time(tmp_path):
    from dockyard.seed import recipe

    store = seeded_store(tmp_path)
    assert template.layer_sizes(store, "python:3.11-slim") == {"ab" * 6: 67_020_040}
    assert template.layer_sizes(store, "busybox") == {}  # not seeded yet: unknown, not an error
    store.index_path.write_text(json.dumps({"node:18-slim": {"seconds": 51.5}}))
    steps = template.plan(store, ("busybox", "python:3.11-slim"), [recipe("node:18-slim"), recipe("busybox")])
    assert [label for label, _s in steps] == [
        "starting a builder sandbox", "building node:18-slim from Debian packages",
        "building busybox from Debian packages", "pulling busybox", "pulling python:3.11-slim", "saving the template"]
    seconds = dict(steps)
    assert seconds["building node:18-slim from Debian packages"] == 51.5  # this machine's own last time
    assert seconds["building busybox from Debian packages"] == seed.SEED_SECONDS["busybox"]
    assert seconds["pulling python:3.11-slim"] == pytest.approx(67_020_040 / template.PULL_BYTES_PER_SECOND)


def test_a_template_pull_reports_its_share_done_and_fails_with_the_daemons_words():
    from dockyard.progressbar import Phases

    events = [{"status": "Pulling fs layer", "progressDetail": {}, "id": "abababababab"},
              {"status": "Downloading", "progressDetail": {"current": 100, "total": 100}, "id": "abababababab"},
              {"status": "Extracting", "progressDetail": {"current": 50, "total": 100}, "id": "abababababab"},
              {"status": "Pull complete", "progressDetail": {}, "id": "abababababab"}]
    client = FakePullClient(events)
    bar = Phases("t", [("pulling python:3.11-slim", 1)], stream=None)
    bar.start(0)
    template._pull(client, "python:3.11-slim", {"abababababab": 100}, bar)
    assert client.pulled == [("python", "3.11-slim")]
    assert bar.fraction == 1.0 and bar.detail == "layers 1/1, 100B/100B"
    with pytest.raises(DockyardError, match="pulling busybox into the image template failed: manifest unknown"):
        template._pull(FakePullClient([{"error": "manifest unknown"}]), "busybox", {}, bar)


def test_the_first_up_seeds_with_k_of_n_and_the_time_left_in_its_progress_lines(tmp_path, monkeypatch):
    from dockyard.seed import RECIPES, SeedStore

    store = SeedStore(tmp_path / "seed", 5959)

    def fake_seed(self, client, force=False, progress=print, step=None):
        for r in RECIPES:
            step(r, None)
            step(r, 1.0)
        return [r.name for r in RECIPES]

    monkeypatch.setattr(SeedStore, "seed", fake_seed)
    said = []
    import io

    assert seed.seed_with_bar(store, None, progress=said.append, stream=io.StringIO()) == [r.name for r in RECIPES]
    starts = [line for line in said if line.endswith("left)")]
    # the Debian-based ones are long enough to say when they start; each says how long is left
    assert starts[0].startswith("base images [2/4] building debian:bookworm-slim from Debian packages ... (about ")
    assert said[0].startswith("base images [1/4] building busybox from Debian packages: done in ")
    assert said[-1].startswith("base images: done in ")

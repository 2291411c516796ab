"""The image template: base layers linked into a fresh data-root, metadata copied."""

import os

import pytest

from dockyard import template
from dockyard.errors import DockyardError


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
    template.clone(tpl, root)
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
        template.clone(tpl, target)


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

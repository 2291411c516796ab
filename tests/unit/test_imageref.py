"""One parser for image references, Docker Hub's spellings folded the way Docker folds them."""

from __future__ import annotations

import pytest

from dockyard.imageref import ImageRef


@pytest.mark.parametrize("text", ["python:latest", "python", "library/python", "docker.io/library/python:latest",
                                  "index.docker.io/library/python", "registry-1.docker.io/python:latest"])
def test_docker_hubs_spellings_of_one_image_are_one(text):
    assert ImageRef.parse(text).canonical() == "python:latest"


def test_tags_registries_and_digests():
    r = ImageRef.parse("127.0.0.1:5000/team/web:1.0")
    assert (r.registry, r.repo, r.tag, r.name) == ("127.0.0.1:5000", "team/web", "1.0", "127.0.0.1:5000/team/web")
    assert ImageRef.parse("localhost/web").registry == "localhost"
    assert ImageRef.parse("myorg/app").registry is None and ImageRef.parse("myorg/app").hub_path == "myorg/app"
    assert ImageRef.parse("python:3.11-slim").hub_path == "library/python"
    d = ImageRef.parse("busybox@sha256:" + "a" * 64)
    assert d.tag is None and d.canonical() == "busybox@sha256:" + "a" * 64  # a digest pins it: no :latest added
    assert str(ImageRef.parse("docker.io/library/node:18-slim")) == "node:18-slim"


def test_an_implicit_latest_is_the_same_repo_and_tag_but_is_not_written():
    a, b = ImageRef.parse("web"), ImageRef.parse("web:latest")
    assert a.tag is None and b.tag == "latest" and a.same_repo_and_tag(b)
    assert not ImageRef.parse("web:1.0").same_repo_and_tag(b)
    assert not ImageRef.parse("127.0.0.1:5000/web").same_repo_and_tag(b)

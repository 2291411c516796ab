"""registry.* checks against a stand-in for the sandbox registry holding what a real push produced.

The manifest below is what the sandbox registry answered after
``docker tag busybox $DOCKYARD_REGISTRY/busybox:v1 && docker push ...``; the local
image's inspect data is tests/unit/grader/data/daemon_image_busybox_pushed.json.
"""

from __future__ import annotations

import urllib.error

import pytest

from dockyard.errors import DaemonError
from grader.checks import base

from .fakes import FakeContext, load_data, run_check

base.load_all()

HOST = "127.0.0.1:53555"
DIGEST = "sha256:d3ab856288aa183ab066afdc6d079e9ebac3325bd82a4cbdede2847457125b5a"
MANIFEST = {
    "schemaVersion": 2, "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
    "config": {"mediaType": "application/vnd.docker.container.image.v1+json", "size": 1072,
               "digest": "sha256:543c7856e8c98825742c90b12a576fdcbb82e214a8eac77655157da198641c7f"},
    "layers": [{"mediaType": "application/vnd.docker.image.rootfs.diff.tar.gzip", "size": 1069020,
                "digest": "sha256:a83c9f45f201f32a43e853c3d3296614125207b4f74480c01172c5ef0a6e77f8"}],
}


class FakeRegistry:
    def __init__(self, repos: dict, port: int = 53555, down: bool = False):
        self.repos, self.port, self.down = repos, port, down  # repo -> {tag: (digest, manifest)}

    @property
    def host(self):
        return f"127.0.0.1:{self.port}"

    def _check(self):
        if self.down:
            raise urllib.error.URLError("Connection refused")

    def catalog(self):
        self._check()
        return sorted(self.repos)

    def tags(self, repo):
        self._check()
        return sorted(self.repos.get(repo, {}))

    def manifest(self, repo, ref):
        self._check()
        return self.repos.get(repo, {}).get(ref)


class FakeSandbox:
    def __init__(self, reg):
        self.registry = reg


def run(ctx, name, /, **params):
    return run_check(name, ctx, **params)


@pytest.fixture
def ctx():
    c = FakeContext(images={"busybox": load_data("daemon_image_busybox_pushed"),
                            f"{HOST}/busybox:v1": load_data("daemon_image_busybox_pushed"),
                            "web:1.0": {"Id": "sha256:" + "e" * 64, "RepoDigests": []}})
    c.sandbox = FakeSandbox(FakeRegistry({"busybox": {"v1": (DIGEST, MANIFEST)}, "tools": {}}))
    return c


def test_tag_exists(ctx):
    o = run(ctx, "registry.tag_exists", repository="busybox", tag="v1")
    assert o.passed and o.message == f"{HOST}/busybox:v1 is in the sandbox registry"


@pytest.mark.parametrize("repo", [f"{HOST}/busybox", "$DOCKYARD_REGISTRY/busybox"])
def test_repository_may_carry_the_registry_prefix(ctx, repo):
    assert run(ctx, "registry.tag_exists", repository=repo, tag="v1").passed


def test_no_repository_lists_what_exists(ctx):
    o = run(ctx, "registry.tag_exists", repository="web", tag="1.0")
    assert o.reason == "no_repository"
    assert o.message == "repository 'web' is not in the sandbox registry (it holds: busybox, tools)"
    assert "docker tag web:1.0 $DOCKYARD_REGISTRY/web:1.0 && docker push $DOCKYARD_REGISTRY/web:1.0" in o.hint


def test_no_tag_lists_the_tags(ctx):
    o = run(ctx, "registry.tag_exists", repository="busybox")
    assert o.reason == "no_tag" and o.message == "busybox has no tag 'latest' in the sandbox registry (tags: v1)"
    assert "push that tag too" in o.hint and o.evidence["tags"] == ["v1"]
    o2 = run(ctx, "registry.tag_exists", repository="tools", tag="1")
    assert o2.reason == "no_tag" and "(tags: none)" in o2.message
    hints = {o.hint, run(ctx, "registry.tag_exists", repository="web").hint}
    assert len(hints) == 2


def test_no_registry(ctx):
    ctx.sandbox = None
    o = run(ctx, "registry.tag_exists", repository="busybox")
    assert o.reason == "no_registry" and "no registry" in o.message
    ctx.sandbox = FakeSandbox(FakeRegistry({}, port=0))  # --backend existing: the state has no registry port
    assert run(ctx, "registry.digest_matches", repository="busybox", image="busybox").reason == "no_registry"


def test_registry_down_is_an_error_not_a_failure(ctx):
    ctx.sandbox.registry.down = True
    with pytest.raises(DaemonError, match="does not answer"):
        run(ctx, "registry.tag_exists", repository="busybox")


def test_digest_matches(ctx):
    o = run(ctx, "registry.digest_matches", repository="busybox", tag="v1", image="busybox")
    assert o.passed and o.message == "busybox:v1 in the registry is busybox (sha256:543c7856e8c9)"
    assert o.evidence["registry_digest"] == DIGEST
    assert run(ctx, "registry.digest_matches", repository="busybox", tag="v1", image=f"{HOST}/busybox:v1").passed


def test_digest_mismatch_after_a_rebuild(ctx):
    o = run(ctx, "registry.digest_matches", repository="busybox", tag="v1", image="web:1.0")
    assert o.reason == "mismatch"
    assert o.message == ("busybox:v1 in the registry is image sha256:543c7856e8c9; "
                         "the local web:1.0 is sha256:eeeeeeeeeeee")
    assert "push it again" in o.hint


def test_digest_not_pushed(ctx):
    o = run(ctx, "registry.digest_matches", repository="busybox", tag="v2", image="busybox")
    assert o.reason == "not_pushed" and "no tag 'v2'" in o.message
    assert "expected busybox pushed as busybox:v2" in o.message
    assert "docker tag busybox $DOCKYARD_REGISTRY/busybox:v2" in o.hint
    o2 = run(ctx, "registry.digest_matches", repository="web", tag="1.0", image="web:1.0")
    assert o2.reason == "not_pushed" and "not in the sandbox registry" in o2.message
    assert o.hint != run(ctx, "registry.digest_matches", repository="busybox", tag="v1", image="web:1.0").hint


def test_digest_of_an_index_falls_back_on_repo_digests(ctx):
    index = {"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json", "manifests": []}
    ctx.sandbox.registry.repos["busybox"]["multi"] = (DIGEST, index)
    assert run(ctx, "registry.digest_matches", repository="busybox", tag="multi", image="busybox").passed
    o = run(ctx, "registry.digest_matches", repository="busybox", tag="multi", image="web:1.0")
    assert o.reason == "mismatch" and f"manifest {DIGEST[:19]}" in o.message


def test_local_image_missing_propagates_for_the_runner(ctx):
    from dockyard.errors import ImageNotFound

    with pytest.raises(ImageNotFound):
        run(ctx, "registry.digest_matches", repository="busybox", tag="v1", image="nothere")


def test_from_registry_tells_a_pull_from_a_rebuild_with_the_same_id(ctx):
    # BuildKit's rebuild of the pushed image, every step from its cache: the registry's ID, but no digest from there
    rebuilt = dict(load_data("daemon_image_busybox_pushed"), RepoDigests=[], RepoTags=["busybox:rebuilt"])
    ctx.images["busybox:rebuilt"] = rebuilt
    assert run(ctx, "registry.digest_matches", repository="busybox", tag="v1", image="busybox:rebuilt").passed
    o = run(ctx, "registry.digest_matches", repository="busybox", tag="v1", image="busybox:rebuilt",
            from_registry=True)
    assert o.reason == "mismatch" and "never came through the registry" in o.message
    assert f"no digest {HOST}/busybox@{DIGEST[:19]}" in o.message and "docker pull" in o.hint
    # pulled (or pushed) from here: its digest in the registry is among its RepoDigests
    assert run(ctx, "registry.digest_matches", repository="busybox", tag="v1", image=f"{HOST}/busybox:v1",
               from_registry=True).passed

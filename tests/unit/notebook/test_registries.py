"""Lesson 06's helpers: image names read as Docker reads them, a registry read over HTTP, a push stream folded."""

from __future__ import annotations

import pytest

from dockyard.notebook.registries import PushProgress, Registry, names_table, parse_name, push_results
from tests.unit.conftest import MANIFEST_DIGEST


@pytest.mark.parametrize("name,expected", [
    ("busybox", ("docker.io", "library/busybox", "latest", "")),
    ("busybox:1.36", ("docker.io", "library/busybox", "1.36", "")),
    ("alice/web:1.0", ("docker.io", "alice/web", "1.0", "")),
    ("ghcr.io/alice/tools/lint:2", ("ghcr.io", "alice/tools/lint", "2", "")),
    ("localhost/web", ("localhost", "web", "latest", "")),
    ("127.0.0.1:5000/course/hello", ("127.0.0.1:5000", "course/hello", "latest", "")),  # a port is not a tag
    ("127.0.0.1:5000/course/hello:v1", ("127.0.0.1:5000", "course/hello", "v1", "")),
    ("web@sha256:abc", ("docker.io", "library/web", "", "sha256:abc")),            # a digest, no default tag
    ("alice:1.0/web", ("alice:1.0", "web", "latest", "")),      # a ':' before the first '/' makes a host:port
])
def test_parse_name_fills_in_dockers_defaults(name, expected):
    assert parse_name(name) == expected


def test_names_table_has_a_row_per_name():
    table = names_table(["busybox", "alice/web:1.0"])
    assert table.rows == [["busybox", "docker.io", "library/busybox", "latest", ""],
                          ["alice/web:1.0", "docker.io", "alice/web", "1.0", ""]]


def test_registry_reads_catalog_tags_manifest_and_config(fake_registry):
    reg = Registry(f"127.0.0.1:{fake_registry.port}")
    assert reg.catalog() == ["class1/web", "library/busybox", "library/python"]
    assert reg.tags("library/busybox") == ["latest"]
    assert reg.tags("class1/web") == []
    assert reg.digest("library/busybox", "latest") == MANIFEST_DIGEST
    # the manifest is asked for in the formats a push stores
    path, headers = fake_registry.requests[-1]
    assert path == "/v2/library/busybox/manifests/latest" and "manifest.v2+json" in headers["Accept"]
    row = reg.table("library/busybox", ["latest"]).rows[0]
    assert row[0] == "latest" and row[1] == MANIFEST_DIGEST[:19] + "…" and row[2].startswith("sha256:")


def test_registry_requests_and_tree(fake_registry):
    reg = Registry(f"http://127.0.0.1:{fake_registry.port}")
    rows = reg.requests("/v2/_catalog", "/v2/library/busybox/tags/list", "/v2/library/busybox/manifests/latest").rows
    assert [r[0] for r in rows] == ["GET /v2/_catalog", "GET /v2/library/busybox/tags/list",
                                    "GET /v2/library/busybox/manifests/latest"]
    assert rows[2][1] == "200" and rows[2][2] == MANIFEST_DIGEST
    tree = reg.tree().splitlines()
    assert tree[0].endswith("(registry)") and "├── class1/web  (repository)" in tree
    assert f"│   └── latest  →  {MANIFEST_DIGEST[:19]}…" in tree
    assert tree[-2] == "└── library/python  (repository)" and tree[-1].startswith("    └── 3.11-slim")


# What the daemon streams during `docker push` of an image with two layers, the base one known already.
STREAM = [
    {"status": "The push refers to repository [127.0.0.1:5000/course/hello]"},
    {"status": "Preparing", "progressDetail": {}, "id": "aaa"},
    {"status": "Preparing", "progressDetail": {}, "id": "bbb"},
    {"status": "Pushing", "progressDetail": {"current": 512, "total": 1024}, "id": "aaa"},
    {"status": "Layer already exists", "progressDetail": {}, "id": "bbb"},
    {"status": "Pushing", "progressDetail": {"current": 1100, "total": 1024}, "id": "aaa"},
    {"status": "Pushed", "progressDetail": {}, "id": "aaa"},
    {"status": "v2: digest: sha256:feed size: 739"},
    {"progressDetail": {}, "aux": {"Tag": "v2", "Digest": "sha256:feed", "Size": 739}},
]


def test_push_progress_folds_the_stream_per_layer():
    seen = PushProgress(t0=0.0)
    for i, msg in enumerate(STREAM):
        seen.feed(msg, now=float(i))
    assert seen.messages == len(STREAM) and seen.digest == "sha256:feed" and seen.error is None
    assert seen.layers["aaa"] == {"status": "Pushed", "current": 1024, "total": 1024, "done": True}
    assert seen.layers["bbb"]["status"] == "Layer already exists" and seen.layers["bbb"]["done"]
    assert seen.samples == [(3.0, 512 / 1e6, 1024 / 1e6), (5.0, 1100 / 1e6, 1024 / 1e6)]
    rows = seen.table("push").rows
    assert rows[:2] == [["aaa", "Pushed"], ["bbb", "Layer already exists"]] and rows[-1] == ["manifest digest", "sha256:feed"]


def test_push_progress_keeps_the_error():
    seen = PushProgress()
    seen.feed({"errorDetail": {"message": "denied"}, "error": "denied: requested access to the resource is denied"})
    assert seen.error.startswith("denied") and not seen.layers


def test_push_results_reads_the_clis_output():
    out = ("The push refers to repository [127.0.0.1:5000/course/hello]\n4a8e2f1b9c3d: Pushed\n"
           "0b1c2d3e4f5a: Layer already exists\n9f8e7d6c5b4a: Mounted from course/web\n"
           "v2: digest: sha256:feed size: 739\n")
    assert push_results(out) == {"4a8e2f1b9c3d": "Pushed", "0b1c2d3e4f5a": "Layer already exists",
                                 "9f8e7d6c5b4a": "Mounted from course/web"}

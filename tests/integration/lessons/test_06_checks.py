"""Lesson 06's self-checks: each Try it solved the way the notebook asks passes; wrong attempts fail usefully.

The exercises are done here as a learner would: a tiny image built with the docker CLI (what the notebook's
build_image helper does), tagged with the sandbox registry's address and pushed. The checks read the registry,
so every test starts from an empty one: this module has a sandbox of its own and resets it before each test.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import pytest

import grader

from . import helpers
from .helpers import docker, assert_all_pass, assert_fails

from ..conftest import make_sandbox

LAB = "06-registries"
NOTEBOOK = Path(__file__).resolve().parents[3] / "notebooks" / "06-registries.ipynb"


@pytest.fixture(scope="module")
def own_sandbox():
    with make_sandbox(memory="1g", pids=256) as box:
        yield box


@pytest.fixture
def box(own_sandbox):
    """The module's sandbox with no images but the base ones and an empty registry."""
    own_sandbox.reset()
    docker(own_sandbox, "docker pull -q busybox")
    return own_sandbox


def build(box, tag: str, text: str) -> str:
    """The notebook's build_image: busybox plus /hello.txt; returns the image ID."""
    with tempfile.TemporaryDirectory(prefix="dy-06-test-") as folder:
        Path(folder, "hello.txt").write_text(text + "\n")
        Path(folder, "Dockerfile").write_text('FROM busybox\nCOPY hello.txt /hello.txt\nCMD ["cat", "/hello.txt"]\n')
        docker(box, f"docker build -q -t {tag} {folder}")
    return image_id(box, tag)


def image_id(box, ref: str) -> str:
    return docker(box, f"docker image inspect --format '{{{{.Id}}}}' {ref}").strip()


def push(box, local: str, target: str):
    """docker tag LOCAL $DOCKYARD_REGISTRY/TARGET && docker push $DOCKYARD_REGISTRY/TARGET"""
    docker(box, f"docker tag {local} $DOCKYARD_REGISTRY/{target} && docker push $DOCKYARD_REGISTRY/{target}")


def grade(box, task: str | None = None) -> dict:
    return helpers.grade(box, LAB, task)


def test_nothing_pushed_fails_every_check_with_a_push_hint(box):
    res = grade(box)
    assert_fails(res["push-web.tag"], "no_repository", "course/web", "nothing",
                 hint="docker push {REGISTRY}/course/web:1.0")
    assert_fails(res["same-image.digest"], "not_pushed", "course/web:1.0", hint="Try it 1")
    assert_fails(res["latest.tag"], "no_repository", "course/web", hint="Try it 1")
    assert_fails(res["latest.same-as-1.0"], "not_pushed", "course/web:latest")


# --- 1. push-web ------------------------------------------------------------------------------
def test_push_web_solution_passes(box):
    build(box, "web:1.0", "my page")
    push(box, "web:1.0", "course/web:1.0")
    assert_all_pass(grade(box, "push-web"))
    assert_all_pass(grade(box, "same-image"))


def test_push_without_a_tag_pushes_latest_and_fails_naming_the_tags(box):
    build(box, "web:1.0", "my page")
    docker(box, "docker tag web:1.0 $DOCKYARD_REGISTRY/course/web && docker push $DOCKYARD_REGISTRY/course/web")
    assert_fails(grade(box, "push-web")["push-web.tag"], "no_tag", "'1.0'", "latest", hint=":latest")


def test_push_to_a_repository_without_the_namespace_fails_listing_what_is_there(box):
    build(box, "web:1.0", "my page")
    push(box, "web:1.0", "web:1.0")
    assert_fails(grade(box, "push-web")["push-web.tag"], "no_repository", "course/web", "holds: web")


def test_pushing_the_image_id_as_the_outline_does_pushes_nothing(box):
    web_id = build(box, "web:1.0", "my page")
    out = docker(box, f"docker push {web_id[7:19]}", ok=False)
    assert "does not exist locally" in out, out
    assert_fails(grade(box, "push-web")["push-web.tag"], "no_repository", hint="not the image ID")


# --- 2. same-image ----------------------------------------------------------------------------
def test_rebuilt_after_push_fails_with_mismatch_then_pushing_again_passes(box):
    build(box, "web:1.0", "my page")
    push(box, "web:1.0", "course/web:1.0")
    new_id = build(box, "web:1.0", "my page, second edition")
    res = grade(box, "same-image")["same-image.digest"]
    assert_fails(res, "mismatch", "course/web:1.0", new_id[:19], hint="rebuilt")
    assert "docker push" in res.hint

    push(box, "web:1.0", "course/web:1.0")
    assert_all_pass(grade(box, "same-image"))


def test_pushed_but_no_local_web_image_fails_with_a_build_hint(box):
    build(box, "web:1.0", "my page")
    push(box, "web:1.0", "course/web:1.0")
    docker(box, "docker image rm web:1.0")
    assert_fails(grade(box, "same-image")["same-image.digest"], "missing", "web:1.0", hint="build_image")


# --- 3. latest --------------------------------------------------------------------------------
def test_latest_missing_after_pushing_1_0_fails_with_no_tag(box):
    build(box, "web:1.0", "my page")
    push(box, "web:1.0", "course/web:1.0")
    res = grade(box, "latest")
    assert_fails(res["latest.tag"], "no_tag", "'latest'", "1.0", hint="never creates or moves latest")
    assert_fails(res["latest.same-as-1.0"], "not_pushed", "course/web:latest")


def test_latest_pointing_at_another_image_fails_with_mismatch(box):
    web_id = build(box, "web:1.0", "my page")
    push(box, "web:1.0", "course/web:1.0")
    push(box, "busybox", "course/web:latest")
    res = grade(box, "latest")
    assert res["latest.tag"].passed, res["latest.tag"].message
    assert_fails(res["latest.same-as-1.0"], "mismatch", "course/web:latest", web_id[:19], hint="last push wins")


def test_latest_pushed_before_a_rebuild_fails_until_moved(box):
    build(box, "web:1.0", "my page")
    push(box, "web:1.0", "course/web:1.0")
    push(box, "web:1.0", "course/web:latest")
    build(box, "web:1.0", "my page, second edition")
    push(box, "web:1.0", "course/web:1.0")
    assert_fails(grade(box, "latest")["latest.same-as-1.0"], "mismatch")

    push(box, "web:1.0", "course/web:latest")
    assert_all_pass(grade(box, "latest"))


def test_the_whole_solution_scores_full_marks(box):
    build(box, "web:1.0", "my page")
    push(box, "web:1.0", "course/web:1.0")
    push(box, "web:1.0", "course/web:latest")
    report = grader.grade(grader.find_lab(LAB), sandbox=box)
    assert_all_pass({r.id: r for r in report.results})
    assert report.score == grader.load(grader.find_lab(LAB)).total

"""A grading context outlives many test cells: what it inspects must be what exists now, not what it saw first."""

from __future__ import annotations

from types import SimpleNamespace

from grader.context import Context


def test_image_is_inspected_afresh_at_every_call():
    ids = iter(["sha256:first", "sha256:rebuilt"])
    api = SimpleNamespace(inspect_image=lambda ref: {"Id": next(ids), "RepoTags": [ref]})
    ctx = Context(SimpleNamespace(api=api))
    assert ctx.image("quote:1.0")["Id"] == "sha256:first"
    # the learner rebuilds quote:1.0 between two test cells; the next check must see the new image
    assert ctx.image("quote:1.0")["Id"] == "sha256:rebuilt"
    assert ctx.inspected["image quote:1.0"]["Id"] == "sha256:rebuilt"  # the evidence is the latest answer

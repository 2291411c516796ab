"""Lesson 03's self-checks: each Try it solved the way the notebook asks passes; wrong attempts fail usefully.

The exercises are done here as a learner would: containers and volumes through raw HTTP on the daemon's
unix socket (no docker CLI, no docker-py), the push through the daemon.
"""

from __future__ import annotations

import grader
from dockyard.notebook import api as nbapi

from . import helpers
from .helpers import assert_fails

LAB = "03-architecture"


def api(box, method: str, path: str, body: dict | None = None) -> tuple[int, object]:
    """One request to the sandbox's daemon, sent by the notebook's own api() helper."""
    answer = nbapi.api(method, path, body, socket_path=box.docker_host.removeprefix("unix://"))
    return answer.status, answer.body


def grade(box, task: str | None) -> dict:
    return helpers.grade(box, LAB, task)


def create(box, name: str, image: str = "busybox", labels: dict | None = None, start: bool = True):
    body = {"Image": image, "Cmd": ["sleep", "600"]}
    if labels is not None:
        body["Labels"] = labels
    status, answer = api(box, "POST", f"/v1.41/containers/create?name={name}", body)
    assert status == 201, (status, answer)
    if start:
        status, answer = api(box, "POST", f"/v1.41/containers/{name}/start")
        assert status == 204, (status, answer)


def delete(box, name: str):
    api(box, "DELETE", f"/v1.41/containers/{name}?force=true")


def test_spec_loads():
    lab = grader.load(grader.find_lab(LAB))
    assert [t.id for t in lab.tasks] == ["api-container", "push", "api-volume"]


def test_api_container(sandbox, docker_client, tracked):
    tracked["containers"].append("try-api")
    delete(sandbox, "try-api")
    docker_client.images.pull("busybox")

    # nothing done yet
    res = grade(sandbox, "api-container")
    assert_fails(res["api-container.label"], "missing_object", "try-api", hint="/v1.41/containers/create?name=try-api")
    assert_fails(res["api-container.running"], "missing", "try-api", hint="/start")

    # created without the label, and never started
    create(sandbox, "try-api", start=False)
    res = grade(sandbox, "api-container")
    assert_fails(res["api-container.label"], "missing_label", "course", hint='"Labels"')
    assert res["api-container.image"].passed, res["api-container.image"].message
    assert_fails(res["api-container.running"], "not_started", "never started", hint="/v1.41/containers/try-api/start")

    # the right label with the wrong value, from the wrong image
    delete(sandbox, "try-api")
    docker_client.images.pull("debian", tag="bookworm-slim")
    create(sandbox, "try-api", image="debian:bookworm-slim", labels={"course": "docker"})
    res = grade(sandbox, "api-container")
    assert_fails(res["api-container.label"], "wrong_value", "'docker'", "'dockyard'")
    assert_fails(res["api-container.image"], "wrong_image", "debian:bookworm-slim", "busybox",
                 hint="DELETE /v1.41/containers/try-api")
    assert res["api-container.running"].passed

    # the solution
    delete(sandbox, "try-api")
    create(sandbox, "try-api", labels={"course": "dockyard"})
    res = grade(sandbox, "api-container")
    assert all(r.passed for r in res.values()), [str(r) for r in res.values() if not r.passed]
    assert sum(r.points for r in res.values()) == 3


def _push(client, local: str, repo: str, tag: str):
    client.images.get(local).tag(repo, tag)
    for line in client.images.push(repo, tag=tag, stream=True, decode=True):
        assert "error" not in line, line


def test_push(sandbox, docker_client, tracked):
    reg = sandbox.registry.host
    repo = f"{reg}/lesson03/try"
    tracked["images"].append(f"{repo}:v1")
    docker_client.images.pull("busybox")
    docker_client.images.pull("debian", tag="bookworm-slim")

    # nothing pushed yet (the session sandbox's registry starts empty)
    res = grade(sandbox, "push")
    assert_fails(res["push.tag"], "no_repository", "lesson03/try", hint="docker push $DOCKYARD_REGISTRY/lesson03/try:v1")
    assert_fails(res["push.same-image"], "not_pushed", "lesson03/try")

    # another image pushed under that name
    _push(docker_client, "debian:bookworm-slim", repo, "v1")
    res = grade(sandbox, "push")
    assert res["push.tag"].passed, res["push.tag"].message
    busybox_id = docker_client.images.get("busybox").id
    assert_fails(res["push.same-image"], "mismatch", busybox_id[:19])

    # the solution
    _push(docker_client, "busybox", repo, "v1")
    res = grade(sandbox, "push")
    assert all(r.passed for r in res.values()), [str(r) for r in res.values() if not r.passed]


def test_api_volume(sandbox, tracked):
    tracked["volumes"].append("try-vol")
    api(sandbox, "DELETE", "/v1.41/volumes/try-vol?force=true")

    res = grade(sandbox, "api-volume")
    assert_fails(res["api-volume.label"], "missing_object", "try-vol", hint="/v1.41/volumes/create")

    status, _ = api(sandbox, "POST", "/v1.41/volumes/create", {"Name": "try-vol"})
    assert status == 201
    res = grade(sandbox, "api-volume")
    assert_fails(res["api-volume.label"], "missing_label", "course", hint='"Labels"')

    api(sandbox, "DELETE", "/v1.41/volumes/try-vol")
    status, _ = api(sandbox, "POST", "/v1.41/volumes/create", {"Name": "try-vol", "Labels": {"course": "dockyard"}})
    assert status == 201
    res = grade(sandbox, "api-volume")
    assert res["api-volume.label"].passed, res["api-volume.label"].message

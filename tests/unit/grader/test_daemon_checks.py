"""daemon.* checks against /info, /version and inspect data recorded from a sandbox (daemon_*.json)."""

from __future__ import annotations

import docker.errors
import pytest
import requests

from dockyard.errors import DaemonError, DockerAPIError
from grader.checks import daemon as D

from .fakes import FakeContext, load_data, run_check


class FakeAPI:
    def __init__(self, fail_with=None):
        self.fail_with = fail_with
        self.volumes = {"webdata": load_data("daemon_volume_webdata")}
        self.networks = {"backend": {"Name": "backend", "Labels": {"tier": "db"}}}

    def _maybe_fail(self):
        if self.fail_with:
            raise self.fail_with

    def info(self):
        self._maybe_fail()
        return load_data("daemon_info")

    def version(self):
        self._maybe_fail()
        return load_data("daemon_version")

    def inspect_volume(self, name):
        self._maybe_fail()
        if name not in self.volumes:
            raise docker.errors.NotFound(f"get {name}: no such volume")
        return self.volumes[name]

    def inspect_network(self, name):
        self._maybe_fail()
        if name not in self.networks:
            raise docker.errors.NotFound(f"network {name} not found")
        return self.networks[name]


class FakeClient:
    def __init__(self, **kw):
        self.api = FakeAPI(**kw)


def run(ctx, name, /, **params):
    return run_check(name, ctx, **params)


@pytest.fixture
def ctx():
    c = FakeContext(containers={"web": load_data("container_web")},
                    images={"busybox": load_data("daemon_image_busybox_pushed")})
    c.client = FakeClient()
    return c


# --- /info and /version ---------------------------------------------------------------------
@pytest.mark.parametrize("equals", [1, "1"])
def test_info_equals_compares_numbers_and_strings(ctx, equals):
    o = run(ctx, "daemon.info", field="CgroupVersion", equals=equals)
    assert o.passed and o.message == "/info CgroupVersion is '1'"


def test_info_wrong_value_quotes_both(ctx):
    o = run(ctx, "daemon.info", field="CgroupVersion", equals=2)
    assert o.reason == "wrong_value" and o.message == "/info CgroupVersion is '1'; expected 2"
    assert "docker info" in o.hint


def test_info_dotted_path_and_contains(ctx):
    assert run(ctx, "daemon.info", field="Plugins.Volume", contains="local").passed
    assert run(ctx, "daemon.info", field="Driver", equals="overlay2").passed
    assert run(ctx, "daemon.info", field="KernelVersion", contains="6.").passed
    o = run(ctx, "daemon.info", field="Plugins.Volume", contains="nfs")
    assert o.reason == "wrong_value" and "['local']; expected it to contain 'nfs'" in o.message


def test_info_bool_field(ctx):
    assert run(ctx, "daemon.info", field="Debug", equals=False).passed
    assert run(ctx, "daemon.info", field="Debug", equals=True).reason == "wrong_value"


def test_info_missing_field(ctx):
    o = run(ctx, "daemon.info", field="Plugins.Storage")
    assert o.reason == "missing_field" and "/info has no field 'Plugins.Storage'" in o.message
    assert "CgroupVersion" in o.message and o.hint != run(ctx, "daemon.info", field="Driver", equals="vfs").hint


def test_version_fields(ctx):
    assert run(ctx, "daemon.version", field="ApiVersion", equals="1.41").passed
    assert run(ctx, "daemon.version", field="Components.0.Name", equals="Engine").passed
    assert run(ctx, "daemon.version", field="Components", contains="containerd").passed
    o = run(ctx, "daemon.version", field="Version", contains="24.0")
    assert o.reason == "wrong_value" and "'20.10.24+dfsg1'; expected it to contain '24.0'" in o.message
    assert "docker version" in o.hint


def test_api_errors_are_translated(ctx):
    ctx.client = FakeClient(fail_with=requests.exceptions.ConnectionError("refused"))
    with pytest.raises(DaemonError, match="reading docker info"):
        run(ctx, "daemon.info", field="Driver")


def test_dig():
    data = {"a": {"b": [{"c": 1}]}}
    assert D.dig(data, "a.b.0.c") == 1
    assert D.dig(data, "a.b.1.c") is D.dig(data, "a.x") is D._MISSING


# --- labels -----------------------------------------------------------------------------------
def test_labeled_container_and_any_value(ctx):
    o = run(ctx, "daemon.labeled", kind="container", name="web", labels={"tier": "web", "owner": None})
    assert o.passed and o.message == "container web has the labels tier=web, owner=me"


def test_labeled_volume_network_image(ctx):
    assert run(ctx, "daemon.labeled", kind="volume", name="webdata", labels={"tier": "web"}).passed
    assert run(ctx, "daemon.labeled", kind="network", name="backend", labels={"tier": "db"}).passed
    assert run(ctx, "daemon.labeled", kind="image", name="busybox", labels={"org.dockyard.stand-in": "true"}).passed


def test_missing_label_lists_the_labels(ctx):
    o = run(ctx, "daemon.labeled", kind="volume", name="webdata", labels={"tier": "web", "backup": "daily"})
    assert o.reason == "missing_label" and o.message == "volume webdata has no label 'backup'; its labels: tier=web"
    assert "docker volume create --label backup=daily webdata" in o.hint


def test_wrong_label_value(ctx):
    o = run(ctx, "daemon.labeled", kind="container", name="web", labels={"tier": "db"})
    assert o.reason == "wrong_value" and o.message == "container web: label tier is 'web', expected 'db'"
    assert "docker run --label tier=db" in o.hint
    o = run(ctx, "daemon.labeled", kind="image", name="busybox", labels={"a": "1", "b": "2"})
    assert "LABEL a=1 b=2" in o.hint


@pytest.mark.parametrize("kind,name,word", [("container", "db", "docker run --name db"),
                                            ("volume", "dbdata", "docker volume create dbdata"),
                                            ("network", "front", "docker network create front"),
                                            ("image", "app:1", "docker build -t app:1")])
def test_missing_object(ctx, kind, name, word):
    o = run(ctx, "daemon.labeled", kind=kind, name=name, labels={"tier": "web"})
    assert o.reason == "missing_object" and f"there is no {kind} {name!r}" in o.message and word in o.hint


def test_other_api_errors_propagate(ctx):
    ctx.client = FakeClient(fail_with=docker.errors.APIError("500 Server Error", explanation="boom"))
    with pytest.raises(DockerAPIError, match="boom"):
        run(ctx, "daemon.labeled", kind="volume", name="webdata", labels={"tier": "web"})


def test_labeled_rejects_unknown_kind_when_the_spec_is_loaded():
    from grader.checks import base

    problems = base.get("daemon.labeled").validate({"kind": "plugin", "name": "x", "labels": {}})
    assert problems == ["parameter 'kind' of daemon.labeled must be one of container, image, volume, network, "
                        "not 'plugin'"]


def test_labeled_from_info_wants_this_daemons_values(ctx):
    facts = {"runtime": "DefaultRuntime", "logging": "LoggingDriver", "root": "DockerRootDir"}
    vol = ctx.client.api.volumes["webdata"]
    vol["Labels"] = {"runtime": "runc", "logging": "json-file", "root": "/root/.local/state/dockyard/t4981-0/data"}
    o = run(ctx, "daemon.labeled", kind="volume", name="webdata", labels_from_info=facts)
    assert o.passed and o.evidence["from_info"]["root"] == "DockerRootDir = /root/.local/state/dockyard/t4981-0/data"
    # typed in from the learner's own sandbox: right for runc and json-file, wrong for the daemon that grades
    vol["Labels"]["root"] = "/home/me/.local/state/dockyard/default/data"
    o = run(ctx, "daemon.labeled", kind="volume", name="webdata", labels_from_info=facts)
    assert o.reason == "wrong_value" and "label root is '/home/me/" in o.message
    assert "what GET /info reports as DockerRootDir now" in o.message

"""Real sandboxes for the integration tests.

Every sandbox made here has a name starting with ``t`` and the test process id,
and is brought down with ``purge`` in a ``finally``: no daemon, bridge, mount or
cgroup outlives the session. They share the machine's seed cache (the default
Dockyard home), so only the first run on a machine builds base images.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import shutil

import pytest

from dockyard import Sandbox, SandboxConfig

_counter = itertools.count()


def pytest_collection_modifyitems(items):
    for item in items:
        if "integration" in str(item.fspath):
            item.add_marker(pytest.mark.docker)


def _require_host():
    problems = []
    if os.geteuid() != 0:
        problems.append("not root")
    for prog in ("dockerd", "docker-registry", "mmdebstrap"):
        if not shutil.which(prog) and not os.path.exists(f"/usr/bin/{prog}") and not os.path.exists(f"/usr/sbin/{prog}"):
            problems.append(f"{prog} missing")
    if problems:
        pytest.fail("integration tests need a host that can run the private sandbox: " + ", ".join(problems)
                    + ". Run dockyard/bootstrap.sh test, or deselect them with -m 'not docker'.", pytrace=False)


@contextlib.contextmanager
def make_sandbox(**overrides):
    """Bring a fresh, uniquely named sandbox up; always bring it down and purge it."""
    _require_host()
    name = f"t{os.getpid() % 100000}-{next(_counter)}"
    box = Sandbox(SandboxConfig.from_env(name=name, **overrides))
    try:
        box.up(progress=print)
        yield box
    finally:
        with contextlib.suppress(Exception):
            if box._client is not None:
                box._client.close()
        box.down(purge=True)


@pytest.fixture(scope="session")
def sandbox(tmp_path_factory):
    """One sandbox shared by the tests that only read or clean up after themselves.

    Its workspace (the host folders the seal lets containers bind) is this session's pytest temp root,
    so a test may bind its own tmp_path."""
    with make_sandbox(memory="2g", pids=512, workspace=(str(tmp_path_factory.getbasetemp()),)) as box:
        yield box


@pytest.fixture
def fresh_sandbox(tmp_path_factory):
    with make_sandbox(memory="1g", pids=256, workspace=(str(tmp_path_factory.getbasetemp()),)) as box:
        yield box


@pytest.fixture
def docker_client(sandbox):
    return sandbox.client


@pytest.fixture
def tracked(docker_client):
    """Containers, volumes, networks and images a test makes: removed whatever happens."""
    made = {"containers": [], "volumes": [], "networks": [], "images": []}
    yield made
    for c in made["containers"]:
        with contextlib.suppress(Exception):
            docker_client.containers.get(c).remove(force=True, v=True)
    for n in made["networks"]:
        with contextlib.suppress(Exception):
            docker_client.networks.get(n).remove()
    for v in made["volumes"]:
        with contextlib.suppress(Exception):
            docker_client.volumes.get(v).remove(force=True)
    for i in made["images"]:
        with contextlib.suppress(Exception):
            docker_client.images.remove(i, force=True)

"""The parts of `dockyard status` that need no daemon: problems from a given state, the bridge, disk sizes."""

from dockyard import status as status_of
from dockyard.config import SandboxConfig
from dockyard.state import SandboxState

SEAL_UP = {"pid": 200, "answering": True}
SEAL_GONE = {"pid": None, "answering": False}
SEAL_STUCK = {"pid": 200, "answering": False}  # its process is there, its socket does not answer


def problems(st=SandboxState(), pid=None, answering=False, seal=SEAL_GONE, **cfg):
    return status_of.problems(SandboxConfig(name="t1", **cfg), st, pid, answering, seal)


def test_a_sandbox_that_never_started_has_no_problem():
    assert problems() == []


def test_a_healthy_sandbox_has_no_problem():
    assert problems(SandboxState(running=True, pid=100), pid=100, answering=True, seal=SEAL_UP) == []


def test_a_crashed_daemon_says_its_pid_and_how_to_recover():
    [crash] = problems(SandboxState(running=True, pid=4321))
    assert crash.startswith("dockerd (pid 4321) is gone: it crashed or was killed.")
    assert "Run: dockyard up --name t1   (recovers the sandbox)" in crash


def test_a_dead_seal_is_one_problem_not_also_a_daemon_that_does_not_answer():
    """Without its plugin dockerd refuses even /_ping: saying so twice would send the learner looking twice."""
    [seal] = problems(SandboxState(running=True, pid=100, authz_pid=101), pid=100, seal=SEAL_GONE)
    assert seal.startswith("the seal (authorization plugin dockyard-t1, pid 101) is not running")
    assert "refuses every request" in seal and "dockyard up --name t1" in seal


def test_a_stuck_seal_and_a_silent_daemon_are_two_problems():
    cfg = SandboxConfig(name="t1")
    found = problems(SandboxState(running=True, pid=100, authz_pid=200), pid=100, seal=SEAL_STUCK)
    assert len(found) == 2 and found[0].startswith("the seal")
    assert found[1] == f"dockerd (pid 100) runs but does not answer on {cfg.socket}"


def test_an_unsealed_daemon_that_does_not_answer():
    [silent] = problems(SandboxState(running=True, pid=100), pid=100, seal=SEAL_GONE, sealed=False)
    assert silent.startswith("dockerd (pid 100) runs but does not answer on ")


def test_a_sandbox_without_a_bridge_yet():
    assert status_of.bridge(SandboxState()) == {"name": None, "subnet": None, "exists": False, "forwarding": None}


def test_a_bridge_the_kernel_does_not_have():
    st = SandboxState(bridge="dy-nosuch0", subnet="10.213.7.0/24")
    assert status_of.bridge(st) == {"name": "dy-nosuch0", "subnet": "10.213.7.0/24", "exists": False,
                                    "forwarding": None}


def test_disk_use_adds_up_what_dockerd_has_computed():
    df = {"LayersSize": 1000, "Containers": [{"SizeRw": 10}, {"SizeRw": None}, {}],
          "Volumes": [{"UsageData": {"Size": 5}}, {"UsageData": None}, {"UsageData": {"Size": None}}]}
    assert status_of.disk_use(df) == {"images": 1000, "containers": 10, "volumes": 5}
    assert status_of.disk_use({"Containers": None, "Volumes": None}) == {"images": 0, "containers": 0, "volumes": 0}


def test_a_sandbox_with_no_process_uses_no_memory():
    assert status_of.sandbox_pids(None, None, None) == []
    assert status_of.memory([]) == {"sandbox_processes": 0, "processes": 0}

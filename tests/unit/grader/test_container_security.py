"""container.user, .capabilities, .no_new_privileges, .read_only against inspect data and /proc status recorded
from a real sandbox (tests/unit/grader/data/security_*.json), with a fake /proc on the host.

Recorded, all from labs/11-security's hello-svc image: hard (--user 10001 --read-only --tmpfs /tmp
--cap-drop ALL --cap-add NET_BIND_SERVICE --security-opt no-new-privileges --memory 64m --pids-limit 32),
addback (--cap-drop ALL and Docker's 14 defaults added back), root (--user root:root), volapp (-v s-code:/app
and --mount type=tmpfs,destination=/tmp), nnpfalse (--cap-drop NET_RAW --security-opt no-new-privileges:false),
default (no flags at all).
"""

from __future__ import annotations

import pytest

from grader.checks import container

from .fakes import FakeContext, load_data, run_check

NAMES = ("hard", "addback", "root", "volapp", "nnpfalse", "default")
PROBE_OK = "sh: 1: cannot create /.dockyard-probe: Read-only file system\n"


@pytest.fixture
def proc(tmp_path, monkeypatch):
    """A /proc whose <pid>/status files are the recorded ones."""
    status = load_data("security_status")
    for n in NAMES:
        ins = load_data(f"security_{n}")
        pid = ins["State"]["Pid"]
        (tmp_path / str(pid)).mkdir()
        (tmp_path / str(pid) / "status").write_text(status[n])
        (tmp_path / str(pid) / "cgroup").write_text(f"1:pids:/dockyard-x/{ins['Id']}\n")
    monkeypatch.setattr(container, "PROC", tmp_path)
    return tmp_path


def ctx_for(exec_results=None):
    return FakeContext(containers={n: load_data(f"security_{n}") for n in NAMES}, exec_results=exec_results)


def run(name, check, exec_results=None, **params):
    return run_check(check, ctx_for(exec_results), name=name, **params)


# --- container.user ------------------------------------------------------------------------
def test_user_passes_for_uid_10001_read_from_the_hosts_proc(proc):
    out = run("hard", "container.user")
    assert out.passed and "runs as uid 10001" in out.message and "on the host" in out.message
    assert run("hard", "container.user", uid=10001).passed


def test_user_root_by_flag_or_by_default_fails_as_root(proc):
    for name, shown in (("root", "'root:root'"), ("default", "not set")):
        out = run(name, "container.user")
        assert not out.passed and out.reason == "root", out.message
        assert shown in out.message and "uid 0" in out.message
        assert "--user 10001" in out.hint


def test_user_whose_name_is_not_root_but_whose_uid_is_0_fails_as_uid_zero(proc):
    c = load_data("security_root")
    c["Config"]["User"] = "svc"
    ctx = FakeContext(containers={"root": c})
    out = run_check("container.user", ctx, name="root")
    assert out.reason == "uid_zero" and "'svc' is root by its uid" in out.message and "-o -u 0" in out.hint


# the Uid: lines of a root process after setresuid(10001, 10001, 0), and after setfsuid(0) as well, recorded on
# this project's kernel (python3 as root: os.setresuid, then ctypes setfsuid; /proc/self/status)
SAVED_ROOT = "Uid:\t10001\t10001\t0\t10001"
SAVED_AND_FS_ROOT = "Uid:\t10001\t10001\t0\t0"


@pytest.mark.parametrize("uid_line,shown", [
    (SAVED_ROOT, "uids real 10001, effective 10001, saved 0, filesystem 10001"),
    (SAVED_AND_FS_ROOT, "uids real 10001, effective 10001, saved 0, filesystem 0"),
])
def test_a_process_that_keeps_uid_0_as_its_saved_or_filesystem_uid_is_root(proc, uid_line, shown):
    ins = load_data("security_hard")
    status = proc / str(ins["State"]["Pid"]) / "status"
    status.write_text(status.read_text().replace("Uid:\t10001\t10001\t10001\t10001", uid_line))
    out = run("hard", "container.user")
    assert not out.passed and out.reason == "saved_root", out.message
    assert f"{shown}: the process can take root back" in out.message
    assert "--user 10001" in out.hint and "setresuid" in out.hint
    assert not run("hard", "container.user", uid=10001).passed  # the uid asked for does not excuse a saved 0


def test_user_evidence_lists_all_four_uids_and_gids(proc):
    out = run("hard", "container.user")
    assert out.evidence["uids"] == [10001] * 4 and out.evidence["gids"] == [10001] * 4


def test_user_with_another_uid_than_asked_fails_naming_both(proc):
    out = run("hard", "container.user", uid=1000)
    assert out.reason == "wrong_uid" and "uid 10001; expected uid 1000" in out.message


def test_user_never_trusts_a_cat_inside_the_container_when_the_hosts_proc_is_not_readable(tmp_path, monkeypatch):
    monkeypatch.setattr(container, "PROC", tmp_path / "nothing")
    status = load_data("security_status")["hard"]
    ctx = FakeContext(containers={"hard": load_data("security_hard")}, exec_results={"cat /proc/1/status": (0, status)})
    out = run_check("container.user", ctx, name="hard")
    assert not out.passed and out.reason == "unreadable" and not ctx.calls_to("exec")


def test_a_pid_that_is_no_longer_the_containers_is_not_read(proc):
    ins = load_data("security_hard")
    (proc / str(ins["State"]["Pid"]) / "cgroup").write_text("1:pids:/\n")  # exited, or another process now
    assert run("hard", "container.user").reason == "unreadable"


def test_user_of_a_stopped_container_fails_as_not_running(proc):
    c = load_data("security_hard")
    c["State"].update(Running=False, Status="exited", ExitCode=1, Pid=0)
    out = run_check("container.user", FakeContext(containers={"hard": c}), name="hard")
    assert out.reason == "not_running" and "exited (exit code 1)" in out.message


# --- container.capabilities ----------------------------------------------------------------
def test_caps_only_net_bind_service_passes_allowed_or_required(proc):
    assert run("hard", "container.capabilities", allow=["NET_BIND_SERVICE"]).passed
    out = run("hard", "container.capabilities", require=["cap_net_bind_service"])
    assert out.passed and "bounding set NET_BIND_SERVICE, effective empty" in out.message


def test_caps_drop_all_with_the_defaults_added_back_fails_on_the_bounding_set(proc):
    ins = load_data("security_addback")
    assert ins["HostConfig"]["CapDrop"] == ["ALL"]  # what a naive check would look at
    out = run("addback", "container.capabilities", allow=["NET_BIND_SERVICE"])
    assert out.reason == "added_back" and "adds back" in out.message and "NET_RAW" in out.message
    assert "NET_BIND_SERVICE" not in out.message.split("adds back")[1].split(":")[0]
    assert "default set again" in out.hint


def test_caps_dropping_one_or_none_fails_as_not_dropped(proc):
    out = run("nnpfalse", "container.capabilities")
    assert out.reason == "not_dropped" and "drops only NET_RAW" in out.message and "13 capabilities" in out.message
    out = run("default", "container.capabilities")
    assert out.reason == "not_dropped" and "it drops none" in out.message and "--cap-drop ALL" in out.hint


def test_caps_required_but_dropped_fails_as_missing(proc):
    out = run("root", "container.capabilities", require=["NET_BIND_SERVICE"])
    assert out.reason == "missing_cap" and "lacks NET_BIND_SERVICE" in out.message and "empty" in out.message


# --- container.no_new_privileges -------------------------------------------------------------
def test_nnp_on_passes_with_the_kernels_flag(proc):
    out = run("hard", "container.no_new_privileges")
    assert out.passed and "NoNewPrivs 1" in out.message and out.evidence["security_opt"] == ["no-new-privileges"]


def test_nnp_false_fails_as_set_false(proc):
    out = run("nnpfalse", "container.no_new_privileges")
    assert out.reason == "set_false" and "'no-new-privileges:false'" in out.message and "NoNewPrivs is 0" in out.message


def test_nnp_absent_or_misspelt_fails_as_not_set(proc):
    out = run("default", "container.no_new_privileges")
    assert out.reason == "not_set" and "--security-opt no-new-privileges" in out.hint
    c = load_data("security_default")
    c["HostConfig"]["SecurityOpt"] = ["no_new_privs"]
    out = run_check("container.no_new_privileges", FakeContext(containers={"default": c}), name="default")
    assert out.reason == "not_set" and "no_new_privs is not how Docker spells it" in out.message


def test_nnp_asked_but_not_in_the_kernel_fails_as_not_enforced(proc):
    status = load_data("security_status")["hard"].replace("NoNewPrivs:\t1", "NoNewPrivs:\t0")
    pid = load_data("security_hard")["State"]["Pid"]
    (proc / str(pid) / "status").write_text(status)
    assert run("hard", "container.no_new_privileges").reason == "not_enforced"


# --- container.read_only ---------------------------------------------------------------------
def _probe(answer):
    return lambda name, cmd, user=None, timeout=30: answer


def test_read_only_with_a_tmpfs_passes_when_the_roots_write_fails():
    out = run("hard", "container.read_only", exec_results=_probe((0, PROBE_OK)), writable=["/tmp"])
    assert out.passed and "writable: /tmp (tmpfs)" in out.message


def test_read_only_probes_as_root_in_every_folder_asked():
    ctx = ctx_for(_probe((0, PROBE_OK * 2)))
    out = run_check("container.read_only", ctx, name="hard", writable=["/tmp"], probe=["/", "/app"])
    assert out.passed
    (args, kwargs), = ctx.calls_to("exec")
    assert kwargs["user"] == "0" and args[1][-2:] == ["/", "/app"]


def test_read_only_with_a_writable_volume_over_the_code_fails_as_writable_mount():
    ins = load_data("security_volapp")
    assert ins["HostConfig"]["ReadonlyRootfs"] is True  # what a naive check would look at
    out = run("volapp", "container.read_only", writable=["/tmp"])
    assert out.reason == "writable_mount" and "/app (volume)" in out.message and "/tmp" not in out.message.split(
        "over")[1].split(";")[0]


def test_read_only_mount_tmpfs_counts_as_the_allowed_tmpfs():
    ins = load_data("security_volapp")
    ins["Mounts"] = [m for m in ins["Mounts"] if m["Destination"] != "/app"]
    ctx = FakeContext(containers={"v": ins}, exec_results=_probe((0, PROBE_OK)))
    assert run_check("container.read_only", ctx, name="v", writable=["/tmp"]).passed


def test_read_only_missing_fails_as_writable_root():
    out = run("default", "container.read_only", writable=["/tmp"])
    assert out.reason == "writable_root" and "--read-only --tmpfs /tmp" in out.hint


def test_read_only_where_the_roots_write_succeeds_fails_as_wrote():
    out = run("hard", "container.read_only", exec_results=_probe((0, "WROTE /\n")), writable=["/tmp"])
    assert out.reason == "wrote" and "a write as root in / of s-hard succeeded" in out.message


def test_read_only_where_the_probe_cannot_run_fails_as_probe_failed():
    out = run("hard", "container.read_only", exec_results=_probe((127, "sh: not found\n")), writable=["/tmp"])
    assert out.reason == "probe_failed" and "sh: not found" in out.message

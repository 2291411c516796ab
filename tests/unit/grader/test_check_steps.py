"""The named steps the hardest checks are made of, each on its own (the checks' end-to-end cases are in
test_container_checks.py)."""

from __future__ import annotations

from grader.checks import container as c
from grader.checks import container_mounts as mnt
from grader.checks import container_namespaces as ns


# --- container.namespace ------------------------------------------------------------------------
def test_the_observed_namespace_comes_from_the_kernels_links_when_readable():
    peers = [("db", "net:[2]")]
    assert ns._ns_observed("private", "net:[1]", "net:[1]", peers) == ("host", "net:[1]", None)
    assert ns._ns_observed("private", "net:[2]", "net:[1]", peers) == ("shared", "net:[2]", "db")
    assert ns._ns_observed("shared", "net:[3]", "net:[1]", peers) == ("private", "net:[3]", None)


def test_without_the_links_the_configuration_is_trusted():
    assert ns._ns_observed("shared", None, None, [("db", None)]) == ("shared", "unknown", "db")
    assert ns._ns_observed("host", None, None, []) == ("host", "unknown", None)


def test_the_hint_depends_on_what_was_asked_and_what_went_wrong():
    want, hint = ns._ns_wanted("net", "shared", "web", "private", "", None, "db")
    assert want == "shared with db" and "--network container:db" in hint
    want, hint = ns._ns_wanted("pid", "host", "web", "private", "", "pid:[1]", "x")
    assert want == "host (pid:[1])" and "--pid host" in hint
    assert "--cgroupns private" in ns._ns_wanted("cgroup", "private", "web", "host", "host", None, "x")[1]
    assert "--userns-remap" in ns._ns_wanted("user", "private", "web", "host", "host", None, "x")[1]
    assert "remove --ipc host" in ns._ns_wanted("ipc", "private", "web", "host", "host", None, "x")[1]
    assert "but the kernel shows another one" in ns._ns_wanted("uts", "private", "web", "private", "", None, "x")[1]


# --- container.limits ----------------------------------------------------------------------------
def test_a_limit_not_set_set_otherwise_or_not_enforced_is_told_apart():
    from grader.checks import container_limits as L

    mib = 1024 * 1024
    assert L._limit_problem("memory", 64 * mib, None, {})[0] == "no_limit"
    assert L._limit_problem("memory", 64 * mib, 64 * mib + 100, {}) is None  # whole pages
    reason, text = L._limit_problem("pids", 50, 100, {"pids": 100, "files": {}})
    assert reason == "wrong_value" and "process limit is 100" in text
    reason, text = L._limit_problem("pids", 50, 50, {"pids": L.UNLIMITED, "files": {"pids": "/x/pids.max"}})
    assert reason == "not_enforced" and "/x/pids.max" in text
    # cgroup v2 enforces --cpu-shares as cpu.weight: the converted value is the same limit
    assert L._limit_problem("cpu_shares", 512, 512, {"cpu_weight": L.shares_to_weight(512), "files": {}}) is None


def test_the_limits_hint_gives_the_flags_of_what_is_wrong():
    from grader.checks import container_limits as L

    hint = L._limits_hint("web", "wrong_value", ["memory", "pids"], {"memory": "64m", "pids": 50})
    assert "docker run --memory 64m --pids-limit 50" in hint and "docker update --memory 64m --pids-limit 50 web" in hint
    assert "docker restart web" in L._limits_hint("web", "not_enforced", [], {})
    assert L._wanted_limits("64m", None, None, None, None, "-1") == {"memory": 64 * 1024 * 1024,
                                                                      "memory_swap": L.UNLIMITED}


# --- container.port ------------------------------------------------------------------------------
def _ins(ports=None, exposed=None):
    return {"NetworkSettings": {"Ports": ports or {}}, "Config": {"ExposedPorts": exposed or {}}}


def test_a_port_published_the_wrong_way_round_is_named_as_such():
    from grader.checks import container_ports as P

    everything = [("18080/tcp", "127.0.0.1", "8080")]  # -p 8080:18080 when 18080:8080 was meant
    o = P._not_published(_ins(), "web", "8080/tcp", 8080, 18080, everything, {"bindings": []})
    assert o.reason == "reversed" and "-p 18080:8080" in o.hint


def test_an_only_exposed_port_is_told_from_one_never_mentioned():
    from grader.checks import container_ports as P

    o = P._not_published(_ins(exposed={"8080/tcp": {}}), "web", "8080/tcp", 8080, None, [], {"bindings": []})
    assert o.reason == "not_published" and "(it is only exposed)" in o.message and "-p HOST:8080" in o.hint
    o = P._not_published(_ins(), "web", "8080/tcp", 8080, None, [], {"bindings": []})
    assert "only exposed" not in o.message and "published: nothing" in o.message


def test_a_tcp_probe_of_a_closed_port_fails_with_the_listen_hint(monkeypatch):
    import socket
    import time

    from grader.checks import container_ports as P

    with socket.socket() as s:  # a port of 127.0.0.1 that nothing listens on
        s.bind(("127.0.0.1", 0))
        free = s.getsockname()[1]

    monkeypatch.setattr(P, "_log_tail", lambda ctx, name, lines=5: "listening on 127.0.0.1:8080")
    o = P._probe_tcp(None, "web", "8080/tcp", 8080, str(free), time.monotonic() + 0.5, {})
    assert not o.passed and o.reason == "no_answer" and "0.0.0.0" in o.hint and "listening on 127.0.0.1" in o.hint


def test_the_bindings_looked_at_are_those_in_force_while_it_runs_else_those_configured():
    from grader.checks import container_ports as P

    running = {"80/tcp": [{"HostIp": "0.0.0.0", "HostPort": "8080"}]}
    ins = {"State": {"Running": True}, "NetworkSettings": {"Ports": running},
           "HostConfig": {"PortBindings": {"80/tcp": [{"HostIp": "", "HostPort": ""}]}}}
    assert P._current_bindings(ins, "80/tcp") == [("0.0.0.0", "8080")]
    assert P._current_bindings({**ins, "State": {"Running": False}}, "80/tcp") == [("", "")]
    assert P._shown_bindings(P._all_bindings(ins)) == ["*:random->80/tcp", "0.0.0.0:8080->80/tcp"]


def test_the_port_probed_is_the_one_asked_for_or_the_first_docker_bound():
    from grader.checks import container_ports as P

    binds = [("", ""), ("0.0.0.0", "32768")]
    assert P._host_port_to_probe(binds, None) == "32768" and P._host_port_to_probe(binds, 8080) == "8080"
    assert P._host_port_to_probe([("", "")], None) is None
    assert P._on_host_port(binds, 32768) and not P._on_host_port(binds, 8080)
    o = P._wrong_host_port("web", "80/tcp", 80, 8080, binds, {})
    assert "published on host port a random port, 32768; expected host port 8080" in o.message
    assert "-p 8080:80" in o.hint
    assert P._published("web", "80/tcp", binds, {}).message.endswith("host port random, 32768")


# --- spec.parse ----------------------------------------------------------------------------------
def _problems(step, *args):
    found = []
    step(*args, found.append)
    return [text for _line, text in found]


def test_the_top_level_is_checked_for_keys_version_id_and_title():
    from grader import spec

    got = _problems(spec._check_top, {"schema_version": 7, "id": "", "titel": "x"})
    assert any("unknown key 'titel'" in t for t in got) and any("schema_version 7" in t for t in got)
    assert any("'id'" in t for t in got) and any("'title'" in t for t in got)
    assert _problems(spec._check_top, {"schema_version": 1, "id": "a", "title": "b"}) == []


def test_settings_tasks_and_the_submission_base_each_report_their_own_problems(tmp_path):
    from grader import spec

    assert any("unknown setting 'speed'" in t for t in _problems(spec._check_settings, {"speed": 1}))
    found = []
    task = spec._parse_task({"title": "no id"}, 3, {}, {}, set(), found.append)
    assert task.id == "task3" and [t for _l, t in found] == ["task without an 'id'", "task 'task3' has no checks"]
    assert spec._parse_task("oops", 1, {}, {}, set(), found.append) is None
    (tmp_path / "starter").mkdir()
    assert spec._submission_base({"submission": {"base": "starter"}}, tmp_path / "lab.yaml", found.append) == \
        tmp_path / "starter"
    assert any("not a directory" in t for t in _problems(
        lambda add: spec._submission_base({"submission": {"base": "gone"}}, tmp_path / "lab.yaml", add)))


# --- container.mount -----------------------------------------------------------------------------
def test_tmpfs_mounts_are_counted_though_inspect_lists_them_apart():
    ins = {"Mounts": [{"Type": "volume", "Destination": "/data", "Name": "notes"}],
           "HostConfig": {"Tmpfs": {"/tmp": "rw,size=64m", "/cache": "ro"}}}
    got = {m["Destination"]: (m["Type"], m.get("RW")) for m in mnt._mounts(ins)}
    assert got == {"/data": ("volume", None), "/tmp": ("tmpfs", True), "/cache": ("tmpfs", False)}


def test_the_flag_asked_for_is_what_the_hints_show():
    assert mnt._mount_flag("volume", "/data", "notes", None, True) == "-v notes:/data:ro"
    assert mnt._mount_flag("tmpfs", "/tmp", None, None, True) == "--tmpfs /tmp"
    assert mnt._mount_flag(None, "/x", None, None, None) == "-v SOURCE:/x"


def test_a_mount_problem_names_type_source_and_mode_in_that_order(tmp_path):
    class Ctx:
        def path(self, rel):
            return tmp_path / rel

    (tmp_path / "config").mkdir()
    bind = {"Type": "bind", "Source": str(tmp_path / "config"), "RW": True}
    assert mnt._mount_problem(Ctx(), bind, "volume", "notes", None, None, "-v notes:/c")[0] == "wrong_type"
    assert mnt._mount_problem(Ctx(), bind, "bind", None, "./config", None, "-v ./config:/c") is None
    assert mnt._mount_problem(Ctx(), bind, "bind", None, "other", None, "-v other:/c")[0] == "wrong_source"
    assert mnt._mount_problem(Ctx(), bind, "bind", None, "config", True, "-v config:/c:ro")[0] == "writable"
    vol = {"Type": "volume", "Name": "a" * 64, "RW": False}
    assert mnt._mount_problem(Ctx(), vol, "volume", "notes", None, None, "-v notes:/d")[0] == "wrong_source"
    assert mnt._mount_problem(Ctx(), {**vol, "Name": "notes"}, "volume", "notes", None, False, "")[0] == "read_only"


# --- a container just started: settled before "running" counts ------------------------------------
def _state(started: float, running: bool = True) -> dict:
    import datetime

    when = datetime.datetime.fromtimestamp(started, datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f")
    return {"Id": "c" * 64, "State": {"Running": running, "Status": "running" if running else "exited",
                                      "StartedAt": when + "123Z", "Pid": 4242 if running else 0}}


def test_a_container_started_a_moment_ago_is_looked_at_again_after_it_settled(monkeypatch):
    import time

    slept = []
    monkeypatch.setattr(c.time, "sleep", slept.append)

    class Ctx:
        def container(self, name):
            return _state(time.time() - 5, running=False)  # by then its command has ended

    now = _state(time.time() - 0.5)
    assert c.settled(Ctx(), now, "worker")["State"]["Running"] is False
    assert 1.0 < slept[0] <= c.SETTLE_SECONDS
    old = _state(time.time() - 60)
    assert c.settled(Ctx(), old, "worker") is old and len(slept) == 1  # up for long: taken as it is


def test_an_exiting_process_in_the_root_cgroup_is_not_read_as_the_containers_limits(monkeypatch, tmp_path):
    from grader.checks import container_limits as L

    (tmp_path / "4242").mkdir()
    (tmp_path / "4242" / "cgroup").write_text("4:cpu,cpuacct:/\n3:pids:/\n")  # what an exiting task shows
    monkeypatch.setattr(L, "PROC", tmp_path)
    assert L._enforced_limits(_state(0)) == {}


# --- container.written_by_others -----------------------------------------------------------------
def test_the_hosts_read_are_the_commands_non_blank_lines_and_a_failed_read_ends_the_check():
    import pytest

    from grader.checks import provenance as P
    from grader.checks.base import Failed

    from .fakes import FakeContext

    hosts, evidence = P._hosts_read(FakeContext(exec_results=[(0, "a\n\n  b \n")]), "web", ["sqlite3", "q"])
    assert hosts == ["a", "b"] and evidence == {"command": "sqlite3 q", "exit_code": 0, "hosts": ["a", "b"]}
    with pytest.raises(Failed) as failed:
        P._hosts_read(FakeContext(exec_results=[(1, "no such table")]), "web", "select")
    assert failed.value.outcome.reason == "wrong_exit_code" and "docker exec web select" in failed.value.outcome.hint
    with pytest.raises(Failed) as failed:
        P._hosts_read(FakeContext(exec_results=[(0, "\n")]), "web", "select")
    assert failed.value.outcome.reason == "no_records"


def test_the_writers_are_the_other_containers_the_daemon_mounted_the_volume_into():
    from grader.checks import provenance as P

    from .fakes import FakeContext

    def mount(cid):
        return {"Type": "volume", "Action": "mount", "Actor": {"Attributes": {"container": cid}}}

    me, a, b = "m" * 64, "a" * 64, "b" * 64
    ctx = FakeContext(daemon_events=[mount(a), mount(me), mount(a), {"Actor": {}}, mount(b)])
    assert P._mounted_by(ctx, "notes", me) == [a, b]
    alive = {"Id": b, "Name": "/v1", "Config": {"Hostname": "notes-v1"}}
    writers = P._writers_by_hostname(FakeContext(containers={b: alive}), [a, b])
    assert writers == {"a" * 12: (a, None), "b" * 12: (b, alive), "notes-v1": (b, alive)}


def test_hosts_are_split_into_writers_records_and_strangers():
    from grader.checks import provenance as P

    got = P._by_writer_and_strangers(["w", "x", "me", "w", "a", "x"], {"w": ("id", None)}, "me")
    assert got == (["w", "w"], ["a", "x"])


def test_records_by_no_writer_are_told_typed_in_from_the_readers_own():
    from grader.checks import provenance as P

    typed = P._none_by_a_writer("v2", "notes", ["x", "x"], "own", ["a" * 64], ["x"], {})
    assert typed.reason == "not_a_writer" and "(x)" in typed.message and "aaaaaaaaaaaa" in typed.message
    own = P._none_by_a_writer("v2", "notes", ["own"], "own", ["a" * 64], [], {})
    assert own.reason == "own_records" and "written by v2 itself (own)" in own.message


# --- container.state -----------------------------------------------------------------------------
def test_an_exit_code_or_an_oom_kill_asked_for_means_exited():
    assert c._wanted_status("running", 0, None) == "exited"
    assert c._wanted_status("running", None, True) == "exited"
    assert c._wanted_status("running", None, False) == "running"
    assert c._wanted_status("paused", 3, None) == "paused"
    assert c._memory_limit({"HostConfig": {"Memory": 64 * 1024 * 1024}}) == (64 * 1024 * 1024, "64 MiB")
    assert c._memory_limit({}) == (0, "none")


def test_a_wrong_status_is_told_never_started_stopped_still_running_or_other():
    from .fakes import FakeContext

    ctx = FakeContext(logs={"web": "booting\nno config: exiting\n"})

    def ins(status, **st):
        return {"Name": "/web", "State": {"Status": status, "ExitCode": 1, **st}}

    def wrong(status, actual, **st):
        return c._wrong_status(ctx, ins(actual, **st), "web", status, "64 MiB", {"status": actual})

    assert wrong("running", "created").reason == "not_started"
    stopped = wrong("running", "exited")
    assert stopped.reason == "not_running" and "'no config: exiting'" in stopped.hint
    assert "ran out of memory (limit 64 MiB)" in wrong("running", "exited", OOMKilled=True).hint
    assert wrong("exited", "running").reason == "still_running"
    assert wrong("paused", "exited").reason == "wrong_status"


def test_an_exit_137_without_the_flag_is_judged_by_the_daemons_events_only_when_asked():
    class Ctx:
        def container_events(self, cid, since):
            return {"oom": 1}

    killed = {"Id": "c" * 64, "State": {"ExitCode": 137, "OOMKilled": False}}
    evidence = {}
    assert c._oom_killed(Ctx(), killed, 0, None, evidence) is False and evidence == {}
    assert c._oom_killed(Ctx(), killed, 0, True, evidence) is True and "oom event" in evidence["oom_evidence"]
    assert c._oom_killed(None, {"State": {"OOMKilled": True}}, 0, False, {}) is True


def test_the_oom_and_exit_code_failures_quote_the_limit_and_the_codes():
    o = c._oom_mismatch("job", 0, True, 64, "64 B", {})
    assert o.reason == "not_oom_killed" and "(exit code 0, memory limit 64 B)" in o.message
    assert "--memory-swap" in o.hint
    assert "--memory-swap" not in c._oom_mismatch("job", 0, True, 0, "none", {}).hint
    assert c._oom_mismatch("job", 137, False, 64, "64 B", {}).reason == "oom_killed"

    from .fakes import FakeContext

    o = c._wrong_exit_code(FakeContext(logs={"job": "done\n"}), "job", 3, [0, 143], {})
    assert "expected exit code 0 or 143" in o.message and "'done'" in o.hint and o.evidence == {"log_tail": "done"}


# --- dockerfile.exec_form and dockerfile.shell_pitfalls --------------------------------------------
def _instrs(*lines):
    from grader.checks.dockerfile import Instr

    return [Instr(text.split()[0], n, text, text.split(" ", 1)[1]) for n, text in enumerate(lines, 1)]


def test_a_cmd_replaced_later_in_its_stage_is_noted_but_not_one_in_another_stage():
    from grader.checks import dockerfile_instructions as DI

    instrs = _instrs("FROM a", "CMD x", "CMD y", "FROM b", "CMD z")
    assert DI._replaced_note(instrs, 1) == " (the CMD on line 3 replaces it, so it has no effect anyway)"
    assert DI._replaced_note(instrs, 2) == "" and DI._replaced_note(instrs, 4) == ""


def test_each_wrong_exec_form_has_its_finding_and_the_worst_is_the_reason():
    from grader.checks import dockerfile_instructions as DI

    shell, bad_json, one, good = _instrs('CMD python3 app.py', "CMD ['a', 'b']", 'CMD ["python3 app.py"]',
                                         'CMD ["python3", "app.py"]')
    assert DI._exec_form_finding(shell, "")["reason"] == "shell_form"
    assert 'CMD ["python3", "app.py"]' in DI._exec_form_finding(shell, "")["message"]
    assert DI._exec_form_finding(bad_json, " (note)")["message"].endswith("double quotes (note)")
    assert DI._exec_form_finding(one, "")["reason"] == "single_string_exec"
    assert DI._exec_form_finding(good, "") is None
    o = DI._exec_form_failure([DI._exec_form_finding(shell, ""), DI._exec_form_finding(one, "")])
    assert o.reason == "single_string_exec" and o.hint.index("split the command") < o.hint.index("JSON array")
    assert DI._exec_form_passed([], ["CMD"], "Dockerfile").message == "no CMD in Dockerfile: nothing to check"


def test_a_pitfall_is_a_source_in_sh_or_an_export_or_cd_nothing_after_uses():
    from grader.checks import dockerfile_instructions as DI

    (run,) = _instrs("RUN x")
    assert DI._pitfall(run, ["source", "env"], False, bash=False)[0] == "run_source"
    assert DI._pitfall(run, ["source", "env"], False, bash=True) is None
    assert DI._pitfall(run, ["export", "A=1"], False, False)[0] == "run_export"
    assert DI._pitfall(run, ["cd", "/app"], True, False) is None
    (cd_then,) = _instrs("RUN cd /app && make")
    (cd_only,) = _instrs("RUN export A=1 && cd /app")
    assert DI._run_pitfalls(cd_then, False) == []
    assert [f[0] for f in DI._run_pitfalls(cd_only, False)] == ["run_export", "run_cd"]


def test_the_shell_in_force_is_the_last_shell_instruction_before_the_run():
    from grader.checks import dockerfile as D
    from grader.checks import dockerfile_instructions as DI

    stage = D.Stage(0, "debian", None, _instrs("RUN source a", 'SHELL ["/bin/bash", "-c"]', "RUN source b",
                                               'SHELL ["/bin/sh", "-c"]', 'RUN ["source", "c"]'))
    assert [(r, i.line) for r, i, _ in DI._stage_pitfalls(stage)] == [("run_source", 1)]
    assert DI._is_bash_like(stage.instrs[1]) and not DI._is_bash_like(stage.instrs[3])


# --- daemon.labeled ------------------------------------------------------------------------------
def test_labels_read_from_info_join_those_given_with_the_field_they_come_from():
    from grader.checks import daemon as d

    class Ctx:
        def info(self):
            return {"DockerRootDir": "/srv/docker", "Swarm": {"NodeID": ""}}

    labels, read = d._wanted_labels(Ctx(), {"lab": "x", "root": "typed"},
                                    {"root": "DockerRootDir", "node": "Swarm.NodeID", "gone": "NoSuchField"})
    assert labels == {"lab": "x", "root": "/srv/docker", "node": "", "gone": ""}
    assert list(labels) == ["lab", "root", "node", "gone"]  # a given label read from /info keeps its place
    assert read == {"root": "DockerRootDir", "node": "Swarm.NodeID", "gone": "NoSuchField"}
    assert d._wanted_labels(None, None, None) == ({}, {})


def test_label_values_compare_as_text_and_a_missing_or_wrong_one_says_how_to_set_it():
    from grader.checks import daemon as d

    assert d._wrong_values({"a": 1, "b": None, "c": "x", "d": "y"}, {"a": "1", "b": "any", "c": "z"}) == ["c"]
    o = d._missing_labels("volume", "notes", ["lab"], {"lab": None}, {"other": "1"}, {})
    assert o.reason == "missing_label" and "its labels: other=1" in o.message and "lab=VALUE" in o.hint
    o = d._wrong_labels("image", "web", ["root"], {"root": "/srv"}, {"root": "/x"}, {"root": "DockerRootDir"}, {})
    assert o.reason == "wrong_value" and "(what GET /info reports as DockerRootDir now)" in o.message


# --- container.file_from -------------------------------------------------------------------------
def test_a_writer_that_is_gone_ends_the_file_check_with_the_keep_it_hint():
    import pytest

    from grader.checks import provenance as P
    from grader.checks.base import Failed

    from .fakes import FakeContext

    with pytest.raises(Failed) as failed:
        P._writer(FakeContext(), "producer", "/out/r.txt")
    assert failed.value.outcome.reason == "no_writer" and "only docker rm deletes it" in failed.value.outcome.hint


def test_the_file_is_read_with_its_ctime_and_judged_against_the_writers_life():
    from grader.checks import provenance as P

    from .fakes import FakeContext

    ctx = FakeContext(exec_results=[(0, "2026-12-01 10:00:00.5 +0000\nline 1\nline 2\n")])
    code, _out, changed, text = P._read_with_ctime(ctx, "consumer", "/out/r.txt")
    assert (code, changed, text) == (0, P.iso_ns("2026-12-01T10:00:00.5Z"), "line 1\nline 2")
    assert P._read_with_ctime(FakeContext(exec_results=[(1, "No such file")]), "c", "/x")[2] is None
    created, finished = P.iso_ns("2026-12-01T10:00:00Z"), P.iso_ns("2026-12-01T10:00:01Z")
    gone = {"Created": "2026-12-01T10:00:00Z", "State": {"Running": False, "FinishedAt": "2026-12-01T10:00:01Z"}}
    assert P._life(gone) == (created, finished)
    assert P._life({**gone, "State": {**gone["State"], "Running": True}}) == (created, None)
    assert not P._outside(created + 1, created, finished) and P._outside(finished + 1, created, finished)
    assert not P._outside(finished + 1, created, None) and P._outside(created, None, None)
    assert P._window(created, None) == "10:00:00.000 to now"

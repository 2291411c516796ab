"""The check service's refusals: who may ask, and what may be asked (no daemon needed to refuse)."""

from __future__ import annotations

import json
import os
import socket
from types import SimpleNamespace

import pytest

from grader import service
from grader.result import CheckResult, Report

BOX = SimpleNamespace(cfg=SimpleNamespace(cgroup_name="dockyard-unit-test"))


def test_service_refuses_other_users_and_bad_requests(tmp_path):
    svc = service.CheckService(BOX, tmp_path / "c.sock", roots=[tmp_path], uid=65534)
    svc.start()
    try:
        def ask(req: bytes) -> dict:
            with socket.socket(socket.AF_UNIX) as s:
                s.connect(str(svc.socket))
                s.sendall(req + b"\n")
                return json.loads(s.makefile("rb").readline() or b"{}")
        assert "not JSON" in ask(b"{nope")["error"]
        assert "no lab called" in ask(json.dumps({"lab": "/etc/passwd"}).encode())["error"]
        assert "outside your work folder" in ask(json.dumps({"lab": "05-dockerfile", "submission": "/"}).encode())["error"]
        assert "not in one of your sandbox" in ask(json.dumps({"op": "namespaces", "pid": 1}).encode())["error"]
        assert "too large" in ask(b"x" * (service.MAX_REQUEST + 10))["error"]
        pid = os.fork()
        if pid == 0:  # another unprivileged user: gets no answer at all
            try:
                os.setgid(65533)
                os.setuid(65533)
                with socket.socket(socket.AF_UNIX) as s:
                    s.connect(str(svc.socket))
                os._exit(3)  # connected to a 0600 socket of another uid: a failure
            except PermissionError:
                os._exit(0)
            except BaseException:
                os._exit(4)
        assert os.waitpid(pid, 0)[1] >> 8 == 0
    finally:
        svc.close()
    assert not svc.socket.exists()


@pytest.mark.parametrize("pid", [True, -1, "1", None])
def test_service_namespaces_wants_a_pid(tmp_path, pid):
    svc = service.CheckService(BOX, tmp_path / "n.sock", roots=[tmp_path], uid=65534)
    assert "process id" in svc.answer(json.dumps({"op": "namespaces", "pid": pid}).encode())["error"]


def test_report_survives_the_trip(tmp_path):
    r = Report(lab="05-dockerfile", title="Lab 05", tasks=(("build", "Build it"),), results=(
        CheckResult(id="a", title="builds", points=1, max_points=2, passed=False, message="m", hint="h", task="build"),
        CheckResult(id="b", title="secret", points=0, max_points=1, passed=False, message="leak", hidden=True,
                    task="build", evidence={"x": 1})))
    back = Report.from_dict(json.loads(json.dumps(r.to_dict(reveal_hidden=False))))
    assert (back.score, back.total, back.tasks) == (r.score, r.total, r.tasks)
    assert back.results[0] == r.results[0]
    assert back.results[1].title == "hidden check" and back.results[1].message == "" and back.results[1].evidence == {}


def test_submission_must_be_inside_the_work_folder(tmp_path):
    (tmp_path / "work" / "lab").mkdir(parents=True)
    (tmp_path / "work" / "out").symlink_to("/etc")
    roots = [tmp_path / "work"]
    assert service.inside(str(tmp_path / "work" / "lab"), roots) == (tmp_path / "work" / "lab").resolve()
    for bad in ("/etc", str(tmp_path / "work" / "out"), str(tmp_path / "workx"), "work/lab"):
        with pytest.raises(service.Refused):
            service.inside(bad, roots)

"""The kernel's side of the check service: one JSON line out, one back; refusals and silence as clear errors."""

from __future__ import annotations

import json
import socket
import threading

import pytest

from dockyard import service_client as sc


def serve_once(path, answer: bytes | None):
    srv = socket.socket(socket.AF_UNIX)
    srv.bind(str(path))
    srv.listen(1)
    got = []

    def run():
        conn, _ = srv.accept()
        with conn, conn.makefile("rb") as fh:
            got.append(json.loads(fh.readline()))
            if answer is not None:
                conn.sendall(answer)
        srv.close()

    t = threading.Thread(target=run, daemon=True)
    t.start()
    return got, t


def test_a_namespaces_request_and_its_answer(tmp_path, monkeypatch):
    path = tmp_path / "check.sock"
    got, t = serve_once(path, b'{"namespaces": {"net": "4026532301"}}\n')
    monkeypatch.setenv(sc.ENV, str(path))
    assert sc.available()
    assert sc.namespaces(1234, timeout=5) == {"net": "4026532301"}
    t.join(5)
    assert got == [{"op": "namespaces", "pid": 1234}]


def test_a_refusal_and_a_silent_service_are_service_errors(tmp_path, monkeypatch):
    path = tmp_path / "check.sock"
    serve_once(path, b'{"error": "process 1 is not in one of your sandbox\'s containers", "hint": "pass a PID"}\n')
    monkeypatch.setenv(sc.ENV, str(path))
    with pytest.raises(sc.ServiceError, match="not in one of your sandbox") as err:
        sc.ask({"op": "namespaces", "pid": 1}, timeout=5)
    assert err.value.fix == "pass a PID"
    path2 = tmp_path / "quiet.sock"
    serve_once(path2, None)
    monkeypatch.setenv(sc.ENV, str(path2))
    with pytest.raises(sc.ServiceError, match="closed the connection"):
        sc.ask({"op": "x"}, timeout=5)


def test_no_service_is_not_available_and_a_dead_socket_says_so(tmp_path, monkeypatch):
    monkeypatch.delenv(sc.ENV, raising=False)
    assert not sc.available()
    monkeypatch.setenv(sc.ENV, str(tmp_path / "gone.sock"))
    with pytest.raises(sc.ServiceError, match="does not answer"):
        sc.ask({"op": "x"}, timeout=1)

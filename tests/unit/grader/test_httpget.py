"""The checks' GETs (grader.checks.httpget: compose.serves, compose.survives_restart, container.port, image.serves)
against a peer that answers too slowly, too much, or elsewhere.

A socket timeout bounds one read only: a server that sends a byte every fraction of a second keeps each read
short and its answer endless. The checks have one time budget for all their GETs and read at most 64 KiB; these
tests give them a small budget and look at what they say, never at how long they took."""

from __future__ import annotations

import contextlib
import socket
import threading
import time

import pytest

from grader.checks import compose, httpget

from .fakes import run_check
from .test_compose_checks import P, ctx_of, published


@pytest.fixture(autouse=True)
def no_settling(monkeypatch):
    monkeypatch.setattr(compose, "SETTLE", 0)  # the recorded containers are up already
    monkeypatch.setattr(compose, "WAIT", 0)


@contextlib.contextmanager
def peer(answer_with):
    """A TCP server on 127.0.0.1 (a free port, a thread) that calls ``answer_with(conn, stop)`` per connection."""
    srv = socket.create_server(("127.0.0.1", 0))
    srv.settimeout(0.1)
    stop = threading.Event()

    def serve():
        while not stop.is_set():
            try:
                conn, _ = srv.accept()
            except socket.timeout:
                continue
            with conn, contextlib.suppress(OSError):
                answer_with(conn, stop)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield srv.getsockname()[1]
    finally:
        stop.set()
        thread.join(5)
        srv.close()


def trickle(conn, stop):
    """A status line, a header, then one byte every 0.1 s for as long as the client listens."""
    conn.recv(4096)
    for byte in b"HTTP/1.1 200 OK\r\nX-Slow: " + b"a" * 100_000:
        if stop.is_set():
            return
        conn.sendall(bytes([byte]))
        time.sleep(0.1)


def huge_headers(conn, stop):
    """A 200 whose headers go on for 90 KB: short lines, each under http.client's own limits."""
    conn.recv(4096)
    conn.sendall(b"HTTP/1.1 200 OK\r\n" + b"".join(b"X-%d: %s\r\n" % (i, b"b" * 900) for i in range(99)))
    stop.wait(5)


def test_a_trickling_peer_gets_no_more_than_the_budget():
    with peer(trickle) as port:
        status, text = compose._get(port, "/", httpget.Budget(1.0))
    assert (status, text) == (None, "no full answer within 1 s")


def test_an_answer_longer_than_64_kib_is_not_read_to_its_end():
    with peer(huge_headers) as port:
        status, text = compose._get(port, "/", httpget.Budget(30.0))
    assert (status, text) == (None, "an answer longer than 64 KiB")


def test_serves_fails_on_a_trickling_peer_with_its_budget_named(monkeypatch):
    monkeypatch.setattr(compose, "HTTP_BUDGET", 1.0)
    with peer(trickle) as port:
        r = run_check("compose.serves", ctx_of("compose_solution", published(port)), service="web",
                      container_port=8000, **P)
    assert not r.passed and r.reason == "bad_answer" and "answered nothing: 'no full answer within 1 s'" in r.message


def test_survives_restart_stops_at_its_budget_before_restarting_anything(monkeypatch):
    monkeypatch.setattr(compose, "HTTP_BUDGET", 1.0)
    with peer(trickle) as port:
        ctx = ctx_of("compose_solution", published(port))
        r = run_check("compose.survives_restart", ctx, service="web", db="db", container_port=8000, **P)
    assert not r.passed and r.reason == "bad_answer"
    assert "gave no count before the restart: 'no full answer within 1 s'" in r.message


def test_one_budget_is_shared_by_every_get_of_a_check():
    budget = httpget.Budget(10.0)
    first = budget.share(1.0)
    assert first.seconds == 1.0 and first.ends <= budget.ends and first.left() <= 1.0
    assert httpget.Budget(5.0, ends=time.monotonic() - 1).left() == 0.0


@pytest.mark.parametrize("answer", [b"HTTP/1.0 200 OK\r\n\r\nVisits: 3\n",
                                    b"HTTP/1.1 200 OK\r\nContent-Length: 9\r\n\r\nVisits: 3",
                                    b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n9\r\nVisits: 3\r\n0\r\n\r\n"])
def test_an_honest_answer_is_read_as_before(answer):
    def send(conn, stop):
        conn.recv(4096)
        conn.sendall(answer)

    with peer(send) as port:
        assert compose._get(port, "/", httpget.Budget(10.0)) == (200, "Visits: 3")


def test_a_path_with_control_characters_is_not_sent():
    status, text = compose._get(1, "/x\r\nX-Injected: 1", httpget.Budget(0.1))
    assert status is None and text.startswith("InvalidURL: URL can't contain control characters")


def test_the_port_checks_probe_stops_at_its_deadline_on_a_trickling_peer():
    from grader.checks import container_ports

    with peer(trickle) as port:
        status, text = container_ports._http_probe(port, "/", time.monotonic() + 1.0)
    assert status is None and text.startswith("no full answer within")


def test_a_redirect_is_an_answer_not_a_request_elsewhere():
    """A learner's server that answers 302 to another address gets its 302 quoted: nothing is sent there."""
    asked = []

    def redirect(conn, stop):
        asked.append(conn.recv(4096).split(b"\r\n")[0])
        conn.sendall(b"HTTP/1.1 302 Found\r\nLocation: http://192.0.2.1/\r\nContent-Length: 0\r\n\r\n")

    with peer(redirect) as port:
        status, body = httpget.get_once(port, "/", httpget.Budget(5.0), 300)
    assert (status, body) == (302, b"") and asked == [b"GET / HTTP/1.1"]

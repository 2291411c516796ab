"""Lesson 04's helpers (dockyard.notebook.containers): the lifecycle's arrows, what /proc says about a
process's SIGTERM, the pty driver, the port probe and the ID prefixes. Real processes, a real
pseudo-terminal and a real HTTP server on 127.0.0.1; no Docker."""

from __future__ import annotations

import http.server
import os
import socket
import subprocess
import sys
import threading
import time

import pytest

from dockyard.notebook import containers as nc


# --- the lifecycle diagram ------------------------------------------------------------------------
def test_every_docker_state_has_a_box_and_every_arrow_joins_two_boxes():
    assert set(nc.STATES) | {"removed"} == set(nc.BOXES)
    for a, b in nc.ARROWS:
        assert (a is None or a in nc.BOXES) and b in nc.BOXES
    reachable = {b for _a, b in nc.ARROWS}
    assert reachable == set(nc.BOXES), "every state is entered by some arrow"


@pytest.mark.parametrize("before, after, path", [
    (None, "created", [(None, "created")]),
    ("running", "paused", [("running", "paused")]),
    ("exited", "removed", [("exited", "removing"), ("removing", "removed")]),       # one docker rm
    ("running", "removed", [("running", "removing"), ("removing", "removed")]),     # docker rm -f
    ("running", "running", []),
    ("paused", "dead", []),                                                          # no such way
])
def test_the_arrows_taken_between_two_observed_states(before, after, path):
    assert nc.path_between(before, after) == path


def test_the_diagram_draws_each_state_with_its_arrows(monkeypatch):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    shown = []
    monkeypatch.setattr(plt, "show", lambda: shown.append(plt.gcf()))
    life = nc.Lifecycle("x", client=None)
    for state in nc.BOXES:
        life.draw(state, nc.path_between("running", state), "test")
    assert len(shown) == len(nc.BOXES)
    fig = shown[-1]
    texts = {t.get_text() for t in fig.axes[0].texts}
    assert set(nc.BOXES) <= texts and "removal failed" in texts
    plt.close("all")


# --- SIGTERM as /proc tells it ----------------------------------------------------------------------
def _until(pred, budget=10.0):
    deadline = time.monotonic() + budget
    while not pred() and time.monotonic() < deadline:
        time.sleep(0.02)


@pytest.mark.parametrize("code, expected", [
    ("import time; time.sleep(60)", "no handler: as PID 1, the kernel drops it"),
    ("import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); print('ready', flush=True); time.sleep(60)",
     "ignores it"),
    ("import signal, time; signal.signal(signal.SIGTERM, lambda *a: None); print('ready', flush=True); time.sleep(60)",
     "has a handler"),
    ("import signal; signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGTERM}); print('ready', flush=True); "
     "signal.sigwait({signal.SIGTERM})", "waits for signals (sigtimedwait)"),
])
def test_term_handling_reads_the_signal_masks_of_a_process(code, expected):
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    try:
        if "ready" in code:
            assert proc.stdout.readline().strip() == "ready"
        if "sigwait" in code:      # until it sleeps in the kernel: on the way in, it is neither blocked nor waiting
            _until(lambda: "sigtimedwait" in open(f"/proc/{proc.pid}/wchan").read())
        else:
            _until(lambda: "python" in open(f"/proc/{proc.pid}/cmdline").read())
        assert nc.term_handling(proc.pid) == (os.path.basename(open(f"/proc/{proc.pid}/comm").read().strip()),
                                              expected)
    finally:
        proc.kill()
        proc.wait()


def test_term_handling_of_a_process_this_kernel_cannot_see():
    assert nc.term_handling(2 ** 22 + 1)[0] == "?"


# --- terminals --------------------------------------------------------------------------------------
def test_terminal_types_into_a_real_pty_and_returns_the_screen():
    code, screen = nc.terminal("sh", [b"tty\r", b"echo $((6 * 7))\r", b"exit 3\r"], env={**os.environ, "PS1": "$ "})
    assert code == 3
    assert "42" in screen and "/dev/pts/" in screen and "\r" not in screen


def test_clean_screen_drops_escape_sequences_and_carriage_returns():
    assert nc.clean_screen(b"\x1b[?2004h/ # ls\r\n\x1b[1;34mbin\x1b[m\r\n") == "/ # ls\nbin"


def test_keys_are_named_as_a_person_would_say_them():
    assert [nc._key_name(k) for k in (b"echo hi\r", b"\x10\x11", b"\x07")] == ["echo hi", "Ctrl-P Ctrl-Q", "b'\\x07'"]


# --- ports ------------------------------------------------------------------------------------------
class _Hello(http.server.BaseHTTPRequestHandler):
    def do_GET(self):  # noqa: N802
        body = f"you asked for {self.path}".encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *_a):
        pass


def test_fetch_answers_from_a_server_on_127_0_0_1_and_says_why_not_otherwise():
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Hello)
    threading.Thread(target=srv.serve_forever, args=(0.05,), daemon=True).start()
    try:
        port = srv.server_address[1]
        assert nc.fetch(port, "/hostname") == "HTTP 200: you asked for /hostname"
    finally:
        srv.shutdown()
        srv.server_close()
    assert nc.fetch(port, budget=0).startswith("no answer, URLError: [Errno 111]")


def test_free_port_gives_the_preferred_port_unless_it_is_taken():
    with socket.socket() as held:
        held.bind(("127.0.0.1", 0))
        held.listen()
        taken = held.getsockname()[1]
        other = nc.free_port(taken)
        assert other != taken
    assert nc.free_port(taken) == taken


# --- IDs --------------------------------------------------------------------------------------------
def test_the_shortest_unique_prefix_and_a_shared_first_digit():
    ids = ["abc1" + "0" * 60, "abd2" + "0" * 60, "f" * 64]
    assert [nc.shortest_unique(i, ids) for i in ids] == ["abc", "abd", "f"]
    assert nc.first_shared_digit(ids) == "a"
    assert nc.first_shared_digit(ids[1:]) is None


# --- the panel --------------------------------------------------------------------------------------
class _Api:
    def __init__(self, listed):
        self.listed = listed

    def containers(self, all=False):  # noqa: A002 - docker-py's name
        return self.listed


class _Client:
    def __init__(self, listed):
        self.api = _Api(listed)


def test_the_panel_lists_containers_and_builds_the_command_for_a_button():
    listed = [{"Names": ["/web"], "Image": "busybox", "State": "running", "Status": "Up 2 seconds", "Id": "a" * 64},
              {"Names": ["/db"], "Image": "busybox", "State": "exited", "Status": "Exited (0)", "Id": "b" * 64}]
    panel = nc.ContainerPanel(client=_Client(listed))
    assert panel.snapshot().rows == [["db", "busybox", "exited", "Exited (0)", "b" * 12],
                                     ["web", "busybox", "running", "Up 2 seconds", "a" * 12]]
    assert list(panel.pick.options) == ["db", "web"] and "<table" in panel.table.value
    assert panel.command("remove", "web") == "docker rm web"
    panel.force.value = True
    assert panel.command("remove", "web") == "docker rm -f web"
    assert panel.command("stop", "db; rm -rf /") == "docker stop -t 3 'db; rm -rf /'"


def test_the_leftovers_are_the_lessons_containers_only():
    listed = [{"Names": ["/demo-life"], "Id": "1", "Labels": {}},
              {"Names": ["/demo-id-12"], "Id": "2", "Labels": {}},
              {"Names": ["/eager_turing"], "Id": "3", "Labels": {"dockyard.try": "prefix"}},
              {"Names": ["/try-api"], "Id": "4", "Labels": {}},              # lesson 03's: not ours
              {"Names": ["/demo-id-x"], "Id": "5", "Labels": None},
              {"Names": ["/mine"], "Id": "6", "Labels": {"dockyard.try": "other"}}]
    assert nc.lesson_leftovers(_Client(listed)) == ["1", "2", "3"]

"""Lesson 09's reach table: nc answers (as recorded from busybox nc in a sandbox) turned into table cells."""

from __future__ import annotations

import shlex

import pytest

from dockyard.notebook import network

# what busybox nc printed in the sandbox, per case
UNKNOWN = "nc: bad address 'db'"
TIMED_OUT = "nc: timed out"
REFUSED = "nc: can't connect to remote host (10.225.83.2): Connection refused"


def test_parse_reads_one_line_per_try_in_any_order():
    out = f"@@ 10.225.84.2 1 {TIMED_OUT}\n@@ client 0 \nnoise\n@@ db 1 {UNKNOWN}\n"
    assert network.parse(out) == {"client": (0, ""), "db": (1, UNKNOWN), "10.225.84.2": (1, TIMED_OUT)}


@pytest.mark.parametrize("rc,out,words", [(0, "", "connected"), (1, UNKNOWN, "name unknown"), (1, REFUSED, "refused"),
                                          (1, TIMED_OUT, "timed out"), (1, "odd", "exit 1")])
def test_why(rc, out, words):
    assert network.why(rc, out) == words


def test_verdicts():
    assert network.verdict((0, ""), {"10.0.0.2": (0, "")}) == "✓ by name"
    # the default bridge: no DNS answers a name, the address works
    assert network.verdict((1, TIMED_OUT), {"10.0.0.2": (0, "")}) == "✓ by address only (10.0.0.2) · name: no DNS answers"
    assert network.verdict((1, UNKNOWN), {"10.0.0.2": (1, TIMED_OUT)}) == "✗ name: name unknown · 10.0.0.2 timed out"
    assert network.verdict((1, UNKNOWN), {}) == "✗ name: name unknown · it has no address"


def test_reach_table_asks_each_source_once_and_fills_the_matrix(monkeypatch):
    ips = {"web": ["10.0.1.2"], "client": ["10.0.1.3"], "db": ["10.0.2.2"]}
    monkeypatch.setattr(network, "addresses", lambda names: {n: ips[n] for n in names})
    reachable = {("web", "client"), ("client", "web"), ("web", "10.0.1.3"), ("client", "10.0.1.2")}
    asked = []

    def run(cmd):
        words = shlex.split(cmd)
        src, tries = words[2], words[words.index("try") + 1:]
        asked.append(src)
        lines = []
        for t in tries:
            target = t.split()[0]
            if (src, target) in reachable:
                lines.append(f"@@ {target} 0 ")
            elif target[0].isdigit():
                lines.append(f"@@ {target} 1 {TIMED_OUT}")
            else:
                lines.append(f"@@ {target} 1 nc: bad address '{target}'")
        return "\n".join(lines)

    table = network.reach_table(["web", "client", "db"], 80, run=run)
    assert asked == ["web", "client", "db"]
    assert table.headers == ["from ↓ to →", "web", "client", "db"]
    assert table.rows[0] == ["web", "—", "✓ by name", "✗ name: name unknown · 10.0.2.2 timed out"]
    assert table.rows[2][1] == "✗ name: name unknown · 10.0.1.2 timed out"

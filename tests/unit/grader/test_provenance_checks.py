"""container.written_by_others and container.file_from: provenance from container ids, mounts and ctimes, not names."""

from __future__ import annotations

import pytest

from grader.checks.provenance import iso_ns

from .fakes import FakeContext, run_check

V1, V2 = "a" * 12 + "1" * 52, "b" * 12 + "2" * 52


def box(cid, name, running=True, mounts=(), created="2026-12-01T10:00:00.000000000Z",
        finished="0001-01-01T00:00:00Z", hostname=None):
    return {"Id": cid, "Name": "/" + name, "Created": created, "Config": {"Hostname": hostname or cid[:12]},
            "State": {"Running": running, "Status": "running" if running else "exited", "FinishedAt": finished},
            "Mounts": list(mounts), "HostConfig": {}}


def mount_event(cid):
    return {"Type": "volume", "Action": "mount", "Actor": {"ID": "notes-data", "Attributes": {"container": cid}}}


def test_iso_ns_reads_docker_and_busybox_stamps():
    assert iso_ns("2026-12-01T14:56:12.333677403Z") == iso_ns("2026-12-01 14:56:12.333677403 +0000")
    assert iso_ns("2026-12-01T14:56:12.3Z") % 10**9 == 300_000_000
    assert iso_ns("0001-01-01T00:00:00Z") is None and iso_ns("") is None


@pytest.mark.parametrize("hosts,mounted,reason", [
    (["a" * 12, "a" * 12], [V1, V2], None),              # written in notes-v1, which is gone
    (["notes-v1", "notes-v1"], [V1, V2], "not_a_writer"),  # a name typed in
    (["b" * 12], [V1, V2], "own_records"),                  # notes-v2 wrote them itself
    ([], [V1, V2], "no_records"),
    (["notes-v1"], [V2], "no_writer"),                      # nothing but notes-v2 ever mounted the volume
])
def test_written_by_others(hosts, mounted, reason):
    ctx = FakeContext(containers={"notes-v2": box(V2, "notes-v2")}, daemon_events=[mount_event(c) for c in mounted],
                      exec_results=[(0, "".join(h + "\n" for h in hosts))])
    o = run_check("container.written_by_others", ctx, name="notes-v2", command="select", volume="notes-data")
    assert o.passed is (reason is None) and o.reason == reason, o.message
    if hosts:
        assert ctx.calls_to("events")[0][1] == {"type": "volume", "event": "mount", "volume": "notes-data"}


def test_written_by_others_wants_the_writer_removed():
    ctx = FakeContext(containers={"notes-v2": box(V2, "notes-v2"), "notes-v1": box(V1, "notes-v1")},
                      daemon_events=[mount_event(V1)], exec_results=[(0, "a" * 12 + "\n")])
    o = run_check("container.written_by_others", ctx, name="notes-v2", command="select", volume="notes-data")
    assert o.reason == "writer_exists" and "docker rm -f notes-v1" in o.hint


VOL = {"Type": "volume", "Name": "c" * 64, "Destination": "/out", "Source": "/var/lib/x"}


@pytest.mark.parametrize("changed,mounts,reason", [
    ("2026-12-01 10:00:00.500000000 +0000", [VOL], None),
    ("2026-12-01 10:00:05.000000000 +0000", [VOL], "not_by_writer"),   # after producer finished: consumer wrote it
    ("2026-12-01 10:00:00.500000000 +0000", [{**VOL, "Name": "d" * 64}], "other_mount"),
    ("2026-12-01 10:00:00.500000000 +0000", [], "other_mount"),
])
def test_file_from(changed, mounts, reason):
    producer = box(V1, "producer", running=False, mounts=[VOL], created="2026-12-01T10:00:00.1Z",
                   finished="2026-12-01T10:00:01.0Z")
    ctx = FakeContext(containers={"consumer": box(V2, "consumer", mounts=mounts), "producer": producer},
                      exec_results=[(0, f"{changed}\nreport from {V1[:12]}\n")])
    o = run_check("container.file_from", ctx, name="consumer", path="/out/report.txt", writer="producer",
                  contains="report from")
    assert o.passed is (reason is None) and o.reason == reason, o.message
    if reason == "other_mount" and mounts:
        assert "volume dddddddddddd," in o.message  # anonymous volumes shortened as docker ps does

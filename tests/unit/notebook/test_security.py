"""Lesson 11's helpers: refusals read from what the docker CLI printed, capabilities decoded by name."""

from __future__ import annotations

import pytest

from dockyard.notebook import Output
from dockyard.notebook import security
from dockyard.procstatus import CAP_NAMES, decode_caps, gids, norm_cap, parse_status, uids

# what the docker CLI printed for a refused request, recorded from a sealed sandbox
REFUSED = ("docker: Error response from daemon: authorization denied by plugin dockyard-sx: docker run --privileged "
           "is refused: a privileged container has every device and capability of the host and can take it over. "
           "Instead: add only the capability the exercise needs, e.g. --cap-add NET_ADMIN\n\n"
           "Run 'docker run --help' for more information\n")
STATUS = ("Name:\tcat\nUid:\t1000\t1000\t1000\t1000\nCapInh:\t0000000000000000\nCapPrm:\t00000000a80425fb\n"
          "CapEff:\t00000000a80425fb\nCapBnd:\t00000000a80425fb\nCapAmb:\t0000000000000000\nNoNewPrivs:\t1\n"
          "Seccomp:\t2\n")
DOCKER_DEFAULTS = {"CHOWN", "DAC_OVERRIDE", "FSETID", "FOWNER", "MKNOD", "NET_RAW", "SETGID", "SETUID", "SETFCAP",
                   "SETPCAP", "NET_BIND_SERVICE", "SYS_CHROOT", "KILL", "AUDIT_WRITE"}


def test_docker_default_mask_decodes_to_its_fourteen_capabilities():
    assert set(decode_caps("00000000a80425fb")) == DOCKER_DEFAULTS
    assert decode_caps("0000000000000400") == ["NET_BIND_SERVICE"]
    assert decode_caps("0") == [] and decode_caps(0) == []


def test_capability_numbers_are_the_kernels():
    assert CAP_NAMES.index("SYS_ADMIN") == 21 and CAP_NAMES.index("NET_RAW") == 13
    assert CAP_NAMES.index("CHECKPOINT_RESTORE") == 40
    assert decode_caps(1 << 41) == ["CAP_41"]  # a newer kernel's bit keeps its number


def test_status_fields_and_uids():
    st = parse_status(STATUS)
    assert st["NoNewPrivs"] == "1" and st["Seccomp"] == "2"
    assert uids(st) == (1000, 1000, 1000, 1000) and uids(st)[:2] == (1000, 1000)
    assert norm_cap("cap_net_raw") == norm_cap("NET_RAW") == "NET_RAW"


def test_uids_are_all_four_and_a_short_line_is_unknown_not_root():
    st = parse_status("Uid:\t10001\t10001\t0\t10001\nGid:\t10001\t10001\t10001\t10001\n")
    ids = uids(st)
    assert (ids.real, ids.effective, ids.saved, ids.filesystem) == (10001, 10001, 0, 10001) and ids.has_zero()
    assert ids.text() == "uids real 10001, effective 10001, saved 0, filesystem 10001"
    assert not gids(st).has_zero()
    assert uids({}) == (-1, -1, -1, -1) and not uids({}).has_zero()
    assert uids(parse_status("Uid:\t1000\t1000\n")) == (1000, 1000, -1, -1)


def test_a_refusal_is_split_into_what_why_and_instead():
    r = security.parse_refusal(REFUSED)
    assert r == {"what": "docker run --privileged",
                 "why": "a privileged container has every device and capability of the host and can take it over",
                 "instead": "add only the capability the exercise needs, e.g. --cap-add NET_ADMIN"}
    assert security.parse_refusal("docker: Error response from daemon: No such image: nope\n") is None


def _fake_sh(answers):
    def sh(cmd, check=True, quiet=False, timeout=120):
        text, code = answers[cmd]
        out = Output(text)
        out.returncode = code
        return out
    return sh


def test_refusals_table_tells_refused_failed_and_ran_apart(monkeypatch):
    monkeypatch.setattr(security, "sh", _fake_sh({
        "docker run --rm --privileged busybox true": (REFUSED, 125),
        "docker run --rm busybox false": ("", 1),
        "docker run --rm busybox id": ("uid=0(root) gid=0(root)\n", 0)}))
    table = security.refusals(["docker run --rm --privileged busybox true", "docker run --rm busybox false",
                               "docker run --rm busybox id"])
    assert [r[1] for r in table.rows] == ["refused", "failed (1)", "ran"]
    assert table.rows[0][2].startswith("a privileged container") and "NET_ADMIN" in table.rows[0][3]
    assert "<table>" in table._repr_html_() and "refused" in repr(table)


def test_caps_table_has_a_column_per_run_and_a_count():
    table = security.caps_table({"default": STATUS, "--cap-drop ALL": STATUS.replace("a80425fb", "00000000"),
                                 "only bind": STATUS.replace("CapEff:\t00000000a80425fb",
                                                             "CapEff:\t0000000000000400")})
    assert table.headers == ["capability", "default", "--cap-drop ALL", "only bind"]
    rows = {r[0]: r[1:] for r in table.rows}
    assert rows["NET_BIND_SERVICE"] == ["✓", "", "✓"]
    assert rows["CHOWN"] == ["✓", "", ""]
    assert rows["(count)"] == ["14", "0", "1"]
    assert set(rows) == DOCKER_DEFAULTS | {"(count)"}


def test_caps_reads_the_set_asked_for():
    assert security.caps(STATUS, "CapAmb") == []
    assert len(security.caps(STATUS, "CapBnd")) == 14


def test_host_status_needs_a_running_container(monkeypatch):
    import dockyard.notebook as nb

    monkeypatch.setattr(nb, "pid_of", lambda name: 0)
    with pytest.raises(ValueError, match="not running"):
        security.host_status("gone")

"""GradingSession: one context per hand-in, made again when its files change, evidence kept, cleanup always."""

from __future__ import annotations

import os

import pytest

from grader import runner
from grader.checks import base
from grader.context import Context
from grader.session import GradingSession
from grader.spec import CheckSpec, Lab, Task


@pytest.fixture
def seen(monkeypatch):
    """Each check records the context and the Dockerfile it saw; every cleanup is counted."""
    base.load_all()
    out = {"contexts": [], "files": [], "cleaned": 0}

    def look(ctx):
        out["contexts"].append(ctx)
        out["files"].append(ctx.path("Dockerfile").read_text())
        ctx.inspected["image web"] = {"Id": "sha256:1"}
        return base.ok("looked", file=out["files"][-1])

    def cleanup(self):
        out["cleaned"] += 1
    monkeypatch.setitem(base.REGISTRY, "t.look", base.CheckType("t.look", look, {}, "t.look"))
    monkeypatch.setattr(Context, "cleanup", cleanup)
    return out


def lab(tmp_path, base_dir=None):
    def spec(i, hidden=False):
        return CheckSpec(id=i, type="t.look", title=i, points=1, params={}, hidden=hidden)
    return Lab(id="l", title="L", path=tmp_path, submission_base=base_dir,
               tasks=(Task("a", "A", (spec("one"), spec("two"))), Task("b", "B", (spec("three", hidden=True),))))


def test_one_context_for_every_call_while_the_files_stay_the_same(tmp_path, seen):
    (tmp_path / "hand-in").mkdir()
    (tmp_path / "hand-in" / "Dockerfile").write_text("FROM a")
    with GradingSession(lab(tmp_path), client=object(), submission=tmp_path / "hand-in", track_files=True) as s:
        s.run(["one"])
        s.run(["a"])
        assert len({id(c) for c in seen["contexts"]}) == 1
        (tmp_path / "hand-in" / "Dockerfile").write_text("FROM b, a longer line")
        s.run(["two"])
        assert seen["cleaned"] == 1, "the old context is cleaned up when the files change"
    assert len({id(c) for c in seen["contexts"]}) == 2 and seen["files"][-1] == "FROM b, a longer line"
    assert seen["cleaned"] == 2
    assert [r.id for r in s.results] == ["one", "one", "two", "two"]
    ev = s.evidence()
    assert [c["id"] for c in ev["checks"]] == ["one", "one", "two", "two"] and ev["checks"][0]["lab"] == "l"
    assert ev["inspected"] == {"image web": {"Id": "sha256:1"}}


def test_run_all_takes_hidden_and_task_filters_and_reports(tmp_path, seen):
    (tmp_path / "Dockerfile").write_text("FROM a")
    with GradingSession(lab(tmp_path), client=object(), submission=tmp_path) as s:
        assert [r.id for r in s.run_all(include_hidden=False)] == ["one", "two"]
        assert [r.id for r in s.run_all(only_tasks=["b"])] == ["three"]
    assert s.report().score == 3 and s.report().lab == "l"
    with pytest.raises(ValueError, match="no task or check 'nope'"):
        s.select(["nope"])


def test_new_records_hand_out_each_result_once(tmp_path, seen):
    (tmp_path / "Dockerfile").write_text("FROM a")
    with GradingSession(lab(tmp_path), client=object(), submission=tmp_path) as s:
        s.run(["one"])
        first, inspected = s.new_records()
        s.run(["two"])
        second, _ = s.new_records()
    assert [r["id"] for r in first] == ["one"] and [r["id"] for r in second] == ["two"]
    assert inspected == {"image web": {"Id": "sha256:1"}}


def test_an_untrusted_hand_in_is_graded_from_a_copy_without_links_out_or_fifos(tmp_path, seen):
    starter, hand_in = tmp_path / "starter", tmp_path / "hand-in"
    starter.mkdir(), hand_in.mkdir()
    (starter / "app.py").write_text("starter")
    (hand_in / "Dockerfile").write_text("FROM mine")
    (tmp_path / "secret").write_text("root only")
    (hand_in / "stolen").symlink_to(tmp_path / "secret")
    (hand_in / "inside").symlink_to("Dockerfile")
    os.mkfifo(hand_in / "pipe")
    with GradingSession(lab(tmp_path, starter), client=object(), submission=hand_in, copy=True) as s:
        s.run(["one"])
        folder = seen["contexts"][0].submission
        assert folder != hand_in and (folder / "app.py").read_text() == "starter"
        assert (folder / "inside").read_text() == "FROM mine"
        assert not (folder / "stolen").exists() and not (folder / "stolen").is_symlink()
        assert not (folder / "pipe").exists()
    assert not folder.exists()


def test_a_session_cleans_up_on_ctrl_c(tmp_path, seen, monkeypatch):
    def interrupt(ctx):
        raise KeyboardInterrupt
    monkeypatch.setitem(base.REGISTRY, "t.look", base.CheckType("t.look", interrupt, {}, "t.look"))
    with pytest.raises(KeyboardInterrupt):
        runner.grade(lab(tmp_path), client=object())
    assert seen["cleaned"] == 1

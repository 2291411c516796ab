"""Grading's disk caps without a daemon: the default, the option, the "disk-full" status, clean-up."""

from pathlib import Path

import nbformat
import pytest
from click.testing import CliRunner

from grader.cli import main
from dockyard.errors import DockyardError
from grader.course import diagnosis, grading, landing
from grader.course.isolation import Answer
from grader.course.layout import Course

SANDBOX = "the sandbox's 256 MiB disk filled up (a build or container wrote too much)"
FOLDER = "the notebook folder's 256 MiB disk filled up (a cell wrote too much into it)"


def notebook(tmp_path, *outputs_per_cell) -> Path:
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("x") for _ in outputs_per_cell])
    for cell, outputs in zip(nb.cells, outputs_per_cell):
        cell.outputs = list(outputs)
    path = tmp_path / "nb.ipynb"
    nbformat.write(nb, path)
    return path


def test_every_grading_sandbox_has_a_disk_cap_by_default():
    assert grading.Limits().disk == "4g"


@pytest.mark.parametrize("output,words", [
    (nbformat.v4.new_output("stream", name="stdout", text="$ docker build -t fill fill\n...\nfailed to copy files: "
                            "write /big: no space left on device\n"), SANDBOX),
    (nbformat.v4.new_output("error", ename="CommandFailed", traceback=[],
                            evalue="dd: error writing '/big': No space left on device"), SANDBOX),
    (nbformat.v4.new_output("error", ename="OSError", evalue="[Errno 28] No space left on device", traceback=[]),
     FOLDER),
])
def test_a_full_disk_in_a_cell_is_disk_full_and_names_the_disk(tmp_path, output, words):
    path = notebook(tmp_path, [], [nbformat.v4.new_output("stream", name="stdout", text="fine\n")], [output])
    got = diagnosis.diagnose(Answer({}, 1), 0, path, grading.Limits(disk="256m"))
    assert got == ("disk-full", f"{words} in cell 3")


def test_a_disk_found_full_at_the_end_is_disk_full_even_when_no_cell_said_so(tmp_path):
    path = notebook(tmp_path, [])
    limits = grading.Limits(disk="256m")
    assert diagnosis.diagnose(Answer({}, 1), 0, path, limits, full_disks=["sandbox"]) == ("disk-full", SANDBOX)
    assert diagnosis.diagnose(Answer({}, 1), 0, path, limits) == ("ok", "graded")
    log = tmp_path / "evidence.jsonl"
    log.write_text('{"id": "built", "evidence": {"build_log": "RUN dd ...\\nno space left on device"}}\n')
    assert diagnosis.diagnose(Answer({}, 1), 0, path, limits, evidence=log) == ("disk-full", SANDBOX)


def test_a_disk_so_full_that_nbgrader_could_not_save_says_no_grades_were_saved(tmp_path):
    answer = Answer({"autograde": {"success": False, "error": "OSError: [Errno 28] No space left on device: "
                                                                "'autograded/s/90-fixture/90-fixture.ipynb'"}}, 3)
    status, msg = diagnosis.diagnose(answer, 0, tmp_path / "missing.ipynb", grading.Limits(disk="256m"),
                                     full_disks=["folder"])
    assert status == "disk-full" and msg.startswith(FOLDER + "; no grades were saved. nbgrader said: OSError")


def test_other_statuses_come_before_a_full_disk(tmp_path):
    limits = grading.Limits(disk="256m", memory="256m")
    missing = tmp_path / "missing.ipynb"
    assert diagnosis.diagnose(Answer(None, 30, timed_out=True), 0, missing, limits, full_disks=["folder"])[0] == \
        "notebook-timeout"
    assert diagnosis.diagnose(Answer({}, 3), 1, missing, limits, full_disks=["folder"])[0] == "out-of-memory"


def test_without_a_cap_a_full_host_disk_is_still_named(tmp_path):
    path = notebook(tmp_path, [nbformat.v4.new_output("stream", name="stderr", text="No space left on device\n")])
    assert diagnosis.diagnose(Answer({}, 1), 0, path, grading.Limits(disk=None)) == \
        ("disk-full", "the host's disk filled up (no space left on device) in cell 1")


def test_dockyard_grade_passes_disk_on_and_0_means_none(tmp_path, monkeypatch):
    seen = []

    def fake_grade_class(course, lab, **kw):
        seen.append(kw["limits"].disk)
        return []

    monkeypatch.setattr(grading, "grade_class", fake_grade_class)
    monkeypatch.setattr("grader.course.report.write", lambda course, lab: ("a.csv", "a.html"))
    monkeypatch.setenv("DOCKYARD_LABS", str(Path(__file__).resolve().parents[3] / "data" / "labs"))
    for args, want in (([], "4g"), (["--disk", "8g"], "8g"), (["--disk", "0"], None)):
        result = CliRunner().invoke(main, ["grade", "90-fixture", "--course", str(tmp_path), *args])
        assert result.exit_code == 0, result.output
        assert seen[-1] == want


def test_a_disk_too_small_to_grade_in_is_refused_before_anything_starts(tmp_path):
    with pytest.raises(DockyardError, match="a disk of 1m is too small"):
        grading.grade_class(Course.at(tmp_path), "90-fixture", limits=grading.Limits(disk="1m"))


def test_the_course_keeps_no_huge_file_a_cell_wrote(tmp_path):
    src = tmp_path / "src"
    src.mkdir()
    (src / "90-fixture.ipynb").write_text("{}")
    with open(src / "huge.bin", "wb") as fh:
        fh.truncate(landing.KEPT_FILE_MAX + 1)  # sparse: costs nothing here
    landing.replace_tree(src, tmp_path / "dest")
    assert sorted(p.name for p in (tmp_path / "dest").iterdir()) == ["90-fixture.ipynb"]


def test_stale_runs_of_a_dead_grader_are_removed_and_live_ones_kept(tmp_path, monkeypatch):
    monkeypatch.setenv("DOCKYARD_HOME", str(tmp_path / "home"))
    monkeypatch.setattr("tempfile.tempdir", str(tmp_path))
    removed = []
    monkeypatch.setattr(landing.mounts, "remove_disk", lambda image, target=None: removed.append(image.name) or [])
    dead, live, starting = (tmp_path / f"{landing.TMP_PREFIX}{k}" for k in ("dead", "live", "starting"))
    for d in (dead, live, starting):
        d.mkdir()
    (dead / "owner.pid").write_text("999999999")
    (dead / "g1234abcd-x1y2").mkdir()  # a hand-in's folder: its sandbox g1234abcd outlived the run
    (tmp_path / "home" / "g1234abcd").mkdir(parents=True)
    (live / "g5678abcd-x1y2").mkdir()
    (tmp_path / "home" / "g5678abcd").mkdir(parents=True)
    purged = []
    monkeypatch.setattr("dockyard.sandbox.Sandbox.down", lambda sb, **kw: purged.append((sb.name, kw)))
    (live / "owner.pid").write_text(str(__import__("os").getpid()))
    orphan = landing.disks_dir() / f"{landing.TMP_PREFIX}gone"  # its run's folder is already gone
    orphan.mkdir(parents=True)
    (orphan / "g1-x.img").write_text("")
    landing.remove_stale_runs()
    assert not dead.exists() and not orphan.exists()
    assert live.exists() and starting.exists()
    assert removed == ["g1-x.img"]
    assert purged == [("g1234abcd", {"purge": True, "keep_shared": True})]  # and never a live run's

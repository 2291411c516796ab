"""diagnosis.diagnose's steps, each on its own: what a teacher reads for each way a hand-in can end."""

from pathlib import Path

import nbformat

from grader.course import diagnosis, grading
from grader.course.isolation import Answer

from .test_disk import notebook

LIMITS = grading.Limits(cell_timeout=7, notebook_timeout=30, memory="256m", pids=64, disk="256m")
SANDBOX = "the sandbox's 256 MiB disk filled up (a build or container wrote too much)"


def timeout_in_cell(tmp_path) -> Path:
    return notebook(tmp_path, [], [nbformat.v4.new_output("error", ename="CellTimeoutError", evalue="", traceback=[])])


def test_forks_too_is_an_aside_only_when_the_cap_was_hit():
    assert diagnosis.forks_too(LIMITS, 0) == ""
    assert diagnosis.forks_too(LIMITS, 5) == "; it also hit the cap of 64 processes 5 times (a fork bomb?)"


def test_out_of_memory_names_the_first_problem_cell_or_says_nothing_was_saved(tmp_path):
    assert diagnosis.out_of_memory(timeout_in_cell(tmp_path), LIMITS, 0) == (
        "out-of-memory", "killed: out of memory (the notebook went over 256m); timed out after 7 s in cell 2")
    assert diagnosis.out_of_memory(tmp_path / "missing.ipynb", LIMITS, 3) == (
        "out-of-memory", "killed: out of memory (the notebook went over 256m); no grades were saved"
        "; it also hit the cap of 64 processes 3 times (a fork bomb?)")


def test_at_process_cap_says_what_became_of_the_notebook(tmp_path):
    cap = "hit the cap of 64 processes 9 times (a fork bomb?); "
    assert diagnosis.at_process_cap(tmp_path / "missing.ipynb", LIMITS, 9) == (
        "process-cap", cap + "no grades were saved")
    assert diagnosis.at_process_cap(notebook(tmp_path, []), LIMITS, 9) == ("process-cap", cap + "graded")
    assert diagnosis.at_process_cap(timeout_in_cell(tmp_path), LIMITS, 9) == (
        "process-cap", cap + "timed out after 7 s in cell 2")


def test_no_notebook_reads_what_nbgrader_said():
    def said(text):
        return diagnosis.no_notebook(Answer({"autograde": {"success": False, "error": text}}, 1), LIMITS, ())

    assert said("nbclient.exceptions.DeadKernelError: Kernel died")[0] == "kernel-died"
    assert said("OSError: [Errno 28] No space left on device")[0] == "disk-full"
    assert said("ValueError: bad notebook") == (
        "failed", "nbgrader autograde failed; no grades were saved. It said: ValueError: bad notebook")
    assert diagnosis.no_notebook(Answer(None, 1), LIMITS, ()) == (
        "failed", "nbgrader autograde failed; no grades were saved. It said: (no answer from the grading process)")
    assert diagnosis.no_notebook(Answer(None, 1), LIMITS, ["sandbox"])[1].startswith(SANDBOX + "; no grades")


def test_from_cells_adds_a_full_disk_the_build_logs_show_once(tmp_path):
    log = tmp_path / "evidence.jsonl"
    log.write_text('{"id": "build", "evidence": "write /x: no space left on device"}\n')
    assert diagnosis.from_cells(notebook(tmp_path, []), LIMITS, (), log) == ("disk-full", SANDBOX)
    assert diagnosis.from_cells(notebook(tmp_path, []), LIMITS, (), tmp_path / "none.jsonl") == ("ok", "graded")
    full_cell = [nbformat.v4.new_output("stream", name="stdout", text="no space left on device\n")]
    assert diagnosis.from_cells(notebook(tmp_path, full_cell), LIMITS, (), log) == ("disk-full", SANDBOX + " in cell 1")

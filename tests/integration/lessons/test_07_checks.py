"""Lesson 07's self-checks: each Try it solved the way the notebook asks passes; wrong attempts fail usefully.

The exercises are done here as a learner would, with the docker CLI pointed at the sandbox.
"""

from __future__ import annotations

import shlex
from pathlib import Path

import pytest

import grader

from . import helpers
from .helpers import docker, assert_all_pass, assert_fails

LAB = "07-volumes-and-data"
NOTEBOOK = Path(__file__).resolve().parents[3] / "notebooks" / f"{LAB}.ipynb"
NAMES = ["try-db", "try-db2", "try-ro"]
VOLUMES = ["try-data", "try-data2"]
PY = "python:3.11-slim"

# what a learner types in exercise 2: a table notes with one row, committed
MAKE_NOTES = ("import sqlite3; db = sqlite3.connect('{path}'); "
              "db.execute('CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT)'); "
              "db.execute(\"INSERT INTO notes (body) VALUES ('buy milk')\"); {commit}")


def make_notes(box, container: str, path: str = "/data/app.db", commit: bool = True):
    code = MAKE_NOTES.format(path=path, commit="db.commit()" if commit else "db.close()")
    docker(box, f"docker exec {container} python3 -c {shlex.quote(code)}")


@pytest.fixture
def box(sandbox, tracked):
    """The shared sandbox without this lesson's exercise containers and volumes; they are removed afterwards too."""
    tracked["containers"].extend(NAMES)
    tracked["volumes"].extend(VOLUMES)
    docker(sandbox, "docker rm -f " + " ".join(NAMES) + " 2>/dev/null; docker volume rm -f "
           + " ".join(VOLUMES) + " 2>/dev/null; docker pull -q busybox >/dev/null; docker pull -q " + PY)
    return sandbox


@pytest.fixture
def config_dir(tmp_path):
    """Exercise 3's TRY_CONFIG: a host folder with one file."""
    (tmp_path / "app.conf").write_text("greeting = hello\n")
    return tmp_path


def grade(box, task: str | None) -> dict:
    return helpers.grade(box, LAB, task)


def test_nothing_done_fails_every_check_with_a_start_hint(box):
    report = grader.grade(grader.find_lab(LAB), sandbox=box)
    assert report.score == 0
    for r in report.results:
        assert_fails(r, "missing", "there is no container named", hint="docker run --name")


# --- 1. try-db with the named volume try-data ---------------------------------------------
@pytest.mark.parametrize("mount", ["-v try-data:/data", "--mount type=volume,source=try-data,target=/data"])
def test_named_volume_solution_passes(box, mount):
    docker(box, f"docker run -d --name try-db {mount} {PY} sleep 600")
    assert_all_pass(grade(box, "named-volume"))


def test_bind_mount_instead_of_a_volume_fails_with_the_lessons_hint(box, tmp_path):
    docker(box, f"docker run -d --name try-db -v {tmp_path}:/data {PY} sleep 600")
    r = grade(box, "named-volume")
    assert r["try-db-running"].passed
    assert_fails(r["try-db-volume"], "wrong_type", f"a bind mount of {tmp_path}", "expected a volume mount",
                 hint="-v try-data:/data")


def test_another_volume_fails_quoting_its_name(box):
    docker(box, f"docker run -d --name try-db -v try-data2:/data {PY} sleep 600")
    assert_fails(grade(box, "named-volume")["try-db-volume"], "wrong_source", "volume 'try-data2'",
                 "expected volume 'try-data'")


def test_no_mount_and_no_sleep_fails_both_checks(box):
    docker(box, f"docker run --name try-db {PY} true")
    r = grade(box, "named-volume")
    assert_fails(r["try-db-running"], "not_running", "exited (exit code 0)", hint="sleep 600")
    assert_fails(r["try-db-volume"], "missing", "nothing is mounted at /data", hint="-v try-data:/data")


# --- 2. the notes table ----------------------------------------------------------------------
def test_notes_solution_passes(box):
    docker(box, f"docker run -d --name try-db -v try-data:/data {PY} sleep 600")
    make_notes(box, "try-db")
    r = grade(box, "notes-table")
    assert_all_pass(r)
    assert "rows in notes: 1" in r["try-db-notes"].evidence["output"]


def test_notes_without_commit_fail_with_the_commit_hint(box):
    docker(box, f"docker run -d --name try-db -v try-data:/data {PY} sleep 600")
    make_notes(box, "try-db", commit=False)  # the CREATE TABLE is kept, the uncommitted INSERT is not
    assert_fails(grade(box, "notes-table")["try-db-notes"], "missing_output", "the table is empty",
                 hint="commit()")


def test_database_outside_the_volume_fails_with_unable_to_open(box):
    docker(box, f"docker run -d --name try-db -v try-data:/data {PY} sleep 600")
    make_notes(box, "try-db", path="/app.db")
    assert_fails(grade(box, "notes-table")["try-db-notes"], "wrong_exit_code", "exited with 1",
                 "unable to open database file", hint="create it in /data")


def test_database_without_the_table_fails_with_no_such_table(box):
    docker(box, f"docker run -d --name try-db -v try-data:/data {PY} sleep 600")
    docker(box, "docker exec try-db python3 -c " + shlex.quote(
        "import sqlite3; db = sqlite3.connect('/data/app.db'); db.execute('CREATE TABLE todo (x)'); db.commit()"))
    assert_fails(grade(box, "notes-table")["try-db-notes"], "wrong_exit_code", "no such table: notes")


def test_try_db_from_busybox_fails_pointing_at_the_python_image(box):
    docker(box, "docker run -d --name try-db -v try-data:/data busybox sleep 600")
    r = grade(box, "notes-table")["try-db-notes"]
    assert_fails(r, "wrong_exit_code", hint="python:3.11-slim")
    assert r.evidence["exit_code"] in (126, 127)


# --- 3. try-ro: a read-only bind mount -------------------------------------------------------
@pytest.mark.parametrize("image,mount", [
    ("busybox", "-v {dir}:/config:ro"),
    (PY, "--mount type=bind,source={dir},target=/config,readonly"),
])
def test_read_only_solution_passes(box, config_dir, image, mount):
    docker(box, f"docker run -d --name try-ro {mount.format(dir=config_dir)} {image} sleep 600")
    assert_all_pass(grade(box, "read-only"))


def test_writable_bind_mount_fails_and_the_probe_leaves_nothing_behind(box, config_dir):
    docker(box, f"docker run -d --name try-ro -v {config_dir}:/config busybox sleep 600")
    r = grade(box, "read-only")
    assert_fails(r["try-ro-config"], "writable", "mounted read-write", "expected read-only", hint=":ro")
    assert_fails(r["try-ro-refuses-writes"], "missing_output", "'Read-only file system'", hint="Add :ro")
    assert sorted(p.name for p in config_dir.iterdir()) == ["app.conf"]


def test_read_only_volume_instead_of_the_host_folder_fails(box):
    docker(box, "docker run -d --name try-ro -v try-data:/config:ro busybox sleep 600")
    r = grade(box, "read-only")
    assert_fails(r["try-ro-config"], "wrong_type", "volume 'try-data'", "expected a bind mount", hint="TRY_CONFIG")
    assert r["try-ro-refuses-writes"].passed  # read-only it is; only the kind of mount is wrong


# --- 4. the data survives docker rm ----------------------------------------------------------
def test_survives_rm_solution_passes(box):
    docker(box, f"docker run -d --name try-db --mount type=volume,source=try-data,target=/data {PY} sleep 600")
    make_notes(box, "try-db")
    docker(box, "docker rm -f try-db")
    docker(box, f"docker run -d --name try-db2 -v try-data:/data {PY} sleep 600")
    assert_all_pass(grade(box, "survives-rm"))
    # exercise 2's check needs try-db, which exercise 4 removed: it now fails, telling why
    assert_fails(grade(box, "notes-table")["try-db-notes"], "missing", "there is no container named try-db")


def test_a_new_empty_volume_fails_both_checks(box):
    docker(box, f"docker run -d --name try-db -v try-data:/data {PY} sleep 600")
    make_notes(box, "try-db")
    docker(box, "docker rm -f try-db")
    docker(box, f"docker run -d --name try-db2 -v try-data2:/data {PY} sleep 600")
    r = grade(box, "survives-rm")
    assert_fails(r["try-db2-volume"], "wrong_source", "volume 'try-data2'", hint="-v try-data:/data")
    assert_fails(r["try-db2-notes"], "wrong_exit_code", "unable to open database file", hint="try-data")


def test_data_in_the_writable_layer_does_not_survive(box):
    # the lesson's first experiment, as a wrong attempt: the database lived in try-db's own layer
    docker(box, f"docker run -d --name try-db {PY} sleep 600")
    docker(box, "docker exec try-db mkdir /data")
    make_notes(box, "try-db")
    docker(box, "docker rm -f try-db")
    docker(box, f"docker run -d --name try-db2 {PY} sleep 600")
    r = grade(box, "survives-rm")
    assert_fails(r["try-db2-volume"], "missing", "nothing is mounted at /data")
    assert_fails(r["try-db2-notes"], "wrong_exit_code", "unable to open database file")

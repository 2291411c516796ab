"""Lesson 07's self-checks: each Try it solved the way the notebook asks passes; wrong attempts fail usefully.

The exercises are done here as a learner would, with the docker CLI pointed at the sandbox (in the folder a
learner's notebook runs in, where a relative path matters). The outline's mistakes are among the wrong attempts:
"map a directory outside the container" (data in the container's own layer), "-v host_directory" (a bare name is
a volume), "VOLUME sets up a shareable directory" (each container gets its own anonymous volume).
"""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess

import pytest

import grader

from . import helpers
from .helpers import docker, assert_all_pass, assert_fails

LAB = "07-volumes-and-data"
NAMES = ["try-db", "try-db2", "try-ro", "try-cache", "try-job", "try-reader"]
VOLUMES = ["try-data", "try-data2", "try-config"]
PY = "python:3.11-slim"
IMAGE = "dy07-app"
# the lesson's image, as its section 4 builds it
BUILD = f"""docker build -q -t {IMAGE} - <<'EOF'
FROM busybox
RUN mkdir /data && echo "seeded by the image" > /data/README && touch /data/.made-by-lesson-07 && chown -R 1000:1000 /data
VOLUME /data
EOF"""
JOB = """docker run --name try-job {image} sh -c 'echo "report from $(hostname)" > /data/report.txt'"""
OLD_CLI = "/usr/bin/docker"  # Debian's docker.io 20.10 CLI

# what a learner types in the first try-it: a table notes with one row, committed
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
    docker(sandbox, "docker rm -f -v " + " ".join(NAMES) + " 2>/dev/null; docker volume rm -f "
           + " ".join(VOLUMES) + " 2>/dev/null; docker pull -q busybox >/dev/null; docker pull -q " + PY)
    return sandbox


@pytest.fixture
def folder(tmp_path):
    """The learner's notebook folder, with the try-config folder the lesson's cell makes."""
    (tmp_path / "try-config").mkdir()
    (tmp_path / "try-config" / "app.conf").write_text("greeting = hello from try-config\n")
    return tmp_path


@pytest.fixture
def image(box, tracked):
    tracked["images"].append(IMAGE)
    docker(box, BUILD)
    return IMAGE


def grade(box, task: str | None) -> dict:
    return helpers.grade(box, LAB, task)


def test_every_try_it_of_the_notebook_has_its_task():
    assert helpers.notebook_check_tasks(LAB) == helpers.spec_task_ids(LAB) == [
        "survives-rm", "read-only", "tmpfs", "hand-over"]


def test_nothing_done_fails_every_check_with_a_start_hint(box):
    report = grader.grade(grader.find_lab(LAB), sandbox=box)
    assert report.score == 0
    for r in report.results:
        assert_fails(r, "missing", "there is no container named")


# --- 1. survives-rm -------------------------------------------------------------------------
@pytest.mark.parametrize("mount", ["-v try-data:/data", "--mount type=volume,source=try-data,target=/data"])
def test_survives_rm_solution_passes(box, mount):
    docker(box, f"docker run -d --name try-db {mount} {PY} sleep 600")
    make_notes(box, "try-db")
    docker(box, "docker rm -f try-db")
    docker(box, f"docker run -d --name try-db2 {mount} {PY} sleep 600")
    assert_all_pass(grade(box, "survives-rm"))


def test_a_new_empty_volume_fails_both_checks(box):
    docker(box, f"docker run -d --name try-db -v try-data:/data {PY} sleep 600")
    make_notes(box, "try-db")
    docker(box, "docker rm -f try-db")
    docker(box, f"docker run -d --name try-db2 -v try-data2:/data {PY} sleep 600")
    r = grade(box, "survives-rm")
    assert_fails(r["try-db2-volume"], "wrong_source", "volume 'try-data2'", hint="-v try-data:/data")
    assert_fails(r["try-db2-notes"], "wrong_exit_code", "unable to open database file", hint="/data, the mount")


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


def test_notes_without_commit_fail_with_the_commit_hint(box):
    docker(box, f"docker run -d --name try-db -v try-data:/data {PY} sleep 600")
    make_notes(box, "try-db", commit=False)  # the CREATE TABLE is kept, the uncommitted INSERT is not
    docker(box, "docker rm -f try-db")
    docker(box, f"docker run -d --name try-db2 -v try-data:/data {PY} sleep 600")
    r = grade(box, "survives-rm")
    assert r["try-db2-volume"].passed
    assert_fails(r["try-db2-notes"], "missing_output", "the table is empty", hint="commit()")


def test_the_outlines_host_directory_instead_of_a_volume_fails_with_wrong_type(box, tmp_path):
    docker(box, f"docker run -d --name try-db2 -v {tmp_path}:/data {PY} sleep 600")
    assert_fails(grade(box, "survives-rm")["try-db2-volume"], "wrong_type", f"a bind mount of {tmp_path}",
                 hint="A bare name makes -v use a named volume")


def test_try_db2_from_busybox_fails_pointing_at_the_python_image(box):
    docker(box, "docker run -d --name try-db2 -v try-data:/data busybox sleep 600")
    r = grade(box, "survives-rm")["try-db2-notes"]
    assert_fails(r, "wrong_exit_code", hint="python:3.11-slim")
    assert r.evidence["exit_code"] in (126, 127)


# --- 2. read-only: the path rule ------------------------------------------------------------
@pytest.mark.parametrize("image_,mount", [
    ("busybox", '-v "$PWD/try-config":/config:ro'),
    (PY, '--mount type=bind,source="$PWD/try-config",target=/config,readonly'),
])
def test_read_only_solution_passes(box, folder, image_, mount):
    docker(box, f"cd {folder} && docker run -d --name try-ro {mount} {image_} sleep 600")
    assert_all_pass(grade(box, "read-only"))


def newer_cli() -> str | None:
    """A docker CLI 23+ on PATH (or /usr/local/bin), which resolves ./ itself."""
    for cli in (shutil.which("docker"), "/usr/local/bin/docker"):
        if cli and os.path.exists(cli) and os.path.realpath(cli) != os.path.realpath(OLD_CLI):
            return cli
    return None


def test_a_dot_path_is_a_bind_mount_with_a_cli_23_or_newer(box, folder):
    cli = newer_cli()
    if cli is None:
        pytest.skip("no docker CLI newer than Debian's 20.10 here")
    version = docker(box, f"{cli} version -f '{{{{.Client.Version}}}}'").strip()
    assert int(version.split(".")[0]) >= 23, version
    docker(box, f"cd {folder} && {cli} run -d --name try-ro -v ./try-config:/config:ro busybox sleep 600")
    r = grade(box, "read-only")
    assert_all_pass(r)
    assert f"a bind mount of {folder}/try-config" in r["try-ro-config"].message


def test_a_dot_path_is_refused_by_the_20_10_cli_as_the_lesson_shows(box, folder):
    if not os.path.exists(OLD_CLI):
        pytest.skip("no Debian docker.io CLI at /usr/bin/docker")
    version = subprocess.run([OLD_CLI, "--version"], capture_output=True, text=True).stdout
    if " 20.10." not in version:
        pytest.skip(f"{OLD_CLI} is not 20.10: {version}")
    out = docker(box, f"cd {folder} && {OLD_CLI} run -d --name try-ro -v ./try-config:/config:ro busybox sleep 600",
                 ok=False)
    assert "includes invalid characters for a local volume name" in out and "use absolute path" in out, out
    assert_fails(grade(box, "read-only")["try-ro-config"], "missing", "there is no container named try-ro")


def test_a_bare_name_makes_a_volume_and_fails_with_the_path_rule(box, folder):
    docker(box, f"cd {folder} && docker run -d --name try-ro -v try-config:/config:ro busybox sleep 600")
    r = grade(box, "read-only")
    assert_fails(r["try-ro-config"], "wrong_type", "volume 'try-config'", "expected a bind mount",
                 hint="a bare name is a volume name")
    assert_fails(r["try-ro-file"], "wrong_exit_code", hint="not the folder try-config")
    assert r["try-ro-refuses-writes"].passed  # read-only it is; only the kind of mount is wrong


def test_writable_bind_mount_fails_and_the_probe_leaves_nothing_behind(box, folder):
    docker(box, f'cd {folder} && docker run -d --name try-ro -v "$PWD/try-config":/config busybox sleep 600')
    r = grade(box, "read-only")
    assert_fails(r["try-ro-config"], "writable", "mounted read-write", "expected read-only", hint=":ro")
    assert_fails(r["try-ro-refuses-writes"], "missing_output", "'Read-only file system'", hint="Add :ro")
    assert r["try-ro-file"].passed
    assert sorted(p.name for p in (folder / "try-config").iterdir()) == ["app.conf"]


def test_another_folder_fails_the_file_check(box, folder, tmp_path_factory):
    other = tmp_path_factory.mktemp("other-config")
    docker(box, f"docker run -d --name try-ro -v {other}:/config:ro busybox sleep 600")
    r = grade(box, "read-only")
    assert r["try-ro-config"].passed
    assert_fails(r["try-ro-file"], "wrong_exit_code", "exited with 1", hint="$PWD/try-config")


# --- 3. tmpfs -------------------------------------------------------------------------------
@pytest.mark.parametrize("mount", ["--tmpfs /scratch:size=32m", "--mount type=tmpfs,target=/scratch,tmpfs-size=33554432"])
def test_tmpfs_solution_passes(box, mount):
    docker(box, f"docker run -d --name try-cache {mount} busybox sleep 600")
    assert_all_pass(grade(box, "tmpfs"))


def test_an_anonymous_volume_instead_of_a_tmpfs_fails_both(box, tracked):
    docker(box, "docker run -d --name try-cache -v /scratch busybox sleep 600")
    r = grade(box, "tmpfs")
    assert_fails(r["try-cache-tmpfs"], "wrong_type", "expected a tmpfs mount", hint="--tmpfs /scratch:size=32m")
    assert_fails(r["try-cache-size"], "missing_output", hint="size=32768k")


@pytest.mark.parametrize("mount", ["--tmpfs /scratch", "--tmpfs /scratch:size=16m"])
def test_a_tmpfs_without_the_size_fails_the_size_check(box, mount):
    docker(box, f"docker run -d --name try-cache {mount} busybox sleep 600")
    r = grade(box, "tmpfs")
    assert r["try-cache-tmpfs"].passed
    assert_fails(r["try-cache-size"], "missing_output", "size=32768k", hint="half the machine's memory")


# --- 4. hand-over: VOLUME and --volumes-from ------------------------------------------------
def test_hand_over_solution_passes(box, image):
    docker(box, JOB.format(image=image))
    docker(box, "docker run -d --name try-reader --volumes-from try-job busybox sleep 600")
    r = grade(box, "hand-over")
    assert_all_pass(r)
    assert "shared with try-job" in r["try-reader-report"].message


def test_the_outlines_shareable_volume_fails_a_reader_of_the_same_image_gets_its_own(box, image):
    # "VOLUME sets up a shareable directory": a second container of the image gets a new, empty volume
    docker(box, JOB.format(image=image))
    docker(box, f"docker run -d --name try-reader {image} sleep 600")
    r = grade(box, "hand-over")
    assert r["try-job-done"].passed and r["try-reader-volume"].passed
    assert_fails(r["try-reader-report"], "other_mount", "expected the same mount in both", hint="--volumes-from try-job")


def test_a_job_kept_alive_fails_the_done_check(box, image):
    docker(box, f"""docker run -d --name try-job {image} sh -c 'echo "report from $(hostname)" > /data/report.txt; sleep 600'""")
    docker(box, "sleep 1; docker run -d --name try-reader --volumes-from try-job busybox sleep 600")
    r = grade(box, "hand-over")
    assert_fails(r["try-job-done"], "still_running", hint="one-shot job")
    assert r["try-reader-report"].passed


def test_a_report_written_by_the_reader_fails_as_not_by_the_writer(box, image):
    docker(box, f"docker run --name try-job {image} true")
    docker(box, """docker run -d --name try-reader --volumes-from try-job busybox sh -c 'echo "report from try-job" > /data/report.txt; sleep 600'""")
    docker(box, "sleep 1")
    assert_fails(grade(box, "hand-over")["try-reader-report"], "not_by_writer", hint="only read it in try-reader")


def test_a_job_without_a_volume_leaves_nothing_to_share(box):
    # from busybox, which declares no VOLUME: the report stays in try-job's writable layer
    docker(box, JOB.format(image="busybox").replace("/data/report.txt", "/report.txt"))
    docker(box, "docker run -d --name try-reader --volumes-from try-job busybox sleep 600")
    r = grade(box, "hand-over")
    assert_fails(r["try-reader-volume"], "missing", "nothing is mounted at /data", hint="--volumes-from try-job")
    assert_fails(r["try-reader-report"], "other_mount")


def test_the_whole_solution_scores_full_marks(box, folder, image):
    docker(box, f"docker run -d --name try-db -v try-data:/data {PY} sleep 600")
    make_notes(box, "try-db")
    docker(box, f"docker rm -f try-db && docker run -d --name try-db2 -v try-data:/data {PY} sleep 600")
    docker(box, f'cd {folder} && docker run -d --name try-ro -v "$PWD/try-config":/config:ro busybox sleep 600')
    docker(box, "docker run -d --name try-cache --tmpfs /scratch:size=32m busybox sleep 600")
    docker(box, JOB.format(image=image))
    docker(box, "docker run -d --name try-reader --volumes-from try-job busybox sleep 600")
    report = grader.grade(grader.find_lab(LAB), sandbox=box)
    assert_all_pass({r.id: r for r in report.results})
    assert report.score == grader.load(grader.find_lab(LAB)).total


# --- the lesson's table of what -v makes of a source, asked of the real daemon ---------------
def test_what_v_makes_of_each_source_with_each_cli_and_the_api(box, folder, monkeypatch):
    from dockyard.notebook import volumes

    for key, value in box.env().items():
        monkeypatch.setenv(key, value)
    monkeypatch.chdir(folder)
    (folder / "sub").mkdir()
    before = set(docker(box, "docker volume ls -q").split())
    for cli in volumes.clis():
        major = int(volumes.cli_version(cli).split(".")[0])
        made = {src: volumes.what_v_makes(src, cli)[3] for src in ("./try-config", f"{folder}/try-config", "try-config",
                                                                   "try-config/sub")}
        up = volumes.what_v_makes("../try-config", cli, cwd="sub")[3]
        assert made[f"{folder}/try-config"] == f"bind mount of {folder}/try-config"
        assert made["try-config"] == "volume 'try-config'"
        assert made["try-config/sub"].startswith("refused:") and "invalid characters" in made["try-config/sub"]
        if major >= 23:
            assert made["./try-config"] == up == f"bind mount of {folder}/try-config"
        else:
            assert made["./try-config"].startswith("refused:") and "use absolute path" in made["./try-config"]
            assert up.startswith("refused:")
    api = volumes.what_api_makes("./try-config")[3]
    assert api.startswith("refused:") and "use absolute path" in api, api
    assert volumes.what_api_makes(f"{folder}/try-config")[3] == f"bind mount of {folder}/try-config"
    # nothing left behind: no container, and the volume the bare name made is gone again
    assert set(docker(box, "docker volume ls -q").split()) == before
    assert "dy07-v-" not in docker(box, "docker ps -a --format '{{.Names}}'")

"""dockyard.notebook.dockerfiles: the parts that need no daemon (contexts, archives, history labels).

The parts that read a daemon (landed, pid1_table, stop_table, clean_up) run against a real sandbox in
tests/integration/lessons/test_05_checks.py."""

from __future__ import annotations

import io
import tarfile

import pytest

from dockyard.notebook import dockerfiles


@pytest.fixture(autouse=True)
def own_work(monkeypatch, tmp_path):
    monkeypatch.setenv("TMPDIR", str(tmp_path))
    monkeypatch.setattr(dockerfiles.tempfile, "tempdir", None)  # TMPDIR is read again
    monkeypatch.setattr(dockerfiles, "_WORK", None)


def test_context_writes_a_dedented_dockerfile_and_files_in_a_fresh_folder(tmp_path):
    ctx = dockerfiles.context("hello", """
        FROM busybox
        CMD ["true"]
    """, {"app/run.sh": "echo hi\n", "blob.bin": b"\x00\x01"})
    assert ctx.parent.parent == tmp_path and ctx.name == "hello"
    assert (ctx / "Dockerfile").read_text() == 'FROM busybox\nCMD ["true"]\n'
    assert (ctx / "app" / "run.sh").read_text() == "echo hi\n" and (ctx / "blob.bin").read_bytes() == b"\x00\x01"
    (ctx / "stale").write_text("x")
    again = dockerfiles.context("hello", "FROM busybox\n")
    assert again == ctx and not (ctx / "stale").exists()


def test_folder_is_where_context_writes_and_exists_before_it(tmp_path):
    path = dockerfiles.folder("try-env")
    assert path == str(dockerfiles.work() / "try-env")
    assert (dockerfiles.work() / "try-env").is_dir() and not any((dockerfiles.work() / "try-env").iterdir())
    assert str(dockerfiles.context("try-env", "FROM busybox\n")) == path


def test_tarball_is_a_gzipped_tar_of_the_files():
    data = dockerfiles.tarball({"index.html": "<h1>hi</h1>", "about.txt": "about"})
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as tar:
        assert sorted(tar.getnames()) == ["about.txt", "index.html"]
        assert tar.extractfile("index.html").read() == b"<h1>hi</h1>"


@pytest.mark.parametrize("created_by, label", [
    ("", "(the base image)"),
    ("RUN /bin/sh -c echo hi > /x # buildkit", "RUN echo hi > /x"),
    ("RUN |1 TOKEN=x /bin/sh -c true # buildkit", "RUN |1 TOKEN=x /bin/sh -c true"),
    ("/bin/sh -c #(nop)  CMD [\"sh\"]", 'CMD ["sh"]'),
    ("/bin/sh -c head -c 20000000 /dev/urandom > /big.bin", "RUN head -c 20000000 /dev/urandom > /big.bin"),
    ('CMD ["cat" "/built.txt"]', 'CMD ["cat" "/built.txt"]'),
])
def test_step_label_names_the_instruction_for_both_builders(created_by, label):
    assert dockerfiles.step_label(created_by) == label


def test_step_label_shortens_long_commands():
    assert dockerfiles.step_label("RUN /bin/sh -c " + "x" * 100, width=20) == "RUN " + "x" * 15 + "…"


@pytest.mark.parametrize("n, text", [(0, "0 B"), (999, "999 B"), (1500, "1.5 kB"), (20_000_000, "20.0 MB")])
def test_size_text_in_decimal_units_as_docker_shows_them(n, text):
    assert dockerfiles.size_text(n) == text

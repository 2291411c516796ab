"""dockyard.notebook.capstone without a daemon: the build folders, the file list, and a conversation with the
real app.py, run here as a plain process on 127.0.0.1 (the containers come in test_08_checks.py)."""

from __future__ import annotations

import socket
import subprocess
import sys

import pytest

from dockyard.notebook import capstone


def test_build_folders_hold_the_apps_and_realistic_junk(tmp_path):
    api, node, outline = capstone.build_folders(tmp_path)
    assert (api / "app.py").read_text() == (capstone.APPS / "python-api" / "app.py").read_text()
    assert {p.name for p in node.iterdir()} >= {"server.js", "package.json", ".git", ".env", "node_modules"}
    for folder in (api, node):
        assert "API_TOKEN=" in (folder / ".env").read_text()
        assert (folder / ".git" / "objects" / "pack" / "pack-history.pack").stat().st_size >= 3_000_000
    assert (api / "test-data" / "fixtures.json").stat().st_size > 1_000_000
    assert (outline / "Dockerfile").read_text() == capstone.OUTLINE_DOCKERFILE
    again, _, _ = capstone.build_folders(tmp_path)  # a second run starts afresh
    assert again == api and not (api / "Dockerfile").exists()


def test_the_outline_dockerfile_keeps_the_outlines_mistakes():
    lines = capstone.OUTLINE_DOCKERFILE.splitlines()
    assert lines[0] == "FROM ubuntu:18.04" and lines[1].startswith("MAINTAINER ")
    assert 'CMD [ "ufw allow 5000" ]' in lines and 'ENTRYPOINT [ "python3" ]' in lines
    assert sum(line.startswith("CMD") for line in lines) == 2


def test_files_lists_every_file_with_its_size(tmp_path):
    api, _, _ = capstone.build_folders(tmp_path)
    table = capstone.files(api)
    names = [row[0] for row in table.rows]
    assert names == sorted(names) and ".env" in names and ".git/objects/pack/pack-history.pack" in names
    assert dict(table.rows)[".git/objects/pack/pack-history.pack"] == "8.000 MB"


@pytest.fixture
def api_server():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen([sys.executable, str(capstone.APPS / "python-api" / "app.py")],
                            env={"HOST": "127.0.0.1", "PORT": str(port)}, stdout=subprocess.PIPE, text=True)
    try:
        assert "listening" in proc.stdout.readline()
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def test_talk_reads_adds_and_reads_again(api_server):
    table = capstone.talk(api_server)
    rows = {(r[0], r[1]): (r[2], r[3]) for r in table.rows}
    assert rows[("GET /items", "")] == ("200", '[{"id": 1, "name": "coffee"}, {"id": 2, "name": "tea"}]')
    assert rows[('POST /items', '{"name": "tea"}')] == ("201", '{"id": 2, "name": "tea"}')
    assert rows[("POST /items", "not json")][0] == "400"
    assert rows[("GET /items/9", "")][0] == "404"
    assert table.rows[0][3] == "[]"  # the first read, before the posts


def test_wait_for_says_what_to_look_at_when_nothing_answers():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(RuntimeError, match="docker logs"):
        capstone.wait_for(f"http://127.0.0.1:{port}/health", budget=0.5)

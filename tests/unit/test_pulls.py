"""dockyard.notebook.pull: the daemon's pull stream shown as a bar (a widget in a notebook), a line elsewhere."""

import io

import pytest

from dockyard import notebook, pulls
from dockyard.errors import DockyardError

STREAM = [
    {"status": "Pulling from library/python", "id": "3.11-slim"},
    {"status": "Pulling fs layer", "progressDetail": {}, "id": "aaa"},
    {"status": "Downloading", "progressDetail": {"current": 40_000_000, "total": 67_000_000}, "id": "aaa"},
    {"status": "Download complete", "progressDetail": {}, "id": "aaa"},
    {"status": "Extracting", "progressDetail": {"current": 67_000_000, "total": 67_000_000}, "id": "aaa"},
    {"status": "Pull complete", "progressDetail": {}, "id": "aaa"},
    {"status": "Digest: sha256:f95b"},
    {"status": "Status: Downloaded newer image for python:3.11-slim"},
]


class Client:
    def __init__(self, events):
        outer = self
        self.refs = []

        class Api:
            def pull(self, ref, stream=False, decode=False):
                assert stream and decode  # the low-level stream, one dict per event
                outer.refs.append(ref)
                return iter(events)

        self.api = Api()


class Recorder:
    def __init__(self):
        self.updates, self.closed = [], None

    def update(self, seen, elapsed, left):
        self.updates.append((seen.fraction(), seen.summary(), left))

    def close(self, seen, elapsed, ok):
        self.closed = (ok, seen.summary(), pulls.outcome(seen))


def ticking(step=0.2):
    t = [0.0]

    def clock():
        t[0] += step
        return t[0]
    return clock


def test_a_pull_drives_its_view_from_the_stream_and_ends_done():
    view = Recorder()
    seen = pulls.pull_one(Client(STREAM), "python:3.11-slim", view=view, clock=ticking())
    assert seen.layers_done == 1
    fractions = [f for f, _s, _l in view.updates]
    assert fractions == sorted(fractions) and fractions[-1] == 1.0  # never goes backwards
    assert ("layers 0/1, 40.0MB/67.0MB") in [s for _f, s, _l in view.updates]
    assert view.closed == (True, "layers 1/1, 67.0MB/67.0MB", "Downloaded newer image")


def test_a_failed_pull_raises_the_daemons_reason_and_closes_its_bar():
    view = Recorder()
    with pytest.raises(DockyardError, match="docker pull nosuch failed: manifest for nosuch:latest not found"):
        pulls.pull_one(Client([{"error": "manifest for nosuch:latest not found"}]), "nosuch", view=view)
    assert view.closed[0] is False


def test_outside_a_notebook_and_a_terminal_it_prints_one_line_per_image():
    out = io.StringIO()
    pulls.pull_one(Client(STREAM), "python:3.11-slim", view=pulls.TextView("python:3.11-slim", out))
    pulls.pull_one(Client([{"status": "Status: Image is up to date for busybox:latest"}]), "busybox",
                   view=pulls.TextView("busybox", out))
    lines = out.getvalue().splitlines()
    assert lines[0].startswith("python:3.11-slim: Downloaded newer image (layers 1/1, 67.0MB/67.0MB) in ")
    assert lines[1].startswith("busybox: Image is up to date in ")
    assert not pulls.in_notebook()  # pytest is no Jupyter kernel


def test_the_notebook_helper_pulls_each_image_from_the_sandbox(monkeypatch, capsys):
    client = Client(STREAM)

    class Box:
        pass

    box = Box()
    box.client = client
    monkeypatch.setattr(notebook, "sandbox", lambda: box)
    notebook.pull("busybox", "python:3.11-slim")
    assert client.refs == ["busybox", "python:3.11-slim"]
    assert capsys.readouterr().out.count("Downloaded newer image") == 2

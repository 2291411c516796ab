"""Progress of long steps: time formats, the class ETA, a pull stream folded, weighted phases in a log."""

import io

import pytest

from dockyard.progressbar import ItemEta, Pace, Phases, PullProgress, fmt_bytes, fmt_time, is_tty


class Clock:
    def __init__(self):
        self.now = 100.0

    def __call__(self):
        return self.now


@pytest.mark.parametrize("seconds,text", [(None, "?"), (0, "00:00"), (75, "01:15"), (59.6, "01:00"),
                                          (3725, "1:02:05"), (-3, "00:00")])
def test_fmt_time_is_tqdms(seconds, text):
    assert fmt_time(seconds) == text


def test_fmt_bytes_uses_dockers_decimal_units():
    assert [fmt_bytes(n) for n in (512, 1_069_018, 67_020_040, 2.5e9)] == ["512B", "1.1MB", "67.0MB", "2.5GB"]


def test_a_terminal_recorded_to_a_file_can_ask_for_plain_lines(monkeypatch):
    class Tty(io.StringIO):
        def isatty(self):
            return True

    assert is_tty(Tty()) and not is_tty(io.StringIO()) and not is_tty(None)
    monkeypatch.setenv("DOCKYARD_PROGRESS", "plain")
    assert not is_tty(Tty())


def test_skipped_items_count_but_never_set_the_pace():
    clock = Clock()
    eta = ItemEta(10, jobs=1, clock=clock)
    for _ in range(5):
        eta.skip()  # already graded: no time at all
    assert (eta.done, eta.left, eta.remaining()) == (5, 5, None)  # nothing timed yet: unknown, not 0
    clock.now += 60
    eta.finish(60)
    # 4 left at 60 s each; five skips in no time must not make it look like 6 s each
    assert eta.remaining() == pytest.approx(240)


def test_parallel_jobs_share_the_items_left():
    clock = Clock()
    eta = ItemEta(6, jobs=2, clock=clock)
    clock.now += 40
    eta.finish(40)
    assert eta.remaining() == pytest.approx(40 * 5 / 2)  # mean time per item, two at once
    clock.now += 2
    eta.finish(40)
    # two done in 42 s of wall clock: from now on the measured pace, 21 s per item
    assert eta.remaining() == pytest.approx(4 * 42 / 2)
    clock.now += 10
    assert eta.remaining() == pytest.approx(4 * 42 / 2 - 10)  # counts down between finishes


def test_the_last_item_leaves_nothing_and_the_estimate_never_goes_negative():
    clock = Clock()
    eta = ItemEta(2, jobs=4, clock=clock)
    eta.finish(30)
    assert eta.remaining() == pytest.approx(30)  # one left, alone: min(jobs, left)
    clock.now += 100
    assert eta.remaining() == 0
    eta.finish(30)
    assert (eta.left, eta.remaining()) == (0, 0)


STREAM = [
    {"status": "Pulling from library/python", "id": "3.11-slim"},
    {"status": "Pulling fs layer", "progressDetail": {}, "id": "aaa"},
    {"status": "Already exists", "progressDetail": {}, "id": "bbb"},
    {"status": "Downloading", "progressDetail": {"current": 50, "total": 200}, "id": "aaa"},
]


def test_a_pull_stream_is_folded_into_layers_and_bytes():
    seen = PullProgress(download_share=0.5)
    for event in STREAM:
        seen.feed(event)
    assert (seen.layers_done, seen.layers_total, seen.bytes_done, seen.bytes_total) == (1, 2, 50, 200)
    assert seen.summary() == "layers 1/2, 50B/200B"
    assert seen.fraction() == pytest.approx(25 / 200)  # half of the download, none of the unpacking
    seen.feed({"status": "Download complete", "progressDetail": {}, "id": "aaa"})
    seen.feed({"status": "Extracting", "progressDetail": {"current": 100, "total": 200}, "id": "aaa"})
    assert seen.fraction() == pytest.approx(0.75)
    assert seen.summary() == "layers 1/2, unpacking 100B/200B"  # not "200B/200B" while it still works
    seen.feed({"status": "Pull complete", "progressDetail": {}, "id": "aaa"})
    seen.feed({"status": "Status: Downloaded newer image for python:3.11-slim"})
    assert (seen.layers_done, seen.fraction(), seen.error) == (2, 1.0, None)
    assert seen.status == "Status: Downloaded newer image for python:3.11-slim"


def test_sizes_known_beforehand_give_the_total_before_the_first_byte():
    seen = PullProgress({"aaa": 1000, "ccc": 3000})
    assert (seen.layers_total, seen.bytes_total, seen.fraction()) == (2, 4000, 0.0)
    seen.feed({"status": "Pulling fs layer", "progressDetail": {}, "id": "aaa"})
    assert (seen.layers_total, seen.bytes_total) == (2, 4000)  # the same layer, not counted twice


def test_an_error_in_the_stream_is_kept_and_an_up_to_date_image_shows_nothing_moved():
    seen = PullProgress()
    seen.feed({"errorDetail": {"message": "manifest unknown"}, "error": "manifest unknown"})
    assert seen.error == "manifest unknown"
    same = PullProgress()
    same.feed({"status": "Status: Image is up to date for busybox:latest"})
    assert (same.summary(), same.fraction()) == ("", 0.0)


def test_pace_uses_its_own_measure_once_it_has_one():
    assert Pace.left(0.5, 10, expected=100) == pytest.approx(10)  # measured: as long again
    assert Pace.left(0.01, 1, expected=100) == pytest.approx(99 - 1)  # too little done: the guess, less time gone
    assert Pace.left(0.01, 1, expected=None) is None
    assert Pace.left(1.0, 5, expected=1) == 0


def test_phases_in_a_log_say_k_of_n_and_the_time_left():
    clock, out = Clock(), io.StringIO()
    steps = [("starting", 2), ("building python", 30), ("pulling python", 3), ("saving", 1)]
    bar = Phases("image template", steps, stream=out, tty=False, clock=clock)
    bar.start(0)
    clock.now += 2
    bar.start(1)
    clock.now += 60  # the machine is twice as slow as expected
    bar.start(2)
    bar.update(0.5, "layers 0/1, 30.0MB/67.0MB")
    clock.now += 2
    bar.start(3)
    clock.now += 1
    bar.close()
    lines = out.getvalue().splitlines()
    assert lines[0] == "image template [1/4] starting: done in 2.0 s; about 00:34 left"
    assert lines[1] == "image template [2/4] building python ... (about 00:34 left)"  # long steps say they start
    # 62 s spent on 32 s expected (shrunk by 20 s of prior: (62 + 20) / (32 + 20)): the 4 s left take about 6
    assert lines[2] == "image template [2/4] building python: done in 60.0 s; about 00:06 left"
    assert lines[3] == "image template [3/4] pulling python ... (about 00:06 left)"
    assert lines[4] == "image template [3/4] pulling python: done in 2.0 s (layers 0/1, 30.0MB/67.0MB); about 00:02 left"
    assert lines[5:] == ["image template [4/4] saving: done in 1.0 s", "image template: done in 01:05"]


def test_phases_percent_weighs_steps_by_their_expected_time():
    clock = Clock()
    bar = Phases("t", [("short", 1), ("long", 9)], stream=None, clock=clock)
    bar.start(0)
    bar.start(1)
    bar.update(0.5)
    assert bar.percent() == pytest.approx(55)
    assert bar.pace() == 1.0  # one short step is too little to judge a machine by


def test_a_failed_build_does_not_claim_to_be_done():
    out = io.StringIO()
    bar = Phases("t", [("a", 5)], stream=out, tty=False)
    bar.start(0)
    bar.close(ok=False)
    assert "done" not in out.getvalue()

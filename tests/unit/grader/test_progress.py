from grader import progress
from grader.result import CheckResult, Report


def report(points_a, points_b):
    return Report(lab="05-dockerfile", title="Lab 05", tasks=(("a", "A"), ("b", "B")), results=(
        CheckResult("a1", "A", points_a, 2, points_a == 2, "m", task="a"),
        CheckResult("b1", "B", points_b, 3, points_b == 3, "m", task="b")))


def test_best_result_per_lab_and_task_survives_and_never_drops(tmp_path):
    f = tmp_path / "progress.json"
    progress.record(f, report(2, 0))
    progress.record(f, report(0, 3))
    entry = progress.load(f)["05-dockerfile"]
    assert entry["best"] == 5 and entry["total"] == 5 and entry["attempts"] == 2  # best per task, summed
    assert entry["tasks"] == {"a": [2, 2], "b": [3, 3]}
    assert "tasks complete 2/2" in progress.table(progress.load(f))


def test_empty_progress_says_what_to_do(tmp_path):
    assert "dockyard check" in progress.table(progress.load(tmp_path / "none.json"))


def test_checking_one_task_leaves_the_others_alone(tmp_path):
    f = tmp_path / "progress.json"
    progress.record(f, report(2, 3))
    only_a = Report(lab="05-dockerfile", title="Lab 05", tasks=(("a", "A"), ("b", "B")), results=(
        CheckResult("a1", "A", 0, 2, False, "m", task="a"),))
    entry = progress.record(f, only_a)
    assert entry["tasks"] == {"a": [2, 2], "b": [3, 3]} and entry["total"] == 5 and entry["best"] == 5

"""Lab specs are validated before anything runs, with file:line errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from grader.errors import SpecError
from grader.spec import find_lab, load

LABS = Path(__file__).resolve().parents[3] / "labs"

GOOD = """\
schema_version: 1
id: demo
title: Demo lab
tasks:
  - id: one
    title: First
    checks:
      - check: dockerfile.parses
        points: 2
      - check: image.user
        id: user
        with: {image: app}
        hints: {root: "add USER"}
"""


def write(tmp_path, text):
    (tmp_path / "lab.yaml").write_text(text)
    return tmp_path


def problems(tmp_path, text):
    with pytest.raises(SpecError) as exc:
        load(write(tmp_path, text))
    return exc.value


def test_a_valid_spec_loads(tmp_path):
    lab = load(write(tmp_path, GOOD))
    assert lab.id == "demo" and lab.total == 3
    (task, first), (_, second) = list(lab.checks())
    assert task.id == "one"
    assert first.id == "one.dockerfile.parses" and first.points == 2 and first.line == 8
    assert second.id == "user" and second.params == {"image": "app"} and second.hints == {"root": "add USER"}
    assert first.title  # the check's own default title


def test_unknown_check_names_its_line_and_suggests(tmp_path):
    err = problems(tmp_path, GOOD.replace("image.user", "image.usr"))
    assert f"{tmp_path / 'lab.yaml'}:10: unknown check 'image.usr' (did you mean image.user or" in str(err)


def test_wrong_type_and_missing_parameter(tmp_path):
    err = problems(tmp_path, GOOD.replace("with: {image: app}", "with: {not_root: maybe}"))
    text = str(err)
    assert ":12:" in text
    assert "parameter 'not_root' of image.user must be bool, not str" in text
    assert "check image.user needs parameter 'image'" in text


def test_missing_fields_and_unknown_keys_all_reported_at_once(tmp_path):
    text = "schema_version: 1\ntitle: x\ncolour: blue\ntasks:\n  - id: a\n    checks: []\n"
    err = problems(tmp_path, text)
    lines = [p for p in err.problems]
    msgs = " | ".join(m for _, m in lines)
    assert "missing or empty field 'id'" in msgs
    assert "unknown key 'colour'" in msgs and (3, ) == tuple(l for l, m in lines if "colour" in m)
    assert "task 'a' has no checks" in msgs


def test_bad_schema_version(tmp_path):
    err = problems(tmp_path, GOOD.replace("schema_version: 1", "schema_version: 7"))
    assert ":1: schema_version 7 is not supported" in str(err)


def test_parameters_outside_with_are_refused(tmp_path):
    err = problems(tmp_path, GOOD.replace("        with: {image: app}\n", "        image: app\n"))
    assert "unknown key 'image' in a check" in str(err) and "'with'" in str(err)


def test_not_yaml_gives_the_line(tmp_path):
    err = problems(tmp_path, "schema_version: 1\ntasks: [\n  - a: b\n")
    assert "not valid YAML" in str(err) and str(tmp_path / "lab.yaml") in str(err)


def test_duplicate_check_ids(tmp_path):
    err = problems(tmp_path, GOOD.replace("id: user", "id: one.dockerfile.parses"))
    assert "used twice" in str(err)


def test_negative_points(tmp_path):
    err = problems(tmp_path, GOOD.replace("points: 2", "points: -1"))
    assert ":9: points must be a number" in str(err)


def test_missing_file(tmp_path):
    with pytest.raises(SpecError, match="no lab.yaml here"):
        load(tmp_path)


def test_every_shipped_lab_is_valid():
    labs = sorted(p for p in LABS.glob("*/lab.yaml"))
    assert labs
    for path in labs:
        lab = load(path)
        assert lab.total > 0, path


def test_find_lab_by_number_topic_or_path():
    assert find_lab("05").name == "05-dockerfile"
    assert find_lab("dockerfile").name == "05-dockerfile"
    assert find_lab(str(LABS / "05-dockerfile")).name == "05-dockerfile"
    with pytest.raises(SpecError, match="no lab called 'nope'"):
        find_lab("nope")


def test_a_lesson_and_a_lab_sharing_a_name_are_told_apart():
    lesson = find_lab("01-namespaces")  # lesson notebooks' grader.check(...)
    assert lesson.parent.name == "checks" and lesson.name == "01-namespaces.yaml"
    lab = find_lab("01-namespaces", prefer="lab")  # dockyard check, the pytest plugin
    assert lab == LABS / "01-namespaces"
    assert load(lab).id == "01-namespaces" and load(lab).path != load(lesson).path

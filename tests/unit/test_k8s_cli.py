"""``dockyard k8s``: the files it writes pass ``kubernetes-validate --strict`` (the PyPI tool's own command)
and ``dockyard k8s validate``; a broken file fails both."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from grader.cli import main
from grader.k8s.cluster import KUBERNETES_VERSION

TOOL = shutil.which("kubernetes-validate", path=str(Path(sys.executable).parent)) or "kubernetes-validate"


def run(*args):
    return CliRunner().invoke(main, list(map(str, args)))


@pytest.fixture
def deploy(tmp_path):
    out = tmp_path / "deploy"
    r = run("k8s", "values", "-o", out, "--image", "registry.example/dockyard:0.1.0", "--instructor", "ada",
            "--memory", "3G", "--cpu", "1.5")
    assert r.exit_code == 0, r.output
    r = run("k8s", "grading-job", "05-dockerfile", "--handins", "12", "-j", "3", "-o", out / "grading.yaml",
            "--image", "registry.example/dockyard:0.1.0")
    assert r.exit_code == 0, r.output
    return out


def test_kubernetes_validate_strict_passes_every_manifest(deploy):
    res = subprocess.run([TOOL, "--strict", "-k", KUBERNETES_VERSION, deploy / "course.yaml", deploy / "grading.yaml"],
                         capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stdout + res.stderr
    assert res.stdout.count("passed") + res.stderr.count("passed") == 7  # 2 PVCs, ConfigMap, Deployment, Service, 2 Jobs


def test_dockyard_k8s_validate_checks_the_values_through_kubespawner(deploy):
    r = run("k8s", "validate", deploy / "values.yaml", deploy / "course.yaml", deploy / "grading.yaml")
    assert r.exit_code == 0, r.output
    assert "values (the learner pod KubeSpawner builds from it)" in r.output
    assert "all valid for Kubernetes" in r.output


def test_the_written_files_say_what_they_are(deploy):
    text = (deploy / "values.yaml").read_text()
    assert text.startswith("# Zero to JupyterHub values") and "not run on a real cluster" in text
    values = yaml.safe_load(text)
    assert values["singleuser"]["memory"]["limit"] == "3G"
    grading = list(yaml.safe_load_all((deploy / "grading.yaml").read_text()))
    assert [d["kind"] for d in grading] == ["Job", "Job"]
    assert grading[0]["spec"]["completions"] == 12 and grading[0]["spec"]["parallelism"] == 3


def test_a_broken_manifest_fails_both_validators(deploy, tmp_path):
    docs = list(yaml.safe_load_all((deploy / "grading.yaml").read_text()))
    docs[0]["spec"]["template"]["spec"]["containers"][0]["resource"] = {}  # resources, misspelt
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump_all(docs))
    res = subprocess.run([TOOL, "--strict", "-k", KUBERNETES_VERSION, bad], capture_output=True, text=True,
                         timeout=120)
    assert res.returncode != 0
    r = run("k8s", "validate", bad)
    assert r.exit_code == 1 and "resource" in r.output and "1 invalid" in r.output


def test_a_privileged_pod_is_refused_even_when_its_schema_is_valid(deploy, tmp_path):
    docs = list(yaml.safe_load_all((deploy / "course.yaml").read_text()))
    dep = next(d for d in docs if d["kind"] == "Deployment")
    dep["spec"]["template"]["spec"]["containers"][0]["securityContext"]["privileged"] = True
    bad = tmp_path / "privileged.yaml"
    bad.write_text(yaml.safe_dump(dep))
    r = run("k8s", "validate", bad)
    assert r.exit_code == 1 and "container formgrader is privileged" in r.output


def test_grading_job_counts_the_hand_ins_of_a_course(tmp_path):
    course = tmp_path / "course"
    for s in ("ann", "bob"):
        (course / "submitted" / s / "05-dockerfile").mkdir(parents=True)
    r = run("k8s", "grading-job", "05-dockerfile", "--course", course, "-o", tmp_path / "g.yaml")
    assert r.exit_code == 0, r.output
    assert yaml.safe_load_all((tmp_path / "g.yaml").read_text()).__next__()["spec"]["completions"] == 2
    r = run("k8s", "grading-job", "05-dockerfile", "--course", tmp_path / "empty", "-o", tmp_path / "h.yaml")
    assert r.exit_code == 1 and "no hand-ins of 05-dockerfile" in r.stderr


def test_a_value_kubespawner_refuses_is_reported_not_crashed_on(deploy, tmp_path):
    values = yaml.safe_load((deploy / "values.yaml").read_text())
    values["singleuser"]["memory"]["limit"] = "3Gi"  # a Kubernetes quantity, but not a size KubeSpawner reads
    bad = tmp_path / "values.yaml"
    bad.write_text(yaml.safe_dump(values))
    r = run("k8s", "validate", bad)
    assert r.exit_code == 1 and "KubeSpawner cannot build the learner's pod: TraitError" in r.output


def test_chart_schema_option_checks_the_values_file(deploy, tmp_path):
    # a stand-in for the chart's values.schema.json: the chart merges defaults first, so `required` is not asked
    schema = {"type": "object", "additionalProperties": False, "required": ["proxy"],
              "properties": {"hub": {"type": "object"}, "cull": {"type": "object"},
                             "singleuser": {"type": "object", "additionalProperties": False,
                                            "properties": {k: {} for k in yaml.safe_load(
                                                (deploy / "values.yaml").read_text())["singleuser"] if k != "cpu"}}}}
    # as the chart's extraFiles: exactly one of data, stringData, binaryData (a `required` that must stay)
    schema["properties"]["singleuser"]["properties"]["extraFiles"] = {"type": "object", "additionalProperties": {
        "type": "object", "required": ["mountPath"],
        "oneOf": [{"required": ["data"]}, {"required": ["stringData"]}, {"required": ["binaryData"]}]}}
    path = tmp_path / "values.schema.json"
    path.write_text(__import__("json").dumps(schema))
    r = run("k8s", "validate", deploy / "values.yaml", "--chart-schema", path)
    assert r.exit_code == 1 and "'cpu' was unexpected" in r.output
    assert "extraFiles" not in r.output  # stringData: one alternative, valid

"""grader.k8s without a cluster: every manifest passes kubernetes-validate --strict, and the learner's pod
is the one KubeSpawner's own pod builder makes from the generated values."""

from __future__ import annotations

import copy

import pytest

from dockyard.errors import ConfigError
from grader.k8s import jobs, validate as val, values as v
from grader.k8s.cluster import (EXCHANGE_MOUNT, KUBERNETES_VERSION, RUNTIME_CLASS, Cluster, quantity_bytes,
                                  spawner_bytes)
from grader.course.grading import Limits
from grader.course.job import RETRY_EXIT

CLUSTER = Cluster(image="registry.example/dockyard:0.1.0", instructors=("ada", "grace"),
                  shared_storage_class="nfs-client")


@pytest.fixture(scope="module")
def values():
    return v.values(CLUSTER)


@pytest.fixture(scope="module")
def pod(values):
    return val.learner_pod(values, "student-001", user_id=7)


def every_manifest():
    return v.course_objects(CLUSTER) + [jobs.grading_job(CLUSTER, "05-dockerfile", 30, parallelism=8),
                                        jobs.merge_job(CLUSTER, "05-dockerfile", 30, parallelism=8)]


@pytest.mark.parametrize("manifest", every_manifest(), ids=lambda m: f"{m['kind']}-{m['metadata']['name']}")
def test_every_manifest_is_valid_strictly(manifest):
    assert val.problems(manifest) == []
    spec = val.pod_spec_of(manifest)
    assert spec is None or val.pod_security_problems(spec, manifest["kind"]) == []


def test_the_learner_pod_kubespawner_builds_is_valid_and_not_privileged(pod):
    assert val.problems(pod) == []
    assert val.pod_security_problems(pod["spec"], "learner pod") == []


def test_the_learner_pod_runs_the_sandbox_under_sysbox_then_the_server(pod):
    spec = pod["spec"]
    assert spec["runtimeClassName"] == RUNTIME_CLASS
    assert pod["metadata"]["annotations"]["io.kubernetes.cri-o.userns-mode"].startswith("auto")
    [c] = spec["containers"]
    assert c["args"][:4] == ["python3", "-m", "grader.k8s.learner", "jupyterhub-singleuser"]
    assert c["securityContext"].get("privileged") in (None, False)
    assert spec.get("automountServiceAccountToken") is False
    env = {e["name"]: e.get("value") for e in c["env"]}
    assert env["DOCKYARD_LEARNER_UID"] == "20007"  # hub.extraConfig: a uid of its own per learner
    assert env["DOCKYARD_HOME"].startswith("/var/lib/docker/")
    assert env["JUPYTERHUB_USER"] == "student-001"


def test_the_learner_pod_has_its_volume_the_exchange_and_limits(pod):
    spec = pod["spec"]
    claims = {vol["name"]: vol.get("persistentVolumeClaim", {}).get("claimName") for vol in spec["volumes"]}
    assert claims["volume-student-001"] == "claim-student-001"  # its own persistent volume
    assert claims["exchange"] == CLUSTER.exchange_claim
    mounts = {m["mountPath"]: m["name"] for m in spec["containers"][0]["volumeMounts"]}
    assert mounts["/home/jovyan"] == "volume-student-001" and mounts[EXCHANGE_MOUNT] == "exchange"
    assert mounts["/etc/jupyter/nbgrader_config.py"] == "files"
    res = spec["containers"][0]["resources"]
    assert quantity_bytes(str(res["limits"]["memory"])) == spawner_bytes(CLUSTER.memory_limit) == 4 * 2**30
    assert float(res["limits"]["cpu"]) == CLUSTER.cpu_limit and float(res["requests"]["cpu"]) == CLUSTER.cpu_guarantee


def test_values_have_formgrader_for_the_instructors_and_the_culler(values):
    svc = values["hub"]["services"]["formgrader"]
    assert svc["url"] == f"http://{CLUSTER.formgrader}:8888"
    role = values["hub"]["loadRoles"]["formgrader"]
    assert role["users"] == ["ada", "grace"] and role["scopes"] == ["access:services!service=formgrader"]
    assert values["hub"]["config"]["Authenticator"]["admin_users"] == ["ada", "grace"]
    assert values["cull"]["enabled"] is True and values["cull"]["timeout"] == CLUSTER.cull_timeout
    # the chart's privileged iptables initContainer is off; egress is closed by the NetworkPolicy instead
    assert values["singleuser"]["cloudMetadata"]["blockWithIptables"] is False
    rules = values["singleuser"]["networkPolicy"]["egressAllowRules"]
    assert not rules["cloudMetadataServer"] and not rules["nonPrivateIPs"] and not rules["privateIPs"]


def test_the_exchange_and_course_volumes_are_shared_read_write_many():
    claims = {o["metadata"]["name"]: o for o in v.course_objects(CLUSTER) if o["kind"] == "PersistentVolumeClaim"}
    for name in (CLUSTER.exchange_claim, CLUSTER.course_claim):
        assert claims[name]["spec"]["accessModes"] == ["ReadWriteMany"]
        assert claims[name]["spec"]["storageClassName"] == "nfs-client"


def test_the_chart_default_iptables_block_would_be_caught_as_privileged(values):
    chart_default = copy.deepcopy(values)
    chart_default["singleuser"]["cloudMetadata"]["blockWithIptables"] = True
    pod = val.learner_pod(chart_default)
    assert val.pod_security_problems(pod["spec"], "learner pod") == [
        "learner pod: container block-cloud-metadata is privileged",
        "learner pod: container block-cloud-metadata adds NET_ADMIN"]


def test_a_singleuser_key_not_passed_to_kubespawner_here_is_refused(values):
    odd = copy.deepcopy(values)
    odd["singleuser"]["profileList"] = []
    with pytest.raises(ValueError, match="profileList"):
        val.spawner_config(odd)


def test_a_misspelt_field_fails_strict_validation():
    job = jobs.grading_job(CLUSTER, "05-dockerfile", 3)
    job["spec"]["template"]["spec"]["runtimeClass"] = RUNTIME_CLASS  # runtimeClassName, misspelt
    [problem] = val.problems(job)
    assert "runtimeClass" in problem and "Additional properties" in problem
    job = jobs.grading_job(CLUSTER, "05-dockerfile", 3)
    job["spec"]["completions"] = "three"
    assert "spec.completions" in val.problems(job)[0]


def test_the_grading_job_is_indexed_one_hand_in_per_index():
    job = jobs.grading_job(CLUSTER, "05-dockerfile", 30, parallelism=8, limits=Limits(notebook_timeout=600, disk=None))
    spec = job["spec"]
    assert (spec["completionMode"], spec["completions"], spec["parallelism"]) == ("Indexed", 30, 8)
    assert spec["backoffLimitPerIndex"] == jobs.RETRIES_PER_INDEX and spec["maxFailedIndexes"] == 30
    pod = spec["template"]["spec"]
    assert pod["runtimeClassName"] == RUNTIME_CLASS and pod["restartPolicy"] == "Never"
    assert pod["activeDeadlineSeconds"] == 600 + jobs.POD_SLACK
    [c] = pod["containers"]
    assert c["command"][:6] == ["python3", "-m", "grader.course.job", "grade", "05-dockerfile", "--course=/srv/course"]
    assert "--disk=0" in c["command"]  # no loop devices in a pod: ephemeral-storage caps it instead
    env = {e["name"]: e for e in c["env"]}
    assert env["DOCKYARD_HANDINS"]["value"] == "30"
    assert "job-index-failure-count" in env["DOCKYARD_INDEX_FAILURES"]["valueFrom"]["fieldRef"]["fieldPath"]
    assert c["volumeMounts"] == [{"name": "course", "mountPath": "/srv/course"}]
    assert pod["volumes"][0]["persistentVolumeClaim"]["claimName"] == CLUSTER.course_claim
    actions = [(r["action"], r.get("onExitCodes", {}).get("values")) for r in spec["podFailurePolicy"]["rules"]]
    assert actions == [("Ignore", None), ("Count", [RETRY_EXIT]), ("FailIndex", [0, RETRY_EXIT])]


def test_the_merge_job_is_one_ordinary_pod_that_waits_long_enough():
    limits = Limits(notebook_timeout=600, disk=None)
    merge = jobs.merge_job(CLUSTER, "05-dockerfile", 30, parallelism=8, limits=limits)
    spec = merge["spec"]
    assert (spec["completions"], spec["parallelism"]) == (1, 1)
    pod = spec["template"]["spec"]
    assert "runtimeClassName" not in pod
    [c] = pod["containers"]
    assert c["command"][3:5] == ["merge", "05-dockerfile"]
    wait = int(c["command"][-1].split("=")[1])
    assert wait == 4 * (600 + jobs.POD_SLACK) * 2  # 4 rounds of 8, each index may get a second pod
    assert c["securityContext"]["allowPrivilegeEscalation"] is False


def test_job_names_are_dns_labels_and_parallelism_is_clamped():
    job = jobs.grading_job(Cluster(prefix="a" * 40), "05-dockerfile", 2, parallelism=10)
    assert len(job["metadata"]["name"]) <= 63 and job["spec"]["parallelism"] == 2
    assert val.problems(job) == []
    with pytest.raises(ValueError, match="at least one hand-in"):
        jobs.grading_job(CLUSTER, "05-dockerfile", 0)
    with pytest.raises(ValueError, match="cannot hold a kernel of 1g"):
        jobs.grading_job(CLUSTER, "05-dockerfile", 2, memory="1Gi")


@pytest.mark.parametrize("kw,words", [
    ({"image": "dockyard"}, "has no tag"),
    ({"home_size": "10 gigs"}, "not a Kubernetes quantity"),
    ({"prefix": "Dock_yard"}, "not a DNS label"),
    ({"cpu_guarantee": 4.0}, "above the limit"),
    ({"instructors": ()}, "no instructor"),
])
def test_settings_that_cannot_work_are_refused(kw, words):
    with pytest.raises(ConfigError, match=words):
        Cluster(**kw)


def test_quantities_read_as_the_kubelet_reads_them():
    assert quantity_bytes("4G") == 4 * 10**9 and quantity_bytes("4Gi") == 4 * 2**30
    assert quantity_bytes("512Mi") == 512 * 2**20 and quantity_bytes("1.5Gi") == int(1.5 * 2**30)
    # singleuser.memory is KubeSpawner's: G is 2**30, and "4Gi" is refused by its traits
    assert spawner_bytes("4G") == 4 * 2**30 and spawner_bytes("512M") == 512 * 2**20
    assert v.learner_env(Cluster(memory_limit="4G"))["DOCKYARD_MEMORY"] == "3072m"
    with pytest.raises(ConfigError, match="not a size KubeSpawner reads"):
        Cluster(memory_limit="4Gi")


def test_the_default_kubernetes_version_has_schemas_here():
    import kubernetes_validate

    assert kubernetes_validate.validate(v.course_objects(CLUSTER)[0], KUBERNETES_VERSION, strict=True)


def test_coroutines_run_also_where_an_event_loop_already_runs():
    """playwright's sync API (the browser tests, in the same session) and notebook kernels run a loop in this
    thread, where asyncio.run() refuses: KubeSpawner's pod is built all the same."""
    import asyncio

    from grader.k8s.validate import run_coroutine

    async def answer():
        return 42

    async def inside_a_loop():
        return run_coroutine(answer())

    assert run_coroutine(answer()) == 42
    assert asyncio.run(inside_a_loop()) == 42

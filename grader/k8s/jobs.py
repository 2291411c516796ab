"""Class grading as two Kubernetes Jobs: an Indexed Job (pod *i* grades hand-in *i*) and a merge with one writer.

Both run :mod:`grader.course.job` with the course volume mounted at ``/srv/course``:

- ``<prefix>-grade-<lab>``: ``completionMode: Indexed``, ``completions`` = the number of hand-ins,
  ``parallelism`` as asked. Each index gets a fresh pod with the sysbox runtime, in which
  ``grade`` starts the hand-in's own sandbox and grades it as ``dockyard grade`` would, into
  ``grading/<lab>/pending/<student>/``. A pod whose hand-in never ran (nbgrader failed first)
  exits 3 and the index gets one more fresh pod (``backoffLimitPerIndex``); other failures of
  the pod are recorded and the index is not retried (``podFailurePolicy``).
- ``<prefix>-merge-<lab>``: one pod, ordinary runtime, that waits for every hand-in's result
  and lands them in ``gradebook.db`` one at a time.

Apply both at once (``kubectl apply -f grading.yaml``).
"""

from __future__ import annotations

from grader.course.grading import Limits
from grader.course.job import RETRY_EXIT

from .cluster import COURSE_MOUNT, LABELS, POD_DOCKYARD_HOME, SYSBOX_ANNOTATIONS, Cluster, quantity_bytes
from dockyard.config import parse_size

RETRIES_PER_INDEX = 1
POD_SLACK = 300  # seconds a grading pod gets past the notebook timeout: sandbox start, feedback, copying


def job_name(cluster: Cluster, what: str, lab: str) -> str:
    name = f"{cluster.prefix}-{what}-{lab}".lower()
    return name[:63].rstrip("-")


def _labels(lab: str, component: str) -> dict:
    return {**LABELS, "app.kubernetes.io/component": component, "dockyard.org/lab": lab}


def _course_volume(cluster: Cluster) -> list[dict]:
    return [{"name": "course", "persistentVolumeClaim": {"claimName": cluster.course_claim}}]


def _limit_args(limits: Limits) -> list[str]:
    return [f"--cell-timeout={limits.cell_timeout}", f"--notebook-timeout={limits.notebook_timeout}",
            f"--memory={limits.memory}", f"--pids={limits.pids}", f"--disk={limits.disk or 0}"]


def grading_job(cluster: Cluster, lab: str, handins: int, *, parallelism: int = 4, limits: Limits | None = None,
                memory: str = "3Gi", cpu: float = 1.0, ephemeral: str = "12Gi") -> dict:
    """The Indexed Job: index i grades the i-th hand-in (sorted by student) in a fresh sysbox pod."""
    if handins < 1:
        raise ValueError("a grading Job needs at least one hand-in")
    # no loop devices in a pod: the hand-in's disk cap is the pod's ephemeral-storage limit
    limits = limits or Limits(disk=None)
    kernel = parse_size(limits.memory)
    if quantity_bytes(memory) < kernel + 512 * 1024**2:
        raise ValueError(f"a grading pod of {memory} cannot hold a kernel of {limits.memory} and its sandbox")
    env = [{"name": "DOCKYARD_HOME", "value": POD_DOCKYARD_HOME},
           {"name": "DOCKYARD_HANDINS", "value": str(handins)},
           {"name": "DOCKYARD_BACKOFF_PER_INDEX", "value": str(RETRIES_PER_INDEX)},
           # how often this index failed before (the Job controller's annotation, read through the downward API)
           {"name": "DOCKYARD_INDEX_FAILURES", "valueFrom": {"fieldRef": {
               "fieldPath": "metadata.annotations['batch.kubernetes.io/job-index-failure-count']"}}}]
    container = {
        "name": "grade",
        "image": cluster.image,
        "command": ["python3", "-m", "grader.course.job", "grade", lab, f"--course={COURSE_MOUNT}",
                    *_limit_args(limits)],
        "env": env,
        "resources": {"requests": {"memory": memory, "cpu": f"{cpu:g}", "ephemeral-storage": "2Gi"},
                      "limits": {"memory": memory, "cpu": f"{cpu:g}", "ephemeral-storage": ephemeral}},
        # root of the pod's own user namespace (sysbox): the sandbox's dockerd and the kernel's fence need it
        "securityContext": {"privileged": False, "runAsUser": 0},
        "volumeMounts": [{"name": "course", "mountPath": COURSE_MOUNT}],
    }
    return {
        "apiVersion": "batch/v1", "kind": "Job",
        "metadata": {"name": job_name(cluster, "grade", lab), "labels": _labels(lab, "grading")},
        "spec": {
            "completionMode": "Indexed",
            "completions": handins,
            "parallelism": max(1, min(parallelism, handins)),
            "backoffLimitPerIndex": RETRIES_PER_INDEX,
            "maxFailedIndexes": handins,  # one hand-in's trouble never stops the class
            # the first rule that matches decides
            "podFailurePolicy": {"rules": [
                # evicted or preempted: not the hand-in's doing, and not counted against it
                {"action": "Ignore", "onPodConditions": [{"type": "DisruptionTarget", "status": "True"}]},
                # its code never ran: once more in a fresh pod
                {"action": "Count", "onExitCodes": {"containerName": "grade", "operator": "In",
                                                    "values": [RETRY_EXIT]}},
                # anything else (a crash of the grader itself): no retry, the merge records it
                {"action": "FailIndex", "onExitCodes": {"containerName": "grade", "operator": "NotIn",
                                                        "values": [0, RETRY_EXIT]}},
            ]},
            "ttlSecondsAfterFinished": 7 * 24 * 3600,
            "template": {
                "metadata": {"labels": _labels(lab, "grading"), "annotations": dict(SYSBOX_ANNOTATIONS)},
                "spec": {
                    "runtimeClassName": cluster.runtime_class,
                    "restartPolicy": "Never",
                    "automountServiceAccountToken": False,
                    "enableServiceLinks": False,
                    "activeDeadlineSeconds": limits.notebook_timeout + POD_SLACK,
                    "containers": [container],
                    "volumes": _course_volume(cluster),
                },
            },
        },
    }


def merge_job(cluster: Cluster, lab: str, handins: int, *, parallelism: int = 4,
              limits: Limits | None = None) -> dict:
    """One pod that waits for every hand-in's result, then writes the gradebook: the only writer."""
    limits = limits or Limits(disk=None)
    rounds = -(-handins // max(1, min(parallelism, handins)))
    wait = rounds * (limits.notebook_timeout + POD_SLACK) * (1 + RETRIES_PER_INDEX)
    container = {
        "name": "merge",
        "image": cluster.image,
        "command": ["python3", "-m", "grader.course.job", "merge", lab, f"--course={COURSE_MOUNT}", f"--wait={wait}"],
        "resources": {"requests": {"memory": "256Mi", "cpu": "100m"}, "limits": {"memory": "1Gi", "cpu": "1"}},
        # an ordinary container: no sandbox here, only files; root for the course volume, which is root's
        "securityContext": {"privileged": False, "allowPrivilegeEscalation": False, "runAsUser": 0,
                            "capabilities": {"drop": ["ALL"], "add": ["CHOWN", "DAC_OVERRIDE", "FOWNER"]},
                            "seccompProfile": {"type": "RuntimeDefault"}},
        "volumeMounts": [{"name": "course", "mountPath": COURSE_MOUNT}],
    }
    return {
        "apiVersion": "batch/v1", "kind": "Job",
        "metadata": {"name": job_name(cluster, "merge", lab), "labels": _labels(lab, "merge")},
        "spec": {
            "completions": 1, "parallelism": 1, "backoffLimit": 2,
            "activeDeadlineSeconds": wait + 600,
            "ttlSecondsAfterFinished": 7 * 24 * 3600,
            "template": {
                "metadata": {"labels": _labels(lab, "merge")},
                "spec": {"restartPolicy": "OnFailure", "automountServiceAccountToken": False,
                         "enableServiceLinks": False, "containers": [container],
                         "volumes": _course_volume(cluster)},
            },
        },
    }

"""Offline checks of the generated manifests: no cluster, no network.

- :func:`problems` puts a manifest through ``kubernetes-validate`` (the Kubernetes OpenAPI schemas,
  strict: an unknown field is an error).
- :func:`learner_pod` builds the learner's pod with KubeSpawner itself (``KubeSpawner.get_pod_manifest``,
  which calls ``kubespawner.objects.make_pod``), configured from the values file the way z2jh's
  ``jupyterhub_config.py`` configures the hub (:func:`spawner_config`, for the keys Dockyard writes),
  so the pod the hub would create can be validated too.
- :func:`chart_schema_problems` checks a values file against the chart's own ``values.schema.json``
  when one is at hand (``helm pull jupyterhub/jupyterhub --untar``); it is not shipped here.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

from .cluster import KUBERNETES_VERSION

# the keys of ``singleuser`` that spawner_config turns into KubeSpawner settings (z2jh's names);
# a key outside these would reach the chart but not the pod that is validated here
SINGLEUSER_TRAITS = {
    "uid": "uid", "fsGid": "fs_gid", "allowPrivilegeEscalation": "allow_privilege_escalation",
    "extraLabels": "extra_labels", "extraAnnotations": "extra_annotations", "extraEnv": "environment",
    "extraPodConfig": "extra_pod_config", "extraContainerConfig": "extra_container_config",
    "initContainers": "init_containers", "nodeSelector": "node_selector", "lifecycleHooks": "lifecycle_hooks",
    "serviceAccountName": "service_account", "startTimeout": "start_timeout",
}
HANDLED = set(SINGLEUSER_TRAITS) | {"image", "cmd", "defaultUrl", "memory", "cpu", "extraResource", "storage",
                                    "extraFiles", "cloudMetadata", "networkPolicy"}


def problems(manifest: dict, version: str = KUBERNETES_VERSION) -> list[str]:
    """What ``kubernetes-validate --strict`` finds wrong with one manifest; [] when it is valid."""
    import kubernetes_validate

    what = f"{manifest.get('kind', '?')} {manifest.get('metadata', {}).get('name', '?')}"
    try:
        kubernetes_validate.validate(manifest, version, strict=True)
    except kubernetes_validate.ValidationError as exc:
        where = ".".join(str(p) for p in exc.path) or "(top)"
        return [f"{what}: {where}: {exc.message}"]
    except (kubernetes_validate.SchemaNotFoundError, kubernetes_validate.VersionNotSupportedError) as exc:
        return [f"{what}: {exc}"]
    return []


def _get(d: dict, dotted: str, default=None):
    for part in dotted.split("."):
        if not isinstance(d, dict) or part not in d:
            return default
        d = d[part]
    return d


def spawner_config(values: dict):
    """KubeSpawner's configuration from a z2jh values file, as the chart's hub sets it up (for Dockyard's keys)."""
    from traitlets.config import Config

    c = Config()
    su = values.get("singleuser", {})
    unknown = sorted(set(su) - HANDLED)
    if unknown:
        raise ValueError(f"singleuser keys not turned into KubeSpawner settings here: {', '.join(unknown)}")
    c.KubeSpawner.environment = {}
    for key, trait in SINGLEUSER_TRAITS.items():
        if su.get(key) is not None:
            setattr(c.KubeSpawner, trait, su[key])
    image = _get(su, "image.name")
    if image:
        c.KubeSpawner.image = f"{image}:{_get(su, 'image.tag')}" if _get(su, "image.tag") else image
    for trait, key in (("mem_limit", "memory.limit"), ("mem_guarantee", "memory.guarantee"),
                       ("cpu_limit", "cpu.limit"), ("cpu_guarantee", "cpu.guarantee"),
                       ("extra_resource_limits", "extraResource.limits"),
                       ("extra_resource_guarantees", "extraResource.guarantees")):
        if _get(su, key) is not None:
            setattr(c.KubeSpawner, trait, _get(su, key))
    if su.get("cmd"):
        c.Spawner.cmd = su["cmd"]
    if su.get("defaultUrl"):
        c.Spawner.default_url = su["defaultUrl"]
    volumes, mounts = [], []
    storage = su.get("storage", {})
    if storage.get("type") == "dynamic":
        dyn = storage.get("dynamic", {})
        pvc, vol = dyn.get("pvcNameTemplate"), dyn.get("volumeNameTemplate")
        c.KubeSpawner.pvc_name_template = pvc
        c.KubeSpawner.storage_pvc_ensure = True
        if dyn.get("storageClass"):
            c.KubeSpawner.storage_class = dyn["storageClass"]
        if dyn.get("storageAccessModes"):
            c.KubeSpawner.storage_access_modes = dyn["storageAccessModes"]
        if storage.get("capacity"):
            c.KubeSpawner.storage_capacity = storage["capacity"]
        volumes.append({"name": vol, "persistentVolumeClaim": {"claimName": pvc}})
        mounts.append({"mountPath": storage.get("homeMountPath", "/home/jovyan"), "name": vol})
    volumes += storage.get("extraVolumes", [])
    mounts += storage.get("extraVolumeMounts", [])
    files = su.get("extraFiles") or {}
    if files:
        # the chart puts singleuser.extraFiles in the Secret "singleuser" and mounts each by subPath
        volumes.append({"name": "files", "secret": {"secretName": "singleuser",
                                                    "items": [{"key": k, "path": k} for k in files]}})
        mounts += [{"name": "files", "mountPath": f["mountPath"], "subPath": k} for k, f in files.items()]
    c.KubeSpawner.volumes = volumes
    c.KubeSpawner.volume_mounts = mounts
    if _get(su, "cloudMetadata.blockWithIptables", True):
        # what the chart adds then: a privileged initContainer (Dockyard's values turn it off)
        c.KubeSpawner.init_containers = [{"name": "block-cloud-metadata", "image": "quay.io/jupyterhub/k8s-network-tools:4.0.0",
                                          "command": ["iptables", "-A", "OUTPUT", "-d", "169.254.169.254", "-j", "DROP"],
                                          "securityContext": {"privileged": True, "runAsUser": 0,
                                                              "capabilities": {"add": ["NET_ADMIN"]}}}]
    for _name, snippet in sorted(_get(values, "hub.extraConfig", {}).items()):
        exec(compile(snippet, f"hub.extraConfig.{_name}", "exec"), {"c": c})  # as the chart's hub does
    return c


class _User:
    def __init__(self, name: str, uid: int):
        self.name, self.id, self.url, self.escaped_name = name, uid, f"/user/{name}/", name


def learner_pod(values: dict, username: str = "student-001", user_id: int = 7) -> dict:
    """The pod KubeSpawner would create for ``username`` under this values file, as a plain manifest."""
    from unittest import mock

    from kubernetes_asyncio.client import ApiClient
    from kubespawner import KubeSpawner

    async def build() -> dict:
        # offline: the spawner's Kubernetes API client (kube config, a shared client) is never made
        with mock.patch("kubespawner.spawner.load_config"), mock.patch("kubespawner.spawner.shared_client"):
            spawner = KubeSpawner(_mock=True, config=spawner_config(values), user=_User(username, user_id))
        pod = await spawner.get_pod_manifest()
        async with ApiClient() as api:
            doc = api.sanitize_for_serialization(pod)
        return {"apiVersion": "v1", "kind": "Pod", **doc}

    return run_coroutine(build())


def run_coroutine(coro):
    """``asyncio.run(coro)``, also where this thread already runs an event loop (a notebook kernel, or playwright's
    sync API in the same test session): then in a thread of its own."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(coro)
    import concurrent.futures

    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, coro).result()


def pod_security_problems(pod_spec: dict, what: str) -> list[str]:
    """What a Dockyard pod must never have: privileged containers, the host's namespaces or folders."""
    out = []
    for key in ("hostNetwork", "hostPID", "hostIPC"):
        if pod_spec.get(key):
            out.append(f"{what}: {key} is true")
    for c in pod_spec.get("initContainers", []) + pod_spec.get("containers", []):
        sc = c.get("securityContext") or {}
        if sc.get("privileged"):
            out.append(f"{what}: container {c['name']} is privileged")
        added = set((sc.get("capabilities") or {}).get("add") or [])
        if added & {"SYS_ADMIN", "NET_ADMIN", "ALL", "SYS_PTRACE", "SYS_MODULE"}:
            out.append(f"{what}: container {c['name']} adds {', '.join(sorted(added))}")
    for v in pod_spec.get("volumes", []):
        if "hostPath" in v:
            out.append(f"{what}: volume {v['name']} is a hostPath")
    return out


def pod_spec_of(manifest: dict) -> dict | None:
    kind = manifest.get("kind")
    if kind == "Pod":
        return manifest.get("spec", {})
    if kind in ("Job", "Deployment", "StatefulSet", "DaemonSet"):
        return manifest.get("spec", {}).get("template", {}).get("spec", {})
    return None


def chart_schema_problems(values: dict, schema_path: Path) -> list[str]:
    """``values`` against the chart's values.schema.json. The chart merges a values file onto its own
    defaults before it validates, so ``required`` is not asked of the file alone."""
    import jsonschema

    schema = json.loads(Path(schema_path).read_text())

    def drop_required(node):
        # only a schema's own `required`: inside oneOf/anyOf/if/then it says which alternative applies
        # (extraFiles: one of data, stringData, binaryData) and stays
        if isinstance(node, dict):
            return {k: (v if k in KEEP else drop_required(v)) for k, v in node.items() if k != "required"}
        return node

    KEEP = ("oneOf", "anyOf", "allOf", "not", "if", "then", "else", "enum", "const")

    validator = jsonschema.Draft7Validator(drop_required(schema))
    return [f"values: {'.'.join(str(p) for p in e.absolute_path) or '(top)'}: {e.message}"
            for e in sorted(validator.iter_errors(values), key=lambda e: list(map(str, e.absolute_path)))]

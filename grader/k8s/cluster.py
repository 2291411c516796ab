"""What a class on Kubernetes is made of: one set of settings that every manifest is generated from."""

from __future__ import annotations

import dataclasses
import re

from dockyard.errors import ConfigError

# the oldest Kubernetes the manifests are written for (z2jh 4 needs 1.32; backoffLimitPerIndex is GA in 1.33)
KUBERNETES_VERSION = "1.33.0"
RUNTIME_CLASS = "sysbox-runc"
# sysbox on CRI-O gives each pod a user namespace of its own only when asked, with this annotation
SYSBOX_ANNOTATIONS = {"io.kubernetes.cri-o.userns-mode": "auto:size=65536"}
EXCHANGE_MOUNT = "/srv/nbgrader/exchange"
COURSE_MOUNT = "/srv/course"
# the in-pod sandbox's home: sysbox backs /var/lib/docker with a host folder (not overlayfs), so
# the sandbox's dockerd can use overlay2 there
POD_DOCKYARD_HOME = "/var/lib/docker/dockyard"
LABELS = {"app.kubernetes.io/name": "dockyard", "app.kubernetes.io/part-of": "dockyard"}

_QUANTITY = re.compile(r"^\d+(\.\d+)?(Ki|Mi|Gi|Ti|K|M|G|T)?$")
_SPAWNER_BYTES = re.compile(r"^\d+(\.\d+)?[KMGT]$")
_NAME = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")


_UNITS = {"": 1, "K": 10**3, "M": 10**6, "G": 10**9, "T": 10**12,
          "Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40}


def quantity_bytes(text: str) -> int:
    """A Kubernetes memory quantity in bytes: 4G is 4·10⁹, 4Gi is 4·2³⁰ (as the kubelet reads them)."""
    m = _QUANTITY.match(str(text))
    if not m:
        raise ConfigError(f"{text!r} is not a Kubernetes quantity", "use e.g. 10Gi, 512Mi or 4G")
    number, unit = str(text)[:len(str(text)) - len(m.group(2) or "")], m.group(2) or ""
    return int(float(number) * _UNITS[unit])


def spawner_bytes(text: str) -> int:
    """A KubeSpawner memory size in bytes: 4G is 4·2³⁰ (JupyterHub's ByteSpecification)."""
    if not _SPAWNER_BYTES.match(text):
        raise ConfigError(f"{text!r} is not a size KubeSpawner reads", "use e.g. 4G or 512M")
    return int(float(text[:-1]) * 1024 ** ("KMGT".index(text[-1]) + 1))


@dataclasses.dataclass(frozen=True)
class Cluster:
    image: str = "dockyard/dockyard:0.1.0"  # Dockyard, docker.io, nbgrader, jupyterhub, the base images' seed
    course_id: str = "dockyard"
    instructors: tuple[str, ...] = ("instructor",)
    home_size: str = "10Gi"  # each learner's persistent volume
    home_storage_class: str | None = None  # None: the cluster's default class (ReadWriteOnce)
    shared_storage_class: str | None = None  # a ReadWriteMany class (NFS, CephFS, Filestore...) for exchange + course
    exchange_size: str = "5Gi"
    course_size: str = "20Gi"
    memory_limit: str = "4G"  # a learner's pod: server, kernels, dockerd, containerd, registry, containers
    memory_guarantee: str = "1G"
    cpu_limit: float = 2.0
    cpu_guarantee: float = 0.5
    cull_timeout: int = 3600  # seconds idle before the culler stops a server (and so its sandbox)
    cull_every: int = 300
    runtime_class: str = RUNTIME_CLASS
    prefix: str = "dockyard"  # names of the PVCs, the formgrader Deployment and Service, the Jobs

    def __post_init__(self):
        for field in ("home_size", "exchange_size", "course_size"):
            value = getattr(self, field)
            if not _QUANTITY.match(value):
                raise ConfigError(f"{field.replace('_', ' ')} {value!r} is not a Kubernetes quantity",
                                  "use e.g. 10Gi, 512Mi or 4G")
        for field in ("memory_limit", "memory_guarantee"):
            value = getattr(self, field)
            if not _SPAWNER_BYTES.match(value):
                # KubeSpawner's own reading of singleuser.memory (a JupyterHub ByteSpecification)
                raise ConfigError(f"{field.replace('_', ' ')} {value!r} is not a size KubeSpawner reads",
                                  "use a number with K, M, G or T (powers of 1024), e.g. 4G or 512M")
        if not _NAME.match(self.prefix) or len(self.prefix) > 40:
            raise ConfigError(f"name prefix {self.prefix!r} is not a DNS label", "use lowercase letters, digits, '-'")
        if ":" not in self.image.rsplit("/", 1)[-1]:
            raise ConfigError(f"image {self.image!r} has no tag", "give name:tag, e.g. registry.example/dockyard:0.1.0")
        if not self.instructors:
            raise ConfigError("no instructor", "give --instructor NAME (the hub user who gets formgrader)")
        if self.cpu_guarantee > self.cpu_limit:
            raise ConfigError(f"cpu guarantee {self.cpu_guarantee} is above the limit {self.cpu_limit}",
                              "lower --cpu-guarantee or raise --cpu")

    @property
    def image_name(self) -> str:
        return self.image.rsplit(":", 1)[0]

    @property
    def image_tag(self) -> str:
        return self.image.rsplit(":", 1)[1]

    def name(self, what: str) -> str:
        return f"{self.prefix}-{what}"

    @property
    def exchange_claim(self) -> str:
        return self.name("exchange")

    @property
    def course_claim(self) -> str:
        return self.name("course")

    @property
    def formgrader(self) -> str:
        return self.name("formgrader")


def nbgrader_config(cluster: Cluster, *, course_root: str | None = None) -> str:
    """nbgrader's settings in a pod: the shared exchange, the course id (and, for the instructor, the course)."""
    lines = ["# written by dockyard k8s", "c = get_config()  # noqa: F821",
             f"c.CourseDirectory.course_id = {cluster.course_id!r}",
             f"c.Exchange.root = {EXCHANGE_MOUNT!r}"]
    if course_root:
        lines.append(f"c.CourseDirectory.root = {course_root!r}")
    return "\n".join(lines) + "\n"

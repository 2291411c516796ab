"""``dockyard k8s ...``: a thin layer over :mod:`grader.k8s`."""

from __future__ import annotations

import functools
import sys
from pathlib import Path

import click
import yaml

from dockyard.cliutil import friendly_errors
from dockyard.errors import DockyardError
from .cluster import KUBERNETES_VERSION, Cluster


def cluster_options(func):
    """What every generated manifest depends on: the image, the name prefix, the course volume."""
    @click.option("--image", default=Cluster.image, show_default=True,
                  help="The image with Dockyard, docker.io, nbgrader and JupyterHub in it (name:tag).")
    @click.option("--prefix", default=Cluster.prefix, show_default=True,
                  help="Names of the volumes, Jobs and formgrader start with this.")
    @click.option("--shared-storage-class", default=None,
                  help="A ReadWriteMany storage class for the exchange and the course (default: the cluster's).")
    @functools.wraps(func)
    def wrapper(*args, image, prefix, shared_storage_class, **kwargs):
        return func(*args, cluster_kw={"image": image, "prefix": prefix,
                                       "shared_storage_class": shared_storage_class}, **kwargs)
    return wrapper


def _dump(docs: list[dict], header: str = "") -> str:
    return header + yaml.safe_dump_all(docs, sort_keys=False, width=120)


def _write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    click.echo(f"wrote {path}")


@click.group()
def k8s():
    """Run a class on Kubernetes: Zero to JupyterHub values, grading Jobs, offline validation.

    \b
    Example:
      dockyard k8s values -o deploy/ && dockyard k8s validate deploy/*.yaml
    """


@k8s.command()
@cluster_options
@click.option("-o", "--out", "out_dir", type=click.Path(file_okay=False, path_type=Path), default=Path("."),
              show_default=True, help="Folder for values.yaml (the chart's) and course.yaml (kubectl apply).")
@click.option("--instructor", "instructors", multiple=True, default=("instructor",), show_default=True,
              help="A hub user who gets formgrader (repeatable).")
@click.option("--course-id", default=Cluster.course_id, show_default=True, help="nbgrader's course id.")
@click.option("--memory", default=Cluster.memory_limit, show_default=True,
              help="Memory limit of a learner's pod, as KubeSpawner reads it (K/M/G/T, powers of 1024).")
@click.option("--memory-guarantee", default=Cluster.memory_guarantee, show_default=True)
@click.option("--cpu", type=float, default=Cluster.cpu_limit, show_default=True, help="CPU limit of a learner's pod.")
@click.option("--cpu-guarantee", type=float, default=Cluster.cpu_guarantee, show_default=True)
@click.option("--home-size", default=Cluster.home_size, show_default=True, help="Each learner's persistent volume.")
@click.option("--home-storage-class", default=None, help="Storage class of the learners' volumes.")
@click.option("--cull-timeout", type=int, default=Cluster.cull_timeout, show_default=True,
              help="Seconds idle before a learner's server (and its sandbox) is stopped.")
@friendly_errors
def values(cluster_kw, out_dir, instructors, course_id, memory, memory_guarantee, cpu, cpu_guarantee, home_size,
           home_storage_class, cull_timeout):
    """Write the Zero to JupyterHub values file and the course's own objects.

    values.yaml: KubeSpawner with the sysbox runtime class for learners' pods (each runs its own
    sealed sandbox, then the server as the learner), a persistent volume per learner, the nbgrader
    exchange on a ReadWriteMany volume, memory and CPU limits, formgrader as a hub service, the
    idle culler. course.yaml: the exchange and course volumes, formgrader's Deployment and Service.

    \b
    Example:
      dockyard k8s values -o deploy/ --image registry.example/dockyard:0.1.0 --instructor ada
      helm upgrade --install dockyard jupyterhub/jupyterhub -f deploy/values.yaml
    """
    from . import values as v

    cluster = _cluster(**cluster_kw, instructors=tuple(instructors), course_id=course_id, memory_limit=memory,
                       memory_guarantee=memory_guarantee, cpu_limit=cpu, cpu_guarantee=cpu_guarantee,
                       home_size=home_size, home_storage_class=home_storage_class, cull_timeout=cull_timeout)
    header = v.HEADER.format(runtime=cluster.runtime_class, image=cluster.image)
    _write(out_dir / "values.yaml", header + yaml.safe_dump(v.values(cluster), sort_keys=False, width=120))
    _write(out_dir / "course.yaml", _dump(v.course_objects(cluster), "# kubectl apply -f course.yaml "
                                                                     "(written by dockyard k8s values)\n"))


@k8s.command(name="grading-job")
@click.argument("lab")
@cluster_options
@click.option("--course", "course_dir", default=None, envvar="DOCKYARD_COURSE",
              help="The course folder whose hand-ins are counted (default: ./course or $DOCKYARD_COURSE).")
@click.option("--handins", type=int, default=None, help="The number of hand-ins, instead of counting them.")
@click.option("--parallelism", "-j", type=int, default=4, show_default=True, help="Hand-ins graded at once.")
@click.option("--pod-memory", default="3Gi", show_default=True, help="Memory of one grading pod.")
@click.option("--pod-cpu", type=float, default=1.0, show_default=True, help="CPUs of one grading pod.")
@click.option("--cell-timeout", type=int, default=120, show_default=True)
@click.option("--notebook-timeout", type=int, default=900, show_default=True)
@click.option("--memory", default="1g", show_default=True, help="Memory cap of one notebook's kernel.")
@click.option("-o", "--out", "out_file", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Write here (default: grading-LAB.yaml).")
@friendly_errors
def grading_job(lab, cluster_kw, course_dir, handins, parallelism, pod_memory, pod_cpu, cell_timeout,
                notebook_timeout, memory, out_file):
    """Write class grading of LAB as an Indexed Job (index i grades hand-in i) and its merge Job.

    Each index runs `python -m grader.course.job grade LAB` in a fresh sysbox pod with the
    course volume mounted; the merge Job waits for every result and lands the grades in the
    gradebook, one at a time. Apply both at once.

    \b
    Example:
      dockyard k8s grading-job 05-dockerfile --course /srv/course -j 8 && kubectl apply -f grading-05-dockerfile.yaml
    """
    from grader.course.grading import Limits
    from grader.course.layout import Course, lab_dir

    from . import jobs

    name = lab_dir(lab).name
    if handins is None:
        course = Course.at(course_dir)
        handins = len(course.students(name))
        if not handins:
            raise DockyardError(f"no hand-ins of {name} in {course.submitted(name)}",
                                "collect them first (nbgrader collect), or give --handins N")
    cluster = _cluster(**cluster_kw)
    limits = Limits(cell_timeout, notebook_timeout, memory, 512, None)
    try:
        docs = [jobs.grading_job(cluster, name, handins, parallelism=parallelism, limits=limits, memory=pod_memory,
                                 cpu=pod_cpu),
                jobs.merge_job(cluster, name, handins, parallelism=parallelism, limits=limits)]
    except ValueError as exc:
        raise DockyardError(str(exc), "give --pod-memory at least the kernel's --memory plus 512Mi") from None
    _write(out_file or Path(f"grading-{name}.yaml"),
           _dump(docs, f"# {handins} hand-ins of {name}: kubectl apply -f this file (written by dockyard k8s "
                       f"grading-job)\n"))


@k8s.command()
@click.argument("files", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--kubernetes-version", "-k", default=KUBERNETES_VERSION, show_default=True)
@click.option("--chart-schema", type=click.Path(exists=True, dir_okay=False, path_type=Path), default=None,
              help="The z2jh chart's values.schema.json (helm pull jupyterhub/jupyterhub --untar), for values files.")
@friendly_errors
def validate(files, kubernetes_version, chart_schema):
    """Validate manifests offline: kubernetes-validate --strict, and for a values file, KubeSpawner's pod.

    A file with a `singleuser:` key is taken for a z2jh values file: KubeSpawner builds the pod it
    would start for a learner, which is then validated (and checked for privileged containers,
    host namespaces and hostPath volumes); with --chart-schema the values file is also checked
    against the chart's schema. Every other file is a list of Kubernetes manifests.

    \b
    Example:
      dockyard k8s validate deploy/values.yaml deploy/course.yaml grading-05-dockerfile.yaml
    """
    from . import validate as val

    try:
        import kubernetes_validate  # noqa: F401
        import kubespawner  # noqa: F401
    except ImportError as exc:
        raise DockyardError(f"{exc.name} is not installed: offline validation needs kubernetes-validate and "
                            "jupyterhub-kubespawner", "pip install -e '.[k8s]' (or run dockyard/bootstrap.sh test)")
    bad = 0
    for path in files:
        docs = [d for d in yaml.safe_load_all(path.read_text()) if d]
        for doc in docs:
            if "singleuser" in doc and "kind" not in doc:
                found = val.chart_schema_problems(doc, chart_schema) if chart_schema else []
                try:
                    pod = val.learner_pod(doc)
                except Exception as exc:  # KubeSpawner's own traits refuse a value
                    found.append(f"KubeSpawner cannot build the learner's pod: {exc.__class__.__name__}: {exc}")
                else:
                    found += val.problems(pod, kubernetes_version)
                    found += val.pod_security_problems(pod["spec"], "learner pod")
                what = "values (the learner pod KubeSpawner builds from it" + (", and the chart's schema)"
                                                                               if chart_schema else ")")
            else:
                spec = val.pod_spec_of(doc)
                found = val.problems(doc, kubernetes_version)
                found += val.pod_security_problems(spec, doc["kind"]) if spec is not None else []
                what = f"{doc.get('kind')} {doc.get('metadata', {}).get('name')}"
            for p in found:
                click.secho(f"✗ {path}: {p}", fg="red")
            if not found:
                click.echo(f"✓ {path}: {what}")
            bad += bool(found)
    click.echo(f"{bad} invalid" if bad else f"all valid for Kubernetes {kubernetes_version} (kubernetes-validate, strict)")
    sys.exit(1 if bad else 0)


def _cluster(**kw) -> Cluster:
    return Cluster(**{k: v for k, v in kw.items() if v is not None})

"""Facts the daemon reports (/info, /version) and labels on Docker objects."""

from __future__ import annotations

from dockyard.errors import ContainerNotFound, DockerAPIError, ImageNotFound

from .base import Failed, Param, check, fail, ok

_MISSING = object()
SCALAR = (str, int, bool, float)


def dig(data, path: str):
    """``data["Plugins"]["Volume"]`` for ``"Plugins.Volume"``; digits index lists. _MISSING when absent."""
    cur = data
    for part in path.split("."):
        if isinstance(cur, dict) and part in cur:
            cur = cur[part]
        elif isinstance(cur, list) and part.isdigit() and int(part) < len(cur):
            cur = cur[int(part)]
        else:
            return _MISSING
    return cur


def _same(actual, expected) -> bool:
    if actual == expected and type(actual) is type(expected):
        return True
    if isinstance(actual, SCALAR) and isinstance(expected, SCALAR):
        return str(actual).strip().lower() == str(expected).strip().lower()  # /info has "1" where a spec writes 1
    return actual == expected


def _contains(actual, needle: str) -> bool:
    if isinstance(actual, dict):
        return needle in actual or any(_contains(v, needle) for v in actual.values())
    if isinstance(actual, list):
        return any(_same(v, needle) or (isinstance(v, (dict, list)) and _contains(v, needle)) for v in actual)
    return needle in str(actual)


def _show(value, limit: int = 200) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[:limit] + "…"


def _field(source: str, data: dict, field: str, equals=None, contains=None):
    value = dig(data, field)
    if value is _MISSING:
        top = ", ".join(sorted(data)[:40]) if isinstance(data, dict) else ""
        return fail(f"{source} has no field {field!r}; expected one (fields: {top})", reason="missing_field",
                    hint="the lab asks about a field this Docker version does not report: "
                         f"docker {'info' if source == '/info' else 'version'} --format '{{{{json .}}}}' lists them",
                    field=field)
    evidence = {"field": field, "value": value if isinstance(value, SCALAR) or value is None else _show(value, 1000)}
    if equals is not None and not _same(value, equals):
        return fail(f"{source} {field} is {_show(value)}; expected {equals!r}", reason="wrong_value", **evidence,
                    hint=f"docker {source.strip('/')} shows it; it is a property of the daemon (its configuration), "
                         "not of your containers")
    if contains is not None and not _contains(value, contains):
        return fail(f"{source} {field} is {_show(value)}; expected it to contain {contains!r}", reason="wrong_value",
                    hint=f"docker {source.strip('/')} shows it", **evidence)
    return ok(f"{source} {field} is {_show(value)}", **evidence)


@check("daemon.info", field=Param(str, doc="dotted path into /info, e.g. CgroupVersion or Plugins.Volume"),
       equals=Param((str, int, bool), default=None), contains=Param(str, default=None))
def info(ctx, field, equals=None, contains=None):
    """The daemon reports the expected fact."""
    return _field("/info", ctx.info(), field, equals, contains)


@check("daemon.version", field=Param(str, doc="dotted path into /version, e.g. ApiVersion or Components.0.Name"),
       equals=Param((str, int, bool), default=None), contains=Param(str, default=None))
def version(ctx, field, equals=None, contains=None):
    """The daemon reports the expected version fact."""
    return _field("/version", ctx.version(), field, equals, contains)


KINDS = ("container", "image", "volume", "network")
LABEL_HOW = {
    "container": "docker run --label {kv} ... (labels are fixed at creation: docker rm -f {name} first)",
    "image": "add LABEL {kv} to the Dockerfile and build again (or docker build --label {kv} ...)",
    "volume": "docker volume create --label {kv} {name} (labels are fixed at creation: docker volume rm {name} first)",
    "network": "docker network create --label {kv} {name} "
               "(labels are fixed at creation: docker network rm {name} first)",
}


def _labels(ctx, kind: str, name: str, want: dict) -> dict:
    try:
        if kind == "container":
            data = ctx.container(name)["Config"]
        elif kind == "image":
            data = ctx.image(name)["Config"]
        elif kind == "volume":
            data = ctx.volume(name)
        else:
            data = ctx.network(name)
    except (ContainerNotFound, ImageNotFound) as exc:
        raise Failed(_no_object(kind, name, exc.problem, want)) from None
    except DockerAPIError as exc:
        if exc.status == 404:
            raise Failed(_no_object(kind, name, exc.problem, want)) from None
        raise
    return (data or {}).get("Labels") or {}


def _kv(kind: str, pairs: dict) -> str:
    return (" " if kind == "image" else " --label ").join(f"{k}={v}" for k, v in pairs.items())


def _no_object(kind: str, name: str, problem: str, labels: dict):
    create = {"container": f"docker run --name {name} ...", "image": f"docker build -t {name} .",
              "volume": f"docker volume create {name}", "network": f"docker network create {name}"}[kind]
    return fail(f"there is no {kind} {name!r}; expected one labeled {', '.join(f'{k}={v}' for k, v in labels.items())}", reason="missing_object",
                hint=f"create it with its labels: {create}", problem=problem)


def _labels_from_info(ctx, fields: dict) -> tuple[dict, dict]:
    """label: the value the grading daemon's /info holds in the label's field now ("" where it has none), and
    label: that field."""
    # values of the daemon that grades, not of the one the learner worked with: only code that read
    # them from the API gets them right, a value typed in from one's own sandbox does not
    facts = ctx.info()
    wanted = {}
    for label, field in fields.items():
        value = dig(facts, field)
        wanted[label] = "" if value is _MISSING else str(value)
    return wanted, dict(fields)


def _wanted_labels(ctx, labels: dict | None, labels_from_info: dict | None) -> tuple[dict, dict]:
    """label: value expected (None: any), those given and those read from /info together, and label: the /info
    field of the latter."""
    labels, read = dict(labels or {}), {}
    if labels_from_info:
        from_info, read = _labels_from_info(ctx, labels_from_info)
        labels.update(from_info)
    return labels, read


def _wrong_values(labels: dict, have: dict) -> list[str]:
    """The labels present with another value than expected (compared as text: a label value always is)."""
    return [k for k, v in labels.items() if k in have and v is not None and str(have[k]) != str(v)]


def _missing_labels(kind: str, name: str, missing: list[str], labels: dict, have: dict, evidence: dict):
    kv = _kv(kind, {k: labels[k] if labels[k] is not None else "VALUE" for k in missing})
    listed = ", ".join(f"{k}={v}" for k, v in sorted(have.items())) or "none"
    return fail(f"{kind} {name} has no label {', '.join(map(repr, missing))}; its labels: {listed}",
                reason="missing_label", hint=LABEL_HOW[kind].format(kv=kv, name=name), **evidence)


def _wrong_labels(kind: str, name: str, wrong: list[str], labels: dict, have: dict, read: dict, evidence: dict):
    """Labels with another value than expected; one read from /info says where its value comes from."""
    parts = "; ".join(f"label {k} is {have[k]!r}, expected {labels[k]!r}"
                      + (f" (what GET /info reports as {read[k]} now)" if k in read else "") for k in wrong)
    kv = _kv(kind, {k: labels[k] for k in wrong})
    return fail(f"{kind} {name}: {parts}", reason="wrong_value", hint=LABEL_HOW[kind].format(kv=kv, name=name),
                **evidence)


@check("daemon.labeled", kind=Param(str, doc="container, image, volume or network", choices=("container", "image", "volume", "network")),
       name=Param(str, doc="the object's name (or id / image reference)"),
       labels=Param(dict, default=None, doc="label: value (value null = any value)"),
       labels_from_info=Param(dict, default=None, doc="label: a dotted field of /info (e.g. DockerRootDir); the "
                                                     "label must hold what this daemon reports there now"))
def labeled(ctx, kind, name, labels=None, labels_from_info=None):
    """The object carries the expected labels."""
    if kind not in KINDS:
        raise ValueError(f"daemon.labeled: kind must be one of {', '.join(KINDS)}, not {kind!r}")
    labels, read = _wanted_labels(ctx, labels, labels_from_info)
    have = _labels(ctx, kind, name, labels)
    evidence = {"labels": have}
    if read:
        evidence["from_info"] = {k: f"{f} = {labels[k]}" for k, f in read.items()}
    missing = [k for k in labels if k not in have]
    if missing:
        return _missing_labels(kind, name, missing, labels, have, evidence)
    wrong = _wrong_values(labels, have)
    if wrong:
        return _wrong_labels(kind, name, wrong, labels, have, read, evidence)
    return ok(f"{kind} {name} has the labels " + ", ".join(f"{k}={have[k]}" for k in labels), **evidence)

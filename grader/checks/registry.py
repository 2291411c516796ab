"""Checks on the sandbox's own registry: what the learner tagged and pushed."""

from __future__ import annotations

import urllib.error

from dockyard.errors import DaemonError

from .base import Failed, Param, check, fail, ok

REPO = Param(str, doc="repository in the sandbox registry, e.g. web (a $DOCKYARD_REGISTRY/ prefix is allowed)")
PUSH = "$DOCKYARD_REGISTRY"


def _registry(ctx):
    reg = ctx.registry()
    if reg is None:
        raise Failed(fail("this sandbox has no registry of its own; expected one to push to", reason="no_registry",
                          hint="the private sandbox runs one (dockyard up); with --backend existing there is none"))
    return reg


def _ask(reg, what: str, fn, *args):
    try:
        return fn(*args)
    except (urllib.error.URLError, OSError) as exc:
        raise DaemonError(f"the sandbox registry at {reg.host} does not answer while {what} ({exc})",
                          "check it with: dockyard status   (dockyard up restarts it)") from exc


def _repo(reg, repository: str) -> str:
    for prefix in (f"{reg.host}/", f"{PUSH}/", "${DOCKYARD_REGISTRY}/"):
        if repository.startswith(prefix):
            return repository[len(prefix):]
    return repository


def _push_hint(repo: str, tag: str, local: str | None = None) -> str:
    local = local or f"{repo}:{tag}"
    return (f"tag the image with the registry's address, then push it: docker tag {local} {PUSH}/{repo}:{tag} && "
            f"docker push {PUSH}/{repo}:{tag}")


def _find(reg, repo: str, tag: str):
    """Fail with no_repository / no_tag unless repo:tag is in the registry."""
    catalog = _ask(reg, "listing its repositories", reg.catalog)
    if repo not in catalog:
        raise Failed(fail(f"repository {repo!r} is not in the sandbox registry (it holds: "
                          f"{', '.join(catalog) or 'nothing'})", reason="no_repository", hint=_push_hint(repo, tag),
                          repositories=catalog))
    tags = _ask(reg, f"listing the tags of {repo}", reg.tags, repo)
    if tag not in tags:
        raise Failed(fail(f"{repo} has no tag {tag!r} in the sandbox registry (tags: {', '.join(tags) or 'none'})",
                          reason="no_tag", tags=tags,
                          hint=f"push that tag too: docker tag IMAGE {PUSH}/{repo}:{tag} && "
                               f"docker push {PUSH}/{repo}:{tag}"))
    return tags


@check("registry.tag_exists", repository=REPO, tag=Param(str, default="latest"))
def tag_exists(ctx, repository, tag="latest"):
    """The image is pushed to the sandbox registry under the expected tag."""
    reg = _registry(ctx)
    repo = _repo(reg, repository)
    tags = _find(reg, repo, tag)
    return ok(f"{reg.host}/{repo}:{tag} is in the sandbox registry", tags=tags)


@check("registry.digest_matches", repository=REPO, tag=Param(str, default="latest"),
       image=Param(str, doc="the local image it must be, e.g. web:1.0"),
       from_registry=Param(bool, default=False, doc="also require that the local image came through this registry "
                           "(pulled from it, or pushed to it): its digest there among the image's RepoDigests. "
                           "A rebuild is never that, yet BuildKit may give it the registry's image ID from its cache"))
def digest_matches(ctx, repository, image, tag="latest", from_registry=False):
    """The pushed image is the same as the local one."""
    reg = _registry(ctx)
    repo = _repo(reg, repository)
    try:
        _find(reg, repo, tag)
    except Failed as exc:
        o = exc.outcome
        return fail(o.message + f"; expected {image} pushed as {repo}:{tag}", reason="not_pushed",
                    hint=_push_hint(repo, tag, image), **o.evidence)
    found = _ask(reg, f"reading the manifest of {repo}:{tag}", reg.manifest, repo, tag)
    if not found:
        return fail(f"{repo}:{tag} is listed but has no manifest in the registry; expected {image} pushed there",
                    reason="not_pushed", hint=_push_hint(repo, tag, image))
    digest, manifest = found
    local = ctx.image(image)
    config = (manifest.get("config") or {}).get("digest")
    repo_digests = local.get("RepoDigests") or []
    evidence = {"registry_digest": digest, "registry_config": config, "local_id": local["Id"],
                "repo_digests": repo_digests}
    pushed_here = any(d == f"{reg.host}/{repo}@{digest}" for d in repo_digests)
    if from_registry and config == local["Id"] and not pushed_here:
        return fail(f"the local {image} has the ID of {repo}:{tag} in the registry ({local['Id'][:19]}) but never "
                    f"came through the registry: it has no digest {reg.host}/{repo}@{digest[:19]}; expected it "
                    "pulled from there", reason="mismatch", **evidence,
                    hint=f"you built {image} again (BuildKit took every step from its cache, so the ID is the same): "
                         f"pull it: docker pull {PUSH}/{repo}:{tag} && docker tag {PUSH}/{repo}:{tag} {image}")
    if (config and config == local["Id"]) or (not config and pushed_here):
        return ok(f"{repo}:{tag} in the registry is {image} ({local['Id'][:19]})", **evidence)
    pushed = f"image {config[:19]}" if config else f"manifest {digest[:19]}"
    return fail(f"{repo}:{tag} in the registry is {pushed}; the local {image} is {local['Id'][:19]}",
                reason="mismatch", **evidence,
                hint=f"you changed (rebuilt) {image} after pushing it, or pushed another image: push it again: "
                     f"docker tag {image} {PUSH}/{repo}:{tag} && docker push {PUSH}/{repo}:{tag}")

"""Image references, parsed one way: ``[registry/]repo[:tag][@digest]``, Docker Hub's spellings folded.

``python``, ``python:latest``, ``library/python:latest`` and ``docker.io/library/python:latest`` name the same
image; ``127.0.0.1:5000/web:1.0`` names one in another registry. The rules are Docker's (distribution's
reference grammar, as the CLI applies it): the first path component is a registry when it has a dot or a
port or is ``localhost``; a tag follows the last colon of the last component; a digest follows ``@``;
Docker Hub (``docker.io``, ``index.docker.io``, ``registry-1.docker.io``) keeps official images under
``library/``."""

from __future__ import annotations

import dataclasses

HUB_HOSTS = ("docker.io", "index.docker.io", "registry-1.docker.io")


@dataclasses.dataclass(frozen=True)
class ImageRef:
    repo: str  # "python", "myorg/app"; Docker Hub's library/ dropped
    tag: str | None = None  # as written; None means the implicit latest
    digest: str | None = None  # "sha256:..."
    registry: str | None = None  # None for Docker Hub

    @classmethod
    def parse(cls, text: str) -> "ImageRef":
        text = text.strip()
        name, _, digest = text.partition("@")
        registry = None
        first, sep, rest = name.partition("/")
        if sep and ("." in first or ":" in first or first == "localhost"):
            registry, name = first, rest
        if registry in HUB_HOSTS:
            registry = None
        last = name.rsplit("/", 1)[-1]
        tag = None
        if ":" in last:
            name, _, tag = name.rpartition(":")
        if registry is None:
            name = name.removeprefix("library/")
        return cls(repo=name, tag=tag or None, digest=digest or None, registry=registry)

    @property
    def tag_or_latest(self) -> str:
        return self.tag or "latest"

    @property
    def name(self) -> str:
        """Registry and repository, no tag: ``python``, ``127.0.0.1:5000/web``."""
        return f"{self.registry}/{self.repo}" if self.registry else self.repo

    @property
    def hub_path(self) -> str:
        """The repository's path in a registry's API: ``library/python`` for an official image."""
        return self.repo if "/" in self.repo or self.registry else f"library/{self.repo}"

    def canonical(self) -> str:
        """One spelling per image: the implicit :latest written out (unless pinned by digest), Hub's prefixes off."""
        tag = f":{self.tag}" if self.tag else ("" if self.digest else ":latest")
        return self.name + tag + (f"@{self.digest}" if self.digest else "")

    def same_repo_and_tag(self, other: "ImageRef") -> bool:
        return self.name == other.name and self.tag_or_latest == other.tag_or_latest

    def __str__(self) -> str:
        return self.name + (f":{self.tag}" if self.tag else "") + (f"@{self.digest}" if self.digest else "")

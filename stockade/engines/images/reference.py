"""Image references, normalised the way the container runtime resolves them.

Grammar (distribution/reference): ``[registry[:port]/]path[:tag][@algorithm:hex]``. The first
path component is a registry only if it contains ``.`` or ``:`` or is ``localhost``; otherwise
the image comes from Docker Hub (``docker.io``), and a one-component Hub path gains
``library/``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

DEFAULT_REGISTRY = "docker.io"

_COMPONENT = re.compile(r"^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$")
_TAG = re.compile(r"^[\w][\w.-]{0,127}$")
_DIGEST = re.compile(r"^[a-z0-9]+(?:[.+_-][a-z0-9]+)*:[a-zA-Z0-9=_-]{32,}$")
_REGISTRY = re.compile(r"^(?:[a-zA-Z0-9-]+(?:\.[a-zA-Z0-9-]+)*|\[[0-9a-fA-F:]+\])(?::[0-9]+)?$")


class InvalidReference(ValueError):
    """The text is not a valid image reference."""


@dataclass(frozen=True, slots=True)
class ImageRef:
    """A parsed image reference."""

    registry: str
    """Normalised registry host (``docker.io`` for Docker Hub)."""
    repository: str
    """Path inside the registry (``library/nginx`` for ``nginx``)."""
    tag: str | None
    digest: str | None
    original: str

    @property
    def pinned(self) -> bool:
        """Whether the reference names content by digest (immutable)."""
        return self.digest is not None

    @property
    def effective_tag(self) -> str | None:
        """The tag the runtime pulls: ``latest`` when neither tag nor digest is given."""
        if self.tag is None and self.digest is None:
            return "latest"
        return self.tag

    @property
    def name(self) -> str:
        """``registry/repository``, the fully qualified name without tag or digest."""
        return f"{self.registry}/{self.repository}"

    def __str__(self) -> str:
        out = self.name
        if self.tag:
            out += f":{self.tag}"
        if self.digest:
            out += f"@{self.digest}"
        return out


def parse_reference(text: str) -> ImageRef:
    """Parse and normalise an image reference; raises :class:`InvalidReference`."""
    ref = text.strip()
    if not ref or ref != text:
        raise InvalidReference(f"invalid image reference {text!r}: empty or surrounded by spaces")
    digest: str | None = None
    if "@" in ref:
        ref, digest = ref.split("@", 1)
        if not _DIGEST.match(digest):
            raise InvalidReference(f"invalid image reference {text!r}: malformed digest")
    tag: str | None = None
    slash = ref.rfind("/")
    colon = ref.rfind(":")
    if colon > slash:
        ref, tag = ref[:colon], ref[colon + 1 :]
        if not _TAG.match(tag):
            raise InvalidReference(f"invalid image reference {text!r}: malformed tag")
    parts = ref.split("/")
    first = parts[0]
    if len(parts) > 1 and ("." in first or ":" in first or first == "localhost"):
        if not _REGISTRY.match(first):
            raise InvalidReference(f"invalid image reference {text!r}: malformed registry")
        registry, path = first, parts[1:]
    else:
        registry, path = DEFAULT_REGISTRY, parts
    if registry in ("index.docker.io", "registry-1.docker.io"):
        registry = DEFAULT_REGISTRY
    if not path or not all(_COMPONENT.match(p) for p in path):
        raise InvalidReference(f"invalid image reference {text!r}: malformed repository path")
    if registry == DEFAULT_REGISTRY and len(path) == 1:
        path = ["library", *path]
    return ImageRef(registry, "/".join(path), tag, digest, text)


def registry_allowed(image: ImageRef, allowed: tuple[str, ...]) -> bool:
    """Whether the image comes from one of ``allowed`` (``host`` or ``host/path-prefix``)."""
    for entry in allowed:
        entry = entry.rstrip("/")
        host, _, prefix = entry.partition("/")
        norm_host = DEFAULT_REGISTRY if host in ("index.docker.io", "registry-1.docker.io") else host
        if image.registry != norm_host:
            continue
        if not prefix or image.repository == prefix or image.repository.startswith(prefix + "/"):
            return True
    return False

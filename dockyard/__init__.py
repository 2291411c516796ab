"""Dockyard: a private Docker sandbox for learning, and the lessons' helpers."""

from .config import SandboxConfig
from .errors import DockyardError
from .sandbox import ExistingSandbox, Sandbox, get, list_sandboxes

__all__ = ["DockyardError", "ExistingSandbox", "Sandbox", "SandboxConfig", "get", "list_sandboxes"]
__version__ = "0.1.0"

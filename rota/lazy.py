"""A package's public names imported on first use (PEP 562), so that a command loads only what it runs:
`rota batch` never loads the live engine, the service client or the formatter. Imports nothing of rota."""

from __future__ import annotations

from collections.abc import Callable
from importlib import import_module
from typing import Any


def lazy_names(namespace: dict[str, Any], modules: dict[str, tuple[str, ...]]) -> Callable[[str], Any]:
    """The package's `__getattr__`: each name of `modules` (module -> names, relative to the package whose
    `namespace` this is) is imported when first asked for, then kept in the namespace."""
    module_of = {name: module for module, names in modules.items() for name in names}

    def __getattr__(name: str) -> Any:
        module = module_of.get(name)
        if module is None:  # a submodule, or a name the package lacks: the import system takes it from here
            raise AttributeError(f"module {namespace['__name__']!r} has no attribute {name!r}")
        value = getattr(import_module(module, namespace["__package__"]), name)
        namespace[name] = value
        return value

    return __getattr__

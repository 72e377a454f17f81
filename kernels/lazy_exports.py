"""Packages whose public names load on first use (PEP 562 module ``__getattr__``).

torch, Numba and matplotlib take from a tenth of a second to seconds to import, so the
package ``__init__`` files map each public name to its module and load it when it is first
asked for; ``spikesub --help`` and ``import spikesub`` stay fast. This module imports nothing
of the project, so every floor can use it.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from typing import Any


def lazy_getattr(
    package: str,
    exports: Mapping[str, str],
    namespace: dict[str, Any],
    submodules: Mapping[str, str] | None = None,
) -> Callable[[str], Any]:
    """A module ``__getattr__`` for ``package``: ``exports`` maps a name to the module it
    comes from (absolute, or relative to ``package`` when it has no dot), ``submodules`` a
    name to a module returned as it is. A loaded value is stored in ``namespace`` (the
    package's ``globals()``), so later look-ups skip the function."""
    modules = {
        name: module if "." in module else f"{package}.{module}" for name, module in exports.items()
    }
    submodules = dict(submodules or {})

    def __getattr__(name: str) -> Any:
        if name in modules:
            value = getattr(importlib.import_module(modules[name]), name)
        elif name in submodules:
            value = importlib.import_module(submodules[name])
        else:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        namespace[name] = value
        return value

    return __getattr__

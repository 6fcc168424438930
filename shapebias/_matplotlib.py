"""matplotlib, imported lazily (the optional ``plot`` extra), and colormap lookup by name."""

from __future__ import annotations

import difflib
import importlib
from typing import Any

__all__ = ["colormap", "matplotlib_module"]


def matplotlib_module(module: str) -> Any:
    """Import a matplotlib module, or explain how to install the optional extra.

    Raises:
        ImportError: matplotlib is missing (``pip install "shapebias[plot]"``).
    """
    try:
        return importlib.import_module(module)
    except ImportError as error:
        raise ImportError(
            'shapebias plotting needs matplotlib: pip install "shapebias[plot]"'
        ) from error


def colormap(cmap: Any) -> Any:
    """A matplotlib colormap from its name, or a clear error listing close names.

    Raises:
        ImportError: matplotlib is missing.
        ValueError: ``cmap`` is not the name of a registered colormap.
    """
    colormaps = matplotlib_module("matplotlib").colormaps
    if not isinstance(cmap, str) or cmap not in colormaps:
        names = sorted(colormaps)
        close = difflib.get_close_matches(str(cmap), names, n=3)
        hint = f" Did you mean {', '.join(repr(c) for c in close)}?" if close else ""
        raise ValueError(
            f"cmap must be the name of a matplotlib colormap such as 'jet', 'gray' or "
            f"'viridis', got {cmap!r}.{hint} See list(matplotlib.colormaps)."
        )
    return colormaps[cmap]

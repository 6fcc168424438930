"""Lazy re-exports (PEP 562): a package's public names import their module on first use.

A package lists what it re-exports once, as ordinary imports under ``if TYPE_CHECKING:``
(so mypy, IDEs and other static analysers see every name and its type), and hands its
``__getattr__`` and ``__dir__`` to :func:`attach`, which reads those same import
statements from the package's source::

    from typing import TYPE_CHECKING

    if TYPE_CHECKING:
        from shapebias.metrics._shape_bias import ShapeBias, shape_bias
    else:
        from shapebias._lazy import attach

        __getattr__, __dir__ = attach(__name__)

``import shapebias.metrics`` then imports nothing else; ``shapebias.metrics.shape_bias``
imports ``shapebias.metrics._shape_bias`` (and what it needs) the first time it is looked
up and is cached on the package after that. This is the scheme of Scientific Python's
SPEC 1 (``lazy_loader.attach_stub``), with the imports kept in the ``__init__.py`` itself
instead of a stub file.
"""

from __future__ import annotations

import ast
import importlib
import importlib.util
import sys
from collections.abc import Callable
from typing import Any

__all__ = ["attach", "lazy_imports"]


def lazy_imports(source: str, package: str) -> dict[str, tuple[str, str | None]]:
    """The names a package's ``if TYPE_CHECKING:`` block imports, and where from.

    Args:
        source: the package's ``__init__.py`` text.
        package: the package's name (resolves relative imports).

    Returns:
        name -> ``(module, attribute)``: the name is ``getattr(module, attribute)``, or the
        module itself where ``attribute`` is ``None`` (``from package import submodule``).

    Example:
        >>> source = "if TYPE_CHECKING:\\n    from ._pgd import PGD as Attack, pgd\\n"
        >>> lazy_imports(source, "shapebias.attacks")["Attack"]
        ('shapebias.attacks._pgd', 'PGD')
    """
    found: dict[str, tuple[str, str | None]] = {}
    for node in ast.parse(source).body:
        if not (isinstance(node, ast.If) and _is_type_checking(node.test)):
            continue
        for statement in node.body:
            if not isinstance(statement, ast.ImportFrom):
                continue
            relative = "." * statement.level + (statement.module or "")
            module = importlib.util.resolve_name(relative, package)
            for alias in statement.names:
                name = alias.asname or alias.name
                if module == package:  # a submodule of the package itself
                    found[name] = (f"{package}.{alias.name}", None)
                else:
                    found[name] = (module, alias.name)
    return found


def _is_type_checking(test: ast.expr) -> bool:
    if isinstance(test, ast.Attribute):  # typing.TYPE_CHECKING
        return test.attr == "TYPE_CHECKING"
    return isinstance(test, ast.Name) and test.id == "TYPE_CHECKING"


def attach(package: str) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """The module-level ``__getattr__`` and ``__dir__`` of ``package`` (call it from there).

    Args:
        package: the package's ``__name__``; the package must be importing (in
            ``sys.modules``) with a loader that can give its source.

    Returns:
        ``(__getattr__, __dir__)``. ``__getattr__(name)`` imports the module of a name
        from the package's ``if TYPE_CHECKING:`` imports (see :func:`lazy_imports`),
        caches the value on the package and returns it; any other name raises the usual
        :class:`AttributeError` (so ``from package import _private_module`` still imports
        that submodule). ``__dir__()`` lists the package's attributes and every lazy name.

    Raises:
        ImportError: the package's source cannot be read (an installation without
            ``.py`` files).

    Example:
        >>> import shapebias.saliency
        >>> getattr_, dir_ = attach("shapebias.saliency")
        >>> getattr_("smoothgrad").__name__, "smoothgrad" in dir_()
        ('smoothgrad', True)
    """
    module = sys.modules[package]
    loader = getattr(module.__spec__, "loader", None)
    get_source = getattr(loader, "get_source", None)
    source = get_source(package) if get_source is not None else None
    if source is None:
        raise ImportError(
            f"{package} re-exports the names it imports under 'if TYPE_CHECKING:' in its "
            f"__init__.py, and its loader {loader!r} cannot give that source. Install "
            "shapebias with its .py files (pip install shapebias)."
        )
    home = lazy_imports(source, package)

    def __getattr__(name: str) -> Any:
        try:
            where, attribute = home[name]
        except KeyError:
            raise AttributeError(f"module {package!r} has no attribute {name!r}") from None
        value = importlib.import_module(where)
        if attribute is not None:
            value = getattr(value, attribute)
        setattr(module, name, value)  # later look-ups skip __getattr__
        return value

    def __dir__() -> list[str]:
        return sorted(set(home).union(vars(module)))

    return __getattr__, __dir__

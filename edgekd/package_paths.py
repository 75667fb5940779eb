"""`pkg://<package>/<path>`: a data file or model folder that ships inside an installed package.

Found with `importlib.util.find_spec`, which locates a package without importing it (the packages
that carry data here import heavy libraries in their `__init__`). Pipelines stay portable across
Python versions and virtual environments; artifacts are keyed by the files' bytes, not this string.
"""

from __future__ import annotations

from pathlib import Path

PREFIX = "pkg://"


def resolve(value: str | Path) -> Path:
    """`pkg://name/rest` -> the file inside package `name`; anything else is a plain path."""
    text = str(value)
    if not text.startswith(PREFIX):
        return Path(text)
    import importlib.util

    from edgekd.errors import DataError

    package, _, rest = text[len(PREFIX):].partition("/")
    try:
        spec = importlib.util.find_spec(package)
    except (ImportError, ValueError):
        spec = None
    if spec is None or not spec.submodule_search_locations:
        raise DataError(f"{text}: package {package!r} is not installed (see the README's set-up)")
    return Path(list(spec.submodule_search_locations)[0]) / rest

"""Catalog exceptions.

``CatalogError`` (a ``ValueError``): a catalog or pricing file is malformed; the message names the
file, the style and the field. ``UnknownStyle`` (also a ``LookupError``): ``Catalog.resolve`` was
given an id that is neither a style nor an alias.
"""

from __future__ import annotations


class CatalogError(ValueError):
    pass


class UnknownStyle(CatalogError, LookupError):
    def __init__(self, style_id: str, suggestions: list[str] | None = None) -> None:
        self.style_id = style_id
        self.suggestions = suggestions or []
        msg = f"Unknown prompt_style {style_id!r}."
        if self.suggestions:
            msg += " Did you mean " + " or ".join(repr(s) for s in self.suggestions) + "?"
        super().__init__(msg)

"""Read the catalog TOML files (one per family, in ``data/``) into a validated ``Catalog``.

File layout (see any ``data/*.toml``)::

    [family]            id, name, tab, and model (the wire model; omitted for route-only families)
    [defaults]          any style field, applied to every style of the file that does not set it
    [styles.<id>]       name, description, example_prompt, min/max_width, min/max_height,
                        square_only, fixed_size = [w, h], max_images, required_inputs,
                        max_reference_images, price_class, aliases, or target = "<id>" (a route)

Anything wrong fails loudly with ``CatalogError`` naming the file, the style and the field.
"""

from __future__ import annotations

import functools
import tomllib
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from pixelforge.catalog.errors import CatalogError
from pixelforge.catalog.models import Catalog, Style, Tab
from pixelforge.catalog.pricing import Pricing, load_pricing

DATA_DIR = Path(__file__).with_name("data")
# Files load in this order (then any other *.toml, alphabetically); it is the selector's order.
FAMILY_ORDER = ("rd_fast", "rd_plus", "rd_pro", "rd_mini", "rd_animation", "rd_advanced_animation", "rd_tile")
_COMPUTED = {"id", "target_id", "family", "tab", "model"}
_SIZE_KEYS = ("min_width", "max_width", "min_height", "max_height")
_INHERITED_FROM_TARGET_EXCLUDED = {"id", "target_id", "family", "tab", "aliases"}


class _Family(BaseModel):
    model_config = ConfigDict(extra="forbid")
    id: str = Field(pattern=r"^[a-z0-9]+(_[a-z0-9]+)*$")
    name: str
    tab: Tab
    model: str | None = None


class _FamilyFile(BaseModel):
    model_config = ConfigDict(extra="forbid")
    family: _Family
    defaults: dict[str, Any] = {}
    styles: dict[str, dict[str, Any]]


def _fail(path: Path, style_id: str | None, detail: str) -> CatalogError:
    where = f"catalog file {path.name}"
    if style_id is not None:
        where += f": style {style_id!r}"
    return CatalogError(f"{where}: {detail}")


def _validation_detail(exc: ValidationError) -> str:
    parts = []
    for err in exc.errors():
        loc = ".".join(str(p) for p in err["loc"])
        msg = err["msg"].removeprefix("Value error, ")
        parts.append(f"field {loc!r}: {msg}" if loc else msg)
    return "; ".join(parts)


def _build_style(path: Path, sid: str, data: dict[str, Any]) -> Style:
    try:
        return Style.model_validate(data)
    except ValidationError as exc:
        raise _fail(path, sid, _validation_detail(exc)) from None


def _apply_fixed_size(merged: dict[str, Any], table: dict[str, Any]) -> None:
    fixed = merged.get("fixed_size")
    if isinstance(fixed, list | tuple) and len(fixed) == 2:
        w, h = fixed
        for key, value in zip(_SIZE_KEYS, (w, w, h, h), strict=True):
            if key not in table:  # a fixed size overrides the family's default range
                merged[key] = value


def _read(path: Path) -> _FamilyFile:
    try:
        with path.open("rb") as f:
            raw = tomllib.load(f)
    except OSError as exc:
        raise _fail(path, None, f"cannot be read: {exc}") from exc
    except tomllib.TOMLDecodeError as exc:
        raise _fail(path, None, f"not valid TOML: {exc}") from exc
    styles = raw.get("styles")
    if isinstance(styles, dict):
        for sid, table in styles.items():
            if not isinstance(table, dict):
                raise _fail(path, sid, "must be a table ([styles.<id>])")
    try:
        return _FamilyFile.model_validate(raw)
    except ValidationError as exc:
        raise _fail(path, None, _validation_detail(exc)) from None


def _family_files(data_dir: Path) -> list[Path]:
    files = sorted(data_dir.glob("*.toml"))
    if not files:
        raise CatalogError(f"catalog directory {data_dir} has no *.toml files")
    rank = {name: i for i, name in enumerate(FAMILY_ORDER)}
    return sorted(files, key=lambda p: (rank.get(p.stem, len(rank)), p.name))


def build_catalog(data_dir: Path, pricing: Pricing) -> Catalog:
    """Load every ``*.toml`` in ``data_dir`` and check it against ``pricing``."""
    styles: dict[str, Style] = {}
    origin: dict[str, Path] = {}
    aliases: dict[str, str] = {}
    routes: list[tuple[Path, _Family, dict[str, Any], str, dict[str, Any]]] = []
    order: list[str] = []

    for path in _family_files(data_dir):
        doc = _read(path)
        fam = doc.family
        for key in _COMPUTED & set(doc.defaults):
            raise _fail(path, None, f"[defaults] may not set {key!r} (it comes from [family])")
        for sid, table in doc.styles.items():
            if sid in origin or any(sid == p[3] for p in routes):
                first = origin.get(sid, path).name
                raise _fail(path, sid, f"duplicate style id (also defined in {first})")
            if not sid.startswith(f"{fam.id}__"):
                raise _fail(path, sid, f"style ids in this file must start with {fam.id + '__'!r}")
            for key in _COMPUTED & set(table):
                raise _fail(path, sid, f"field {key!r} may not be set per style (it comes from [family])")
            order.append(sid)
            if "target" in table:
                routes.append((path, fam, doc.defaults, sid, table))
                continue
            if fam.model is None:
                raise _fail(path, sid, "needs a 'target' (the family has no model)")
            merged = {**doc.defaults, **table}
            _apply_fixed_size(merged, table)
            data = {"id": sid, "target_id": sid, "model": fam.model, "family": fam.id, "tab": fam.tab}
            styles[sid] = _build_style(path, sid, {**data, **merged})
            origin[sid] = path

    for path, fam, defaults, sid, table in routes:
        target_id = table["target"]
        target = styles.get(target_id)
        if target is None:
            raise _fail(path, sid, f"field 'target': {target_id!r} is not a (non-route) style")
        inherited = target.model_dump(exclude=_INHERITED_FROM_TARGET_EXCLUDED)
        own = {k: v for k, v in {**defaults, **table}.items() if k != "target"}
        merged = {**inherited, **own}
        if "fixed_size" in own:
            _apply_fixed_size(merged, own)
        elif any(k in own for k in _SIZE_KEYS):
            merged["fixed_size"] = None
        data = {"id": sid, "target_id": target_id, "family": fam.id, "tab": fam.tab}
        styles[sid] = _build_style(path, sid, {**merged, **data, "model": target.model})
        origin[sid] = path

    for sid in order:
        style = styles[sid]
        if style.price_class not in pricing.classes:
            raise _fail(
                origin[sid],
                sid,
                f"field 'price_class': {style.price_class!r} is not a price class in {pricing.source} "
                f"(known: {', '.join(sorted(pricing.classes))})",
            )
        for alias in style.aliases:
            if alias in styles:
                raise _fail(origin[sid], sid, f"alias {alias!r} is already a style id")
            if alias in aliases:
                raise _fail(origin[sid], sid, f"alias {alias!r} is already an alias of {aliases[alias]!r}")
            aliases[alias] = sid
    return Catalog([styles[sid] for sid in order], aliases, pricing)


@functools.lru_cache(maxsize=8)
def _cached(data_dir: Path, pricing_file: Path | None, _stamp: int) -> Catalog:
    return build_catalog(data_dir, load_pricing(pricing_file))


def load_catalog(
    settings: Any = None, *, data_dir: Path | None = None, pricing_file: Path | str | None = None
) -> Catalog:
    """The catalog with the prices in force.

    Prices: the shipped ``pricing.toml``, overridden by ``pricing_file`` if given, else by
    ``settings.pricing_file`` (``PIXELFORGE_PRICING_FILE``). Loaded once per (files, mtime).
    """
    if pricing_file is None and settings is not None:
        pricing_file = getattr(settings, "pricing_file", None)
    pf = Path(pricing_file).expanduser().resolve() if pricing_file is not None else None
    stamp = pf.stat().st_mtime_ns if pf is not None and pf.exists() else 0
    return _cached((data_dir or DATA_DIR).resolve(), pf, stamp)

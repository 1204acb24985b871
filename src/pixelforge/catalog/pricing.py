"""Prices: the RD FAQ formulas in exact arithmetic, with every number read from a TOML file.

A price class is one of three kinds (see ``pricing.toml`` next to this module):

* ``formula``: ``max(minimum, (width*height + offset_pixels) / divisor) * num_images``
* ``per_image``: ``price * num_images``
* ``per_request``: ``price`` (a flat price for the whole request)

"All costs are rounded to three decimal places" (RD FAQ): the exact rational value of the whole
request is rounded half-up to 0.001 USD, then stored as integer micro-USD. The docs' own figures
fix "nearest", not "up": rd_fast 128x128 is 0.019397 -> 0.019 (llms.txt example), rd_plus 256x256 is
0.057768 -> 0.058 (README example). Half-up vs half-even is not decided by any doc figure; half-up
is what "rounded" means on a price list.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from decimal import Decimal
from fractions import Fraction
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from pixelforge.catalog.errors import CatalogError

if TYPE_CHECKING:
    from pixelforge.catalog.models import Style

MICROS_PER_USD = 1_000_000
DEFAULT_PRICING_FILE = Path(__file__).with_name("pricing.toml")

Money = Annotated[Decimal, Field(ge=0, max_digits=12, decimal_places=6)]


class _FormulaConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    kind: Literal["formula"]
    minimum: Money
    offset_pixels: int = Field(ge=0)
    divisor: int = Field(gt=0)


class _PerImageConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    kind: Literal["per_image"]
    price: Money


class _PerRequestConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    kind: Literal["per_request"]
    price: Money


_ClassConfig = Annotated[_FormulaConfig | _PerImageConfig | _PerRequestConfig, Field(discriminator="kind")]


class _PricingFile(BaseModel):
    model_config = ConfigDict(extra="forbid")
    classes: dict[str, _ClassConfig]


@dataclass(frozen=True, slots=True)
class PriceRule:
    """One price class, ready for exact arithmetic (USD as Fractions)."""

    name: str
    kind: Literal["formula", "per_image", "per_request"]
    price: Fraction = Fraction(0)  # per_image / per_request
    minimum: Fraction = Fraction(0)  # formula
    offset_pixels: int = 0  # formula
    divisor: int = 1  # formula

    def exact_usd(self, width: int, height: int, num_images: int) -> Fraction:
        if self.kind == "formula":
            per_image = max(self.minimum, Fraction(width * height + self.offset_pixels, self.divisor))
            return per_image * num_images
        if self.kind == "per_image":
            return self.price * num_images
        return self.price

    def describe(self) -> str:
        if self.kind == "formula":
            return f"max({_usd(self.minimum)}, (w*h + {self.offset_pixels}) / {self.divisor}) * num_images"
        if self.kind == "per_image":
            return f"{_usd(self.price)} * num_images"
        return f"{_usd(self.price)} per request"


def _usd(value: Fraction) -> str:
    return format(Decimal(value.numerator) / Decimal(value.denominator), "f")


@dataclass(frozen=True)
class Pricing:
    """Every price class by name; built by :func:`load_pricing`."""

    classes: dict[str, PriceRule]
    source: str = "<defaults>"

    def rule(self, price_class: str) -> PriceRule:
        try:
            return self.classes[price_class]
        except KeyError:
            raise CatalogError(
                f"price class {price_class!r} is not defined in {self.source} "
                f"(defined: {', '.join(sorted(self.classes))})"
            ) from None


def _half_up_micros(num: int, den: int) -> int:
    """USD num/den (>= 0) rounded half-up to 0.001 USD, in micro-USD. Integers only."""
    return (2000 * num + den) // (2 * den) * (MICROS_PER_USD // 1000)


def round_to_micros(usd: Fraction) -> int:
    """Round an exact non-negative USD amount half-up to 0.001 USD; return integer micro-USD."""
    return _half_up_micros(usd.numerator, usd.denominator)


def price_micros(style: Style, width: int, height: int, num_images: int, pricing: Pricing) -> int:
    """The price of one request in integer micro-USD (a multiple of 1_000).

    Validate the request with ``style.problems(...)`` first; this only does the arithmetic
    (integers only: it sits on the check_cost hot path).
    """
    rule = pricing.rule(style.price_class)
    if rule.kind == "formula":
        a, b = rule.minimum.numerator, rule.minimum.denominator
        c, d = width * height + rule.offset_pixels, rule.divisor
        if a * d >= c * b:  # max(minimum, (w*h + offset) / divisor)
            return _half_up_micros(a * num_images, b)
        return _half_up_micros(c * num_images, d)
    if rule.kind == "per_image":
        return _half_up_micros(rule.price.numerator * num_images, rule.price.denominator)
    return _half_up_micros(rule.price.numerator, rule.price.denominator)


def _read_toml(path: Path) -> dict:
    try:
        with path.open("rb") as f:
            return tomllib.load(f)
    except OSError as exc:
        raise CatalogError(f"pricing file {path}: cannot be read: {exc}") from exc
    except tomllib.TOMLDecodeError as exc:
        raise CatalogError(f"pricing file {path}: not valid TOML: {exc}") from exc


def load_pricing(path: Path | str | None = None) -> Pricing:
    """The shipped default prices, overridden class by class by the TOML file at ``path``.

    In the override a class table replaces the default's keys one by one; a table whose ``kind``
    differs from the default replaces it entirely. New classes may be added.
    """
    raw = _read_toml(DEFAULT_PRICING_FILE)
    source = str(DEFAULT_PRICING_FILE)
    if path is not None:
        path = Path(path)
        override = _read_toml(path)
        source = str(path)
        unknown = set(override) - {"classes"}
        if unknown:
            raise CatalogError(f"pricing file {path}: unknown top-level key(s) {sorted(unknown)}")
        for name, table in (override.get("classes") or {}).items():
            if not isinstance(table, dict):
                raise CatalogError(f"pricing file {path}: class {name!r} must be a table")
            base = raw["classes"].get(name, {})
            if "kind" in table and table["kind"] != base.get("kind"):
                base = {}
            raw["classes"][name] = {**base, **table}
    try:
        parsed = _PricingFile.model_validate(raw)
    except ValidationError as exc:
        err = exc.errors()[0]
        loc = ".".join(str(p) for p in err["loc"])
        raise CatalogError(f"pricing file {source}: {loc}: {err['msg']}") from exc
    rules: dict[str, PriceRule] = {}
    for name, cfg in parsed.classes.items():
        if isinstance(cfg, _FormulaConfig):
            rules[name] = PriceRule(
                name,
                "formula",
                minimum=Fraction(cfg.minimum),
                offset_pixels=cfg.offset_pixels,
                divisor=cfg.divisor,
            )
        else:
            rules[name] = PriceRule(name, cfg.kind, price=Fraction(cfg.price))
    return Pricing(rules, source)

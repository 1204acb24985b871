"""The style catalog and prices, kept as data (``data/*.toml``, ``pricing.toml``).

Public surface (see docs/dev/CONTRACTS.md, "Catalog")::

    catalog = load_catalog(settings)
    style = catalog.resolve("animation__vfx")          # -> rd_animation__vfx; UnknownStyle otherwise
    style.problems(width, height, num_images, has_input_image, n_reference_images)  # [] when fine
    price_micros(style, width, height, num_images, catalog.pricing)                 # integer micro-USD
    catalog.selector(model="rd_plus", tab="tab:image")  # GET /v1/styles/selector items
"""

from pixelforge.catalog.errors import CatalogError, UnknownStyle
from pixelforge.catalog.loader import DATA_DIR, build_catalog, load_catalog
from pixelforge.catalog.models import TABS, Catalog, Style, selector_items
from pixelforge.catalog.pricing import (
    DEFAULT_PRICING_FILE,
    MICROS_PER_USD,
    PriceRule,
    Pricing,
    load_pricing,
    price_micros,
    round_to_micros,
)

__all__ = [
    "DATA_DIR",
    "DEFAULT_PRICING_FILE",
    "MICROS_PER_USD",
    "TABS",
    "Catalog",
    "CatalogError",
    "PriceRule",
    "Pricing",
    "Style",
    "UnknownStyle",
    "build_catalog",
    "load_catalog",
    "load_pricing",
    "price_micros",
    "round_to_micros",
    "selector_items",
]

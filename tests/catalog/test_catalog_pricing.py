"""check_cost prices equal the FAQ formulas, computed here independently with Decimal."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal, localcontext
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pixelforge.catalog import Style, load_catalog, load_pricing, price_micros
from pixelforge.catalog.errors import CatalogError
from pixelforge.config import Settings

CATALOG = load_catalog()

# The FAQ formulas (000_/001_ seed FAQ, retrodiffusion-current README "Pricing" / llms.txt "Costs").
FORMULAS = {
    "rd_fast": (Decimal("0.015"), 100000, 6000000),
    "rd_plus": (Decimal("0.025"), 50000, 2000000),
    "low_res": (Decimal("0.02"), 13700, 600000),
}
LOW_RES_SUFFIXES = {"mc_item", "mc_texture", "low_res", "classic", "skill_icon", "topdown_item"}
LOW_RES_TILES = {"rd_tile__tile_variation", "rd_tile__single_tile", "rd_tile__tile_object"}


def doc_rule(style_id: str) -> tuple[str, object]:
    """Which documented price applies, decided from the style id alone (not from the catalog)."""
    family, name = style_id.split("__", 1)
    if family == "rd_mini":
        name = name.removeprefix("fast_")
    if style_id == "rd_pro__pixelate":
        return "per_image", Decimal("0.25")  # seed FAQ "Editing class styles"
    if family == "rd_pro":
        return "per_image", Decimal("0.18")  # current docs (seed: 0.22)
    if family == "rd_advanced_animation":
        premium = name in {"custom_action", "subtle_motion"}
        return "per_request", Decimal("0.25" if premium else "0.14")
    if family == "rd_animation":
        premium = name in {"any_animation", "8_dir_rotation"}
        return "per_request", Decimal("0.25" if premium else "0.07")
    if style_id in {"rd_tile__tileset", "rd_tile__tileset_advanced"}:
        return "per_request", Decimal("0.10")
    if style_id in LOW_RES_TILES or name in LOW_RES_SUFFIXES:
        return "formula", FORMULAS["low_res"]
    if style_id == "rd_tile__scene_object":
        return "formula", FORMULAS["rd_plus"]  # in no price list; documented assumption
    if family in ("rd_fast", "rd_plus"):
        return "formula", FORMULAS[family]
    raise AssertionError(f"no documented price for {style_id}")


def expected_micros(style_id: str, w: int, h: int, n: int) -> int:
    kind, spec = doc_rule(style_id)
    with localcontext() as ctx:
        ctx.prec = 60
        if kind == "formula":
            minimum, offset, divisor = spec  # type: ignore[misc]
            usd = max(minimum, (Decimal(w * h) + offset) / Decimal(divisor)) * n
        elif kind == "per_image":
            usd = spec * n  # type: ignore[operator]
        else:
            usd = spec
        rounded = usd.quantize(Decimal("0.001"), rounding=ROUND_HALF_UP)
        return int(rounded * 1_000_000)


@pytest.mark.parametrize(
    ("style_id", "w", "h", "n", "usd"),
    [
        ("rd_plus__default", 256, 256, 1, "0.058"),  # README response example
        ("rd_fast__default", 128, 128, 1, "0.019"),  # llms.txt response example (nearest, not ceiling)
        ("rd_pro__default", 256, 256, 2, "0.36"),  # README/llms.txt check_cost example
        ("rd_fast__default", 64, 64, 1, "0.017"),
        ("rd_fast__no_style", 64, 64, 16, "0.278"),  # 0.017349.. * 16 = 0.27758 -> rounded after the batch
        ("rd_plus__default", 64, 64, 1, "0.027"),
        ("rd_plus__mc_item", 16, 16, 1, "0.023"),
        ("rd_plus__mc_item", 16, 16, 4, "0.093"),
        ("rd_plus__default", 170, 300, 1, "0.051"),  # exact tie 0.0505 -> half-up
        ("rd_tile__tileset", 32, 32, 1, "0.10"),
        ("rd_animation__vfx", 96, 96, 1, "0.07"),
        ("rd_animation__small_sprites", 32, 32, 16, "0.07"),  # flat per request
        ("rd_animation__8_dir_rotation", 80, 80, 1, "0.25"),
        ("rd_advanced_animation__walking", 64, 64, 1, "0.14"),
        ("rd_advanced_animation__subtle_motion", 64, 64, 1, "0.25"),
        ("rd_pro__pixelate", 128, 128, 3, "0.75"),
    ],
)
def test_documented_figures(style_id: str, w: int, h: int, n: int, usd: str) -> None:
    style = CATALOG.resolve(style_id)
    assert price_micros(style, w, h, n, CATALOG.pricing) == int(Decimal(usd) * 1_000_000)


def test_every_style_has_a_documented_price() -> None:
    for style in CATALOG.styles():
        w, h = style.min_width, style.min_height
        assert CATALOG.price_micros(style, w, h, 1) == expected_micros(style.id, w, h, 1), style.id


@st.composite
def valid_requests(draw: st.DrawFn) -> tuple[Style, int, int, int]:
    style = draw(st.sampled_from(CATALOG.styles()))
    w = draw(st.integers(style.min_width, style.max_width))
    h = w if style.square_only else draw(st.integers(style.min_height, style.max_height))
    n = draw(st.integers(1, style.max_images))
    return style, w, h, n


@settings(max_examples=600, deadline=None)
@given(valid_requests())
def test_prices_equal_the_formulas(req: tuple[Style, int, int, int]) -> None:
    style, w, h, n = req
    got = price_micros(style, w, h, n, CATALOG.pricing)
    assert style.problems(w, h, n, True, 0) == []  # the drawn request is valid for the style
    assert got == expected_micros(style.id, w, h, n)
    assert got % 1000 == 0


@pytest.mark.parametrize("family", ["rd_fast", "rd_plus", "rd_pro", "rd_mini", "rd_animation", "rd_tile"])
def test_size_and_batch_spread_per_family(family: str) -> None:
    for style in (s for s in CATALOG.styles() if s.family == family):
        sizes = {(style.min_width, style.min_height), (style.max_width, style.max_height)}
        if not style.fixed_size:
            mid_w = (style.min_width + style.max_width) // 2
            sizes.add((mid_w, mid_w if style.square_only else style.max_height))
        for w, h in sizes:
            for n in sorted({1, 2, style.max_images}):
                if n <= style.max_images:
                    assert CATALOG.price_micros(style, w, h, n) == expected_micros(style.id, w, h, n)


def test_aliases_cost_the_same_as_their_style() -> None:
    assert CATALOG.resolve("animation__four_angle_walking") is CATALOG.resolve(
        "rd_animation__four_angle_walking"
    )
    mini = CATALOG.resolve("rd_mini__mc_item")
    assert CATALOG.price_micros(mini, 64, 64, 3) == CATALOG.price_micros(CATALOG.target(mini), 64, 64, 3)


def test_pricing_file_overrides_a_class(tmp_path: Path) -> None:
    f = tmp_path / "prices.toml"
    f.write_text('[classes.rd_pro]\nprice = "0.22"\n\n[classes.tileset]\nprice = "0.2"\n')
    catalog = load_catalog(Settings(data_dir=tmp_path, pricing_file=f))
    pro = catalog.resolve("rd_pro__default")
    assert catalog.price_micros(pro, 256, 256, 2) == 440_000
    assert catalog.price_micros(catalog.resolve("rd_tile__tileset"), 16, 16, 1) == 200_000
    # untouched classes keep their defaults
    plus = catalog.resolve("rd_plus__default")
    assert catalog.price_micros(plus, 256, 256, 1) == 58_000
    assert load_catalog().price_micros(pro, 256, 256, 2) == 360_000


def test_pricing_file_can_replace_a_kind_and_add_a_class(tmp_path: Path) -> None:
    f = tmp_path / "prices.toml"
    f.write_text('[classes.rd_pro]\nkind = "formula"\nminimum = "0.1"\noffset_pixels = 0\ndivisor = 100000\n')
    pricing = load_pricing(f)
    pro = CATALOG.resolve("rd_pro__default")
    assert price_micros(pro, 256, 256, 1, pricing) == 655_000  # 65536 / 100000 = 0.65536


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        ('[classes.rd_pro]\nprice = "-1"\n', "classes.rd_pro"),
        ('[classes.rd_pro]\nprice = "cheap"\n', "classes.rd_pro"),
        ("[classes.rd_fast]\ndivisor = 0\n", "classes.rd_fast"),
        ('[classes.rd_pro]\nprise = "0.2"\n', "prise"),
        ('[clases.rd_pro]\nprice = "0.2"\n', "clases"),
        ("[classes.rd_pro\n", "not valid TOML"),
    ],
)
def test_bad_pricing_file_fails_loudly(tmp_path: Path, text: str, needle: str) -> None:
    f = tmp_path / "prices.toml"
    f.write_text(text)
    with pytest.raises(CatalogError) as exc:
        load_pricing(f)
    assert needle in str(exc.value)
    assert str(f) in str(exc.value)


@settings(max_examples=300, deadline=None)
@given(valid_requests())
def test_integer_fast_path_equals_exact_rational(req: tuple[Style, int, int, int]) -> None:
    from pixelforge.catalog import round_to_micros

    style, w, h, n = req
    exact = CATALOG.pricing.rule(style.price_class).exact_usd(w, h, n)
    assert CATALOG.price_micros(style, w, h, n) == round_to_micros(exact)

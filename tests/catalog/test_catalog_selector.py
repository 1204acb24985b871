"""The GET /v1/styles/selector payload."""

from __future__ import annotations

from pixelforge.catalog import load_catalog, selector_items

CATALOG = load_catalog()
KEYS = {
    "prompt_style",
    "name",
    "description",
    "required_model",
    "required_tab",
    "min_width",
    "max_width",
    "min_height",
    "max_height",
    "max_number_of_images",
    "require_input_image",
    "supports_reference_images",
    "example_prompt",
}


def test_every_item_has_the_documented_shape() -> None:
    items = selector_items(CATALOG)
    assert len(items) == len(CATALOG.styles())
    for item in items:
        assert set(item) == KEYS
        assert item["required_tab"].startswith("tab:")
        assert item["min_width"] <= item["max_width"]
        assert isinstance(item["require_input_image"], bool)


def test_aliases_are_not_listed_but_routes_are() -> None:
    ids = {i["prompt_style"] for i in selector_items(CATALOG)}
    assert "animation__vfx" not in ids and "default:rd_flux" not in ids
    assert "rd_animation__vfx" in ids and "rd_mini__mc_item" in ids


def test_model_filter() -> None:
    pro = selector_items(CATALOG, model="rd_pro")
    assert pro and all(i["required_model"] == "rd_pro" for i in pro)
    assert len(pro) == 18
    mini = selector_items(CATALOG, model="RD_MINI")
    assert {i["prompt_style"] for i in mini} >= {"rd_mini__mc_item", "rd_mini__fast_low_res"}
    assert len(mini) == 9
    assert selector_items(CATALOG, model="nope") == []


def test_tab_filter_accepts_both_spellings() -> None:
    a = selector_items(CATALOG, tab="tab:advanced-animation")
    assert a == selector_items(CATALOG, tab="advanced-animation")
    assert len(a) == 8 and all(i["require_input_image"] for i in a)
    tiles = selector_items(CATALOG, tab="tab:tileset")
    assert {i["prompt_style"] for i in tiles} == {
        "rd_tile__tileset",
        "rd_tile__tileset_advanced",
        "rd_tile__single_tile",
        "rd_tile__tile_variation",
        "rd_tile__tile_object",
        "rd_tile__scene_object",
    }
    both = selector_items(CATALOG, model="rd_plus", tab="tab:image")
    assert both == selector_items(CATALOG, model="rd_plus")
    assert selector_items(CATALOG, model="rd_plus", tab="tab:animation") == []


def test_reference_support_and_fixed_sizes() -> None:
    items = {i["prompt_style"]: i for i in selector_items(CATALOG)}
    assert items["rd_pro__default"]["supports_reference_images"] is True
    assert items["rd_animation__8_dir_rotation"]["supports_reference_images"] is True
    assert items["rd_plus__default"]["supports_reference_images"] is False
    ui = items["rd_pro__ui_panel"]
    assert (ui["min_width"], ui["max_width"], ui["min_height"], ui["max_height"]) == (256, 256, 256, 256)

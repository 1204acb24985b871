"""Style.problems: size, batch, input and reference checks name the style and the limit."""

from __future__ import annotations

import pytest

from pixelforge.catalog import UnknownStyle, load_catalog

CATALOG = load_catalog()


def problems(
    style_id: str, w: int, h: int, n: int = 1, img: bool = False, refs: int = 0, **kw: bool
) -> list[str]:
    return CATALOG.resolve(style_id).problems(w, h, n, img, refs, **kw)


def test_valid_requests_have_no_problems() -> None:
    assert problems("rd_plus__default", 256, 256) == []
    assert problems("rd_fast__default", 64, 384, 15) == []
    assert problems("rd_pro__default", 64, 256, 4, refs=9) == []
    assert problems("rd_pro__edit", 128, 128, img=True) == []
    assert problems("rd_animation__vfx", 24, 24) == []
    assert problems("rd_tile__tileset_advanced", 16, 16, has_extra_prompt=True) == []
    assert problems("rd_mini__skill_icon", 32, 192, 16) == []


@pytest.mark.parametrize(
    ("style_id", "w", "h", "needles"),
    [
        ("rd_plus__default", 400, 256, ["rd_plus__default", "width 400", "64-384"]),
        ("rd_plus__default", 256, 32, ["rd_plus__default", "height 32", "64-384"]),
        ("rd_plus__mc_item", 256, 16, ["rd_plus__mc_item", "16-128"]),
        ("rd_pro__default", 384, 384, ["rd_pro__default", "64-256"]),
        ("rd_pro__ui_panel", 128, 128, ["rd_pro__ui_panel", "256x256"]),
        ("animation__four_angle_walking", 64, 64, ["rd_animation__four_angle_walking", "48x48"]),
        ("rd_animation__vfx", 48, 64, ["rd_animation__vfx", "square"]),
        ("rd_mini__topdown_item", 128, 128, ["rd_mini__topdown_item", "16-96"]),
    ],
)
def test_size_problems(style_id: str, w: int, h: int, needles: list[str]) -> None:
    found = problems(style_id, w, h)
    assert found, f"{style_id} {w}x{h} should be refused"
    text = " ".join(found)
    for needle in needles:
        assert needle in text


def test_wrong_animation_size_is_rejected_not_defaulted() -> None:
    # older docs: "Bigger or smaller resolutions will be ignored and default to 48x48" -- we refuse
    assert problems("animation__walking_and_idle", 64, 64) == [
        "rd_animation__four_angle_walking_idle only supports 48x48; got width=64, height=64."
    ]


@pytest.mark.parametrize(
    ("style_id", "n", "cap"),
    [
        ("rd_pro__default", 5, 4),
        ("rd_plus__default", 17, 16),
        ("rd_fast__default", 16, 15),
        ("rd_animation__four_angle_walking", 2, 1),
        ("rd_tile__tileset", 2, 1),
    ],
)
def test_batch_cap(style_id: str, n: int, cap: int) -> None:
    s = CATALOG.resolve(style_id)
    w, h = s.min_width, s.min_height
    assert problems(style_id, w, h, n) == [f"{s.id}: num_images {n} exceeds this style's batch cap of {cap}."]
    assert problems(style_id, w, h, cap) == []
    assert "at least 1" in problems(style_id, w, h, 0)[0]


@pytest.mark.parametrize(
    "style_id", ["rd_pro__edit", "rd_pro__pixelate", "rd_tile__tile_variation", "rd_advanced_animation__idle"]
)
def test_required_input_image(style_id: str) -> None:
    s = CATALOG.resolve(style_id)
    assert s.requires_input_image
    assert problems(style_id, s.min_width, s.min_height) == [f"{style_id} requires input_image."]
    assert problems(style_id, s.min_width, s.min_height, img=True) == []


def test_extra_prompt_checked_only_when_given() -> None:
    assert problems("rd_tile__tileset_advanced", 16, 16, has_extra_prompt=False) == [
        "rd_tile__tileset_advanced requires extra_prompt."
    ]
    assert problems("rd_tile__tileset_advanced", 16, 16) == []


def test_reference_images() -> None:
    assert problems("rd_pro__default", 128, 128, refs=10) == [
        "rd_pro__default accepts at most 9 reference_images; got 10."
    ]
    assert problems("rd_animation__8_dir_rotation", 80, 80, refs=6) == [
        "rd_animation__8_dir_rotation accepts at most 5 reference_images; got 6."
    ]
    assert problems("rd_plus__default", 128, 128, refs=1) == [
        "rd_plus__default does not accept reference_images; got 1."
    ]


def test_every_problem_names_the_style() -> None:
    for style in CATALOG.styles():
        for found in (style.problems(1000, 1, 99, False, 99), style.problems(1, 1000, 0, False, 0)):
            assert found
            assert all(style.id in p for p in found), found


def test_resolve_aliases_routes_and_unknowns() -> None:
    assert CATALOG.resolve("animation__walking_and_idle").id == "rd_animation__four_angle_walking_idle"
    assert CATALOG.resolve("rd_animation__walking_and_idle").id == "rd_animation__four_angle_walking_idle"
    assert CATALOG.resolve("default:rd_flux").id == "rd_fast__default"
    assert CATALOG.resolve("rd_fast__anime").id == "rd_fast__default"
    mini = CATALOG.resolve("rd_mini__fast_mc_texture")
    assert (mini.id, mini.target_id, mini.model, mini.family) == (
        "rd_mini__fast_mc_texture",
        "rd_fast__mc_texture",
        "rd_fast",
        "rd_mini",
    )
    assert CATALOG.resolve("rd_mini__classic").model == "rd_plus"
    assert CATALOG.target(mini).id == "rd_fast__mc_texture"
    with pytest.raises(UnknownStyle) as exc:
        CATALOG.resolve("rd_plus__defualt")
    assert "rd_plus__defualt" in str(exc.value) and "rd_plus__default" in str(exc.value)
    with pytest.raises(LookupError):
        CATALOG.resolve("user__someone_else_123")


def test_models_and_tabs() -> None:
    by_family = {s.family: s for s in CATALOG.styles()}
    assert set(by_family) == {
        "rd_fast",
        "rd_plus",
        "rd_pro",
        "rd_mini",
        "rd_animation",
        "rd_advanced_animation",
        "rd_tile",
    }
    assert {s.tab for s in CATALOG.styles()} == {"image", "animation", "advanced-animation", "tileset"}
    assert CATALOG.resolve("rd_pro__typography").model == "rd_pro"

"""The loader refuses malformed catalog files with a message naming the file, style and field."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from pixelforge.catalog import DATA_DIR, CatalogError, build_catalog, load_catalog, load_pricing


@pytest.fixture
def data(tmp_path: Path) -> Path:
    d = tmp_path / "catalog"
    shutil.copytree(DATA_DIR, d)
    return d


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text, old
    path.write_text(text.replace(old, new, 1))


def load(d: Path) -> None:
    build_catalog(d, load_pricing())


def test_shipped_catalog_loads(data: Path) -> None:
    catalog = build_catalog(data, load_pricing())
    assert len(catalog) == len(load_catalog())


@pytest.mark.parametrize(
    ("file", "old", "new", "needles"),
    [
        # wrong type
        (
            "rd_pro.toml",
            "[styles.rd_pro__horror]\n",
            '[styles.rd_pro__horror]\nmax_images = "four"\n',
            ["rd_pro.toml", "rd_pro__horror", "max_images"],
        ),
        # out of range
        (
            "rd_plus.toml",
            "[styles.rd_plus__retro]\n",
            "[styles.rd_plus__retro]\nmax_width = 0\n",
            ["rd_plus__retro", "max_width"],
        ),
        # inconsistent range
        (
            "rd_plus.toml",
            "[styles.rd_plus__retro]\n",
            "[styles.rd_plus__retro]\nmin_width = 512\n",
            ["rd_plus__retro", "min_width 512 > max_width 384"],
        ),
        # unknown field (typo)
        (
            "rd_fast.toml",
            "[styles.rd_fast__ui]\n",
            "[styles.rd_fast__ui]\nmax_imgs = 3\n",
            ["rd_fast__ui", "max_imgs"],
        ),
        # missing required field
        ("rd_tile.toml", 'name = "Tile object"\n', "", ["rd_tile__tile_object", "name"]),
        # unknown price class
        (
            "rd_animation.toml",
            'price_class = "animation_premium"\n',
            'price_class = "animaton"\n',
            ["rd_animation__any_animation", "price_class", "animaton"],
        ),
        # bad required input
        (
            "rd_pro.toml",
            'required_inputs = ["input_image"]\n',
            'required_inputs = ["input_img"]\n',
            ["rd_pro__edit", "required_inputs"],
        ),
        # route to nothing
        (
            "rd_mini.toml",
            'target = "rd_plus__mc_item"',
            'target = "rd_plus__mc_itme"',
            ["rd_mini__mc_item", "target", "rd_plus__mc_itme"],
        ),
        # id outside its family
        ("rd_fast.toml", "[styles.rd_fast__ui]", "[styles.rd_plus__ui]", ["rd_plus__ui", "rd_fast__"]),
        # alias colliding with a style id
        (
            "rd_fast.toml",
            'aliases = ["ui:rd_flux"]',
            'aliases = ["rd_fast__retro"]',
            ["rd_fast__ui", "rd_fast__retro", "already a style"],
        ),
        # fixed size that disagrees with an explicit range
        (
            "rd_pro.toml",
            "fixed_size = [256, 256]\n",
            "fixed_size = [256, 256]\nmin_width = 64\n",
            ["rd_pro__ui_panel", "fixed_size"],
        ),
        # a computed field set per style
        (
            "rd_plus.toml",
            "[styles.rd_plus__retro]\n",
            '[styles.rd_plus__retro]\nmodel = "rd_pro"\n',
            ["rd_plus__retro", "model"],
        ),
    ],
)
def test_malformed_style_names_style_and_field(
    data: Path, file: str, old: str, new: str, needles: list[str]
) -> None:
    edit(data / file, old, new)
    with pytest.raises(CatalogError) as exc:
        load(data)
    msg = str(exc.value)
    for needle in needles:
        assert needle in msg, msg


def test_invalid_toml_names_the_file(data: Path) -> None:
    edit(data / "rd_tile.toml", "[styles.rd_tile__scene_object]", "[styles.rd_tile__scene_object")
    with pytest.raises(CatalogError, match=r"rd_tile\.toml: not valid TOML"):
        load(data)


def test_duplicate_id_across_files(data: Path) -> None:
    (data / "zz_more_fast.toml").write_text(
        '[family]\nid = "rd_fast"\nname = "More"\ntab = "image"\nmodel = "rd_fast"\n'
        '[styles.rd_fast__retro]\nname = "R"\n'
    )
    with pytest.raises(
        CatalogError, match=r"zz_more_fast\.toml: style 'rd_fast__retro': duplicate.*rd_fast\.toml"
    ):
        load(data)


def test_style_that_is_not_a_table(data: Path) -> None:
    (data / "rd_extra.toml").write_text(
        '[family]\nid = "rd_extra"\nname = "X"\ntab = "image"\nmodel = "rd_extra"\n'
        "[styles]\nrd_extra__a = 3\n"
    )
    with pytest.raises(CatalogError, match=r"rd_extra\.toml: style 'rd_extra__a': must be a table"):
        load(data)


def test_a_new_family_file_is_picked_up(data: Path) -> None:
    (data / "rd_extra.toml").write_text(
        '[family]\nid = "rd_extra"\nname = "Extra"\ntab = "image"\nmodel = "rd_plus"\n'
        "[defaults]\nmin_width = 32\nmax_width = 64\nmin_height = 32\nmax_height = 64\n"
        'max_images = 2\nprice_class = "rd_plus"\n'
        '[styles.rd_extra__thing]\nname = "Thing"\ndescription = "d"\nexample_prompt = "p"\n'
    )
    catalog = build_catalog(data, load_pricing())
    style = catalog.resolve("rd_extra__thing")
    assert (style.family, style.model, style.max_images) == ("rd_extra", "rd_plus", 2)
    assert catalog.styles()[-1].id == "rd_extra__thing"

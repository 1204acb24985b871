"""Pixel Fixer and the algorithmic edit tools through the app (in-process ASGI client)."""

from __future__ import annotations

import base64
import io
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from tests.pixel.conftest import enlarge, make_sprite

from fakes import Harness, harness, make_settings


@pytest.fixture
def h(data_dir: Path) -> Iterator[Harness]:
    with harness(make_settings(data_dir)) as hh:
        yield hh


@pytest.fixture
def key(h: Harness) -> str:
    return h.new_key("10")


def b64(img: np.ndarray, fmt: str = "PNG") -> str:
    buf = io.BytesIO()
    im = Image.fromarray(img, "RGBA")
    (im.convert("RGB") if fmt == "JPEG" else im).save(buf, format=fmt)
    return base64.b64encode(buf.getvalue()).decode()


def unb64(s: str) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(base64.b64decode(s))).convert("RGBA"))


def test_pixel_fixer_recovers_the_grid_and_is_free(h, key):
    native = make_sprite(20, 24, seed=2)
    before = h.balance(key)
    r = h.post(key, {"input_image": b64(enlarge(native, 6))}, "/v1/pixel-fixer/standard")
    assert r.status_code == 200, r.text
    assert list(r.json()) == ["base64_images"]
    assert np.array_equal(unb64(r.json()["base64_images"][0]), native)
    assert h.balance(key) == before
    # data URI form
    r = h.post(
        key, {"input_image": "data:image/png;base64," + b64(enlarge(native, 6))}, "/v1/pixel-fixer/standard"
    )
    assert r.status_code == 200


def test_pixel_fixer_errors(h, key):
    path = "/v1/pixel-fixer/standard"
    assert h.client.post(path, json={"input_image": "x"}).status_code == 401
    r = h.post(key, {"input_image": b64(np.zeros((8, 8, 4), np.uint8))}, path)
    assert r.status_code == 422 and r.json()["detail"]["code"] == "invalid_pixel_fixer_image"
    r = h.post(key, {"input_image": "!!notbase64"}, path)
    assert r.json()["detail"]["code"] == "invalid_pixel_fixer_image"
    gif = io.BytesIO()
    Image.new("RGB", (32, 32)).save(gif, format="GIF")
    r = h.post(key, {"input_image": base64.b64encode(gif.getvalue()).decode()}, path)
    assert r.status_code == 422
    r = h.post(key, {"image_url": "https://127.0.0.1/x.png"}, path)
    assert r.status_code == 422
    r = h.post(key, {}, path)
    assert r.status_code == 422
    assert h.post(key, {"input_image": "a", "extra": 1}, path).status_code == 422
    r = h.client.post(
        path,
        headers={"X-RD-Token": key, "Content-Type": "application/json"},
        content=b"{" + b" " * 899_999 + b"}",
    )
    assert r.status_code == 413


def test_pixel_fixer_rate_limit(h, key):
    img = b64(enlarge(make_sprite(16, 16, seed=1), 2))
    codes = [h.post(key, {"input_image": img}, "/v1/pixel-fixer/standard").status_code for _ in range(11)]
    assert codes[:10] == [200] * 10
    assert codes[10] == 429


def test_tool_catalog(h):
    r = h.client.get("/v1/edit/tools")
    assert r.status_code == 200
    tools = {t["id"]: t for t in r.json()}
    assert {"background_remover", "color_reducer", "palette_converter", "k_centroid_downscale"} <= set(tools)
    for t in tools.values():
        assert {
            "balance_cost",
            "credit_cost",
            "is_free",
            "requires_minimum_balance",
            "max_input_size",
        } <= set(t)
        assert t["api_fields"][0]["name"] == "input_image"


def test_estimate_and_run(h, key):
    img = np.full((32, 32, 4), 255, np.uint8)
    img[8:24, 8:24, :3] = [40, 90, 160]
    r = h.post(key, {"input_image": b64(img)}, "/v1/edit/tools/background_remover/estimate")
    assert r.status_code == 200 and r.json()["tool_id"] == "background_remover"
    r = h.post(key, {"input_image": b64(img), "custom_id": "abc"}, "/v1/edit/tools/background_remover")
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["charged"] is False and body["remaining_balance"] == pytest.approx(10.0)
    out = unb64(body["base64_images"][0])
    assert out[0, 0, 3] == 0 and out[16, 16, 3] == 255

    pal = np.zeros((1, 2, 4), np.uint8)
    pal[..., 3] = 255
    pal[0, 1, :3] = 255
    rng = np.random.default_rng(0)
    photo = rng.integers(0, 256, (24, 24, 4), dtype=np.uint8)
    photo[..., 3] = 255
    r = h.post(
        key,
        {
            "input_image": b64(photo),
            "input_palette": b64(pal),
            "dither_mode": "bayer_4x4",
            "dither_strength": 80,
        },
        "/v1/edit/tools/palette_converter",
    )
    assert r.status_code == 200, r.text
    out = unb64(r.json()["base64_images"][0])
    assert set(np.unique(out[..., :3]).tolist()) <= {0, 255}

    r = h.post(
        key, {"input_image": b64(photo), "width": 8, "height": 6}, "/v1/edit/tools/k_centroid_downscale"
    )
    assert unb64(r.json()["base64_images"][0]).shape == (6, 8, 4)
    r = h.post(key, {"input_image": b64(photo), "color_count": 4}, "/v1/edit/tools/color_reducer")
    assert len(np.unique(unb64(r.json()["base64_images"][0]).reshape(-1, 4), axis=0)) <= 4
    r = h.post(key, {"input_image": b64(photo), "rotation_degrees": 90}, "/v1/edit/tools/rotate")
    assert np.array_equal(unb64(r.json()["base64_images"][0]), np.rot90(photo))
    r = h.post(key, {"input_image": b64(photo), "tile_x": True}, "/v1/edit/tools/seam_tiling")
    assert r.status_code == 200


def test_tool_errors(h, key):
    img = b64(np.full((8, 8, 4), 255, np.uint8))
    assert h.post(key, {"input_image": img}, "/v1/edit/tools/image_edit").status_code == 404
    r = h.post(key, {"input_image": img}, "/v1/edit/tools/palette_converter")
    assert r.status_code == 422
    r = h.post(key, {"input_image": img, "color_count": "many"}, "/v1/edit/tools/color_reducer")
    assert r.status_code == 422
    r = h.post(key, {"input_image": img, "dither_mode": "zigzag"}, "/v1/edit/tools/color_reducer")
    assert r.status_code == 422
    r = h.post(key, {"input_image": img}, "/v1/edit/tools/seam_tiling")
    assert r.status_code == 400
    r = h.post(key, {"input_image": "%%%"}, "/v1/edit/tools/rotate")
    assert r.status_code == 400
    assert h.client.post("/v1/edit/tools/rotate", json={"input_image": img}).status_code == 401

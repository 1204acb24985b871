"""One generation through the whole stack with the real embedded engine (skipped until it can load)."""

from __future__ import annotations

import base64
import io
from pathlib import Path

import pytest
from PIL import Image

from fakes import harness, make_settings


@pytest.mark.slow
def test_tiny_engine_through_the_api(data_dir: Path):
    from pixelforge.engines import EngineUnavailable, load_engine

    settings = make_settings(data_dir, engine="tiny", job_workers=1)
    try:
        engine = load_engine("tiny", settings)
    except EngineUnavailable as exc:
        pytest.skip(f"the tiny engine cannot load here: {exc}")
    with harness(settings, engine) as hh:  # type: Harness
        key = hh.new_key("1")
        payload = {
            "prompt": "a red health potion",
            "prompt_style": "rd_plus__mc_item",
            "width": 32,
            "height": 32,
        }
        r = hh.post(key, payload | {"num_images": 1, "seed": 1})
        assert r.status_code == 200, r.text
        body = r.json()
        img = Image.open(io.BytesIO(base64.b64decode(body["base64_images"][0])))
        assert img.size == (32, 32)
        assert body["model"] == "rd_plus" and body["balance_cost"] == 0.025
        again = hh.post(key, payload | {"num_images": 1, "seed": 1}).json()
        assert again["base64_images"] == body["base64_images"]  # seeded generation is reproducible

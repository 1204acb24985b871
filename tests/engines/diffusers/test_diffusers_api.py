"""The README path: environment settings only, then a /v1 request served by the diffusers engine.

The registry points at the tiny checkpoint folders, as a user's would point at real ones: no code
and no test hook is involved between the settings and the generated image.
"""

from __future__ import annotations

import base64
import io
from pathlib import Path

from PIL import Image
from typer.testing import CliRunner


def test_generate_through_the_api_with_only_settings(registry_path: Path, data_dir: Path, monkeypatch):
    from fastapi.testclient import TestClient

    from pixelforge.api import create_app
    from pixelforge.cli import app as cli
    from pixelforge.config import Settings

    monkeypatch.setenv("PIXELFORGE_ENGINE", "diffusers")
    monkeypatch.setenv("PIXELFORGE_MODELS_CONFIG", str(registry_path))
    monkeypatch.setenv("PIXELFORGE_DIFFUSERS_DEVICE", "cpu")
    created = CliRunner().invoke(cli, ["keys", "create", "--name", "demo", "--balance", "10", "--quiet"])
    assert created.exit_code == 0, created.output
    key = created.output.strip().splitlines()[-1]
    payload = {"prompt": "a red health potion", "prompt_style": "rd_plus__mc_item", "width": 32, "height": 32}
    with TestClient(create_app(Settings())) as client:
        r = client.post(
            "/v1/inferences", headers={"X-RD-Token": key}, json=payload | {"num_images": 2, "seed": 1}
        )
        assert r.status_code == 200, r.text
        body = r.json()
        assert body["model"] == "rd_plus"
        images = [Image.open(io.BytesIO(base64.b64decode(b))) for b in body["base64_images"]]
        assert [im.size for im in images] == [(32, 32), (32, 32)]
        single = client.post("/v1/inferences", headers={"X-RD-Token": key}, json=payload | {"seed": 2}).json()
        assert single["base64_images"][0] == body["base64_images"][1], "image i of seed s = seed s+i"
        status = client.get("/v1/status").json()
        assert status["engine"] == "diffusers"

"""Real checkpoints on a CUDA GPU: skipped here (no GPU, no hub access), run them where you have both.

How to run (about 10-20 GB of downloads for the three default families):

    pip install torch==2.13.0 --index-url https://download.pytorch.org/whl/cu128   # your CUDA build
    pip install -e '.[model,dev]'
    pixelforge models pull fast && pixelforge models pull plus && pixelforge models pull pro
    pytest -m gpu tests/engines/diffusers -s

To test your own checkpoints instead of the shipped defaults, write a registry (README, "Real models")
and run with ``PIXELFORGE_TEST_MODELS_CONFIG=/path/to/models.toml``. Families whose weights are not
present locally are skipped one by one. Timings are printed (``-s``), never asserted.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")

pytestmark = [
    pytest.mark.gpu,
    pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU and real checkpoints"),
]


def _config() -> Path | None:
    value = os.environ.get("PIXELFORGE_TEST_MODELS_CONFIG")
    return Path(value) if value else None


@pytest.fixture(scope="module")
def real_engine():
    from pixelforge.config import Settings
    from pixelforge.engines.diffusers import create_engine

    eng = create_engine(Settings(models_config=_config(), diffusers_device="cuda", engine="diffusers"))
    yield eng
    eng.close()


def _present_or_skip(engine, family: str) -> None:
    from pixelforge.cli.models import checkpoint_present

    if family not in engine.registry.families:
        pytest.skip(f"family {family!r} not in the registry")
    if not checkpoint_present(engine.registry.family(family)).startswith("yes"):
        pytest.skip(f"weights of family {family!r} are not present locally (pixelforge models pull {family})")


@pytest.mark.parametrize("family", ["fast", "plus", "pro"])
def test_real_family_generates_pixel_art(real_engine, family):
    from pixelforge.engines import GenerationRequest

    _present_or_skip(real_engine, family)
    request = GenerationRequest(
        prompt="a red health potion",
        width=64,
        height=64,
        seed=1,
        num_images=2,
        family=family,
        style_id=f"rd_{family}__default",
    )
    t0 = time.perf_counter()
    images = real_engine.generate(request)
    first = time.perf_counter() - t0
    t0 = time.perf_counter()
    again = real_engine.generate(request)
    warm = time.perf_counter() - t0
    print(f"\n{family}: first call {first:.1f} s (includes loading), warm {warm:.1f} s for 2 images 64x64")
    assert [i.shape for i in images] == [(64, 64, 4)] * 2
    assert all(i.dtype == np.uint8 for i in images)
    for img in images:
        assert img[..., :3].std() > 5, "not a flat image"
        assert len(np.unique(img[..., :3].reshape(-1, 3), axis=0)) > 4
    assert all(np.array_equal(a, b) for a, b in zip(images, again, strict=True)), "deterministic per seed"


def test_real_tile_x_seam(real_engine):
    """On real images (smooth, unlike random weights) the wrapped seam should look like any column step."""
    from pixelforge.engines import GenerationRequest

    _present_or_skip(real_engine, "fast")

    def seam_x(img: np.ndarray) -> float:
        f = img[..., :3].astype(np.float64)
        return float(np.abs(f[:, 0] - f[:, -1]).mean() / max(np.abs(f[:, 1:] - f[:, :-1]).mean(), 1e-6))

    base = {
        "prompt": "grass and stone ground texture, top-down",
        "width": 64,
        "height": 64,
        "seed": 3,
        "num_images": 4,
        "family": "fast",
        "style_id": "rd_fast__texture",
    }
    plain = real_engine.generate(GenerationRequest(**base))
    tiled = real_engine.generate(GenerationRequest(**base, tile_x=True))
    print(
        f"\nseam/step ratio: plain {np.mean([seam_x(i) for i in plain]):.2f}, "
        f"tiled {np.mean([seam_x(i) for i in tiled]):.2f}"
    )
    assert np.mean([seam_x(i) for i in tiled]) < np.mean([seam_x(i) for i in plain])

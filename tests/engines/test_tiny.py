"""The embedded ``tiny`` engine held to the engine contract, with the real weights shipped in the package.

The weights are part of the package: when they are missing these tests fail (they never skip).
Few denoising steps keep the file fast on a 2-core CPU.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from pixelforge.config import Settings
from pixelforge.engines import (
    CancelToken,
    Engine,
    GenerationCancelled,
    GenerationRequest,
    UnsupportedFeature,
    load_engine,
)
from pixelforge.engines.tiny.engine import WEIGHTS_DIR, fit_to_native, fit_to_size

STEPS = 3


@pytest.fixture(scope="module")
def engine(tmp_path_factory: pytest.TempPathFactory):
    import torch

    # One thread: on a shared 2-core machine extra OpenMP threads mostly spin (4x slower measured).
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    eng = load_engine("tiny", Settings(data_dir=tmp_path_factory.mktemp("data")))
    yield eng
    eng.close()
    torch.set_num_threads(threads)


def request(**kw) -> GenerationRequest:
    base = {"prompt": "a red potion bottle", "width": 32, "height": 32, "seed": 7, "steps": STEPS}
    return GenerationRequest(**(base | kw))


def test_weights_ship_in_the_package():
    weights = WEIGHTS_DIR / "unet" / "diffusion_pytorch_model.safetensors"
    assert weights.is_file(), f"the tiny model's weights are missing: {weights}"
    assert (WEIGHTS_DIR / "unet" / "config.json").is_file()
    assert (WEIGHTS_DIR / "tiny.json").is_file()
    assert weights.stat().st_size < 40_000_000


def test_importing_engines_does_not_import_torch():
    code = "import sys, pixelforge.engines, pixelforge.engines.tiny; assert 'torch' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True)


def test_engine_implements_the_protocol(engine):
    assert isinstance(engine, Engine)
    assert engine.name == "tiny"
    caps = engine.capabilities()
    assert caps.img2img and caps.negative_prompt and caps.max_reference_images == 0


def test_images_are_hard_alpha_palette_limited_rgba(engine):
    images = engine.generate(request(num_images=2))
    assert len(images) == 2
    for img in images:
        assert img.shape == (32, 32, 4)
        assert img.dtype == np.uint8
        assert set(np.unique(img[..., 3])) <= {0, 255}
        opaque = img[img[..., 3] == 255][:, :3]
        assert len(np.unique(opaque, axis=0)) <= engine.config.n_colors
        assert (img[img[..., 3] == 0][:, :3] == 0).all()
        assert (img[..., 3] == 255).sum() > 0, "the model drew nothing"


def test_same_seed_same_images_and_batch_images_differ(engine):
    a = engine.generate(request(num_images=3, seed=11))
    b = engine.generate(request(num_images=3, seed=11))
    for x, y in zip(a, b, strict=True):
        np.testing.assert_array_equal(x, y)
    assert not np.array_equal(a[0], a[1])
    assert not np.array_equal(a[1], a[2])


def test_image_i_is_image_zero_of_seed_plus_i(engine):
    batch = engine.generate(request(num_images=3, seed=2**32 - 2))
    for i in range(3):
        single = engine.generate(request(num_images=1, seed=(2**32 - 2 + i) % 2**32))[0]
        np.testing.assert_array_equal(batch[i], single)


def test_prompt_and_negative_prompt_change_the_image(engine):
    base = engine.generate(request())[0]
    assert not np.array_equal(base, engine.generate(request(prompt="a green frog"))[0])
    assert not np.array_equal(base, engine.generate(request(negative_prompt="red"))[0])


def test_requested_size_is_integer_upscale_then_centred(engine):
    native = engine.generate(request())[0]
    big = engine.generate(request(width=64, height=64))[0]
    np.testing.assert_array_equal(big, native.repeat(2, 0).repeat(2, 1))
    wide = engine.generate(request(width=100, height=70))[0]
    assert wide.shape == (70, 100, 4)
    # k = 2; the 64x64 art sits centred with transparent padding around it
    np.testing.assert_array_equal(wide[3:67, 18:82], big)
    assert (wide[:3, :, 3] == 0).all() and (wide[:, :18, 3] == 0).all()
    small = engine.generate(request(width=16, height=20))[0]
    assert small.shape == (20, 16, 4)


def test_fit_helpers_round_trip():
    rng = np.random.default_rng(0)
    art = np.zeros((32, 32, 4), np.uint8)
    art[8:24, 8:24] = np.concatenate([rng.integers(0, 255, (16, 16, 3)), np.full((16, 16, 1), 255)], -1)
    for w, h in [(32, 32), (64, 64), (96, 128), (33, 40)]:
        np.testing.assert_array_equal(fit_to_native(fit_to_size(art, w, h), 32), art)


def pixel_art_init() -> np.ndarray:
    img = np.zeros((32, 32, 4), np.uint8)
    img[6:26, 10:22] = (200, 30, 40, 255)
    img[2:6, 13:19] = (120, 80, 40, 255)
    img[12:20, 12:16] = (250, 200, 200, 255)
    return img


def test_img2img_strength_zero_returns_the_input(engine):
    init = pixel_art_init()
    out = engine.generate(request(init_image=init, strength=0.0, num_images=2))
    for img in out:
        np.testing.assert_array_equal(img, init)


def test_img2img_low_strength_stays_closer_to_the_input(engine):
    init = pixel_art_init()
    steps = 8

    def dist(strength: float) -> float:
        imgs = engine.generate(request(init_image=init, strength=strength, num_images=3, steps=steps))
        return float(np.mean([np.abs(i.astype(int) - init.astype(int)).mean() for i in imgs]))

    assert dist(0.25) < dist(1.0)


def test_init_image_of_another_size_is_accepted(engine):
    init = pixel_art_init().repeat(3, 0).repeat(3, 1)  # 96x96
    out = engine.generate(request(init_image=init, strength=0.0, width=96, height=96))[0]
    np.testing.assert_array_equal(out, init)


def test_cancel_before_and_during_generation(engine):
    token = CancelToken()
    token.cancel("stop")
    with pytest.raises(GenerationCancelled, match="stop"):
        engine.generate(request(), cancel=token)

    token = CancelToken()
    calls: list[float] = []

    def progress(fraction: float) -> None:
        calls.append(fraction)
        if len(calls) == 2:
            token.cancel("timeout")

    with pytest.raises(GenerationCancelled, match="timeout"):
        engine.generate(request(num_images=4, steps=4), cancel=token, progress=progress)
    assert len(calls) == 2, "the engine must stop at the next step boundary"
    # still usable afterwards
    assert len(engine.generate(request())) == 1


def test_progress_is_monotonic_and_ends_at_one(engine):
    seen: list[float] = []
    engine.generate(request(num_images=2), progress=seen.append)
    assert seen == sorted(seen)
    assert seen[-1] == 1.0


@pytest.mark.parametrize(
    ("kw", "feature"),
    [
        ({"reference_images": (np.zeros((8, 8, 4), np.uint8),)}, "reference images"),
        ({"tile_x": True}, "tiling"),
        ({"extra_init_image": np.zeros((8, 8, 4), np.uint8)}, "second input image"),
    ],
)
def test_unsupported_features_fail_before_work(engine, kw, feature):
    token = CancelToken()
    seen: list[float] = []
    with pytest.raises(UnsupportedFeature, match=feature):
        engine.generate(request(**kw), cancel=token, progress=seen.append)
    assert seen == []


def test_weights_dir_missing_is_engine_unavailable(tmp_path: Path):
    from pixelforge.engines import EngineUnavailable
    from pixelforge.engines.tiny.engine import TinyEngine

    with pytest.raises(EngineUnavailable, match="weights are missing"):
        TinyEngine(tmp_path)

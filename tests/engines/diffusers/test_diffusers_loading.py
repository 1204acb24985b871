"""Device/dtype choice and the shipped-default path when weights are absent (no network involved)."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from pixelforge.config import Settings
from pixelforge.engines import EngineUnavailable, GenerationRequest, load_engine
from pixelforge.engines.diffusers import loading
from pixelforge.engines.diffusers.registry import FamilySpec


def test_device_and_dtype_choice():
    assert loading.pick_device("cpu") == torch.device("cpu")
    if not torch.cuda.is_available():
        assert loading.pick_device("auto").type in ("cpu", "mps")
        with pytest.raises(EngineUnavailable, match="no CUDA device"):
            loading.pick_device("cuda")
    with pytest.raises(EngineUnavailable, match="unknown diffusers_device 'tpu'"):
        loading.pick_device("tpu")
    cpu, cuda = torch.device("cpu"), torch.device("cuda")
    flux = FamilySpec(pipeline="flux", checkpoint="x")
    assert loading.pick_dtype("auto", cpu) == torch.float32
    assert loading.pick_dtype("auto", torch.device("mps"), flux) == torch.float16
    assert loading.pick_dtype("bf16", cuda) == torch.bfloat16
    with pytest.raises(EngineUnavailable, match="unknown diffusers_dtype 'int3'"):
        loading.pick_dtype("int3", cpu)
    with pytest.raises(EngineUnavailable, match="unknown diffusers_offload 'disk'"):
        loading.place(object(), cpu, "disk")


def test_shipped_defaults_without_weights_fail_cleanly_with_the_pull_hint(tmp_path: Path, monkeypatch):
    """The real-checkpoint path: an HF id that is not in the (empty) local cache is not downloaded
    (models_allow_download is off) and the error says which command fetches it."""
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    engine = load_engine("diffusers", Settings(diffusers_device="cpu"))
    caps = engine.capabilities()
    assert caps.img2img and caps.tiling and caps.max_reference_images == 9
    request = GenerationRequest(
        prompt="potion", width=32, height=32, seed=1, family="fast", style_id="rd_fast__x"
    )
    plan = engine.plan(request)
    assert (plan.scale, plan.render_width, plan.template) == (16, 512, "pixelartstyle, {prompt}")
    with pytest.raises(EngineUnavailable, match=r"kohbanye/pixel-art-style.*pixelforge models pull fast"):
        engine.generate(request)
    assert engine.loaded_families() == []


def test_preload_loads_listed_families_at_creation(registry_path: Path, tmp_path: Path):
    from pixelforge.engines.diffusers import RegistryError

    cfg = tmp_path / "models.toml"
    cfg.write_text(f'preload = ["fast"]\nmax_loaded_families = 1\n{registry_path.read_text()}')
    cfg.write_text(cfg.read_text().replace("max_loaded_families = 8\n", ""))
    engine = load_engine("diffusers", Settings(models_config=cfg, diffusers_device="cpu"))
    assert engine.loaded_families() == ["fast"]
    engine.pipeline("tile")
    assert engine.loaded_families() == ["tile"], "max_loaded_families = 1: the least recent is dropped"
    cfg.write_text('preload = ["nope"]\n')
    with pytest.raises(
        RegistryError, match=r"preload names families that are not in the registry: \['nope'\]"
    ):
        load_engine("diffusers", Settings(models_config=cfg, diffusers_device="cpu"))

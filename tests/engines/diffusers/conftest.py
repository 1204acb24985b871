"""Session-scoped tiny pipelines and one warm engine over them.

Everything is built offline once per session (a few seconds), saved with ``save_pretrained`` and
then loaded by the engine through the registry, exactly as a real checkpoint folder would be.
"""

from __future__ import annotations

from pathlib import Path

import pytest

pytest.importorskip("diffusers")
pytest.importorskip("peft")

import diffusers_tiny as tiny


@pytest.fixture(scope="session", autouse=True)
def one_torch_thread():
    """Tiny models gain nothing from intra-op threads, and on a shared 2-core machine extra threads
    make each step up to 10x slower (measured); restored after the session."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="session")
def tiny_models(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("tiny_models")
    sd15, sdxl, flux = (
        tiny.build_sd15(root / "sd15"),
        tiny.build_sdxl(root / "sdxl"),
        tiny.build_flux(root / "flux"),
    )
    return {
        "sd15": sd15,
        "sd15_smooth": tiny.build_sd15(root / "sd15_smooth", smooth_decoder=True),
        "sdxl": sdxl,
        "sd3": tiny.build_sd3(root / "sd3"),
        "flux": flux,
        "lora": tiny.build_lora(root / "lora", sd15),
        "lora_sdxl": tiny.build_lora(root / "lora_sdxl", sdxl, kind="sdxl"),
        "lora_flux": tiny.build_lora(root / "lora_flux", flux, kind="flux"),
        "ip_adapter": tiny.build_ip_adapter(root / "ip_adapter", sd15),
    }


def write_registry(path: Path, models: dict[str, Path]) -> Path:
    path.write_text(
        f"""
replace_defaults = true
max_loaded_families = 8

[families.fast]
pipeline = "sd15"
checkpoint = "{models["sd15"]}"
batching = "batched"
scheduler = "euler_a"
steps = 2
guidance = 5.0
render_scale = 4
min_render_size = 16
max_render_size = 128
negative_prompt = "blurry"

[families.plus]
pipeline = "sdxl"
checkpoint = "{models["sdxl"]}"
scheduler = "euler"
steps = 2
guidance = 5.0
render_scale = 4
min_render_size = 16
max_render_size = 128

[families.pro]
pipeline = "flux"
checkpoint = "{models["flux"]}"
steps = 2
guidance = 0.0
render_scale = 4
min_render_size = 16
max_render_size = 128
max_sequence_length = 32

# An operator-added family (any name) with another pipeline class diffusers supports.
[families.my_sd3]
pipeline = "sd3"
checkpoint = "{models["sd3"]}"
steps = 2
guidance = 3.0
render_scale = 4
min_render_size = 16
max_render_size = 128
max_sequence_length = 32

[families.tile]
pipeline = "sd15"
checkpoint = "{models["sd15_smooth"]}"
scheduler = "euler"
steps = 2
render_scale = 1
min_render_size = 8
max_render_size = 128

[families.refs]
pipeline = "sd15"
checkpoint = "{models["sd15"]}"
scheduler = "euler"
steps = 2
render_scale = 4
min_render_size = 16
max_render_size = 128

[families.refs.ip_adapter]
source = "{models["ip_adapter"]}"
subfolder = "models"
weight_name = "ip-adapter_tiny.safetensors"
scale = 1.0

[families.edit]
pipeline = "flux_kontext"
checkpoint = "{models["flux"]}"
reference_mode = "edit"
steps = 2
guidance = 2.5
render_scale = 4
min_render_size = 16
max_render_size = 128
max_sequence_length = 32
extra_call_kwargs = {{ _auto_resize = false }}

[families.missing]
pipeline = "sd15"
checkpoint = "{path.parent / "does-not-exist"}"

[styles."rd_fast__*"]
prompt_template = "pixel art, {{prompt}}"

[styles.rd_fast__lora_test]
prompt_template = "pixel art, {{prompt}}"
loras = [{{ source = "{models["lora"]}", weight = 1.0, adapter = "test_lora" }}]

[styles.rd_plus__lora_test]
loras = [{{ source = "{models["lora_sdxl"]}", weight = 1.0, adapter = "test_lora_sdxl" }}]

[styles.rd_pro__lora_test]
loras = [{{ source = "{models["lora_flux"]}", weight = 1.0, adapter = "test_lora_flux" }}]

[styles.rd_tile__default]
family = "tile"
"""
    )
    return path


@pytest.fixture(scope="session")
def registry_path(tiny_models: dict[str, Path], tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_registry(tmp_path_factory.mktemp("registry") / "models.toml", tiny_models)


@pytest.fixture(scope="session")
def engine(registry_path: Path):
    from pixelforge.config import Settings
    from pixelforge.engines import load_engine

    settings = Settings(models_config=registry_path, diffusers_device="cpu", engine="diffusers")
    eng = load_engine("diffusers", settings)
    yield eng
    eng.close()

"""The model registry: shipped defaults, operator overrides, loud validation, style lookup."""

from __future__ import annotations

from pathlib import Path

import pytest

from pixelforge.engines.diffusers import DEFAULT_REGISTRY_PATH, RegistryError, load_registry


def test_shipped_defaults_cover_the_three_families_and_name_their_licences():
    reg = load_registry()
    assert {"fast", "plus", "pro"} <= set(reg.families)
    assert reg.family("fast").pipeline_class == "StableDiffusionPipeline"
    assert reg.family("plus").pipeline_class == "StableDiffusionXLPipeline"
    assert reg.family("pro").pipeline_class == "FluxPipeline"
    assert reg.style("rd_pro__edit").family == "pro_edit"
    assert reg.family("pro_edit").reference_limit == 3
    text = DEFAULT_REGISTRY_PATH.read_text()
    for name in ("OpenRAIL-M", "Open RAIL++-M", "Apache-2.0"):
        assert name in text
    for spec in reg.families.values():
        assert spec.checkpoint in text


def test_user_file_overrides_a_family_adds_one_and_keeps_the_rest(tmp_path: Path):
    (tmp_path / "ckpt").mkdir()
    cfg = tmp_path / "models.toml"
    cfg.write_text(
        """
[families.fast]
pipeline = "sd15"
checkpoint = "./ckpt"
steps = 12

[families.mine]
pipeline = "StableDiffusionXLPipeline"
checkpoint = "me/my-model"
loras = [{ source = "me/lora", weight_name = "x.safetensors", weight = 0.7 }]

[styles."rd_plus__*"]
family = "mine"
prompt_template = "my pixels, {prompt}"
"""
    )
    reg = load_registry(cfg)
    assert reg.family("fast").checkpoint == str(tmp_path / "ckpt"), "./ paths are relative to the file"
    assert reg.family("fast").steps == 12
    assert reg.family("pro").pipeline == "flux", "untouched defaults stay"
    assert reg.family("mine").loras[0].weight == 0.7
    assert reg.style("rd_plus__anything").family == "mine"
    assert reg.style("rd_plus__mc_item").family is None, "an exact entry beats the glob"
    assert reg.style("unrelated") is None


def test_replace_defaults_drops_the_shipped_tables(tmp_path: Path):
    cfg = tmp_path / "models.toml"
    cfg.write_text('replace_defaults = true\n[families.only]\npipeline = "sd15"\ncheckpoint = "/x"\n')
    reg = load_registry(cfg)
    assert set(reg.families) == {"only"} and reg.styles == {}
    with pytest.raises(KeyError, match=r"'fast' is not in the registry \(known: only\)"):
        reg.family("fast")


@pytest.mark.parametrize(
    ("body", "needle"),
    [
        ('[families.fast]\npipeline = "sd15"\ncheckpoint = "x"\nstepz = 3\n', "stepz"),
        ('[families.fast]\npipeline = "sd15"\ncheckpoint = "x"\nprompt_template = "no slot"\n', "{prompt}"),
        ('[families.fast]\npipeline = "sd15"\n', "checkpoint"),
        ("[families.fast\n", "not valid TOML"),
        (
            '[families.fast]\npipeline = "sd15"\ncheckpoint = "x"\nreference_mode = "ip_adapter"\n',
            "ip_adapter table",
        ),
    ],
)
def test_invalid_files_fail_loudly_naming_the_culprit(tmp_path: Path, body: str, needle: str):
    cfg = tmp_path / "models.toml"
    cfg.write_text(body)
    with pytest.raises(RegistryError, match=r"models\.toml") as info:
        load_registry(cfg)
    assert needle in str(info.value)


def test_missing_file_is_named(tmp_path: Path):
    with pytest.raises(RegistryError, match="does not exist"):
        load_registry(tmp_path / "nope.toml")


def test_importing_the_registry_does_not_import_torch():
    import subprocess
    import sys

    code = "import pixelforge.engines.diffusers, pixelforge.cli.models, sys; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_style_loras_override_family_loras_by_adapter_name():
    from pixelforge.engines.diffusers.engine import _merge_loras
    from pixelforge.engines.diffusers.registry import LoraSpec

    fam = (
        LoraSpec(source="a/pixel", weight=1.0, adapter="pixel"),
        LoraSpec(source="b/detail", adapter="detail"),
    )
    style = (LoraSpec(source="a/pixel", weight=0.4, adapter="pixel"), LoraSpec(source="c/x", weight=0.0))
    assert [(lo.adapter_name, lo.weight) for lo in _merge_loras(fam, style)] == [
        ("pixel", 0.4),
        ("detail", 1.0),
    ]
    off = (LoraSpec(source="a/pixel", weight=0.0, adapter="pixel"),)
    assert [lo.adapter_name for lo in _merge_loras(fam, off)] == ["detail"]

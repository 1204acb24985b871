"""Tiny random-weight pipelines built offline, saved with ``save_pretrained``.

Each builder writes a complete diffusers folder (model_index.json, tokenizer files, weights) that the
engine then loads through the same registry path a real checkpoint takes. The tokenizers come from a
hand-written vocabulary: printable ASCII characters and a few merges, no download.
"""

from __future__ import annotations

import json
from pathlib import Path

import torch

CLIP_DIM = 32


def _clip_tokenizer(tmp: Path):
    from transformers import CLIPTokenizer

    vocab = {"<|startoftext|>": 0, "<|endoftext|>": 1}
    chars = [chr(i) for i in range(33, 127)]
    for c in chars:
        vocab[c] = len(vocab)
    for c in chars:
        vocab[c + "</w>"] = len(vocab)
    merges = ["p i", "x e", "a r", "pi xe"]
    for m in merges:
        vocab[m.replace(" ", "")] = len(vocab)
    tmp.mkdir(parents=True, exist_ok=True)
    (tmp / "vocab.json").write_text(json.dumps(vocab))
    (tmp / "merges.txt").write_text("#version: 0.2\n" + "\n".join(merges) + "\n")
    # model_max_length is required: without it the tokenizer fails on "int too big to convert".
    return CLIPTokenizer(str(tmp / "vocab.json"), str(tmp / "merges.txt"), model_max_length=77)


def _clip_text(with_projection: bool = False):
    from transformers import CLIPTextConfig, CLIPTextModel, CLIPTextModelWithProjection

    config = CLIPTextConfig(
        bos_token_id=0,
        eos_token_id=1,
        pad_token_id=1,
        hidden_size=CLIP_DIM,
        intermediate_size=37,
        num_attention_heads=4,
        num_hidden_layers=2,
        projection_dim=CLIP_DIM,
        vocab_size=400,
        max_position_embeddings=77,
    )
    return CLIPTextModelWithProjection(config) if with_projection else CLIPTextModel(config)


def _vae(latent_channels: int = 4, **kw):
    from diffusers import AutoencoderKL

    return AutoencoderKL(
        block_out_channels=[16, 32],
        in_channels=3,
        out_channels=3,
        down_block_types=["DownEncoderBlock2D"] * 2,
        up_block_types=["UpDecoderBlock2D"] * 2,
        latent_channels=latent_channels,
        norm_num_groups=8,
        **kw,
    )


def build_sd15(out: Path, smooth_decoder: bool = False) -> Path:
    """A Stable Diffusion 1.5-layout pipeline (UNet 16/32 channels, 2-layer CLIP, 2-block VAE).

    ``smooth_decoder`` makes every VAE decoder kernel non-negative (a low-pass filter), so that
    neighbouring output pixels are strongly correlated, as in real images. Random signed kernels
    give near white noise, on which edge continuity cannot be measured.
    """
    from diffusers import EulerDiscreteScheduler, StableDiffusionPipeline, UNet2DConditionModel

    torch.manual_seed(0)
    unet = UNet2DConditionModel(
        block_out_channels=(16, 32),
        layers_per_block=1,
        sample_size=16,
        in_channels=4,
        out_channels=4,
        down_block_types=("DownBlock2D", "CrossAttnDownBlock2D"),
        up_block_types=("CrossAttnUpBlock2D", "UpBlock2D"),
        cross_attention_dim=CLIP_DIM,
        norm_num_groups=8,
        attention_head_dim=8,
    )
    vae = _vae()
    if smooth_decoder:
        with torch.no_grad():
            for module in [vae.post_quant_conv, *vae.decoder.modules()]:
                if isinstance(module, torch.nn.Conv2d):
                    module.weight.abs_()
    pipe = StableDiffusionPipeline(
        unet=unet,
        vae=vae,
        text_encoder=_clip_text(),
        tokenizer=_clip_tokenizer(out / "_tok"),
        scheduler=EulerDiscreteScheduler(steps_offset=1),
        safety_checker=None,
        feature_extractor=None,
        requires_safety_checker=False,
    )
    pipe.save_pretrained(out)
    return out


def build_sdxl(out: Path) -> Path:
    """An SDXL-layout pipeline: two CLIP encoders (the second with projection), text_time UNet."""
    from diffusers import EulerDiscreteScheduler, StableDiffusionXLPipeline, UNet2DConditionModel

    torch.manual_seed(0)
    unet = UNet2DConditionModel(
        block_out_channels=(16, 32),
        layers_per_block=1,
        sample_size=16,
        in_channels=4,
        out_channels=4,
        down_block_types=("DownBlock2D", "CrossAttnDownBlock2D"),
        up_block_types=("CrossAttnUpBlock2D", "UpBlock2D"),
        attention_head_dim=(2, 4),
        use_linear_projection=True,
        addition_embed_type="text_time",
        addition_time_embed_dim=8,
        transformer_layers_per_block=(1, 1),
        projection_class_embeddings_input_dim=6 * 8 + CLIP_DIM,
        cross_attention_dim=2 * CLIP_DIM,
        norm_num_groups=8,
    )
    tok = _clip_tokenizer(out / "_tok")
    pipe = StableDiffusionXLPipeline(
        unet=unet,
        vae=_vae(),
        text_encoder=_clip_text(),
        text_encoder_2=_clip_text(with_projection=True),
        tokenizer=tok,
        tokenizer_2=tok,
        scheduler=EulerDiscreteScheduler(steps_offset=1),
    )
    pipe.save_pretrained(out)
    return out


def _t5_tokenizer():
    from transformers import T5Tokenizer

    vocab = [("<pad>", 0.0), ("</s>", 0.0), ("<unk>", 0.0), ("▁", -1.0)]
    vocab += [(chr(i), -1.0) for i in range(33, 127)]
    return T5Tokenizer(vocab=vocab, extra_ids=0, model_max_length=77)


def build_flux(out: Path) -> Path:
    """A FLUX-layout pipeline: 1+1-layer MMDiT transformer, CLIP + T5 encoders, 1-channel flux VAE."""
    from diffusers import (
        AutoencoderKL,
        FlowMatchEulerDiscreteScheduler,
        FluxPipeline,
        FluxTransformer2DModel,
    )
    from transformers import T5Config, T5EncoderModel

    torch.manual_seed(0)
    transformer = FluxTransformer2DModel(
        patch_size=1,
        in_channels=4,
        num_layers=1,
        num_single_layers=1,
        attention_head_dim=16,
        num_attention_heads=2,
        joint_attention_dim=32,
        pooled_projection_dim=CLIP_DIM,
        axes_dims_rope=[4, 4, 8],
    )
    t5 = T5EncoderModel(
        T5Config(vocab_size=128, d_model=32, d_kv=8, d_ff=37, num_layers=2, num_heads=4, pad_token_id=0)
    )
    vae = AutoencoderKL(
        sample_size=32,
        in_channels=3,
        out_channels=3,
        block_out_channels=(16, 32),
        down_block_types=["DownEncoderBlock2D"] * 2,
        up_block_types=["UpDecoderBlock2D"] * 2,
        layers_per_block=1,
        latent_channels=1,
        norm_num_groups=8,
        use_quant_conv=False,
        use_post_quant_conv=False,
        shift_factor=0.0609,
        scaling_factor=1.5035,
    )
    pipe = FluxPipeline(
        transformer=transformer,
        vae=vae,
        text_encoder=_clip_text(with_projection=False),
        text_encoder_2=t5,
        tokenizer=_clip_tokenizer(out / "_tok"),
        tokenizer_2=_t5_tokenizer(),
        scheduler=FlowMatchEulerDiscreteScheduler(),
    )
    pipe.save_pretrained(out)
    return out


def build_lora(out: Path, checkpoint: Path, kind: str = "sd15", seed: int = 1) -> Path:
    """A random rank-4 LoRA on the attention projections of ``checkpoint``'s denoiser (UNet for
    sd15/sdxl, transformer for flux), saved in the diffusers LoRA format
    (``pytorch_lora_weights.safetensors``). ``lora_B`` is random, not zero, so it changes the output."""
    import diffusers
    from peft import LoraConfig, get_peft_model_state_dict

    if kind == "flux":
        model = diffusers.FluxTransformer2DModel.from_pretrained(checkpoint / "transformer")
        targets = ["to_q", "to_k", "to_v"]
    else:
        model = diffusers.UNet2DConditionModel.from_pretrained(checkpoint / "unet")
        targets = ["to_q", "to_k", "to_v", "to_out.0"]
    torch.manual_seed(seed)
    model.add_adapter(LoraConfig(r=4, lora_alpha=4, target_modules=targets, init_lora_weights=False))
    with torch.no_grad():
        for name, param in model.named_parameters():
            if "lora_" in name:
                param.copy_(torch.randn_like(param) * 0.5)
    layers = get_peft_model_state_dict(model)
    if kind == "flux":
        diffusers.FluxPipeline.save_lora_weights(out, transformer_lora_layers=layers, safe_serialization=True)
    elif kind == "sdxl":
        diffusers.StableDiffusionXLPipeline.save_lora_weights(
            out, unet_lora_layers=layers, safe_serialization=True
        )
    else:
        diffusers.StableDiffusionPipeline.save_lora_weights(
            out, unet_lora_layers=layers, safe_serialization=True
        )
    return out / "pytorch_lora_weights.safetensors"


def build_ip_adapter(out: Path, checkpoint: Path, seed: int = 2) -> Path:
    """A random IP-Adapter for ``checkpoint``'s UNet in the h94/IP-Adapter folder layout:
    ``models/ip-adapter_tiny.safetensors`` (image projection + per-cross-attention k/v weights) and
    ``models/image_encoder`` (a tiny CLIP vision tower with projection)."""
    from diffusers import UNet2DConditionModel
    from safetensors.torch import save_file
    from transformers import CLIPVisionConfig, CLIPVisionModelWithProjection

    torch.manual_seed(seed)
    models = out / "models"
    CLIPVisionModelWithProjection(
        CLIPVisionConfig(
            hidden_size=CLIP_DIM,
            projection_dim=CLIP_DIM,
            num_hidden_layers=2,
            num_attention_heads=4,
            intermediate_size=37,
            image_size=32,
            patch_size=4,
        )
    ).save_pretrained(models / "image_encoder")
    unet = UNet2DConditionModel.from_pretrained(checkpoint / "unet")
    cross, channels = unet.config.cross_attention_dim, list(unet.config.block_out_channels)
    tokens = 4
    tensors = {
        "image_proj.proj.weight": torch.randn(cross * tokens, CLIP_DIM) * 0.2,
        "image_proj.proj.bias": torch.zeros(cross * tokens),
        "image_proj.norm.weight": torch.ones(cross),
        "image_proj.norm.bias": torch.zeros(cross),
    }
    key_id = 1
    for name in unet.attn_processors:
        if name.endswith("attn1.processor"):
            continue  # self-attention gets no image keys/values
        if name.startswith("mid_block"):
            hidden = channels[-1]
        elif name.startswith("up_blocks"):
            hidden = list(reversed(channels))[int(name[len("up_blocks.")])]
        else:
            hidden = channels[int(name[len("down_blocks.")])]
        tensors[f"ip_adapter.{key_id}.to_k_ip.weight"] = torch.randn(hidden, cross) * 0.5
        tensors[f"ip_adapter.{key_id}.to_v_ip.weight"] = torch.randn(hidden, cross) * 0.5
        key_id += 2
    save_file(tensors, str(models / "ip-adapter_tiny.safetensors"))
    return out


def build_sd3(out: Path) -> Path:
    """A Stable Diffusion 3-layout pipeline: 1-layer MMDiT, two CLIP encoders with projection and T5
    (CLIP hidden states are concatenated to 64 channels, which is the T5 width here)."""
    from diffusers import (
        FlowMatchEulerDiscreteScheduler,
        SD3Transformer2DModel,
        StableDiffusion3Pipeline,
    )
    from transformers import T5Config, T5EncoderModel

    torch.manual_seed(0)
    transformer = SD3Transformer2DModel(
        sample_size=32,
        patch_size=1,
        in_channels=4,
        num_layers=1,
        attention_head_dim=8,
        num_attention_heads=4,
        caption_projection_dim=32,
        joint_attention_dim=64,
        pooled_projection_dim=2 * CLIP_DIM,
        out_channels=4,
    )
    t5 = T5EncoderModel(
        T5Config(vocab_size=128, d_model=64, d_kv=8, d_ff=37, num_layers=2, num_heads=4, pad_token_id=0)
    )
    tok = _clip_tokenizer(out / "_tok")
    pipe = StableDiffusion3Pipeline(
        transformer=transformer,
        vae=_vae(shift_factor=0.0609, scaling_factor=1.5035),
        text_encoder=_clip_text(with_projection=True),
        text_encoder_2=_clip_text(with_projection=True),
        text_encoder_3=t5,
        tokenizer=tok,
        tokenizer_2=tok,
        tokenizer_3=_t5_tokenizer(),
        scheduler=FlowMatchEulerDiscreteScheduler(),
    )
    pipe.save_pretrained(out)
    return out

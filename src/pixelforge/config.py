"""One settings object for the whole server, read from PIXELFORGE_* environment variables.

Build it in the app factory or the CLI command (``Settings()``), never at import time, so tests
and commands can point every part at their own data directory. Every field is documented in
README.md (a test fails when one is not).
"""

from __future__ import annotations

import os
from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


def default_data_dir() -> Path:
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "pixelforge"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="PIXELFORGE_", extra="ignore")

    data_dir: Path = Field(
        default_factory=default_data_dir,
        description="Where the SQLite database, output files and the URL-signing secret live.",
    )
    database_url: str | None = Field(
        default=None,
        description="SQLAlchemy URL; default is the SQLite "
        "file <data_dir>/pixelforge.sqlite3. PostgreSQL: "
        "postgresql+psycopg://user:pass@host/db",
    )
    engine: str = Field(
        default="tiny",
        description="Image generator: 'tiny' (embedded CPU model) or "
        "'diffusers' (real checkpoints, see models_config).",
    )
    host: str = Field(default="127.0.0.1", description="Address `pixelforge serve` binds.")
    port: int = Field(default=8765, description="Port `pixelforge serve` binds.")
    public_base_url: str | None = Field(
        default=None,
        description="Base URL used in output_urls (set it behind a proxy); "
        "default: the base URL the client used.",
    )
    job_workers: int = Field(default=1, ge=1, description="Generation jobs run at once in this process.")
    models_config: Path | None = Field(
        default=None,
        description="TOML model registry for the diffusers engine (families, checkpoints, LoRAs, styles); "
        "merged over the shipped default registry. See README 'Real models'.",
    )
    diffusers_device: str = Field(
        default="auto",
        description="Device for the diffusers engine: auto (cuda, then mps, then cpu), cuda, mps, cpu.",
    )
    diffusers_dtype: str = Field(
        default="auto",
        description="Weights dtype for the diffusers engine: auto (float16 on cuda/mps, float32 on cpu), "
        "float16, bfloat16, float32.",
    )
    diffusers_offload: str = Field(
        default="none",
        description="CPU offload for the diffusers engine on CUDA: none, model (moderate VRAM), "
        "sequential (least VRAM, slowest).",
    )
    models_allow_download: bool = Field(
        default=False,
        description="Let the diffusers engine download missing weights from the Hugging Face Hub at load "
        "time; by default it only reads local paths and the local HF cache (`pixelforge models pull`).",
    )
    prompt_llm_url: str | None = Field(
        default=None,
        description="Base URL of an OpenAI-compatible chat endpoint (llama.cpp, vLLM, Ollama: "
        "http://127.0.0.1:8080/v1) used to expand prompts; unset: style templates only.",
    )
    prompt_llm_model: str = Field(
        default="default", description="Model name sent to the prompt LLM endpoint."
    )
    prompt_llm_api_key: str | None = Field(
        default=None, description="Bearer key for the prompt LLM endpoint."
    )
    prompt_llm_timeout_s: float = Field(
        default=10.0,
        gt=0,
        description="Timeout of one prompt-expansion call; on timeout the template alone is used.",
    )
    pricing_file: Path | None = Field(
        default=None,
        description="TOML file overriding the shipped prices (pixelforge/catalog/pricing.toml) "
        "class by class; default: the shipped prices.",
    )
    job_timeout_s: float = Field(
        default=600.0,
        gt=0,
        description="A generation job running longer than this is cancelled, failed and refunded.",
    )
    max_body_bytes: int = Field(
        default=20_000_000, ge=1024, description="Largest HTTP request body accepted (413 above it)."
    )
    max_base64_chars: int = Field(
        default=8_000_000,
        ge=64,
        description="Longest base64 string accepted in one image field (input_image, ...).",
    )
    max_input_pixels: int = Field(
        default=16_777_216,
        ge=1,
        description="Largest decoded input image (width*height), checked from its header before decoding.",
    )
    rate_limit_per_minute: int = Field(
        default=600,
        ge=0,
        description="Requests per minute per API key (429 + Retry-After above it); 0 = off.",
    )
    rate_limit_burst: int = Field(
        default=120, ge=1, description="Requests one key may send at once before the per-minute rate applies."
    )
    output_ttl_s: int = Field(
        default=86_400, ge=1, description="Lifetime of generated files and of their signed output_urls."
    )
    auth_cache_ttl_s: float = Field(
        default=2.0,
        ge=0,
        description="Seconds a verified API key is remembered in memory (a revoked key stops working "
        "within this time); 0 = look every key up on every request.",
    )
    credit_value_usd: float = Field(
        default=0.01,
        gt=0,
        description="USD value of one legacy credit (credit_cost, remaining_credits, credits).",
    )

    @property
    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{self.data_dir / 'pixelforge.sqlite3'}"

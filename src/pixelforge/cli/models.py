"""``pixelforge models``: what the diffusers model registry names, what is on disk, and fetching it.

``models list`` reads the registry (the shipped defaults merged with ``--models-config`` /
PIXELFORGE_MODELS_CONFIG) and checks, without any network, whether each checkpoint, LoRA and
IP-Adapter is present: local paths on disk, Hugging Face ids in the local HF cache. ``models pull
NAME`` downloads a family's weights (or one repo id) into that cache with huggingface_hub; it is the
only command that needs internet. No torch is imported here.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich import box
from rich.console import Console
from rich.table import Table

from pixelforge.cli import console as term

if TYPE_CHECKING:
    from pixelforge.engines.diffusers.registry import FamilySpec, Registry

models_app = typer.Typer(
    name="models",
    help="List the diffusers engine's model registry and download its weights into the HF cache.",
    no_args_is_help=True,
)

ModelsConfig = Annotated[
    Path | None,
    typer.Option(
        "--models-config",
        envvar="PIXELFORGE_MODELS_CONFIG",
        help="Your registry TOML, merged over the shipped defaults.",
        show_default=False,
    ),
]


def _registry(models_config: Path | None) -> Registry:
    from pixelforge.engines.diffusers.registry import RegistryError, load_registry

    try:
        return load_registry(models_config)
    except RegistryError as exc:
        term.err().print(f"[red]error:[/] {exc}")
        raise typer.Exit(2) from exc


def _is_local(source: str) -> bool:
    return source.startswith(("/", "./", "../", "~")) or Path(source).expanduser().exists()


def _cached(repo_id: str, filename: str, revision: str | None = None) -> bool:
    from huggingface_hub import try_to_load_from_cache

    try:
        hit = try_to_load_from_cache(repo_id, filename, revision=revision)
    except Exception:
        return False
    return isinstance(hit, str)


def checkpoint_present(spec: FamilySpec) -> str:
    """'yes (local)', 'yes (HF cache)', or 'no'."""
    src = spec.checkpoint
    if _is_local(src):
        return "yes (local)" if Path(src).expanduser().exists() else "no (path missing)"
    return "yes (HF cache)" if _cached(src, "model_index.json", spec.revision) else "no"


def _lora_present(source: str, weight_name: str | None) -> bool:
    if _is_local(source):
        p = Path(source).expanduser()
        return (p / weight_name).exists() if weight_name and p.is_dir() else p.exists()
    return _cached(source, weight_name or "pytorch_lora_weights.safetensors")


@models_app.command("list")
def list_models(models_config: ModelsConfig = None) -> None:
    """Families in the registry and whether their weights are present locally."""
    reg = _registry(models_config)
    table = Table(box=box.SIMPLE)
    for col in ("family", "pipeline", "checkpoint", "present", "loras", "ip-adapter", "steps", "scale"):
        table.add_column(col)
    for name, spec in reg.families.items():
        loras = ", ".join(
            f"{lo.adapter_name}×{lo.weight:g} ({'yes' if _lora_present(lo.source, lo.weight_name) else 'no'})"
            for lo in spec.loras
        )
        ip = spec.ip_adapter
        ip_txt = "-"
        if ip is not None:
            rel = f"{ip.subfolder}/{ip.weight_name}".lstrip("/")
            have = (
                (Path(ip.source).expanduser() / rel).exists()
                if _is_local(ip.source)
                else _cached(ip.source, rel)
            )
            ip_txt = f"{ip.source} ({'yes' if have else 'no'})"
        table.add_row(
            name,
            spec.pipeline,
            spec.checkpoint,
            checkpoint_present(spec),
            loras or "-",
            ip_txt,
            str(spec.steps),
            f"x{spec.render_scale}",
        )
    out = term.out()
    out.print(table)
    out.print(f"{len(reg.styles)} style entries; pull missing weights with `pixelforge models pull FAMILY`.")


def _download(what: str, fn, *args, **kwargs) -> str:
    try:
        return fn(*args, **kwargs)
    except Exception as exc:
        err = term.err()
        err.print(
            f"[red]error:[/] cannot download {what}: {type(exc).__name__}: {exc}\n"
            "`pixelforge models pull` needs access to huggingface.co (or HF_ENDPOINT), and HF_HUB_OFFLINE "
            "must not be set. On an offline machine, copy the model folder over and set `checkpoint` "
            "in your registry to its path instead."
        )
        raise typer.Exit(1) from exc


def _pull_family(name: str, spec: FamilySpec, all_files: bool, out: Console) -> None:
    from huggingface_hub import hf_hub_download, snapshot_download

    if _is_local(spec.checkpoint):
        out.print(f"{name}: checkpoint {spec.checkpoint} is a local path; nothing to download")
    else:
        patterns = None
        if not all_files:
            weights = f"*/*.{spec.variant}.safetensors" if spec.variant else "*/*.safetensors"
            patterns = ["model_index.json", "*/*.json", "*/*.txt", "*/*.model", weights]
        path = _download(
            spec.checkpoint,
            snapshot_download,
            spec.checkpoint,
            revision=spec.revision,
            allow_patterns=patterns,
        )
        out.print(f"{name}: checkpoint {spec.checkpoint} -> {path}")
    for lora in spec.loras:
        if _is_local(lora.source):
            continue
        if lora.weight_name:
            path = _download(lora.source, hf_hub_download, lora.source, lora.weight_name)
        else:
            path = _download(
                lora.source, snapshot_download, lora.source, allow_patterns=["*.safetensors", "*.json"]
            )
        out.print(f"{name}: LoRA {lora.source} -> {path}")
    ip = spec.ip_adapter
    if ip is not None and not _is_local(ip.source):
        sub = f"{ip.subfolder}/" if ip.subfolder else ""
        patterns = [f"{sub}{ip.weight_name}"]
        if ip.image_encoder_folder and not _is_local(ip.image_encoder_folder):
            patterns.append(f"{sub}{ip.image_encoder_folder}/*")
        path = _download(ip.source, snapshot_download, ip.source, allow_patterns=patterns)
        out.print(f"{name}: IP-Adapter {ip.source} -> {path}")


@models_app.command("pull")
def pull(
    name: Annotated[
        str, typer.Argument(help="A family in the registry (fast, plus, pro, …) or an HF repo id.")
    ],
    models_config: ModelsConfig = None,
    all_files: Annotated[
        bool,
        typer.Option(
            "--all-files", help="Fetch every file of the checkpoint repo, not just diffusers weights."
        ),
    ] = False,
) -> None:
    """Download a family's checkpoint, LoRAs and IP-Adapter (or one repo) into the local HF cache."""
    reg = _registry(models_config)
    out = term.out()
    if name in reg.families:
        _pull_family(name, reg.families[name], all_files, out)
        return
    if "/" not in name:
        known = ", ".join(sorted(reg.families))
        term.err().print(
            f"[red]error:[/] {name!r} is neither a family in the registry ({known}) "
            "nor a repo id (owner/name)"
        )
        raise typer.Exit(2)
    from huggingface_hub import snapshot_download

    path = _download(name, snapshot_download, name)
    out.print(f"{name} -> {path}")


def register(app: typer.Typer) -> None:
    app.add_typer(models_app, name="models")

"""``pixelforge generate``: one generation from the command line, with a progress display.

With ``--url`` it talks to a running server (``--key`` or PIXELFORGE_API_KEY; charged to that key,
like any client). Without ``--url`` it runs in this process on the local engine: validated and
post-processed exactly like a server request, but no key, no database and no charge (the operator
is running their own machine).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn


def _outputs(out: Path, n: int) -> list[Path]:
    if n == 1:
        return [out]
    return [out.with_name(f"{out.stem}-{i}{out.suffix or '.png'}") for i in range(n)]


def _progress(console: Console) -> Progress:
    return Progress(
        SpinnerColumn(),
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        TextColumn("{task.percentage:>3.0f}%"),
        TimeElapsedColumn(),
        console=console,
        transient=False,
    )


def generate(
    prompt: Annotated[str, typer.Argument(help="What to draw (the subject; the style does the look).")],
    style: Annotated[str, typer.Option("--style", "-s", help="prompt_style id.")] = "rd_fast__default",
    width: Annotated[int, typer.Option("--width", "-W", help="Width in art pixels.")] = 64,
    height: Annotated[int, typer.Option("--height", "-H", help="Height in art pixels.")] = 64,
    out: Annotated[
        Path, typer.Option("--out", "-o", help="Output PNG (out-0.png, out-1.png, ... for --num > 1).")
    ] = Path("out.png"),
    num: Annotated[int, typer.Option("--num", "-n", min=1, help="Number of images.")] = 1,
    seed: Annotated[int | None, typer.Option("--seed", help="Seed (random when omitted).")] = None,
    url: Annotated[
        str | None,
        typer.Option("--url", envvar="PIXELFORGE_URL", help="Server base URL; omit to run in-process."),
    ] = None,
    key: Annotated[
        str | None, typer.Option("--key", envvar="PIXELFORGE_API_KEY", help="API key for --url.")
    ] = None,
    data_dir: Annotated[
        Path | None,
        typer.Option("--data-dir", envvar="PIXELFORGE_DATA_DIR", help="Data directory (in-process)."),
    ] = None,
    engine: Annotated[str | None, typer.Option("--engine", help="Engine for in-process runs.")] = None,
    upscale: Annotated[int | None, typer.Option("--upscale", min=1, help="upscale_output_factor.")] = None,
    remove_bg: Annotated[bool, typer.Option("--remove-bg", help="Transparent background.")] = False,
) -> None:
    """Generate pixel art and write PNG files."""
    console = Console(stderr=True)
    fields: dict[str, Any] = {"prompt_style": style, "width": width, "height": height, "num_images": num}
    fields |= {"seed": seed, "upscale_output_factor": upscale, "remove_bg": remove_bg or None}
    fields = {k: v for k, v in fields.items() if v is not None}
    if url:
        pngs, summary = _remote(console, url, key, prompt, fields)
    else:
        pngs, summary = _local(console, prompt, fields, data_dir, engine)
    paths = _outputs(out, len(pngs))
    for path, data in zip(paths, pngs, strict=True):
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        typer.echo(str(path))
    console.print(summary)


def _remote(
    console: Console, url: str, key: str | None, prompt: str, fields: dict[str, Any]
) -> tuple[list[bytes], str]:
    from pixelforge.client import ApiError, Client

    if not key:
        raise typer.BadParameter("--url needs an API key: --key or PIXELFORGE_API_KEY", param_hint="--key")
    with Client(url, key) as rd, _progress(console) as bar:
        job = bar.add_task("queued", total=1.0)

        def update(task: dict[str, Any]) -> None:
            frac = task.get("progress")
            done = 1.0 if task["status"] == "succeeded" else (frac or 0.0)
            bar.update(job, completed=done, description=task["status"])

        try:
            task_id = rd.submit(prompt, **fields)
            result = rd.wait(task_id, poll_s=0.25, on_update=update)
        except ApiError as exc:
            console.print(f"[bold red]error:[/] {exc.message} ({exc.status} {exc.code})")
            raise typer.Exit(1) from None
        pngs = Client.images(result) or [rd.download(u) for u in result.get("output_urls") or []]
    return pngs, f"cost ${result['balance_cost']:.3f}, remaining ${result['remaining_balance']:.3f}"


def _local(
    console: Console, prompt: str, fields: dict[str, Any], data_dir: Path | None, engine: str | None
) -> tuple[list[bytes], str]:
    from pixelforge.catalog import load_catalog
    from pixelforge.config import Settings
    from pixelforge.engines import CancelToken
    from pixelforge.jobs import EngineHolder, JobRunner
    from pixelforge.jobs.images import encode_png
    from pixelforge.jobs.pipeline import render
    from pixelforge.service import InferenceInput, InferenceService, ServiceError

    overrides: dict[str, Any] = {k: v for k, v in {"data_dir": data_dir, "engine": engine}.items() if v}
    settings = Settings(**overrides)
    holder = EngineHolder(settings)
    runner = JobRunner(settings, None, holder, workers=1)  # used for capabilities only; never started
    service = InferenceService(settings, None, load_catalog(settings), runner)
    try:
        with _progress(console) as bar:
            job = bar.add_task(f"loading engine {settings.engine}", total=1.0)
            prepared = service.prepare(InferenceInput.from_mapping({"prompt": prompt, **fields}))
            bar.update(job, description="generating")
            images = render(
                holder.get(),
                prepared.spec,
                settings,
                CancelToken(),
                lambda f: bar.update(job, completed=f),
            )
            bar.update(job, completed=1.0, description="done")
    except ServiceError as exc:
        console.print(f"[bold red]error:[/] {exc.message}")
        raise typer.Exit(1) from None
    except Exception as exc:
        console.print(f"[bold red]error:[/] {exc}")
        raise typer.Exit(1) from None
    finally:
        holder.close()
    return [encode_png(img) for img in images], f"in-process ({settings.engine}), nothing charged"


def register(app: typer.Typer) -> None:
    app.command("generate")(generate)


__all__ = ["generate", "register"]

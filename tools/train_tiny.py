"""Train the embedded ``tiny`` model on the dataset from tools/build_tiny_dataset.py (not run by CI).

Rectified-flow objective on packed 16x16x16 tensors (see pixelforge/engines/tiny/model.py), EMA
weights, classifier-free-guidance conditioning dropout, horizontal flips (not for symbols and flags,
whose direction can carry meaning) and a random one of three caption variants per image. Resumable:
every ``--ckpt-every`` seconds the full state goes to ``<work>/ckpt/latest.pt`` and the EMA weights are
exported (fp16 safetensors via ``save_pretrained``) to ``<work>/export/``; with ``--ship`` an export
whose held-out validation loss improved is also copied into the package's weights folder.

Usage (background; stops after ``--minutes`` of wall time, or when ``<work>/STOP`` exists)::

    setsid nohup .venv/bin/python tools/train_tiny.py --work .work/tiny --minutes 110 \\
        > .work/tiny/train.out 2>&1 &
"""

from __future__ import annotations

import argparse
import copy
import json
import math
import shutil
import time
from pathlib import Path

import numpy as np
import torch

from pixelforge.engines.tiny.model import TinyConfig, build_unet, pack, predict_velocity

PACKAGE_WEIGHTS = Path(__file__).resolve().parents[1] / "src/pixelforge/engines/tiny/weights"
NO_FLIP_CATEGORIES = {"symbols", "flags"}


def load_data(path: Path) -> dict[str, np.ndarray]:
    with np.load(path) as d:
        return {k: d[k] for k in d.files}


def to_tensor(images: np.ndarray) -> torch.Tensor:
    """uint8 (N, 32, 32, 4) -> float (N, 4, 32, 32) in [-1, 1]."""
    return torch.from_numpy(images).permute(0, 3, 1, 2).float().div(127.5).sub(1.0)


@torch.no_grad()
def val_loss(unet, x0: torch.Tensor, emb: torch.Tensor, seed: int = 1234) -> float:
    """Mean flow-matching loss at 8 fixed times with fixed noise (comparable across checkpoints)."""
    g = torch.Generator().manual_seed(seed)
    total = 0.0
    ts = torch.linspace(0.05, 0.95, 8)
    for t in ts:
        noise = torch.randn(x0.shape, generator=g)
        tt = torch.full((x0.shape[0],), float(t))
        xt = (1 - t) * x0 + t * noise
        v = predict_velocity(unet, pack(xt), tt, emb)
        total += torch.mean((v - pack(noise - x0)) ** 2).item()
    return total / len(ts)


def export(ema, cfg: TinyConfig, out: Path) -> None:
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    copy.deepcopy(ema).to(torch.float16).save_pretrained(out / "unet", safe_serialization=True)
    cfg.save(out / "tiny.json")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--work", type=Path, default=Path(".work/tiny"))
    ap.add_argument("--minutes", type=float, default=110.0, help="wall-time budget of this run")
    ap.add_argument("--max-steps", type=int, default=1_000_000)
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--lr", type=float, default=3e-4)
    ap.add_argument("--warmup", type=int, default=200)
    ap.add_argument(
        "--decay-to",
        type=float,
        default=None,
        help="cosine-decay the lr to this over the run's --minutes (used for the final stretch)",
    )
    ap.add_argument("--ema", type=float, default=0.999)
    ap.add_argument("--cond-drop", type=float, default=0.1)
    ap.add_argument("--channels", type=str, default="32,64,128")
    ap.add_argument("--layers", type=int, default=2)
    ap.add_argument("--norm-groups", type=int, default=16)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--ckpt-every", type=float, default=600.0, help="seconds between checkpoints")
    ap.add_argument("--log-every", type=int, default=50)
    ap.add_argument("--ship", action="store_true", help="copy improving EMA exports into the package")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()

    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    work = args.work
    ckpt_dir = work / "ckpt"
    ckpt_dir.mkdir(parents=True, exist_ok=True)
    log = (work / "train.log").open("a", encoding="utf-8")

    data = load_data(work / "tiny_dataset.npz")
    train = data["split"] == 0
    held = data["split"] == 1
    images = to_tensor(data["images"][train])
    cap_idx = torch.from_numpy(data["caption_idx"][train]).long()
    cap_emb = torch.from_numpy(data["caption_emb"].astype(np.float32))
    names = [str(n) for n in data["category_names"]]
    no_flip = torch.tensor([names[c] in NO_FLIP_CATEGORIES for c in data["category"][train]])
    n = len(images)
    # Every concept weighs the same: skin-tone and artwork variants share their concept's weight.
    concept = data["concept"][train]
    weights = torch.from_numpy(1.0 / np.bincount(concept)[concept]).float()
    # Fixed validation batches: 256 training images and up to 256 held-out images, first caption.
    vr = np.random.default_rng(0)
    vi_train = vr.choice(n, size=min(256, n), replace=False)
    val_train = (images[vi_train], cap_emb[cap_idx[vi_train, 0]])
    held_idx = np.flatnonzero(held)
    held_idx = held_idx[vr.choice(len(held_idx), size=min(256, len(held_idx)), replace=False)]
    val_held = (
        to_tensor(data["images"][held_idx]),
        cap_emb[torch.from_numpy(data["caption_idx"][held_idx, 0]).long()],
    )

    channels = [int(c) for c in args.channels.split(",")]
    unet = build_unet(channels, args.layers, args.norm_groups)
    ema = build_unet(channels, args.layers, args.norm_groups)
    ema.load_state_dict(unet.state_dict())
    ema.requires_grad_(False).eval()
    opt = torch.optim.AdamW(unet.parameters(), lr=args.lr, weight_decay=0.01)
    step, best_held, elapsed_before = 0, math.inf, 0.0
    latest = ckpt_dir / "latest.pt"
    if latest.exists():
        state = torch.load(latest, weights_only=False)
        unet.load_state_dict(state["unet"])
        ema.load_state_dict(state["ema"])
        opt.load_state_dict(state["opt"])
        step, best_held = state["step"], state["best_held"]
        elapsed_before = state.get("elapsed", 0.0)
        torch.set_rng_state(state["rng"])
        print(f"resumed from step {step} (best held-out val {best_held:.4f})", flush=True)
    n_params = sum(p.numel() for p in unet.parameters())
    print(f"{n} training images, {held.sum()} held out, UNet {n_params / 1e6:.2f}M params", flush=True)

    def checkpoint() -> None:
        nonlocal best_held
        vt = val_loss(ema, *val_train)
        vh = val_loss(ema, *val_held)
        elapsed = elapsed_before + time.time() - t_start
        torch.save(
            {
                "unet": unet.state_dict(),
                "ema": ema.state_dict(),
                "opt": opt.state_dict(),
                "step": step,
                "best_held": min(best_held, vh),
                "elapsed": elapsed,
                "rng": torch.get_rng_state(),
                "args": vars(args) | {"work": str(args.work)},
            },
            ckpt_dir / "latest.tmp",
        )
        (ckpt_dir / "latest.tmp").replace(latest)
        cfg = TinyConfig(
            train_steps=step,
            notes=f"batch {args.batch}, lr {args.lr}, ema {args.ema}, channels {args.channels}, "
            f"{elapsed / 60:.0f} min on {args.threads} CPU threads; "
            f"val loss train {vt:.4f} held-out {vh:.4f}",
        )
        export(ema, cfg, work / "export")
        improved = vh < best_held
        record = {
            "step": step,
            "val_train": vt,
            "val_held": vh,
            "elapsed_min": elapsed / 60,
            "improved": improved,
        }
        log.write(json.dumps(record) + "\n")
        log.flush()
        print(f"checkpoint {record}", flush=True)
        if improved:
            best_held = vh
            shutil.copytree(work / "export", work / "best", dirs_exist_ok=True)
            if args.ship:
                PACKAGE_WEIGHTS.mkdir(parents=True, exist_ok=True)
                shutil.copytree(work / "export", PACKAGE_WEIGHTS, dirs_exist_ok=True)

    t_start = time.time()
    last_ckpt = t_start
    deadline = t_start + args.minutes * 60
    unet.train()
    running, t_log = 0.0, time.time()
    stop_file = work / "STOP"  # touch it to end the run at the next step with a final checkpoint
    while step < args.max_steps and time.time() < deadline and not stop_file.exists():
        idx = torch.multinomial(weights, args.batch, replacement=True)
        x0 = images[idx]
        flip = (torch.rand(args.batch) < 0.5) & ~no_flip[idx]
        x0 = torch.where(flip[:, None, None, None], x0.flip(-1), x0)
        emb = cap_emb[cap_idx[idx, torch.randint(0, cap_idx.shape[1], (args.batch,))]]
        drop = torch.rand(args.batch) < args.cond_drop
        emb = torch.where(drop[:, None], torch.zeros_like(emb), emb)
        t = torch.sigmoid(torch.randn(args.batch))  # logit-normal times
        noise = torch.randn_like(x0)
        xt = (1 - t[:, None, None, None]) * x0 + t[:, None, None, None] * noise
        v = predict_velocity(unet, pack(xt), t, emb)
        loss = torch.mean((v - pack(noise - x0)) ** 2)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(unet.parameters(), 1.0)
        lr = args.lr * min(1.0, (step + 1) / args.warmup)
        if args.decay_to is not None:  # cosine over this run's wall-time budget, down to --decay-to
            frac = min(1.0, (time.time() - t_start) / (deadline - t_start))
            lr = args.decay_to + (lr - args.decay_to) * 0.5 * (1 + math.cos(math.pi * frac))
        for g in opt.param_groups:
            g["lr"] = lr
        opt.step()
        step += 1
        decay = min(args.ema, (1 + step) / (10 + step))
        with torch.no_grad():
            for pe, p in zip(ema.parameters(), unet.parameters(), strict=True):
                pe.lerp_(p, 1 - decay)
        running += loss.item()
        if step % args.log_every == 0:
            dt = (time.time() - t_log) / args.log_every
            print(f"step {step} loss {running / args.log_every:.4f} {dt:.2f}s/step", flush=True)
            log.write(json.dumps({"step": step, "loss": running / args.log_every, "s_per_step": dt}) + "\n")
            log.flush()
            running, t_log = 0.0, time.time()
        if time.time() - last_ckpt > args.ckpt_every:
            checkpoint()
            last_ckpt = time.time()
    checkpoint()
    print("done", flush=True)


if __name__ == "__main__":
    main()

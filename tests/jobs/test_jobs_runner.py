"""The worker pool: run, fail+refund, timeout, restart recovery, post-processing, image decoding."""

from __future__ import annotations

import base64
import threading

import numpy as np
import pytest

from fakes import FakeEngine, bomb_png_b64, png_b64
from pixelforge.engines import EngineCapabilities, EngineError
from pixelforge.jobs import EngineHolder, JobRunner
from pixelforge.jobs.images import ImageError, decode_base64_image
from pixelforge.jobs.postprocess import postprocess
from pixelforge.store import files, jobs, keys, ledger


def spec(**overrides):
    base = {
        "prompt": "corgi",
        "style_id": "rd_fast__default",
        "family": "rd_fast",
        "model": "rd_fast",
        "type": "txt2img",
        "width": 16,
        "height": 16,
        "num_images": 2,
        "seed": 5,
        "upscale_output_factor": 1,
    }
    return base | overrides


def paid_job(db, micros=100_000, **spec_overrides):
    account = keys.create_account(db, "a", initial_micros=1_000_000)
    job = jobs.create_job(
        db, account.id, "inference", spec(**spec_overrides), price_micros=micros, charge=True
    )
    return account.id, job.id


def test_runs_a_job_and_stores_pngs(settings, db):
    engine = FakeEngine()
    runner = JobRunner(settings, db, EngineHolder(settings, engine))
    account, job_id = paid_job(db)
    done = runner.expect(job_id)
    runner.start()
    try:
        runner.notify()
        assert done.result(timeout=20) == "succeeded"
    finally:
        runner.stop()
    job = jobs.get_job(db, job_id)
    assert job.status == "succeeded"
    ids = job.result["file_ids"]
    assert len(ids) == 2
    data = files.read_file(db, settings.data_dir, ids[0])
    assert data.startswith(b"\x89PNG")
    assert ledger.balance(db, account) == 900_000


def test_failure_marks_failed_and_refunds(settings, db):
    runner = JobRunner(settings, db, EngineHolder(settings, FakeEngine(fail=EngineError("boom"))))
    account, job_id = paid_job(db)
    job = jobs.claim_next(db)
    assert runner.run_job(job) == "failed"
    job = jobs.get_job(db, job_id)
    assert job.status == "failed"
    assert job.error == {"status_code": 500, "detail": "Unable to run inference."}
    assert ledger.balance(db, account) == 1_000_000


def test_timeout_cancels_fails_and_refunds(data_dir, db):
    from fakes import make_settings

    settings = make_settings(data_dir, job_timeout_s=0.3)
    engine = FakeEngine()
    engine.gate = threading.Event()  # never released: only the timeout ends it
    runner = JobRunner(settings, db, EngineHolder(settings, engine))
    account, job_id = paid_job(db)
    assert runner.run_job(jobs.claim_next(db)) == "failed"
    job = jobs.get_job(db, job_id)
    assert "timed out" in job.error["detail"]
    assert ledger.balance(db, account) == 1_000_000


def test_restart_recovery_fails_and_refunds_interrupted_jobs(settings, db):
    account, running_id = paid_job(db)
    claimed = jobs.claim_next(db)
    assert claimed.id == running_id  # now "running", as if the process died mid-generation
    pending = jobs.create_job(db, account, "inference", spec(), price_micros=50_000, charge=True)
    assert ledger.balance(db, account) == 850_000
    runner = JobRunner(settings, db, EngineHolder(settings, FakeEngine()))
    done = runner.expect(pending.id)
    runner.start()  # recovery first, then the workers pick up the pending job
    try:
        runner.notify()
        assert done.result(timeout=20) == "succeeded"
    finally:
        runner.stop()
    interrupted = jobs.get_job(db, running_id)
    assert interrupted.status == "failed"
    assert ledger.balance(db, account) == 950_000  # interrupted refunded, pending charged and run
    assert ledger.ledger_sum(db, account) == 950_000


def test_engine_output_is_checked(settings, db):
    class Wrong(FakeEngine):
        def generate(self, request, cancel=None, progress=None):
            return [np.zeros((3, 3, 4), np.uint8)] * request.num_images

    runner = JobRunner(settings, db, EngineHolder(settings, Wrong()))
    paid_job(db)
    assert runner.run_job(jobs.claim_next(db)) == "failed"


def test_tiling_goes_to_the_engine_or_to_seam_repair(settings, db):
    native = FakeEngine(EngineCapabilities(tiling=True))
    runner = JobRunner(settings, db, EngineHolder(settings, native))
    paid_job(db, tile_x=True, tile_y=True)
    assert runner.run_job(jobs.claim_next(db)) == "succeeded"
    assert native.calls[-1].tile_x and native.calls[-1].tile_y

    plain = FakeEngine(EngineCapabilities(tiling=False))
    runner = JobRunner(settings, db, EngineHolder(settings, plain))
    paid_job(db, tile_x=True, num_images=1)
    assert runner.run_job(jobs.claim_next(db)) == "succeeded"
    assert not plain.calls[-1].tile_x  # repaired afterwards by pixel.make_seamless instead


def test_postprocess_order_and_upscale():
    rng = np.random.default_rng(0)
    img = rng.integers(0, 256, (8, 8, 4), dtype=np.uint8)
    img[..., 3] = 255
    palette = np.zeros((2, 2, 4), np.uint8)
    palette[0, 0] = (0, 0, 0, 255)
    palette[1, 1] = (255, 255, 255, 255)
    out = postprocess([img, img], palette=palette, return_pre_palette=True, upscale=2)
    assert len(out) == 4
    final, pre = out[0], out[1]
    assert final.shape == pre.shape == (16, 16, 4)
    assert {tuple(c) for c in final[..., :3].reshape(-1, 3)} <= {(0, 0, 0), (255, 255, 255)}
    assert np.array_equal(pre[::2, ::2], img)


def test_decode_refuses_bombs_long_strings_and_garbage():
    limits = {"max_chars": 10_000, "max_pixels": 1000}
    with pytest.raises(ImageError, match="pixels"):
        decode_base64_image(bomb_png_b64(), "input_image", **limits)
    with pytest.raises(ImageError, match="10000"):
        decode_base64_image("A" * 10_001, "input_image", **limits)
    with pytest.raises(ImageError, match="base64"):
        decode_base64_image("***", "input_image", **limits)
    with pytest.raises(ImageError, match="not a PNG"):
        decode_base64_image(base64.b64encode(b"hello").decode(), "input_image", **limits)
    truncated = png_b64(20, 20)[:60]
    with pytest.raises(ImageError):
        decode_base64_image(truncated, "input_image", **limits)
    img = decode_base64_image("data:image/png;base64," + png_b64(4, 3), "input_image", **limits)
    assert img.shape == (3, 4, 4) and img.dtype == np.uint8

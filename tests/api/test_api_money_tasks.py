"""check_cost, async tasks, ownership, concurrency of debits, limits, rate limiting, signed URLs, auth."""

from __future__ import annotations

import asyncio
import os
import threading
import time
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

import httpx
import pytest

from fakes import FakeEngine, Harness, bomb_png_b64, harness, make_settings, png_b64
from pixelforge.engines import EngineError
from pixelforge.store import jobs, ledger


def formula(minimum: str, offset: int, divisor: int, w: int, h: int, n: int) -> Decimal:
    per = max(Decimal(minimum), Decimal(w * h + offset) / Decimal(divisor))
    return (per * n).quantize(Decimal("0.001"), rounding=ROUND_HALF_UP)


CASES = [
    ("rd_fast__default", 64, 64, 1, formula("0.015", 100000, 6000000, 64, 64, 1)),
    ("rd_fast__default", 256, 256, 3, formula("0.015", 100000, 6000000, 256, 256, 3)),
    ("rd_fast__retro", 384, 384, 16, formula("0.015", 100000, 6000000, 384, 384, 16)),
    ("rd_plus__default", 128, 128, 2, formula("0.025", 50000, 2000000, 128, 128, 2)),
    ("rd_plus__watercolor", 384, 200, 5, formula("0.025", 50000, 2000000, 384, 200, 5)),
    ("rd_plus__mc_item", 16, 16, 1, formula("0.02", 13700, 600000, 16, 16, 1)),
    ("rd_plus__low_res", 128, 128, 4, formula("0.02", 13700, 600000, 128, 128, 4)),
    ("rd_tile__single_tile", 64, 64, 2, formula("0.02", 13700, 600000, 64, 64, 2)),
    ("rd_pro__default", 256, 256, 2, Decimal("0.36")),
]


@pytest.mark.parametrize(("style", "w", "hh", "n", "expected"), CASES)
def test_check_cost_is_exact_and_free(h: Harness, key: str, style, w, hh, n, expected):
    account = h.account_of(key)
    entries_before = len(ledger.entries(h.ctx.db, account))
    before = h.balance(key)
    payload = {
        "prompt": "x",
        "prompt_style": style,
        "width": w,
        "height": hh,
        "num_images": n,
        "check_cost": True,
    }
    r = h.post(key, payload)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["balance_cost"] == float(expected)
    assert body["model"] == "check_cost"
    assert body["base64_images"] == body["output_images"] == body["output_urls"] == []
    assert body["remaining_balance"] == before / 1e6
    assert h.balance(key) == before
    assert len(ledger.entries(h.ctx.db, account)) == entries_before
    assert jobs.list_jobs(h.ctx.db, account) == []
    assert h.engine.calls == []


def test_check_cost_matches_the_real_charge(h: Harness, key: str):
    payload = {
        "prompt": "x",
        "prompt_style": "rd_plus__default",
        "width": 200,
        "height": 136,
        "num_images": 3,
    }
    quoted = h.post(key, payload | {"check_cost": True}).json()["balance_cost"]
    before = h.balance(key)
    charged = h.post(key, payload).json()["balance_cost"]
    assert quoted == charged == (before - h.balance(key)) / 1e6


def wait_status(h: Harness, key: str, task_id: str, statuses: set[str], timeout: float = 20.0) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        body = h.client.get(f"/v1/inferences/tasks/{task_id}", headers={"X-RD-Token": key}).json()
        if body["status"] in statuses or time.monotonic() > deadline:
            return body
        time.sleep(0.02)


def test_async_lifecycle(h: Harness, key: str):
    h.engine.gate = threading.Event()
    r = h.post(key, {"prompt": "corgi", "width": 64, "height": 64, "num_images": 2, "async": True})
    assert r.status_code == 200
    accepted = r.json()
    assert set(accepted) == {"status", "task_id", "message"}
    assert accepted["status"] == "accepted"
    task_id = accepted["task_id"]
    first = h.client.get(f"/v1/inferences/tasks/{task_id}", headers={"X-RD-Token": key}).json()
    assert first["status"] in ("pending", "running") and first["task_id"] == task_id
    assert h.engine.started.wait(10)
    running = wait_status(h, key, task_id, {"running"})
    assert running["status"] == "running"
    h.engine.gate.set()
    done = wait_status(h, key, task_id, {"succeeded", "failed"})
    assert done["status"] == "succeeded", done
    result = done["result"]
    assert set(result) == {"created_at", "balance_cost", "base64_images", "model", "remaining_balance"}
    assert len(result["base64_images"]) == 2 and result["balance_cost"] == 0.035
    listing = h.client.get("/v1/inferences/tasks", headers={"X-RD-Token": key}).json()
    assert [t["task_id"] for t in listing["tasks"]] == [task_id]
    assert listing["tasks"][0]["status"] == "succeeded"


def test_async_failure_is_refunded_and_reported(data_dir: Path):
    with harness(make_settings(data_dir), FakeEngine(fail=EngineError("boom"))) as hh:
        key = hh.new_key("1")
        task_id = hh.post(key, {"prompt": "x", "width": 64, "height": 64, "async": True}).json()["task_id"]
        done = wait_status(hh, key, task_id, {"succeeded", "failed"})
        assert done["status"] == "failed"
        assert done["error"] == {"status_code": 500, "detail": "Unable to run inference."}
        assert hh.balance(key) == 1_000_000


def test_tasks_of_another_account_are_404(h: Harness, key: str):
    other = h.new_key("10", name="other")
    task_id = h.post(key, {"prompt": "x", "width": 64, "height": 64, "async": True}).json()["task_id"]
    r = h.client.get(f"/v1/inferences/tasks/{task_id}", headers={"X-RD-Token": other})
    assert r.status_code == 404
    assert r.json()["detail"]["code"] == "task_not_found"
    assert h.client.get("/v1/inferences/tasks", headers={"X-RD-Token": other}).json() == {"tasks": []}
    assert h.client.get("/v1/inferences/tasks/nope", headers={"X-RD-Token": key}).status_code == 404


def test_tasks_of_another_key_of_the_same_account_are_404(h: Harness, key: str):
    from pixelforge.store import keys

    _, sibling = keys.create_key(h.ctx.db, h.account_of(key), "sibling")
    task_id = h.post(key, {"prompt": "x", "width": 64, "height": 64, "async": True}).json()["task_id"]
    assert h.client.get(f"/v1/inferences/tasks/{task_id}", headers={"X-RD-Token": sibling}).status_code == 404
    assert h.client.get("/v1/inferences/tasks", headers={"X-RD-Token": sibling}).json() == {"tasks": []}
    listed = h.client.get("/v1/inferences/tasks", headers={"X-RD-Token": key}).json()["tasks"]
    assert [t["task_id"] for t in listed] == [task_id]


def run_concurrent(settings, n_requests: int, k: int) -> None:
    from pixelforge.api import create_app
    from pixelforge.store import keys

    app = create_app(settings, engine=FakeEngine(steps=1))
    payload = {"prompt": "corgi", "width": 64, "height": 64, "num_images": 1}
    price = 17_000

    async def main() -> None:
        async with app.router.lifespan_context(app):
            db = app.state.ctx.db
            start = k * price + price // 2
            account = keys.create_account(db, "race", initial_micros=start)
            _, raw = keys.create_key(db, account.id, "race")
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://test", timeout=120) as c:
                rs = await asyncio.gather(
                    *[
                        c.post("/v1/inferences", headers={"X-RD-Token": raw}, json=payload)
                        for _ in range(n_requests)
                    ]
                )
            ok = [r for r in rs if r.status_code == 200]
            refused = [r for r in rs if r.status_code != 200]
            assert len(ok) == k
            assert all(
                r.status_code == 400 and r.json() == {"detail": [{"msg": "Not enough balance."}]}
                for r in refused
            )
            assert ledger.balance(db, account.id) == start - k * price
            assert ledger.ledger_sum(db, account.id) == start - k * price
            assert len(jobs.list_jobs(db, account.id, 1000)) == k

    asyncio.run(main())


def test_100_concurrent_requests_exactly_k_succeed_sqlite(data_dir: Path):
    run_concurrent(make_settings(data_dir, job_workers=2), 100, 7)


@pytest.mark.postgres
def test_100_concurrent_requests_exactly_k_succeed_postgres(data_dir: Path):
    url = os.environ.get("PIXELFORGE_TEST_POSTGRES_URL")
    if not url:
        pytest.skip("PIXELFORGE_TEST_POSTGRES_URL is not set")
    run_concurrent(make_settings(data_dir, job_workers=2, database_url=url), 100, 7)


def test_oversized_body_is_413_and_free(data_dir: Path):
    with harness(make_settings(data_dir, max_body_bytes=4096)) as hh:
        key = hh.new_key("1")
        r = hh.post(key, {"prompt": "x" * 5000, "width": 64, "height": 64})
        assert r.status_code == 413
        assert r.json()["detail"]["code"] == "request_too_large"

        def chunks():
            yield b'{"prompt": "'
            for _ in range(10):
                yield b"x" * 1000
            yield b'", "width": 64, "height": 64}'

        r = hh.client.post(
            "/v1/inferences",
            headers={"X-RD-Token": key, "content-type": "application/json"},
            content=chunks(),
        )
        assert r.status_code == 413
        assert r.json()["detail"]["code"] == "request_too_large"
        assert hh.balance(key) == 1_000_000
        assert jobs.list_jobs(hh.ctx.db, hh.account_of(key)) == []


def test_base64_and_pixel_caps_and_decompression_bomb(data_dir: Path):
    with harness(make_settings(data_dir, max_base64_chars=2000, max_input_pixels=64 * 64)) as hh:
        key = hh.new_key("1")
        base = {"prompt": "x", "width": 64, "height": 64}
        cases = {
            "long": png_b64(8, 8) + "A" * 2000,
            "bomb": bomb_png_b64(),
            "too_many_pixels": png_b64(65, 64),
        }
        for name, data in cases.items():
            for field in ("input_image", "input_palette"):
                r = hh.post(key, base | {field: data})
                assert r.status_code == 400, (name, field, r.text)
                assert r.json()["detail"]["code"] == "invalid_image", name
                assert field in r.json()["detail"]["message"]
        assert "2000" in hh.post(key, base | {"input_image": cases["long"]}).json()["detail"]["message"]
        assert "pixels" in hh.post(key, base | {"input_image": cases["bomb"]}).json()["detail"]["message"]
        assert hh.balance(key) == 1_000_000
        assert hh.engine.calls == []


def test_rate_limit_429_with_retry_after(data_dir: Path):
    with harness(make_settings(data_dir, rate_limit_per_minute=6, rate_limit_burst=2)) as hh:
        key, other = hh.new_key("1"), hh.new_key("1", name="other")
        headers = {"X-RD-Token": key}
        assert hh.client.get("/v1/inferences/credits", headers=headers).status_code == 200
        assert hh.client.get("/v1/inferences/credits", headers=headers).status_code == 200
        r = hh.post(key, {"prompt": "x", "width": 64, "height": 64})
        assert r.status_code == 429
        assert r.json()["detail"]["code"] == "rate_limited"
        assert int(r.headers["Retry-After"]) >= 1
        assert hh.balance(key) == 1_000_000
        assert hh.client.get("/v1/inferences/credits", headers={"X-RD-Token": other}).status_code == 200


def test_signed_output_urls(h: Harness, key: str):
    body = h.post(
        key, {"prompt": "x", "width": 64, "height": 64, "num_images": 2, "upload_outputs": True}
    ).json()
    assert body["base64_images"] == []
    urls = [httpx.URL(u) for u in body["output_urls"]]
    assert len(urls) == 2
    url = urls[0]
    ok = h.client.get(url.raw_path.decode())
    assert ok.status_code == 200 and ok.headers["content-type"] == "image/png"
    assert ok.content.startswith(b"\x89PNG")
    file_id = url.path.rsplit("/", 1)[1]
    sig = url.params["signature"]
    expires = int(url.params["expires"])
    tampered_sig = sig[:-2] + ("AA" if not sig.endswith("AA") else "BB")
    for bad in (
        f"/v1/files/{file_id}?expires={expires}&signature={tampered_sig}",
        f"/v1/files/{file_id}?expires={expires + 1}&signature={sig}",
        f"/v1/files/{urls[1].path.rsplit('/', 1)[1]}?expires={expires}&signature={sig}",
        f"/v1/files/{file_id}?expires={expires}",
    ):
        r = h.client.get(bad)
        assert r.status_code == 403, bad
        assert r.json()["detail"]["code"] == "invalid_signature"
    expired = h.ctx.signer.path(file_id, int(time.time()) - 10)
    r = h.client.get(expired)
    assert r.status_code == 403 and r.json()["detail"]["code"] == "url_expired"
    missing = h.ctx.signer.path("f_doesnotexist", int(time.time()) + 60)
    assert h.client.get(missing).status_code == 404


def test_async_upload_outputs_result_has_urls(h: Harness, key: str):
    task_id = h.post(
        key, {"prompt": "x", "width": 64, "height": 64, "upload_outputs": True, "async": True}
    ).json()["task_id"]
    done = wait_status(h, key, task_id, {"succeeded", "failed"})
    assert done["status"] == "succeeded"
    assert len(done["result"]["output_urls"]) == 1


def test_auth(h: Harness, key: str):
    payload = {"prompt": "x", "width": 64, "height": 64}
    r = h.client.post("/v1/inferences", json=payload)
    assert r.status_code == 401 and r.json()["detail"]["code"] == "unauthorized"
    assert h.post("rdpk-wrong", payload).status_code == 401
    assert h.client.get("/v1/inferences/credits").status_code == 401
    bad = h.client.get("/v1/inferences/credits", headers={"X-RD-Token": "rdpk-wrong"})
    assert bad.status_code == 403 and bad.json()["detail"]["code"] == "forbidden"
    assert (
        h.client.get("/v1/inferences/credits", headers={"Authorization": f"Bearer {key}"}).status_code == 200
    )
    from pixelforge.store import keys

    auth = keys.authenticate(h.ctx.db, key)
    keys.revoke_key(h.ctx.db, auth.key_id)
    h.ctx.auth_cache.ttl = 0  # a revoked key is refused once its cache entry (auth_cache_ttl_s) is gone
    assert h.post(key, payload).status_code == 401


def test_revoked_key_stops_within_the_cache_ttl(data_dir: Path):
    from pixelforge.store import keys

    with harness(make_settings(data_dir, auth_cache_ttl_s=0.2)) as hh:
        key = hh.new_key("1")
        headers = {"X-RD-Token": key}
        assert hh.client.get("/v1/inferences/credits", headers=headers).status_code == 200
        keys.revoke_key(hh.ctx.db, keys.authenticate(hh.ctx.db, key).key_id)
        deadline = time.monotonic() + 10
        while hh.client.get("/v1/inferences/credits", headers=headers).status_code == 200:
            assert time.monotonic() < deadline
            time.sleep(0.05)
        assert hh.client.get("/v1/inferences/credits", headers=headers).status_code == 403


def test_credits(h: Harness):
    key = h.new_key("100.75")
    assert h.client.get("/v1/inferences/credits", headers={"X-RD-Token": key}).json() == {
        "credits": 10075,
        "balance": 100.75,
    }


def test_status_needs_no_key(h: Harness):
    r = h.client.get("/v1/status")
    assert r.status_code == 200
    body = r.json()
    assert body["status"]["rd_fast"] == "ok" and body["engine"] == "fake"
    assert body["status"]["animations"] == "not_supported"


def test_styles_selector(h: Harness, key: str):
    headers = {"X-RD-Token": key}
    items = h.client.get("/v1/styles/selector", headers=headers).json()
    assert {"rd_fast__default", "rd_plus__mc_item", "rd_pro__default", "rd_mini__mc_item"} <= {
        i["prompt_style"] for i in items
    }
    pro = h.client.get("/v1/styles/selector", params={"model": "rd_pro"}, headers=headers).json()
    assert pro and all(i["required_model"] == "rd_pro" for i in pro)
    tiles = h.client.get("/v1/styles/selector", params={"tab": "tab:tileset"}, headers=headers).json()
    assert tiles and all(i["required_tab"] == "tab:tileset" for i in tiles)
    assert h.client.get("/v1/styles/selector").status_code == 401


def test_restart_recovery_through_the_api(data_dir: Path):
    """A server that died mid-job: on the next start the running job is failed and refunded, and a job
    still pending is run; both are visible to their owner as tasks."""
    from pixelforge.store import Database, keys

    settings = make_settings(data_dir)
    db = Database.from_settings(settings)
    db.migrate()
    account = keys.create_account(db, "crash", initial_micros=1_000_000)
    key_row, key = keys.create_key(db, account.id, "crash")
    spec = {"prompt": "x", "style_id": "rd_fast__default", "family": "rd_fast", "model": "rd_fast"}
    spec |= {
        "type": "txt2img",
        "width": 64,
        "height": 64,
        "num_images": 1,
        "seed": 1,
        "meta": {"shape": "v1"},
    }
    running = jobs.create_job(
        db, account.id, "inference", spec, key_id=key_row.id, price_micros=17_000, charge=True
    )
    assert jobs.claim_next(db).id == running.id  # the process "crashed" here, mid-generation
    pending = jobs.create_job(
        db, account.id, "inference", spec, key_id=key_row.id, price_micros=17_000, charge=True
    )
    db.dispose()

    with harness(settings) as hh:
        failed = wait_status(hh, key, running.id, {"succeeded", "failed"})
        assert failed["status"] == "failed"
        assert failed["error"]["status_code"] == 500 and "refunded" in failed["error"]["detail"]
        ran = wait_status(hh, key, pending.id, {"succeeded", "failed"})
        assert ran["status"] == "succeeded" and len(ran["result"]["base64_images"]) == 1
        assert hh.balance(key) == 1_000_000 - 17_000


def test_output_urls_use_the_client_base_url_or_the_configured_one(data_dir: Path):
    payload = {"prompt": "x", "width": 64, "height": 64, "upload_outputs": True}
    with harness(make_settings(data_dir)) as hh:
        key = hh.new_key("1")
        (url,) = hh.post(key, payload).json()["output_urls"]
        assert url.startswith("http://testserver/v1/files/f_")
    with harness(make_settings(data_dir, public_base_url="https://px.example.org/")) as hh:
        key = hh.new_key("1")
        (url,) = hh.post(key, payload).json()["output_urls"]
        assert url.startswith("https://px.example.org/v1/files/f_")
        assert hh.client.get(httpx.URL(url).raw_path.decode()).status_code == 200

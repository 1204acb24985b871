"""POST /v1/inferences and /legacy through the in-process ASGI app, with the fake engine."""

from __future__ import annotations

import base64
import io

import numpy as np
import pytest
from PIL import Image

from fakes import FakeEngine, Harness, png_b64
from pixelforge.engines import EngineCapabilities, EngineError
from pixelforge.store import jobs, ledger


def decode(b64: str) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(base64.b64decode(b64))).convert("RGBA"))


def test_seed_doc_payload_works_unchanged(h: Harness, key: str):
    # 000_/001_ "How to generate images", verbatim apart from the key.
    payload = {"width": 256, "height": 256, "prompt": "A really cool corgi", "num_images": 1}
    before = h.balance(key)
    r = h.client.request("POST", "/v1/inferences", headers={"X-RD-Token": key}, json=payload)
    assert r.status_code == 200, r.text
    body = r.json()
    assert set(body) == {"created_at", "balance_cost", "base64_images", "model", "remaining_balance"}
    assert body["model"] == "rd_fast"
    assert body["balance_cost"] == 0.028  # max(0.015, (65536 + 100000) / 6e6) rounded to 3 decimals
    assert len(body["base64_images"]) == 1
    assert decode(body["base64_images"][0]).shape == (256, 256, 4)
    assert h.balance(key) == before - 28_000
    assert body["remaining_balance"] == (before - 28_000) / 1e6


def test_current_docs_quick_start_payload(h: Harness, key: str):
    payload = {
        "prompt": "A really cool corgi wearing sunglasses",
        "prompt_style": "rd_plus__default",
        "width": 256,
        "height": 256,
        "num_images": 1,
        "seed": 42,
    }
    body = h.post(key, payload).json()
    assert body["model"] == "rd_plus"
    assert body["balance_cost"] == 0.058
    assert h.engine.calls[-1].seed == 42
    assert h.engine.calls[-1].style_id == "rd_plus__default"
    # Same seed, same image: generation is reproducible through the API.
    again = h.post(key, payload).json()
    assert again["base64_images"] == body["base64_images"]


def test_batch_and_seed_contract(h: Harness, key: str):
    body = h.post(key, {"prompt": "x", "width": 64, "height": 64, "num_images": 3, "seed": 7}).json()
    imgs = [decode(b) for b in body["base64_images"]]
    assert len(imgs) == 3 and not np.array_equal(imgs[0], imgs[1])
    single = h.post(key, {"prompt": "x", "width": 64, "height": 64, "num_images": 1, "seed": 8}).json()
    assert np.array_equal(decode(single["base64_images"][0]), imgs[1])


def test_defaults_when_fields_are_missing(h: Harness, key: str):
    body = h.post(key, {"prompt": "corgi"}).json()
    assert body["model"] == "rd_fast"
    assert decode(body["base64_images"][0]).shape == (256, 256, 4)
    call = h.engine.calls[-1]
    assert (call.width, call.height, call.num_images, call.style_id) == (256, 256, 1, "rd_fast__default")
    low = h.post(key, {"prompt": "sword", "prompt_style": "rd_plus__mc_item"}).json()
    assert decode(low["base64_images"][0]).shape == (128, 128, 4)  # 256 clamped into 16..128


def test_null_optional_fields_mean_not_sent(h: Harness, key: str):
    payload = {"prompt": "x", "width": 64, "height": 64, "seed": None, "input_image": None}
    payload |= {"upscale_output_factor": None, "remove_bg": None, "async": None, "check_cost": None}
    assert h.post(key, payload).status_code == 200


def test_deprecated_model_field(h: Harness, key: str):
    body = h.post(key, {"prompt": "x", "width": 64, "height": 64, "model": "RD_PLUS"}).json()
    assert body["model"] == "rd_plus"
    body = h.post(key, {"prompt": "x", "width": 64, "height": 64, "model": "RD_FLUX"}).json()
    assert body["model"] == "rd_fast"
    r = h.post(key, {"prompt": "x", "width": 64, "height": 64, "model": "RD_CLASSIC"})
    assert r.status_code == 400 and r.json()["detail"]["code"] == "invalid_request"


def test_rd_mini_alias_routes_and_reports_routed_model(h: Harness, key: str):
    body = h.post(key, {"prompt": "x", "width": 32, "height": 32, "prompt_style": "rd_mini__mc_item"}).json()
    assert body["model"] == "rd_plus"
    assert h.engine.calls[-1].style_id == "rd_plus__mc_item"


def test_legacy_endpoint_answers_in_the_older_shape(h: Harness, key: str):
    payload = {"width": 256, "height": 256, "prompt": "A really cool corgi", "num_images": 1}
    r = h.post(key, payload, "/v1/inferences/legacy")
    assert r.status_code == 200, r.text
    body = r.json()
    assert set(body) == {"created_at", "credit_cost", "base64_images", "type", "remaining_credits"}
    assert isinstance(body["created_at"], int)
    assert body["type"] == "txt2img"
    assert body["credit_cost"] == 3  # $0.028 at the default $0.01 per credit, rounded up
    assert body["remaining_credits"] == h.balance(key) // 10_000
    img = h.post(key, payload | {"input_image": png_b64(), "strength": 0.5}, "/v1/inferences/legacy").json()
    assert img["type"] == "img2img"


def test_legacy_check_cost_shape(h: Harness, key: str):
    payload = {
        "width": 256,
        "height": 256,
        "prompt": "A really cool corgi",
        "num_images": 1,
        "check_cost": True,
    }
    body = h.post(key, payload, "/v1/inferences/legacy").json()
    assert body["model"] == "check_cost"
    assert body["remaining_credits"] == 0  # seed docs: always 0 for check_cost
    assert body["base64_images"] == body["output_images"] == body["output_urls"] == []


def test_failed_generation_is_refunded(data_dir):
    from fakes import harness, make_settings

    with harness(make_settings(data_dir), FakeEngine(fail=EngineError("boom"))) as hh:
        key = hh.new_key("1")
        r = hh.post(key, {"prompt": "x", "width": 64, "height": 64})
        assert r.status_code == 500
        assert r.json() == {"detail": {"code": "inference_failed", "message": "Unable to run inference."}}
        assert hh.balance(key) == 1_000_000
        account = hh.account_of(key)
        kinds = [e.kind for e in ledger.entries(hh.ctx.db, account)]
        assert kinds[:2] == ["refund", "debit"]
        assert ledger.ledger_sum(hh.ctx.db, account) == 1_000_000
        (job,) = jobs.list_jobs(hh.ctx.db, account)
        assert job.status == "failed"


def test_insufficient_balance_shape_and_no_charge(h: Harness):
    key = h.new_key("0.01")
    r = h.post(key, {"prompt": "x", "width": 64, "height": 64})  # costs 0.017
    assert r.status_code == 400
    assert r.json() == {"detail": [{"msg": "Not enough balance."}]}
    assert h.balance(key) == 10_000
    assert jobs.list_jobs(h.ctx.db, h.account_of(key)) == []
    assert h.engine.calls == []


def test_img2img_passes_the_decoded_image(h: Harness, key: str):
    r = h.post(
        key, {"prompt": "x", "width": 64, "height": 64, "input_image": png_b64(16, 16), "strength": 0.3}
    )
    assert r.status_code == 200, r.text
    call = h.engine.calls[-1]
    assert call.init_image is not None and call.init_image.shape == (16, 16, 4)
    assert call.strength == 0.3


def test_palette_and_pre_palette(h: Harness, key: str):
    palette = Image.new("RGB", (2, 1))
    palette.putpixel((0, 0), (0, 0, 0))
    palette.putpixel((1, 0), (255, 255, 255))
    buf = io.BytesIO()
    palette.save(buf, format="PNG")
    pal = base64.b64encode(buf.getvalue()).decode()
    body = h.post(
        key, {"prompt": "x", "width": 64, "height": 64, "input_palette": pal, "return_pre_palette": True}
    ).json()
    final, pre = (decode(b) for b in body["base64_images"])
    assert {tuple(c) for c in final[..., :3].reshape(-1, 3)} <= {(0, 0, 0), (255, 255, 255)}
    assert len({tuple(c) for c in pre[..., :3].reshape(-1, 3)}) > 2


def test_upscale_output_factor(h: Harness, key: str):
    body = h.post(key, {"prompt": "x", "width": 64, "height": 80, "upscale_output_factor": 3}).json()
    img = decode(body["base64_images"][0])
    assert img.shape == (240, 192, 4)
    assert np.array_equal(img[::3, ::3], img[1::3, 1::3])


@pytest.mark.parametrize(
    ("payload", "code", "needle"),
    [
        ({"prompt_style": "rd_animation__vfx", "width": 48, "height": 48}, "not_supported", "animation"),
        (
            {"prompt_style": "animation__four_angle_walking", "width": 48, "height": 48},
            "not_supported",
            "animation",
        ),
        ({"prompt_style": "rd_tile__tileset", "width": 32, "height": 32}, "not_supported", "tileset"),
        (
            {"prompt_style": "rd_pro__default", "reference_images": [png_b64()]},
            "not_supported",
            "reference_images",
        ),
        ({"include_downloadable_data": True}, "not_supported", "include_downloadable_data"),
        ({"frames_duration": 8}, "invalid_request", "frames_duration"),
        ({"return_spritesheet": True}, "invalid_request", "return_spritesheet"),
        ({"extra_prompt": "grass"}, "invalid_request", "extra_prompt"),
        ({"width": 1000, "height": 64}, "invalid_request", "width 1000"),
        ({"num_images": 17}, "invalid_request", "batch cap"),
        ({"prompt_style": "rd_plus__default", "width": 40, "height": 40}, "invalid_request", "range"),
        ({"strength": 1.5, "input_image": png_b64()}, "invalid_request", "strength"),
        ({"return_pre_palette": True}, "invalid_request", "input_palette"),
        (
            {"prompt_style": "rd_tile__tile_variation", "width": 32, "height": 32},
            "invalid_request",
            "input_image",
        ),
        ({"input_image": "not base64!!"}, "invalid_image", "input_image"),
        ({"input_image": base64.b64encode(b"plain text").decode()}, "invalid_image", "input_image"),
        ({"upscale_output_factor": 0}, "invalid_request", "upscale_output_factor"),
        ({"upscale_output_factor": 100}, "invalid_request", "upscale_output_factor"),
    ],
)
def test_bad_or_unbuilt_requests_are_400_and_free(h: Harness, key: str, payload, code, needle):
    full = {"prompt": "x", "width": 64, "height": 64} | payload
    before = h.balance(key)
    r = h.post(key, full)
    assert r.status_code == 400, r.text
    detail = r.json()["detail"]
    assert detail["code"] == code
    assert needle in detail["message"]
    assert "Traceback" not in r.text
    assert h.balance(key) == before
    assert jobs.list_jobs(h.ctx.db, h.account_of(key)) == []
    # check_cost refuses the same way (nothing the server cannot do gets a price) -- except for
    # engine capabilities, which check_cost does not load an engine to learn.
    if "reference_images" not in payload:
        assert h.post(key, full | {"check_cost": True}).status_code == 400


def test_remove_bg_is_refused_or_honoured_never_ignored(h: Harness, key: str):
    from pixelforge.jobs.postprocess import supports_background_removal

    payload = {"prompt": "x", "width": 64, "height": 64, "remove_bg": True, "return_non_bg_removed": True}
    r = h.post(key, payload)
    if supports_background_removal():
        assert r.status_code == 200 and len(r.json()["base64_images"]) == 2
    else:
        assert r.status_code == 400 and r.json()["detail"]["code"] == "not_supported"


def test_reference_images_reach_an_engine_that_supports_them(data_dir):
    from fakes import harness, make_settings

    caps = EngineCapabilities(img2img=True, max_reference_images=9, tiling=True, max_size=1024)
    with harness(make_settings(data_dir), FakeEngine(caps)) as hh:
        key = hh.new_key("10")
        r = hh.post(
            key,
            {
                "prompt": "corgi",
                "prompt_style": "rd_pro__default",
                "width": 128,
                "height": 128,
                "reference_images": [png_b64(), png_b64(4, 4)],
            },
        )
        assert r.status_code == 200, r.text
        assert r.json()["balance_cost"] == 0.18
        assert len(hh.engine.calls[-1].reference_images) == 2
        too_many = hh.post(
            key, {"prompt": "c", "prompt_style": "rd_plus__default", "reference_images": [png_b64()]}
        )
        assert too_many.status_code == 400 and "reference_images" in too_many.json()["detail"]["message"]


def test_unknown_style_is_404(h: Harness, key: str):
    r = h.post(key, {"prompt": "x", "prompt_style": "rd_fast__nope"})
    assert r.status_code == 404
    assert r.json()["detail"]["code"] == "style_not_found"
    r = h.post(key, {"prompt": "x", "prompt_style": "user__flasks_586"})
    assert r.status_code == 404
    assert "user styles are not supported by this server yet" in r.json()["detail"]["message"]


def test_validation_errors_use_the_msg_list_shape(h: Harness, key: str):
    r = h.post(key, {"width": 64})
    assert r.status_code == 422
    detail = r.json()["detail"]
    assert isinstance(detail, list) and all("msg" in d for d in detail)
    r = h.client.post(
        "/v1/inferences", headers={"X-RD-Token": key, "content-type": "application/json"}, content=b"{"
    )
    assert r.status_code == 422 and "msg" in r.json()["detail"][0]
    r = h.post(key, {"prompt": "x", "width": "wide"})
    assert r.status_code == 422

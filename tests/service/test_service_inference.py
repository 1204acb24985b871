"""The service without HTTP: validation order, defaults, pricing, money, waiting."""

from __future__ import annotations

import pytest

from fakes import FakeEngine, png_b64
from pixelforge.catalog import load_catalog
from pixelforge.engines import EngineCapabilities
from pixelforge.jobs import EngineHolder, JobRunner
from pixelforge.service import (
    InferenceInput,
    InferenceService,
    InsufficientBalance,
    InvalidImage,
    InvalidRequest,
    NotSupported,
    StyleNotFound,
    TaskNotFound,
)
from pixelforge.store import jobs, keys, ledger


@pytest.fixture
def engine():
    return FakeEngine(EngineCapabilities(img2img=False, max_reference_images=0, tiling=False, max_size=300))


@pytest.fixture
def service(settings, db, engine):
    runner = JobRunner(settings, db, EngineHolder(settings, engine))
    runner.start()
    yield InferenceService(settings, db, load_catalog(settings), runner)
    runner.stop()


@pytest.fixture
def auth(db):
    account = keys.create_account(db, "svc", initial_micros=1_000_000)
    _, raw = keys.create_key(db, account.id, "svc")
    return keys.authenticate(db, raw)


def test_defaults(service):
    p = service.quote(InferenceInput(prompt="x"))
    assert (p.style_id, p.width, p.height, p.num_images, p.model) == (
        "rd_fast__default",
        256,
        256,
        1,
        "rd_fast",
    )
    assert p.price_micros == 28_000
    assert 0 <= p.spec["seed"] < 2**32 and p.spec["strength"] == 0.75
    low = service.quote(InferenceInput(prompt="x", prompt_style="rd_plus__topdown_item"))
    assert (low.width, low.height) == (96, 96)  # 256 clamped into the style's 16..96


def test_generate_charges_once_and_returns_files(service, auth, db):
    view = service.generate(auth, InferenceInput(prompt="x", width=64, height=64, num_images=2))
    assert view.status == "succeeded"
    assert len(view.outcome.file_ids) == 2
    assert view.outcome.price_micros == 35_000
    assert ledger.balance(db, auth.account_id) == 1_000_000 - 35_000
    assert service.read_file(view.outcome.file_ids[0])[1] == "image/png"


def test_insufficient_balance_writes_nothing(service, db):
    account = keys.create_account(db, "poor", initial_micros=1_000)
    _, raw = keys.create_key(db, account.id, "poor")
    poor = keys.authenticate(db, raw)
    with pytest.raises(InsufficientBalance):
        service.submit(poor, InferenceInput(prompt="x", width=64, height=64))
    assert ledger.balance(db, account.id) == 1_000
    assert jobs.list_jobs(db, account.id) == []
    assert len(ledger.entries(db, account.id)) == 1  # the opening credit only


def test_engine_capabilities_are_checked_before_charging(service, auth, db):
    with pytest.raises(NotSupported, match="img2img"):
        service.submit(auth, InferenceInput(prompt="x", width=64, height=64, input_image=png_b64()))
    with pytest.raises(NotSupported, match="reference_images"):
        service.submit(
            auth, InferenceInput(prompt="x", prompt_style="rd_pro__default", reference_images=[png_b64()])
        )
    with pytest.raises(NotSupported, match="outside"):
        service.submit(
            auth, InferenceInput(prompt="x", prompt_style="rd_plus__default", width=384, height=384)
        )
    assert ledger.balance(db, auth.account_id) == 1_000_000


def test_validation_errors(service):
    with pytest.raises(StyleNotFound, match="Did you mean"):
        service.quote(InferenceInput(prompt="x", prompt_style="rd_fast__defualt"))
    with pytest.raises(InvalidRequest, match="prompt must not be empty"):
        service.quote(InferenceInput(prompt="  "))
    # strength without input_image is what many clients always send (Scenario's default is 0.8): it
    # only matters with an input image, as the docs say, so it is accepted.
    assert service.quote(InferenceInput(prompt="x", strength=0.8)).spec["input_image"] is None
    with pytest.raises(InvalidImage, match="input_palette"):
        service.quote(InferenceInput(prompt="x", input_palette=png_b64(mode="RGBA", color=(0, 0, 0, 0))))
    with pytest.raises(NotSupported, match="tileset"):
        service.quote(
            InferenceInput(prompt="x", prompt_style="rd_tile__tileset_advanced", width=16, height=16)
        )


def test_tasks_are_scoped_to_the_key(service, auth, db):
    sub = service.submit(auth, InferenceInput(prompt="x", width=64, height=64))
    service.wait(sub)
    assert service.task(auth, sub.task_id).status == "succeeded"
    other_account = keys.create_account(db, "other")
    _, other_raw = keys.create_key(db, other_account.id, "other")
    _, sibling_raw = keys.create_key(db, auth.account_id, "sibling")
    for raw in (other_raw, sibling_raw):
        outsider = keys.authenticate(db, raw)
        with pytest.raises(TaskNotFound):
            service.task(outsider, sub.task_id)
        assert service.tasks(outsider) == []
    assert [t.task_id for t in service.tasks(auth)] == [sub.task_id]

"""The httpx SDK (pixelforge.client) and the CLI commands serve/generate."""

from __future__ import annotations

import socket
import threading
import time
from pathlib import Path

import pytest
import uvicorn
from PIL import Image
from typer.testing import CliRunner

from fakes import FakeEngine, Harness, make_settings
from pixelforge.cli import app as cli_app
from pixelforge.client import ApiError, Client, InsufficientBalance


def test_client_against_the_in_process_app(h: Harness, key: str):
    rd = Client(api_key=key, http=h.client)
    assert rd.check_cost("x", style="rd_fast__default", width=64, height=64) == 0.017
    result = rd.generate("x", style="rd_fast__default", width=64, height=64, num_images=2, seed=1)
    pngs = Client.images(result)
    assert len(pngs) == 2 and all(p.startswith(b"\x89PNG") for p in pngs)
    task_id = rd.submit("x", width=64, height=64)
    assert rd.wait(task_id, poll_s=0.05, timeout=20)["balance_cost"] == 0.017
    assert rd.tasks()[0]["task_id"] == task_id
    assert rd.credits()["balance"] == pytest.approx(10 - 0.035 - 0.017)
    assert rd.styles(model="rd_pro")[0]["required_model"] == "rd_pro"
    assert rd.status()["engine"] == "fake"
    with pytest.raises(ApiError) as err:
        rd.generate("x", style="rd_fast__nope")
    assert err.value.status == 404 and err.value.code == "style_not_found"
    poor = Client(api_key=h.new_key("0.001"), http=h.client)
    with pytest.raises(InsufficientBalance):
        poor.generate("x", width=64, height=64)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_generate_cli_against_a_running_server(data_dir: Path, tmp_path: Path):
    from pixelforge.api import create_app
    from pixelforge.store import Database, keys, usd_to_micros

    port = _free_port()
    settings = make_settings(data_dir, port=port)
    server = uvicorn.Server(
        uvicorn.Config(create_app(settings, FakeEngine()), port=port, log_level="warning")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 30
        while not server.started and time.monotonic() < deadline:
            time.sleep(0.05)
        db = Database.from_settings(settings)  # keys created while the server runs work at once
        account = keys.create_account(db, "cli", initial_micros=usd_to_micros("1"))
        _, raw = keys.create_key(db, account.id, "cli")
        db.dispose()
        out = tmp_path / "sprite.png"
        args = [
            "generate",
            "a red potion",
            "--style",
            "rd_plus__mc_item",
            "-W",
            "32",
            "-H",
            "32",
            "-o",
            str(out),
        ]
        result = CliRunner().invoke(
            cli_app,
            [*args, "--num", "2", "--seed", "3", "--url", f"http://127.0.0.1:{port}"],
            env={"PIXELFORGE_API_KEY": raw},
        )
        assert result.exit_code == 0, result.output
        files = [tmp_path / "sprite-0.png", tmp_path / "sprite-1.png"]
        assert [Image.open(f).size for f in files] == [(32, 32), (32, 32)]
        assert "cost $0.049" in result.output  # low-res formula, 2 images
        bad = CliRunner().invoke(cli_app, [*args, "--url", f"http://127.0.0.1:{port}", "--key", "rdpk-nope"])
        assert bad.exit_code == 1 and "401" in bad.output
    finally:
        server.should_exit = True
        thread.join(10)


def test_generate_cli_in_process(data_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    from pixelforge import engines

    monkeypatch.setitem(engines.ENGINE_FACTORIES, "fake", "fakes:create_engine")
    out = tmp_path / "o.png"
    args = [
        "generate",
        "stone bricks",
        "-W",
        "64",
        "-H",
        "80",
        "-o",
        str(out),
        "--engine",
        "fake",
        "--upscale",
        "2",
    ]
    result = CliRunner().invoke(cli_app, args)
    assert result.exit_code == 0, result.output
    assert Image.open(out).size == (128, 160)
    assert "nothing charged" in result.output
    bad = CliRunner().invoke(cli_app, ["generate", "x", "-W", "8", "-H", "8", "--engine", "fake"])
    assert bad.exit_code == 1 and "width 8" in bad.output


def test_serve_cli_is_registered():
    result = CliRunner().invoke(cli_app, ["serve", "--help"])
    assert result.exit_code == 0
    for flag in ("--host", "--port", "--data-dir", "--engine"):
        assert flag in result.output

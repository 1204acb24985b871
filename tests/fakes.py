"""Test doubles for the API/service/jobs tests (the real engines have their own tests).

``FakeEngine`` honours the engine contract (engines/base.py): ``num_images`` RGBA uint8 arrays of
(height, width, 4); image i of seed s equals image 0 of seed s+i; the cancel token is checked at
every "step". Knobs make it fail, block until released, or declare other capabilities.
"""

from __future__ import annotations

import base64
import io
import struct
import threading
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from pixelforge.config import Settings
from pixelforge.engines import (
    CancelToken,
    EngineCapabilities,
    EngineError,
    GenerationRequest,
    UnsupportedFeature,
)


class FakeEngine:
    name = "fake"

    def __init__(
        self,
        capabilities: EngineCapabilities | None = None,
        *,
        fail: Exception | None = None,
        steps: int = 3,
    ) -> None:
        self._caps = capabilities or EngineCapabilities(
            img2img=True, max_reference_images=0, tiling=True, min_size=1, max_size=1024
        )
        self.fail = fail
        self.steps = steps
        self.calls: list[GenerationRequest] = []
        self.gate: threading.Event | None = None  # when set: generate() waits for it
        self.started = threading.Event()
        self._lock = threading.Lock()

    def capabilities(self) -> EngineCapabilities:
        return self._caps

    def image(self, request: GenerationRequest, index: int) -> np.ndarray:
        rng = np.random.default_rng(request.image_seed(index))
        img = rng.integers(0, 256, size=(request.height, request.width, 4), dtype=np.uint8)
        img[..., 3] = 255
        return img

    def generate(
        self,
        request: GenerationRequest,
        cancel: CancelToken | None = None,
        progress: Any = None,
    ) -> list[np.ndarray]:
        with self._lock:
            self.calls.append(request)
        self.started.set()
        if request.reference_images and len(request.reference_images) > self._caps.max_reference_images:
            raise UnsupportedFeature("reference_images", self.name)
        for step in range(self.steps):
            if self.gate is not None:
                while not self.gate.wait(0.05):
                    if cancel is not None:
                        cancel.raise_if_cancelled()
            if cancel is not None:
                cancel.raise_if_cancelled()
            if progress is not None:
                progress((step + 1) / self.steps)
        if self.fail is not None:
            raise self.fail
        return [self.image(request, i) for i in range(request.num_images)]

    def close(self) -> None:
        pass


def failing_engine() -> FakeEngine:
    return FakeEngine(fail=EngineError("boom"))


def png_b64(
    width: int = 8, height: int = 8, color: tuple[int, int, int] = (200, 30, 30), mode: str = "RGB"
) -> str:
    buf = io.BytesIO()
    Image.new(mode, (width, height), color).save(buf, format="PNG")
    return base64.b64encode(buf.getvalue()).decode()


def bomb_png_b64(width: int = 100_000, height: int = 100_000) -> str:
    """A tiny PNG whose header claims ``width`` x ``height`` pixels (a decompression bomb)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data))
            + kind
            + data
            + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
        )

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    idat = zlib.compress(b"\x00" * 1024)
    raw = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")
    return base64.b64encode(raw).decode()


def make_settings(data_dir: Path, **overrides: Any) -> Settings:
    values: dict[str, Any] = {"data_dir": data_dir, "rate_limit_per_minute": 0, "job_workers": 2}
    values.update(overrides)
    return Settings(**values)


@dataclass
class Harness:
    client: Any  # fastapi.testclient.TestClient
    ctx: Any  # pixelforge.api.deps.AppContext
    engine: FakeEngine

    def new_key(self, balance_usd: str | float = "10", name: str = "test") -> str:
        from pixelforge.store import keys, usd_to_micros

        account = keys.create_account(self.ctx.db, name, initial_micros=usd_to_micros(balance_usd))
        _, raw = keys.create_key(self.ctx.db, account.id, name)
        return raw

    def account_of(self, key: str) -> str:
        from pixelforge.store import keys

        auth = keys.authenticate(self.ctx.db, key)
        assert auth is not None
        return auth.account_id

    def balance(self, key: str) -> int:
        from pixelforge.store import ledger

        return ledger.balance(self.ctx.db, self.account_of(key))

    def post(self, key: str, payload: dict[str, Any], path: str = "/v1/inferences") -> Any:
        return self.client.post(path, headers={"X-RD-Token": key}, json=payload)


@contextmanager
def harness(settings: Settings, engine: FakeEngine | None = None) -> Iterator[Harness]:
    from fastapi.testclient import TestClient

    from pixelforge.api import create_app

    engine = engine or FakeEngine()
    app = create_app(settings, engine=engine)
    with TestClient(app, raise_server_exceptions=False) as client:
        yield Harness(client=client, ctx=app.state.ctx, engine=engine)


__all__ = [
    "FakeEngine",
    "Harness",
    "bomb_png_b64",
    "failing_engine",
    "harness",
    "make_settings",
    "png_b64",
    "replace",
]


def create_engine(settings: Settings) -> FakeEngine:
    """Engine factory for ENGINE_FACTORIES["fake"] = "fakes:create_engine" (CLI tests)."""
    return FakeEngine()

"""Holds the one engine of this process: injected (tests) or loaded lazily on first use."""

from __future__ import annotations

import threading
from typing import Any

from pixelforge.config import Settings
from pixelforge.engines import Engine, EngineCapabilities, load_engine


class EngineHolder:
    def __init__(self, settings: Settings, engine: Engine | None = None) -> None:
        self.settings = settings
        self._engine = engine
        self._error: Exception | None = None
        self._lock = threading.Lock()

    @property
    def name(self) -> str:
        return getattr(self._engine, "name", None) or self.settings.engine

    @property
    def loaded(self) -> bool:
        return self._engine is not None

    @property
    def error(self) -> Exception | None:
        return self._error

    def get(self) -> Engine:
        """The engine, loading it on first call; re-raises the load error (EngineUnavailable, ...)."""
        if self._engine is not None:
            return self._engine
        with self._lock:
            if self._engine is None:
                try:
                    self._engine = load_engine(self.settings.engine, self.settings)
                    self._error = None
                except Exception as exc:
                    self._error = exc
                    raise
            return self._engine

    def capabilities(self) -> EngineCapabilities:
        return self.get().capabilities()

    def close(self) -> None:
        engine: Any = self._engine
        self._engine = None
        if engine is not None:
            engine.close()

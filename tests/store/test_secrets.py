from __future__ import annotations

import stat
import threading
from pathlib import Path

from pixelforge.store import secrets


def test_signing_key_created_once_with_0600(tmp_path: Path) -> None:
    key = secrets.signing_key(tmp_path / "data")
    path = tmp_path / "data" / secrets.SIGNING_KEY_FILENAME
    assert len(key) == 32
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert secrets.signing_key(tmp_path / "data") == key
    assert secrets.signing_key(tmp_path / "other") != key


def test_concurrent_first_use_agrees_on_one_key(tmp_path: Path) -> None:
    results: list[bytes] = []
    barrier = threading.Barrier(8)

    def get() -> None:
        barrier.wait()
        results.append(secrets.signing_key(tmp_path))

    threads = [threading.Thread(target=get) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(results) == 8 and len(set(results)) == 1
    assert [p.name for p in tmp_path.iterdir()] == [secrets.SIGNING_KEY_FILENAME]

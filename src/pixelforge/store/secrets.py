"""The server's URL-signing secret: 32 random bytes, created once in ``<data_dir>/signing.key``
with mode 0600 and reused afterwards (several processes may race to create it; one wins and all
read the same bytes)."""

from __future__ import annotations

import contextlib
import os
import secrets as _random
from pathlib import Path

SIGNING_KEY_FILENAME = "signing.key"


def signing_key(data_dir: Path | str) -> bytes:
    path = Path(data_dir) / SIGNING_KEY_FILENAME
    try:
        return _read(path)
    except FileNotFoundError:
        pass
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{SIGNING_KEY_FILENAME}.{os.getpid()}.{_random.token_hex(4)}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "w") as fh:
            fh.write(_random.token_hex(32) + "\n")
            fh.flush()
            os.fsync(fh.fileno())
        # link() fails when the file exists: the first writer wins, complete, never half-written.
        with contextlib.suppress(FileExistsError):
            os.link(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return _read(path)


def _read(path: Path) -> bytes:
    text = path.read_text().strip()
    key = bytes.fromhex(text)
    if len(key) < 32:
        raise ValueError(f"{path} holds a signing key shorter than 32 bytes")
    return key

"""Signed, expiring output URLs: ``/v1/files/{file_id}?expires=<unix>&signature=<hmac>``.

The signature is HMAC-SHA256 over ``"{file_id}:{expires}"`` with the server's secret
(``store.secrets.signing_key(data_dir)``), so a URL cannot be forged, extended or pointed at another
file; file ids are random too. The URL is the only way to read a file.
"""

from __future__ import annotations

import base64
import hashlib
import hmac


class UrlSigner:
    def __init__(self, secret: bytes, base_url: str | None = None) -> None:
        self._secret = secret
        self.base_url = base_url.rstrip("/") if base_url else None

    def signature(self, file_id: str, expires: int) -> str:
        mac = hmac.new(self._secret, f"{file_id}:{expires}".encode(), hashlib.sha256).digest()
        return base64.urlsafe_b64encode(mac).rstrip(b"=").decode()

    def path(self, file_id: str, expires: int) -> str:
        return f"/v1/files/{file_id}?expires={expires}&signature={self.signature(file_id, expires)}"

    def url(self, file_id: str, expires: int, request_base: str = "") -> str:
        """Absolute URL: on PIXELFORGE_PUBLIC_BASE_URL when set, else on the base URL the client used."""
        return (self.base_url or request_base.rstrip("/")) + self.path(file_id, expires)

    def verify(self, file_id: str, expires: int, signature: str) -> bool:
        expected = self.signature(file_id, expires).encode()
        return hmac.compare_digest(expected, signature.encode("utf-8", "replace"))

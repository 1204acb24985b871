"""A small synchronous SDK for a pixelforge (or RetroDiffusion) server, on httpx.

    from pixelforge.client import Client
    with Client("http://127.0.0.1:8765", api_key="rdpk-...") as rd:
        result = rd.generate("a red potion", style="rd_plus__mc_item", width=32, height=32)
        pngs = Client.images(result)

Errors: every non-2xx answer raises :class:`ApiError` (``status``, ``code``, ``message``), or one of
its subclasses :class:`InsufficientBalance` and :class:`RateLimited` (``retry_after`` seconds).
Pass ``http=`` an ``httpx.Client`` (e.g. FastAPI's TestClient) to talk to an in-process app.
"""

from __future__ import annotations

import base64
import os
import time
from collections.abc import Callable
from typing import Any

import httpx

DEFAULT_URL = "http://127.0.0.1:8765"


class ApiError(Exception):
    def __init__(self, status: int, code: str, message: str, body: Any = None) -> None:
        super().__init__(f"{status} {code}: {message}")
        self.status = status
        self.code = code
        self.message = message
        self.body = body


class InsufficientBalance(ApiError):
    pass


class RateLimited(ApiError):
    def __init__(self, status: int, code: str, message: str, body: Any, retry_after: float) -> None:
        super().__init__(status, code, message, body)
        self.retry_after = retry_after


def _error(response: httpx.Response) -> ApiError:
    try:
        body = response.json()
    except ValueError:
        body = response.text
    detail = body.get("detail") if isinstance(body, dict) else None
    if isinstance(detail, dict):
        code, message = str(detail.get("code", "error")), str(detail.get("message", ""))
    elif isinstance(detail, list) and detail:
        message = "; ".join(str(d.get("msg", d)) if isinstance(d, dict) else str(d) for d in detail)
        code = "insufficient_balance" if "balance" in message.lower() else "validation_error"
    else:
        code, message = "error", str(detail or body)
    if response.status_code == 429:
        retry = float(response.headers.get("Retry-After", "1") or 1)
        return RateLimited(429, code, message, body, retry)
    if code == "insufficient_balance":
        return InsufficientBalance(response.status_code, code, message, body)
    return ApiError(response.status_code, code, message, body)


class Client:
    def __init__(
        self,
        base_url: str | None = None,
        api_key: str | None = None,
        *,
        timeout: float = 600.0,
        http: httpx.Client | None = None,
    ) -> None:
        self.api_key = api_key if api_key is not None else os.environ.get("PIXELFORGE_API_KEY")
        self._own = http is None
        self.http = http or httpx.Client(base_url=(base_url or DEFAULT_URL).rstrip("/"), timeout=timeout)

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        if self._own:
            self.http.close()

    # ------------------------------------------------------------------ plumbing
    def _headers(self) -> dict[str, str]:
        return {"X-RD-Token": self.api_key} if self.api_key else {}

    def request(self, method: str, path: str, **kwargs: Any) -> Any:
        response = self.http.request(method, path, headers=self._headers(), **kwargs)
        if response.status_code >= 400:
            raise _error(response)
        return response.json()

    @staticmethod
    def payload(
        prompt: str,
        style: str | None = None,
        width: int | None = None,
        height: int | None = None,
        num_images: int = 1,
        seed: int | None = None,
        **fields: Any,
    ) -> dict[str, Any]:
        body: dict[str, Any] = {"prompt": prompt, "num_images": num_images}
        for name, value in (("prompt_style", style), ("width", width), ("height", height), ("seed", seed)):
            if value is not None:
                body[name] = value
        body.update({k: v for k, v in fields.items() if v is not None})
        return body

    # ------------------------------------------------------------------ the API
    def generate(self, prompt: str, **kwargs: Any) -> dict[str, Any]:
        """POST /v1/inferences and wait: the RD response (``base64_images``, ``balance_cost``, ...)."""
        return self.request("POST", "/v1/inferences", json=self.payload(prompt, **kwargs))

    def check_cost(self, prompt: str, **kwargs: Any) -> float:
        """The exact price in USD; nothing is generated or charged."""
        body = self.payload(prompt, **kwargs) | {"check_cost": True}
        return float(self.request("POST", "/v1/inferences", json=body)["balance_cost"])

    def submit(self, prompt: str, **kwargs: Any) -> str:
        """Queue a generation (``async: true``); returns the task id."""
        body = self.payload(prompt, **kwargs) | {"async": True}
        return str(self.request("POST", "/v1/inferences", json=body)["task_id"])

    def task(self, task_id: str) -> dict[str, Any]:
        return self.request("GET", f"/v1/inferences/tasks/{task_id}")

    def tasks(self, limit: int = 20) -> list[dict[str, Any]]:
        return list(self.request("GET", "/v1/inferences/tasks", params={"limit": limit})["tasks"])

    def wait(
        self,
        task_id: str,
        *,
        poll_s: float = 0.5,
        timeout: float | None = None,
        on_update: Callable[[dict[str, Any]], None] | None = None,
    ) -> dict[str, Any]:
        """Poll a task until it ends; returns its ``result`` or raises ApiError with its error."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            task = self.task(task_id)
            if on_update is not None:
                on_update(task)
            if task["status"] == "succeeded":
                return task["result"]
            if task["status"] == "failed":
                err = task.get("error") or {}
                raise ApiError(
                    int(err.get("status_code", 500)), "inference_failed", str(err.get("detail")), task
                )
            if deadline is not None and time.monotonic() > deadline:
                raise TimeoutError(f"task {task_id} still {task['status']} after {timeout} s")
            time.sleep(poll_s)

    def credits(self) -> dict[str, Any]:
        return self.request("GET", "/v1/inferences/credits")

    def styles(self, model: str | None = None, tab: str | None = None) -> list[dict[str, Any]]:
        params = {k: v for k, v in (("model", model), ("tab", tab)) if v}
        return list(self.request("GET", "/v1/styles/selector", params=params))

    def status(self) -> dict[str, Any]:
        return self.request("GET", "/v1/status")

    def download(self, url: str) -> bytes:
        response = self.http.get(url)
        if response.status_code >= 400:
            raise _error(response)
        return response.content

    @staticmethod
    def images(result: dict[str, Any]) -> list[bytes]:
        """The decoded images (PNG bytes) of a response that carries ``base64_images``."""
        return [base64.b64decode(b) for b in result.get("base64_images") or []]


__all__ = ["DEFAULT_URL", "ApiError", "Client", "InsufficientBalance", "RateLimited"]

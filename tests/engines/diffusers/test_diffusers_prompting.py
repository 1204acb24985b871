"""Prompt expansion: template always, LLM when configured and asked for, fallback on any failure."""

from __future__ import annotations

import json
import socket
import threading

import httpx
import numpy as np
import pytest

from pixelforge.engines import GenerationRequest
from pixelforge.engines.diffusers.prompting import PromptExpander, apply_template

TEMPLATE = "pixel art, {prompt}, crisp"


def chat_answer(content: str):
    calls: list[dict] = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append({"url": str(request.url), "body": json.loads(request.content), **dict(request.headers)})
        return httpx.Response(200, json={"choices": [{"message": {"role": "assistant", "content": content}}]})

    return httpx.MockTransport(handler), calls


def test_template_applies_without_llm_and_braces_in_prompts_are_harmless():
    assert PromptExpander().expand("a {weird} cat", TEMPLATE) == "pixel art, a {weird} cat, crisp"
    assert apply_template("{prompt}", "  x ") == "x"


def test_llm_expansion_goes_through_the_openai_chat_route():
    transport, calls = chat_answer('  "red potion bottle, glowing, cork stopper"  ')
    exp = PromptExpander("http://llm.local/v1/", model="qwen", api_key="k", timeout_s=1, transport=transport)
    out = exp.expand("red potion", TEMPLATE, hint="Items are centred.")
    assert out == "pixel art, red potion bottle, glowing, cork stopper, crisp"
    (call,) = calls
    assert call["url"] == "http://llm.local/v1/chat/completions"
    assert call["body"]["model"] == "qwen" and call["authorization"] == "Bearer k"
    assert call["body"]["messages"][-1] == {"role": "user", "content": "red potion"}
    assert "Items are centred." in call["body"]["messages"][0]["content"]


def test_bypass_skips_the_llm():
    transport, calls = chat_answer("never used")
    exp = PromptExpander("http://llm.local/v1", transport=transport)
    assert exp.expand("red potion", TEMPLATE, use_llm=False) == "pixel art, red potion, crisp"
    assert calls == []


@pytest.mark.parametrize(
    "handler",
    [
        lambda r: (_ for _ in ()).throw(httpx.ReadTimeout("timed out", request=r)),
        lambda r: httpx.Response(500, text="boom"),
        lambda r: httpx.Response(200, text="not json"),
        lambda r: httpx.Response(200, json={"choices": []}),
        lambda r: httpx.Response(200, json={"choices": [{"message": {"content": "   "}}]}),
    ],
    ids=["timeout", "http-500", "not-json", "no-choices", "empty"],
)
def test_failures_fall_back_to_the_template(handler):
    exp = PromptExpander("http://llm.local/v1", transport=httpx.MockTransport(handler))
    assert exp.expand("red potion", TEMPLATE) == "pixel art, red potion, crisp"
    assert exp.last_fallback_reason


def test_real_timeout_against_a_silent_local_server():
    """A server on 127.0.0.1 that accepts and never answers: the client times out and falls back."""
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen()
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        srv.settimeout(0.1)
        while not stop.is_set():
            try:
                held.append(srv.accept()[0])
            except TimeoutError:
                continue

    t = threading.Thread(target=accept, daemon=True)
    t.start()
    try:
        port = srv.getsockname()[1]
        exp = PromptExpander(f"http://127.0.0.1:{port}/v1", timeout_s=0.3)
        assert exp.expand("red potion", TEMPLATE) == "pixel art, red potion, crisp"
        assert "Timeout" in (exp.last_fallback_reason or "")
    finally:
        stop.set()
        t.join()
        for c in held:
            c.close()
        srv.close()


def test_engine_uses_expansion_and_survives_a_timing_out_llm(engine, monkeypatch):
    req = GenerationRequest(prompt="a red potion", width=16, height=16, seed=3, style_id="rd_fast__default")
    plain = engine.generate(GenerationRequest(**{**req.__dict__, "expand_prompt": False}))[0]

    def timeout(r: httpx.Request) -> httpx.Response:
        raise httpx.ConnectTimeout("timed out", request=r)

    monkeypatch.setattr(
        engine, "expander", PromptExpander("http://llm.local/v1", transport=httpx.MockTransport(timeout))
    )
    assert np.array_equal(engine.generate(req)[0], plain), "fallback = the style template alone"

    transport, calls = chat_answer("a red potion, glowing purple liquid, cork, sparkles")
    monkeypatch.setattr(engine, "expander", PromptExpander("http://llm.local/v1", transport=transport))
    expanded = engine.generate(req)[0]
    assert len(calls) == 1 and not np.array_equal(expanded, plain), "the expanded prompt is used"
    engine.generate(GenerationRequest(**{**req.__dict__, "expand_prompt": False}))
    assert len(calls) == 1, "bypass_prompt_expansion skips the LLM"

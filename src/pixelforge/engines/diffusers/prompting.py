"""Prompt expansion: the style template always applies; an optional LLM rewrites the user's words.

The LLM is any OpenAI-compatible chat endpoint the operator runs (llama.cpp server, vLLM, Ollama):
``POST {base_url}/chat/completions``. Any failure (timeout, connection, bad status, odd JSON, empty
answer) falls back to the user's prompt, so expansion can only ever add to a request, never fail it.
"""

from __future__ import annotations

import logging

import httpx

log = logging.getLogger(__name__)

SYSTEM_PROMPT = (
    "You expand short requests into prompts for a pixel-art image model. Answer with one line of "
    "comma-separated visual keywords (subject, pose, colours, lighting, composition), at most 60 words. "
    "Keep the user's subject first. No sentences, no quotes, no style names."
)
MAX_EXPANDED_CHARS = 600


def apply_template(template: str, prompt: str) -> str:
    """``template`` with ``{prompt}`` replaced (plain replacement: braces in prompts are harmless)."""
    return template.replace("{prompt}", prompt.strip())


class PromptExpander:
    """Template + optional LLM expansion with a timeout and a fallback."""

    def __init__(
        self,
        base_url: str | None = None,
        model: str = "default",
        api_key: str | None = None,
        timeout_s: float = 10.0,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/") if base_url else None
        self.model = model
        self.api_key = api_key
        self.timeout_s = timeout_s
        self._transport = transport
        self.last_fallback_reason: str | None = None

    @property
    def llm_enabled(self) -> bool:
        return self.base_url is not None

    def expand(self, prompt: str, template: str, use_llm: bool = True, hint: str | None = None) -> str:
        """The final prompt: LLM-expanded when enabled and asked for, then wrapped in ``template``."""
        text = prompt
        if use_llm and self.llm_enabled:
            text = self._llm(prompt, hint) or prompt
        return apply_template(template, text)

    def _llm(self, prompt: str, hint: str | None) -> str | None:
        system = SYSTEM_PROMPT + (f" {hint}" if hint else "")
        body = {
            "model": self.model,
            "messages": [{"role": "system", "content": system}, {"role": "user", "content": prompt}],
            "temperature": 0.7,
            "max_tokens": 160,
        }
        headers = {"Authorization": f"Bearer {self.api_key}"} if self.api_key else {}
        try:
            with httpx.Client(timeout=self.timeout_s, transport=self._transport) as client:
                resp = client.post(f"{self.base_url}/chat/completions", json=body, headers=headers)
                resp.raise_for_status()
                content = resp.json()["choices"][0]["message"]["content"]
        except (httpx.HTTPError, KeyError, IndexError, TypeError, ValueError) as exc:
            self.last_fallback_reason = f"{type(exc).__name__}: {exc}"
            log.warning("prompt expansion failed, using the template only: %s", self.last_fallback_reason)
            return None
        text = " ".join(str(content).split()).strip(" \"'")
        if not text:
            self.last_fallback_reason = "empty answer"
            return None
        self.last_fallback_reason = None
        return text[:MAX_EXPANDED_CHARS]

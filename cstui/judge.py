"""The LLM judge client: litellm, imported only when a judge runs, against any provider or a local
server in an air-gapped network.

- Settings come from flags, then `cstui.toml`, then the environment (`CSTUI_JUDGE_MODEL`,
  `CSTUI_JUDGE_API_BASE`); the key from the provider's usual environment variable or the OS keyring
  (`cstui auth set PROVIDER`). Keys are never written to the database, logs or exports, and error
  messages are scrubbed of them.
- Calls are async with bounded concurrency, a timeout, and retries with exponential backoff on rate
  limits, timeouts and unreachable servers; an authentication failure stops the run at once.
- Every completion is cached in the store by (model, prompt version, step, input hash): an identical
  rerun makes no calls.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import random
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import orjson

if TYPE_CHECKING:
    from cstui.store import Store

KEYRING_SERVICE = "cstui"
PROVIDER_ENV = {
    "openai": "OPENAI_API_KEY", "anthropic": "ANTHROPIC_API_KEY", "azure": "AZURE_API_KEY",
    "gemini": "GEMINI_API_KEY", "mistral": "MISTRAL_API_KEY", "groq": "GROQ_API_KEY",
    "together_ai": "TOGETHERAI_API_KEY", "openrouter": "OPENROUTER_API_KEY", "ollama": "",
}


class JudgeError(Exception):
    """A judge call failed for good (after retries); the message never contains the key."""


class JudgeAuthError(JudgeError):
    pass


class JudgeUnreachable(JudgeError):
    pass


class SchemaRejected(Exception):
    """The endpoint refused a request carrying response_format."""


def provider_of(model: str) -> str:
    return model.split("/", 1)[0] if "/" in model else "openai"


def keyring_key(provider: str) -> str | None:
    try:
        import keyring

        return keyring.get_password(KEYRING_SERVICE, provider)
    except Exception:  # no keyring backend on this machine (headless CI, containers)
        return None


@dataclass
class JudgeSettings:
    model: str
    api_base: str | None = None
    api_key: str | None = field(default=None, repr=False)
    concurrency: int = 8
    timeout: float = 60.0
    retries: int = 3
    backoff: float = 0.5
    # "auto": ask for the verdict's JSON schema when litellm says the model supports it; "schema": always (a local
    # server litellm does not know, e.g. vLLM); "text": never (free text, then extract the JSON)
    response_format: str = "auto"

    @classmethod
    def resolve(cls, model: str | None, api_base: str | None, *, cfg: Any = None, concurrency: int | None = None,
                timeout: float | None = None) -> JudgeSettings:
        configured = cfg.judge_model if cfg else None
        model = model or configured or os.environ.get("CSTUI_JUDGE_MODEL")
        if not model:
            raise JudgeError("no judge model: pass --judge-model (e.g. openai/gpt-4.1-mini or ollama/llama3.1), "
                             "set judge_model in cstui.toml, or CSTUI_JUDGE_MODEL")
        # the config's endpoint belongs to the config's model: a model named on the command line must not send its
        # provider's key and every transcript to an endpoint set for another one
        config_base = cfg.judge_api_base if cfg and configured in (None, model) else None
        api_base = api_base or config_base or os.environ.get("CSTUI_JUDGE_API_BASE")
        provider = provider_of(model)
        env = PROVIDER_ENV.get(provider, f"{provider.upper()}_API_KEY")
        key = (os.environ.get(env) if env else None) or keyring_key(provider)
        return cls(model=model, api_base=api_base, api_key=key, concurrency=max(1, concurrency or 8),
                   timeout=timeout or 60.0, response_format=cfg.judge_response_format if cfg else "auto")

    def scrub(self, text: str) -> str:
        return text.replace(self.api_key, "[key]") if self.api_key else text


@dataclass
class Completion:
    text: str
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost_usd: float | None = None
    cached: bool = False
    schema: bool = False  # the reply was constrained to the verdict's JSON schema


def _litellm() -> Any:
    """Import litellm without letting it reach the internet (its price map ships with the package)."""
    os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
    os.environ.setdefault("LITELLM_TELEMETRY", "False")
    import litellm

    litellm.suppress_debug_info = True
    litellm.telemetry = False
    return litellm


def cache_key(model: str, prompt_version: str, step: str, messages: list[dict[str, str]],
              schema: dict[str, Any] | None = None) -> str:
    doc: dict[str, Any] = {"m": model, "p": prompt_version, "s": step, "x": messages}
    if schema is not None:  # a schema-constrained reply is a different completion; keys without one are unchanged
        doc["r"] = schema
    return hashlib.sha256(orjson.dumps(doc, option=orjson.OPT_SORT_KEYS)).hexdigest()


@dataclass(frozen=True)
class ReplySchema:
    """The JSON schema a judge's verdict must follow, sent as `response_format` where the model supports it."""

    name: str
    schema: dict[str, Any]

    def response_format(self) -> dict[str, Any]:
        return {"type": "json_schema", "json_schema": {"name": self.name, "schema": self.schema}}


class JudgeClient:
    """Bounded-concurrency completions with retries and a store-backed cache; counts calls and cost."""

    def __init__(self, settings: JudgeSettings, store: Store | None = None):
        self.settings = settings
        self.store = store
        self.calls = 0
        self.cache_hits = 0
        self.cost_usd = 0.0
        self.prompt_tokens = 0
        self.completion_tokens = 0
        self._semaphore: asyncio.Semaphore | None = None
        self._litellm: Any = None
        self._fatal: JudgeError | None = None  # a bad key or dead endpoint stops every later call at once
        self._schema_ok: bool | None = None  # decided on the first call that offers a schema

    async def uses_schema(self) -> bool:
        """Whether replies that have a schema are constrained to it (see JudgeSettings.response_format)."""
        if self._schema_ok is None:
            mode = self.settings.response_format
            if mode in ("schema", "text"):
                self._schema_ok = mode == "schema"
            else:
                lit = await self._lit()
                try:
                    self._schema_ok = bool(lit.supports_response_schema(model=self.settings.model))
                except Exception:  # a model litellm cannot place: the text path always works
                    self._schema_ok = False
        return self._schema_ok

    async def _lit(self) -> Any:
        if self._litellm is None:
            self._litellm = await asyncio.to_thread(_litellm)  # a multi-second import: off the event loop
        return self._litellm

    async def complete(self, messages: list[dict[str, str]], *, prompt_version: str, step: str,
                       schema: ReplySchema | None = None) -> Completion:
        """One completion, cached; with `schema`, constrained to it when the model supports that."""
        if schema is not None and not await self.uses_schema():
            schema = None
        key = cache_key(self.settings.model, prompt_version, step, messages,
                        schema.response_format() if schema else None)
        if self.store is not None and (hit := self.store.judge_cache_get(key)) is not None:
            self.cache_hits += 1
            return Completion(text=hit["text"], prompt_tokens=hit["prompt_tokens"],
                              completion_tokens=hit["completion_tokens"], cost_usd=hit["cost_usd"], cached=True,
                              schema=schema is not None)
        if self._semaphore is None:
            self._semaphore = asyncio.Semaphore(self.settings.concurrency)
        async with self._semaphore:
            if self._fatal is not None:
                raise self._fatal
            result: Completion | None = None
            try:
                if schema is None or self._schema_ok:  # not refused by a call that went first
                    result = await self._call_with_retries(messages, schema)
            except SchemaRejected:
                pass
            except (JudgeAuthError, JudgeUnreachable) as exc:
                self._fatal = exc
                raise
        if result is None:
            # the endpoint does not take response_format after all (a local server behind a known model name):
            # free text for this and every later call
            self._schema_ok = False
            return await self.complete(messages, prompt_version=prompt_version, step=step)
        result.schema = schema is not None
        if self.store is not None:
            self.store.judge_cache_put(key, self.settings.model, prompt_version, step, result)
        return result

    async def _call_with_retries(self, messages: list[dict[str, str]], schema: ReplySchema | None = None
                                 ) -> Completion:
        lit = await self._lit()
        s = self.settings
        extra = {"response_format": schema.response_format()} if schema else {}
        retryable = (lit.RateLimitError, lit.Timeout, lit.APIConnectionError, lit.InternalServerError,
                     lit.ServiceUnavailableError)
        last: Exception | None = None
        for attempt in range(s.retries + 1):
            try:
                self.calls += 1
                response = await lit.acompletion(
                    model=s.model, messages=messages, api_base=s.api_base, api_key=s.api_key or "no-key",
                    timeout=s.timeout, num_retries=0, max_retries=0, temperature=0, **extra,
                )
                return self._completion(response)
            except lit.AuthenticationError:
                raise JudgeAuthError(f"authentication failed for {s.model}"
                                     f"{' at ' + s.api_base if s.api_base else ''}: check the key "
                                     f"(`cstui auth set {provider_of(s.model)}` or its environment variable)"
                                     ) from None
            except retryable as exc:
                last = exc
                if attempt < s.retries:
                    await asyncio.sleep(s.backoff * (2 ** attempt) * (0.5 + random.random()))
            except lit.BadRequestError as exc:
                if schema is not None and s.response_format == "auto":
                    raise SchemaRejected from None
                raise JudgeError(f"the judge endpoint rejected the request: {s.scrub(str(exc))[:300]}") from None
        kind = type(last).__name__ if last else "error"
        if last is not None and _is_connection_error(last) and not isinstance(last, lit.Timeout):
            raise JudgeUnreachable(f"cannot reach the judge endpoint {s.api_base or s.model} after "
                                   f"{s.retries + 1} attempts ({kind})") from None
        raise JudgeError(f"judge call failed after {s.retries + 1} attempts: {kind}: "
                         f"{s.scrub(str(last))[:200]}") from None

    def _completion(self, response: Any) -> Completion:
        text = response.choices[0].message.content or ""
        usage = getattr(response, "usage", None)
        prompt = int(getattr(usage, "prompt_tokens", 0) or 0)
        completion = int(getattr(usage, "completion_tokens", 0) or 0)
        try:
            cost = float(self._litellm.completion_cost(completion_response=response))
        except Exception:  # a model without a price (local servers): tokens are still recorded
            cost = None
        self.prompt_tokens += prompt
        self.completion_tokens += completion
        self.cost_usd += cost or 0.0
        return Completion(text=text, prompt_tokens=prompt, completion_tokens=completion, cost_usd=cost)


def _is_connection_error(exc: BaseException) -> bool:
    """litellm reports a refused connection as an InternalServerError; look at what caused it."""
    seen = 0
    node: BaseException | None = exc
    while node is not None and seen < 10:
        name = type(node).__name__
        if name in ("APIConnectionError", "ConnectError", "ConnectionRefusedError") or "Connection error" in str(node):
            return True
        node = node.__cause__ or node.__context__
        seen += 1
    return False

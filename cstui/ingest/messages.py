"""Chat messages, however a framework wrote them, and the tool calls inside them.

Every trace importer funnels through here, so the rules that decide what a conversation is are written
once (the contract is docs/formats.md, "Messages and tool calls"):

- `normalize` reads the message shapes Langfuse's ChatML view reads (OpenAI chat and Responses,
  Anthropic content blocks, Gemini `contents/parts`, Pydantic AI and Microsoft Agent Framework parts,
  Vercel AI SDK content items, LangChain/LangGraph dumps, Koog's JSON-in-text tool calls, Agno's Python
  reprs, "role: text" transcripts) into one `Message` list.
- `build_conversation` turns messages into turns and tool calls. A call's span id is unique in its
  session whatever the source's ids do; a result belongs to the most recent earlier call with its id that
  has no result yet; a result that answers no call is kept as an orphan span, never dropped.
- `merge_histories` joins the histories that consecutive LLM calls resend, so each message appears once.
- `link_recorded` lets a recorded tool execution win over the same call read from a replayed history.
"""

from __future__ import annotations

import ast
import contextlib
import json
import re
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any

import orjson

from cstui.ingest.records import embedded_json

ROLES = {
    "user": "customer", "human": "customer", "customer": "customer", "humanmessage": "customer",
    "assistant": "assistant", "ai": "assistant", "model": "assistant", "bot": "assistant", "aimessage": "assistant",
    "aimessagechunk": "assistant", "system": "system", "developer": "system", "systemmessage": "system",
    "tool": "tool", "function": "tool", "toolmessage": "tool", "ipython": "tool", "agent": "agent",
}
_TEXT_PARTS = ("text", "output_text", "input_text")
_AI_SDK_OUTPUTS = ("text", "json", "error-text", "error-json", "content")
_REASONING = re.compile(r"reasoning|thinking|thought", re.I)  # "Microsoft.Extensions.AI.TextReasoningContent"
_METADATA_PARTS = ("step-start", "step_start", "start-step", "source", "sources", "cache_control")  # no content
SKIPPED_PARTS = ("thinking", "redacted_thinking", "reasoning", "image", "image_url", "input_image", "document",
                  "file", "audio", "input_audio", "refusal")


@dataclass
class ToolCall:
    name: str
    id: str | None = None
    arguments: Any = None


@dataclass
class Message:
    role: str  # native role: customer | assistant | agent | system | tool
    text: str = ""
    tool_calls: list[ToolCall] = field(default_factory=list)
    tool_call_id: str | None = None
    name: str | None = None
    error: bool | None = None  # a result the source flagged as failed (or not); None: judge by its text

    def fingerprint(self) -> tuple[str, str, tuple[str, ...]]:
        return self.role, " ".join(self.text.split()), tuple(c.name for c in self.tool_calls)


# ---------------------------------------------------------------------------------------------- accounting
@dataclass
class Ledger:
    """Where the source messages of one session went: kept, merged as a resent history, skipped as empty, or
    dropped (with the reason, which becomes an import warning). An import may lose nothing silently."""

    read: int = 0  # messages read (every history counted, with its repeats)
    replayed: int = 0  # the same message again in a later history (same role, text and calls: merge_histories)
    empty: int = 0  # assistant messages with neither text nor a call: nothing to keep
    omitted: dict[str, int] = field(default_factory=dict)  # parts not kept by design (images, thinking), by type
    dropped: list[str] = field(default_factory=list)  # what could not be read, and why
    seen: set[int] = field(default_factory=set, repr=False)

    def counts(self) -> dict[str, int]:
        return {"messages": self.read, "replayed": self.replayed, "empty": self.empty,
                "omitted_parts": sum(self.omitted.values()), "dropped": len(self.dropped)}

    def warnings(self) -> list[str]:
        return [f"dropped {reason}" for reason in self.dropped]


_LEDGER: ContextVar[Ledger | None] = ContextVar("cstui_import_ledger", default=None)


@contextmanager
def accounting() -> Iterator[Ledger]:
    """Collect, for the session being converted, what reading its messages kept and lost."""
    ledger = Ledger()
    token = _LEDGER.set(ledger)
    try:
        yield ledger
    finally:
        _LEDGER.reset(token)


def _first_sight(item: Any) -> Ledger | None:
    """The ledger being filled, unless it has already counted `item` (a value tried as two shapes counts once)."""
    ledger = _LEDGER.get()
    if ledger is None or id(item) in ledger.seen:
        return None
    ledger.seen.add(id(item))
    return ledger


def drop(reason: str, item: Any = None) -> None:
    """Record that `item` could not be read (an import warning); without an item, every call counts."""
    ledger = _LEDGER.get() if item is None else _first_sight(item)
    if ledger is not None:
        ledger.dropped.append(reason)


def omit(kind: str, item: Any) -> None:
    """Record a part not kept by design (an image, reasoning)."""
    if ledger := _first_sight(item):
        ledger.omitted[kind] = ledger.omitted.get(kind, 0) + 1


def accounted(doc: dict[str, Any], ledger: Ledger) -> dict[str, Any]:
    """A converted session with its ledger: the counts for the file summary, the drops as warnings."""
    doc["_accounting"] = ledger.counts()
    doc["_warnings"] = [*(doc.get("_warnings") or []), *ledger.warnings()]
    return doc


def count_read(n: int, *, replayed: int = 0) -> None:
    """An importer that reads messages itself (not through merge_histories) reports how many."""
    ledger = _LEDGER.get()
    if ledger is not None:
        ledger.read += n
        ledger.replayed += replayed


def shape(item: Any) -> str:
    """A short description of an unreadable item for a warning: its keys, never its content."""
    if isinstance(item, dict):
        keys = ", ".join(sorted(map(str, item))[:6])
        return f"an object with keys {{{keys}}}"
    return f"a {type(item).__name__}"


# ---------------------------------------------------------------------------------------------- reading
def parse_payload(value: Any) -> Any:
    """JSON (or a Python repr, as some SDKs log payloads) held in a string, parsed; anything else unchanged."""
    if isinstance(value, str) and len(value) > 1 and value[0] == value[-1] == '"':  # a JSON string literal
        with contextlib.suppress(orjson.JSONDecodeError):
            value = orjson.loads(value)
    parsed = embedded_json(value)
    if parsed is value and isinstance(value, str) and value.strip()[:1] in "[{":
        try:
            return ast.literal_eval(value.strip())
        except (ValueError, SyntaxError, MemoryError, RecursionError):
            return value
    return parsed


def text_of(value: Any) -> str:
    """A tool result or message body as text: strings as they are, structures as compact JSON."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False, default=str)


def normalize(value: Any) -> list[Message] | None:
    """The messages held in `value`, or None when it holds no conversation (a tool payload, a config)."""
    value = parse_payload(value)
    if isinstance(value, str):
        return transcript(value)
    if isinstance(value, dict):
        return _from_object(value)
    if isinstance(value, list):
        return _from_list(value)
    return None


def _system_of(obj: dict[str, Any]) -> list[Message]:
    """A request's own system prompt: Anthropic's `system` (text or blocks), the OpenAI Assistants / Responses
    `instructions`, the OTel GenAI `system_instructions` parts."""
    out = []
    for key in ("system", "instructions", "system_instructions", "systemInstruction"):
        value = parse_payload(obj.get(key))
        if isinstance(value, list):
            value = "\n".join(text_of(b.get("text", b.get("content"))) if isinstance(b, dict) else text_of(b)
                              for b in value)
        if isinstance(value, str) and value.strip():
            out.append(Message("system", value))
    return out


def _from_object(obj: dict[str, Any]) -> list[Message] | None:
    if "messages" in obj:
        inner = normalize(obj["messages"])
        if inner is not None:
            system = _system_of(obj)
            return system + inner if system and not any(m.role == "system" for m in inner) else inner
    if "input" in obj and ("instructions" in obj or "model" in obj):  # an OpenAI Responses request
        value = parse_payload(obj["input"])
        inner = [Message("customer", value)] if isinstance(value, str) else normalize(value)
        if inner is not None:
            return _system_of(obj) + inner
    if isinstance(obj.get("prompt"), str) and isinstance(obj.get("system"), str | list):  # Claude Agent SDK
        return [*_system_of(obj), Message("customer", obj["prompt"])]
    if "contents" in obj and "messages" not in obj:  # Gemini request / Google ADK input
        out: list[Message] = []
        config = obj.get("config") if isinstance(obj.get("config"), dict) else {}
        system = config.get("system_instruction") or config.get("systemInstruction")
        if isinstance(system, str) and system:
            out.append(Message("system", system))
        contents = parse_payload(obj["contents"])
        if isinstance(contents, str):
            out.append(Message("customer", contents))
        elif isinstance(contents, list):
            out.extend(m for item in contents if isinstance(item, dict) for m in (_message(item) or []))
        return out or None
    if isinstance(obj.get("candidates"), list) and obj["candidates"]:  # Gemini response
        first = obj["candidates"][0]
        content = first.get("content") if isinstance(first, dict) else None
        if isinstance(content, dict):
            return _message({"role": content.get("role") or "model", **content})
    if isinstance(obj.get("choices"), list):  # an OpenAI chat completion object
        out = [m for c in obj["choices"] if isinstance(c, dict) and isinstance(c.get("message"), dict)
               for m in (_message(c["message"]) or [])]
        return out or None
    if obj.get("object") == "response" and isinstance(obj.get("output"), list):  # OpenAI Responses
        return _from_list(obj["output"])
    if isinstance(obj.get("content"), dict) and isinstance(obj["content"].get("parts"), list):  # ADK output
        content = obj["content"]
        return _message({"role": content.get("role") or "model", "parts": content["parts"]})
    if _is_message(obj):
        return _message(obj)
    return None


def _from_list(items: list[Any]) -> list[Message] | None:
    if not items:
        return None
    if len(items) == 1 and isinstance(items[0], list):
        return _from_list(items[0])
    if all(isinstance(i, dict) and "toolCallId" in i and "toolName" in i for i in items):  # AI SDK raw calls
        return [Message("assistant", "", [ToolCall(str(i["toolName"]), str(i["toolCallId"]),
                                                   i.get("input", i.get("args"))) for i in items])]
    if all(isinstance(i, str) for i in items):  # Agno: "role='user' content='...' name=None ..."
        out = [m for m in (_repr_message(i) for i in items) if m is not None]
        return out if len(out) == len(items) else None
    out: list[Message] = []
    unread: list[tuple[int, Any]] = []
    for i, item in enumerate(items):
        parsed = _message(item) if isinstance(item, dict) else None
        if parsed is None and isinstance(item, dict) and _called_earlier(item.get("role"), out):
            # LangChain JS: a tool result whose role is the name of the tool just called, without a call id
            parsed = _message({**item, "role": "tool", "name": item["role"]})
        if parsed is None:
            unread.append((i, item))
        else:
            out.extend(parsed)
    if not out:
        return None  # not a conversation (a tool payload, a list of records)
    for i, item in unread:  # one unreadable message never costs the rest of the history
        drop(f"message {i} of a history: {shape(item)} is not a message shape cstui reads", item)
    return out


def _called_earlier(role: Any, earlier: list[Message]) -> bool:
    return isinstance(role, str) and any(c.name == role for m in earlier for c in m.tool_calls)


def _is_message(obj: dict[str, Any]) -> bool:
    kind = str(obj.get("type", ""))
    if kind in ("function_call", "function_call_output", "tool_call"):
        return True
    role = obj.get("role") or kind
    return isinstance(role, str) and role.lower() in ROLES and (
        any(k in obj for k in ("content", "parts", "tool_calls", "text", "function_call")) or kind.lower() in ROLES)


def _message(item: dict[str, Any]) -> list[Message] | None:
    """One source message as one or more messages ([] for a tool definition, None for a non-message)."""
    kind = str(item.get("type", ""))
    if kind == "function_call":  # OpenAI Responses
        return [Message("assistant", "", [ToolCall(str(item.get("name")), _id(item.get("call_id")),
                                                   item.get("arguments"))])]
    if kind == "function_call_output" or ("call_id" in item and "output" in item and "role" not in item):
        return [Message("tool", text_of(parse_payload(item.get("output"))), tool_call_id=_id(item.get("call_id")))]
    if kind == "tool_call" and isinstance(item.get("name"), str) and "role" not in item:  # Gemini direct call
        return [Message("assistant", "", [ToolCall(item["name"], _id(item.get("id")), item.get("args"))])]
    raw_role = item.get("role")
    if raw_role is None and kind:
        raw_role = kind
    if not isinstance(raw_role, str):
        return None
    call_ref = item.get("tool_call_id") or item.get("toolCallId") or item.get("tool_use_id")
    if raw_role.lower() not in ROLES:
        if not call_ref:
            return None
        # LangChain JS writes a tool result with the tool's name as its role: a result, kept under that name
        item = {**item, "name": item.get("name") if isinstance(item.get("name"), str) else raw_role}
        raw_role = "tool"
    role = ROLES[raw_role.lower()]
    content = item.get("content")
    if role == "tool" and isinstance(content, dict) and content.get("type") == "function":
        return []  # a tool schema passed as a message, not a turn
    texts: list[str] = []
    calls: list[ToolCall] = []
    responses: list[tuple[str | None, str]] = []
    parts = item.get("parts") if isinstance(item.get("parts"), list) else None
    if isinstance(content, dict) and isinstance(content.get("parts"), list):
        parts = content["parts"]
        content = None
    if isinstance(content, list):
        _read_parts(content, texts, calls, responses)
    elif isinstance(content, str):
        texts.append(content)
    elif content is not None:
        texts.append(text_of(content))
    elif isinstance(item.get("text"), str):  # BeeAI: {"role", "text"}
        texts.append(item["text"])
    if parts is not None:
        _read_parts(parts, texts, calls, responses)
    calls.extend(_tool_calls(item))
    text = "\n".join(t for t in texts if t)
    if not calls and role in ("assistant", "tool") and (koog := _calls_in_text(text)):
        return [Message("assistant", "", koog)]  # Koog writes the model's tool calls as JSON text
    call_id = _id(item.get("tool_call_id") or item.get("toolCallId") or item.get("tool_use_id"))
    name = item.get("name") if isinstance(item.get("name"), str) else None
    if responses and role in ("customer", "tool"):  # results carried in parts: one tool message each
        out = [Message("tool", body, tool_call_id=rid, name=name) for rid, body in responses]
        if role == "customer" and text:
            out.append(Message("customer", text))
        return out
    if responses:
        texts.extend(body for _, body in responses)
        text = "\n".join(t for t in texts if t)
    return [Message(role, text, calls, call_id, name)]


def _read_parts(parts: Iterable[Any], texts: list[str], calls: list[ToolCall],
                responses: list[tuple[str | None, str]]) -> None:
    for part in parts:
        if isinstance(part, str):
            texts.append(part)
            continue
        if not isinstance(part, dict):
            if part is not None:
                drop(f"a message part that is {shape(part)}", part)
            continue
        kind = str(part.get("type", ""))
        fc = part.get("function_call") or part.get("functionCall")
        fr = part.get("function_response") or part.get("functionResponse")
        if part.get("thought") is True or kind in SKIPPED_PARTS or _REASONING.search(kind):
            omit("thinking" if part.get("thought") is True else kind, part)
            continue
        if isinstance(fc, dict):  # Gemini
            calls.append(ToolCall(str(fc.get("name")), _id(fc.get("id")), fc.get("args")))
        elif isinstance(fr, dict):
            responses.append((_id(fr.get("id")), text_of(fr.get("response"))))
        elif kind == "tool_use":  # Anthropic
            calls.append(ToolCall(str(part.get("name")), _id(part.get("id")), part.get("input")))
        elif kind == "tool_result":
            responses.append((_id(part.get("tool_use_id")), _block_text(part.get("content"))))
        elif kind == "tool-call":  # Vercel AI SDK
            calls.append(ToolCall(str(part.get("toolName")), _id(part.get("toolCallId")),
                                  part.get("input", part.get("args"))))
        elif kind == "tool-result":
            result = part.get("output", part.get("result"))
            failed = False
            if isinstance(result, dict) and "value" in result and str(result.get("type")) in _AI_SDK_OUTPUTS:
                failed = str(result["type"]).startswith("error")  # AI SDK 5: {type: text|json|error-text|…, value}
                result = result["value"]
            body = text_of(result)
            responses.append((_id(part.get("toolCallId")), f"Error: {body}" if failed and
                              not body.lower().startswith("error") else body))
        elif kind == "tool_call":  # Pydantic AI, Microsoft Agent Framework, OTel GenAI parts
            calls.append(ToolCall(str(part.get("name")), _id(part.get("id")), part.get("arguments")))
        elif kind == "tool_call_response":
            responses.append((_id(part.get("id")), text_of(part.get("response", part.get("result")))))
        elif isinstance(part.get("text"), str | dict | list):
            texts.append(text_of(part["text"]))
        elif kind == "text" and isinstance(part.get("content"), str):
            texts.append(part["content"])
        elif kind in _METADATA_PARTS:
            continue
        else:
            drop(f"a message part of type {kind!r}" if kind else f"a message part that is {shape(part)}", part)


def _block_text(content: Any) -> str:
    if isinstance(content, list):
        return "\n".join(text_of(b.get("text")) if isinstance(b, dict) and "text" in b else text_of(b) for b in content)
    return text_of(content)


def _tool_calls(item: dict[str, Any]) -> list[ToolCall]:
    # LangChain dumps carry both forms; the provider's own (additional_kwargs) is read first, as Langfuse does.
    raw = (item.get("additional_kwargs") or {}).get("tool_calls") if isinstance(item.get("additional_kwargs"),
                                                                                dict) else None
    raw = raw or item.get("tool_calls") or []
    calls = []
    for call in raw if isinstance(raw, list) else []:
        if not isinstance(call, dict):
            continue
        fn = call.get("function") if isinstance(call.get("function"), dict) else call
        if not fn.get("name"):
            continue
        calls.append(ToolCall(str(fn["name"]), _id(call.get("id")),
                              fn.get("arguments", call.get("args", call.get("input")))))
    legacy = item.get("function_call")
    if isinstance(legacy, dict) and legacy.get("name"):
        calls.append(ToolCall(str(legacy["name"]), None, legacy.get("arguments")))
    return calls


def _calls_in_text(text: str) -> list[ToolCall]:
    if not text.startswith("[{"):
        return []
    try:
        items = orjson.loads(text)
    except orjson.JSONDecodeError:
        return []
    if not isinstance(items, list) or not items or not all(
            isinstance(i, dict) and isinstance(i.get("function"), dict) and i["function"].get("name") for i in items):
        return []
    return [ToolCall(str(i["function"]["name"]), _id(i.get("id")), i["function"].get("arguments")) for i in items]


def _id(value: Any) -> str | None:
    if isinstance(value, list):  # Microsoft Agent Framework: [run id, call id]
        value = next((v for v in value if isinstance(v, str) and v.startswith("call_")), value[-1] if value else None)
    if value is None or value == "":
        return None
    return str(value)


_TRANSCRIPT_LINE = re.compile(r"^(system|user|assistant|developer|tool|human|ai)\s*:\s?", re.IGNORECASE | re.MULTILINE)


def transcript(text: str) -> list[Message] | None:
    """'system: …\\nuser: …' as some instrumentations log a prompt; None unless the text starts that way."""
    if not _TRANSCRIPT_LINE.match(text):
        return None
    marks = list(_TRANSCRIPT_LINE.finditer(text))
    out = []
    for m, nxt in zip(marks, [*marks[1:], None], strict=True):
        body = text[m.end(): nxt.start() if nxt else len(text)].strip()
        role = ROLES[m.group(1).lower()]
        if role == "assistant" and body == "None":
            body = ""
        out.append(Message(role, body))
    return out


_REPR_FIELD = re.compile(r"\b(role|content|tool_call_id|tool_name)=('(?:[^'\\]|\\.)*'|\"(?:[^\"\\]|\\.)*\"|None)")


def _repr_message(text: str) -> Message | None:
    """Agno logs messages as pydantic reprs: `role='assistant' content=None tool_calls=[{...}] ...`."""
    fields: dict[str, Any] = {}
    for m in _REPR_FIELD.finditer(text):
        if m.group(1) not in fields:
            try:
                fields[m.group(1)] = ast.literal_eval(m.group(2))
            except (ValueError, SyntaxError):
                return None
    role = fields.get("role")
    if not isinstance(role, str) or role.lower() not in ROLES:
        return None
    content = fields.get("content")
    calls = _tool_calls({"tool_calls": _repr_list(text, "tool_calls=")})
    name = fields.get("tool_name")
    return Message(ROLES[role.lower()], content if isinstance(content, str) else "", calls,
                   _id(fields.get("tool_call_id")), name if isinstance(name, str) else None)


def _repr_list(text: str, key: str) -> Any:
    """The Python list literal that follows `key` in a repr, parsed; None when there is none."""
    start = text.find(key + "[")
    if start < 0:
        return None
    start += len(key)
    depth, quote, i = 0, "", start
    while i < len(text):
        ch = text[i]
        if quote:
            if ch == "\\":
                i += 1
            elif ch == quote:
                quote = ""
        elif ch in "'\"":
            quote = ch
        elif ch in "[{(":
            depth += 1
        elif ch in "]})":
            depth -= 1
            if depth == 0:
                try:
                    return ast.literal_eval(text[start: i + 1])
                except (ValueError, SyntaxError, MemoryError, RecursionError):
                    return None
        i += 1
    return None


# ---------------------------------------------------------------------------------------------- merging
def join_io(inputs: list[Message], outputs: list[Message]) -> list[Message]:
    """An LLM or agent step's history: its input then its output, without the input's tail that some
    frameworks echo at the start of the output (BeeAI's final step repeats the answer it was given)."""
    overlap = 0
    for k in range(min(len(inputs), len(outputs)), 0, -1):
        if [m.fingerprint() for m in inputs[-k:]] == [m.fingerprint() for m in outputs[:k]]:
            overlap = k
            break
    return inputs[: len(inputs) - overlap] + outputs


def merge_histories(histories: list[list[Message]]) -> tuple[list[Message], list[list[int]]]:
    """One conversation from the histories successive LLM calls saw (each resends the earlier turns).

    Each history is aligned in order with what is known so far; a message seen before is not added again,
    a new one goes before the next message it shares with the conversation, or at the end. Returns the
    conversation and, per history, where each of its messages landed.
    """
    merged: list[Message] = []
    placed: list[list[Message]] = []
    for history in histories:
        mine: list[Message] = []
        cursor = 0
        pending: list[Message] = []
        for msg in history:
            hit = next((j for j in range(cursor, len(merged)) if _same(merged[j], msg)), None)
            if hit is None:
                pending.append(msg)
                mine.append(msg)
                continue
            merged[hit:hit] = pending  # new messages that came before a known one go right before it
            hit += len(pending)
            if msg.tool_calls and not merged[hit].tool_calls:
                merged[hit].tool_calls = msg.tool_calls  # a plain-text log of the same turn lost its calls
            pending = []
            cursor = hit + 1
            mine.append(merged[hit])
        merged.extend(pending)
        placed.append(mine)
    read = sum(len(h) for h in histories)
    count_read(read, replayed=read - len(merged))
    index = {id(m): i for i, m in enumerate(merged)}
    return merged, [[index[id(m)] for m in mine] for mine in placed]


def _agent_key(history: list[Message]) -> str | None:
    return next((" ".join(m.text.split()) for m in history if m.role == "system" and m.text.strip()), None)


def split_agents(histories: list[list[Message]]) -> tuple[list[int], list[list[int]]]:
    """Which histories are the customer's conversation and which are sub-agents' (indices, in order).

    An agent is known by its system prompt: the first one seen is the agent the customer talks to; a history
    under another system prompt is a sub-agent's (a critic, a researcher a tool invoked), whose task text must
    not become a customer turn. Histories without a system prompt stay with the customer's conversation."""
    main = next((k for k in map(_agent_key, histories) if k), None)
    mine: list[int] = []
    subs: dict[str, list[int]] = {}
    for i, history in enumerate(histories):
        key = _agent_key(history)
        if key is None or key == main:
            mine.append(i)
        else:
            subs.setdefault(key, []).append(i)
    return mine, list(subs.values())


def sub_agent(n: int, histories: list[list[Message]], parent_id: str | None) -> tuple[dict[str, Any], list[Call]]:
    """A sub-agent's own conversation as one span (`kind: other`, `attributes.conversation` its turns), and its
    calls (turn_index None: they are no turn of the customer's conversation)."""
    merged, _ = merge_histories(histories)
    conv = build_conversation(merged, span_prefix=f"agent{n}-call-")
    for call in conv.calls:
        call.turn_index = None
    system = _agent_key(histories[0]) or ""
    span = {"span_id": f"sub-agent-{n}", "parent_id": parent_id, "kind": "other",
            "name": f"sub-agent: {system[:60]}", "status": "ok",
            "attributes": {"sub_agent": True, "system_prompt": system, "conversation": conv.turns}}
    return span, conv.calls


def _same(a: Message, b: Message) -> bool:
    """The same message as two logs wrote it; a text-only log may have lost an empty turn's tool calls.

    Identity is by call, not by text: two turns that call the same tool are the same turn only when their calls
    are the same calls — the same ids where both logs kept ids, else the same arguments where both kept those —
    and two tool results are the same only when they answer the same call. An agent that calls one tool twice
    keeps both calls."""
    fa, fb = a.fingerprint(), b.fingerprint()
    if fa == fb:
        return _same_calls(a, b) and (a.tool_call_id is None or b.tool_call_id is None
                                      or a.tool_call_id == b.tool_call_id)
    return fa[:2] == fb[:2] and not fa[1] and (not fa[2] or not fb[2])


def _same_calls(a: Message, b: Message) -> bool:
    for x, y in zip(a.tool_calls, b.tool_calls, strict=False):
        if x.id and y.id:
            if x.id != y.id:
                return False
        elif x.arguments is not None and y.arguments is not None and \
                parse_arguments(x.arguments) != parse_arguments(y.arguments):
            return False
    return True


# ---------------------------------------------------------------------------------------------- calls
_FAILED_STATUS = frozenset({"error", "failed", "failure", "fail"})


def is_error_result(text: str) -> bool:
    """A tool result that reports failure in substance (docs/formats.md, "Errors"): text starting with "Error"; or
    a JSON object with a non-empty `error`, `success: false`, or a `status` / `response_status` / `state` of
    error, failed or failure (ADK's `{"response_status": "Error"}`) — whatever status its span was given."""
    stripped = text.lstrip()
    if stripped[:5].lower() == "error":
        return True
    if stripped.startswith("{"):
        try:
            parsed = orjson.loads(stripped)
        except orjson.JSONDecodeError:
            return False
        return isinstance(parsed, dict) and failed_in_substance(parsed)
    return False


def result_failed(result: Any) -> bool:
    """A recorded tool result (text or structure) that reports failure in substance; the span's own status may
    still say OK (Google ADK records `{"response_status": "Error"}` as a successful call)."""
    if isinstance(result, dict):
        return failed_in_substance(result)
    return isinstance(result, str) and is_error_result(result)


def failed_in_substance(result: dict[str, Any]) -> bool:
    if result.get("error") not in (None, False, ""):
        return True
    if result.get("success") is False:
        return True
    return any(isinstance(result.get(k), str) and result[k].strip().lower() in _FAILED_STATUS
               for k in ("status", "response_status", "state"))


@dataclass
class Call:
    """One tool call the model made, with the result that answered it (if any)."""

    span_id: str
    name: str
    call_id: str | None
    arguments: Any
    turn_index: int | None  # None: a sub-agent's call, not in the customer's conversation
    result: str | None = None
    answered: bool = False
    covered: bool = False  # a recorded tool span traced this execution
    error: bool | None = None  # the source's own flag on the result, when it has one

    @property
    def status(self) -> str | None:
        if not self.answered:
            return None
        if self.error is not None:
            return "error" if self.error else "ok"
        return "error" if is_error_result(self.result or "") else "ok"

    def span(self, *, parent_id: str | None = None, synthetic: bool = False) -> dict[str, Any]:
        attrs: dict[str, Any] = {"arguments": parse_arguments(self.arguments)}
        if self.answered:
            attrs["result"] = self.result
        if self.call_id is not None:
            attrs["call_id"] = self.call_id
        if synthetic:
            attrs["synthetic"] = True
        return {"span_id": self.span_id, "parent_id": parent_id, "kind": "tool", "name": self.name,
                "turn_index": self.turn_index, "status": self.status, "attributes": attrs}


def parse_arguments(raw: Any) -> Any:
    if isinstance(raw, str):
        try:
            return orjson.loads(raw)
        except orjson.JSONDecodeError:
            return raw
    return raw


@dataclass
class Conversation:
    turns: list[dict[str, Any]]
    calls: list[Call]
    orphans: list[dict[str, Any]]  # tool spans for results that answered no call
    warnings: list[str]
    message_turn: list[int | None]  # per input message, the turn it became (None when dropped)


def build_conversation(messages: list[Message], *, span_prefix: str = "", keep_empty: bool = False) -> Conversation:
    """Turns, tool calls and their results from a message list, pairing results with calls by id.

    Span ids are the source's call ids where they are unique; a reused id gets a suffix (`id.2`). Empty
    assistant messages without calls are dropped unless `keep_empty`.
    """
    turns: list[dict[str, Any]] = []
    calls: list[Call] = []
    orphans: list[dict[str, Any]] = []
    warnings: list[str] = []
    message_turn: list[int | None] = []
    open_by_id: dict[str, list[Call]] = {}
    used: set[str] = set()

    def unique(base: str) -> str:
        span_id, n = base, 1
        while span_id in used:
            n += 1
            span_id = f"{base}.{n}"
        used.add(span_id)
        return span_id

    for m_index, msg in enumerate(messages):
        if msg.role == "assistant" and not msg.text and not msg.tool_calls and not keep_empty:
            message_turn.append(None)
            ledger = _LEDGER.get()
            if ledger is not None:
                ledger.empty += 1
            continue
        index = len(turns)
        turn: dict[str, Any] = {"role": msg.role, "text": msg.text}
        if msg.role == "tool" and msg.name:
            turn["name"] = msg.name
        turns.append(turn)
        message_turn.append(index)
        for j, tc in enumerate(msg.tool_calls):
            call = Call(unique(span_prefix + (tc.id or f"call-{index}-{j}")), tc.name, tc.id, tc.arguments, index)
            calls.append(call)
            if tc.id is not None:
                open_by_id.setdefault(tc.id, []).append(call)
        if msg.role != "tool":
            continue
        call = _answered_call(msg, open_by_id, calls)
        if call is None:
            orphan_id = unique(f"{span_prefix}orphan-{index}")
            attrs: dict[str, Any] = {"result": msg.text, "orphan": True}
            if msg.tool_call_id is not None:
                attrs["call_id"] = msg.tool_call_id
            orphans.append({"span_id": orphan_id, "parent_id": None, "kind": "tool", "name": msg.name or "unknown tool",
                            "turn_index": index, "status": "error" if is_error_result(msg.text) else "ok",
                            "attributes": attrs})
            why = f"call id {msg.tool_call_id!r}, which no earlier call has open" if msg.tool_call_id else "no open call"
            warnings.append(f"message {m_index}: tool result answers {why}; kept as orphan span {orphan_id!r}")
            continue
        call.result, call.answered, call.error = msg.text, True, msg.error
        if call.call_id is not None:
            open_by_id[call.call_id].remove(call)
    return Conversation(turns, calls, orphans, warnings, message_turn)


def _answered_call(msg: Message, open_by_id: dict[str, list[Call]], calls: list[Call]) -> Call | None:
    if msg.tool_call_id is not None:
        waiting = open_by_id.get(msg.tool_call_id)
        return waiting[-1] if waiting else None  # the most recent call with that id still waiting
    unanswered = [c for c in calls if not c.answered]
    by_name = [c for c in unanswered if msg.name and c.name == msg.name]
    return (by_name or unanswered or [None])[0]


# ---------------------------------------------------------------------------------------------- recorded spans
def same_tool(recorded: str | None, called: str | None) -> bool:
    """'tool.ByeTool', 'running tool: get_weather' and 'get_weather' name the same tool."""
    a, b = (recorded or "").strip().lower(), (called or "").strip().lower()
    if not a or not b:
        return False
    if a == b:
        return True
    longer, shorter = (a, b) if len(a) > len(b) else (b, a)
    return longer.endswith(shorter) and not longer[-len(shorter) - 1].isalnum()


def link_recorded(recorded: list[tuple[dict[str, Any], str | None]], calls: list[Call]) -> None:
    """Give each recorded tool span (span, its call id; in the order they ran) the turn of the call it executed.

    Matched by call id; else by tool name, preferring equal arguments, among the calls after the last one
    matched (executions run in the order the calls were made; earlier ones may be outside the export). A
    matched call is `covered`: the recorded span is its execution, so no synthetic span is made for it.
    """
    cursor = 0
    for span, call_id in recorded:
        call = None
        if call_id is not None:
            call = next((c for c in calls if not c.covered and c.call_id == call_id), None)
        if call is None:
            call = _by_name(span, calls[cursor:]) or _by_name(span, calls[:cursor])
        if call is None:
            continue
        call.covered = True
        cursor = calls.index(call) + 1
        span["turn_index"] = call.turn_index
        attrs = span.setdefault("attributes", {})
        if call.call_id is not None:
            attrs.setdefault("call_id", call.call_id)
        if attrs.get("arguments") is None and call.arguments is not None:
            attrs["arguments"] = parse_arguments(call.arguments)
        if attrs.get("result") is None and call.answered:
            attrs["result"] = call.result


def _by_name(span: dict[str, Any], calls: list[Call]) -> Call | None:
    named = [c for c in calls if not c.covered and same_tool(span.get("name"), c.name)]
    args = parse_arguments((span.get("attributes") or {}).get("arguments"))
    return next((c for c in named if parse_arguments(c.arguments) == args), named[0] if named else None)


def synthetic_spans(calls: list[Call], parent_id: str | None) -> list[dict[str, Any]]:
    """Spans for calls no recorded span traced (their execution happened outside the export)."""
    return [c.span(parent_id=parent_id, synthetic=True) for c in calls if not c.covered]

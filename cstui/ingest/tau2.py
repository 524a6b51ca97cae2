"""τ²-bench results (sierra-research/tau2-bench `Results`) → native sessions, one per simulation.

A results file is `{timestamp, info, tasks, simulations}`. Each simulation's `messages` are the conversation:
`assistant` and `user` messages with `content` and flat `tool_calls` (`{id, name, arguments, requestor}`), and
`tool` messages (`{id, content, requestor, error}`) answering a call by id. τ²-bench is *dual control*: the
customer may run tools on their own device (`requestor: "user"`, e.g. toggling airplane mode). Those calls stay
on the customer's turn as `customer_tool` spans, never `tool` spans, so no evaluator reads a customer's action
as the agent's. What is read from where (docs/formats.md, "τ²-bench"):

- the agent's policy, `info.environment_info.policy` → a system turn first (what policy checks read);
- `reward_info.reward` → `outcome.reward`, and a reward of 1 → `outcome.correct` / `outcome.resolved`;
- the task's `evaluation_criteria.actions` → `reference.actions` (the agent's) and `reference.customer_actions`;
- a tool message's `error` flag → the call's status (its text is not second-guessed).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from cstui.config import Config
from cstui.ingest.messages import (
    Message,
    ToolCall,
    accounted,
    accounting,
    build_conversation,
    count_read,
    drop,
    shape,
    text_of,
)
from cstui.ingest.openai_chat import infer_tier, reward_outcome
from cstui.models import SESSION_SCHEMA

ROLES = {"assistant": "assistant", "user": "customer", "tool": "tool", "system": "system"}


class ConvertError(ValueError):
    pass


def looks_like(record: Any) -> bool:
    return isinstance(record, dict) and isinstance(record.get("simulations"), list) and "tasks" in record \
        and isinstance(record.get("info"), dict)


def to_native_sessions(record: dict[str, Any], cfg: Config) -> Iterator[dict[str, Any]]:
    info = record.get("info") or {}
    env = info.get("environment_info") if isinstance(info.get("environment_info"), dict) else {}
    policy = env.get("policy") if isinstance(env.get("policy"), str) else None
    tasks = {str(t.get("id")): t for t in record.get("tasks") or [] if isinstance(t, dict)}
    for i, sim in enumerate(record["simulations"]):
        if not isinstance(sim, dict) or not isinstance(sim.get("messages"), list):
            raise ConvertError(f"simulation {i} has no messages list")
        with accounting() as ledger:
            doc = _session(sim, tasks.get(str(sim.get("task_id"))), policy, env.get("domain_name"), cfg)
        yield accounted(doc, ledger)


def _session(sim: dict[str, Any], task: dict[str, Any] | None, policy: str | None, domain: Any,
             cfg: Config) -> dict[str, Any]:
    messages: list[Message] = [Message("system", policy)] if policy else []
    customer_calls: set[str] = set()
    for j, raw in enumerate(sim["messages"]):
        role = ROLES.get(str(raw.get("role"))) if isinstance(raw, dict) else None
        if role is None:
            drop(f"simulation message {j}: {shape(raw)} with role {str(raw.get('role'))[:30]!r}"
                 if isinstance(raw, dict) else f"simulation message {j}: {shape(raw)}")
            continue
        calls = []
        for call in raw.get("tool_calls") or []:
            if not isinstance(call, dict) or not call.get("name"):
                drop(f"simulation message {j}: a tool call that is {shape(call)}")
                continue
            calls.append(ToolCall(str(call["name"]), None if call.get("id") is None else str(call["id"]),
                                  call.get("arguments")))
            if call.get("requestor") == "user" or role == "customer":
                customer_calls.add(str(call.get("id")))
        error = raw.get("error") if isinstance(raw.get("error"), bool) else None
        text = raw.get("content") if isinstance(raw.get("content"), str) else text_of(raw.get("content"))
        messages.append(Message(role, text or "", calls, str(raw["id"]) if role == "tool" and raw.get("id") else None,
                                error=error))
    count_read(len(messages))
    conv = build_conversation(messages, keep_empty=True)
    spans = []
    for call in conv.calls:
        span = call.span()
        if call.call_id in customer_calls:
            span["kind"] = "customer_tool"
            span["attributes"]["requestor"] = "customer"
        spans.append(span)
    spans += conv.orphans
    turns = conv.turns
    for turn, msg in zip(turns, (m for m, t in zip(messages, conv.message_turn, strict=True) if t is not None),
                         strict=True):
        if msg.role == "tool" and msg.tool_call_id in customer_calls:
            turn["requestor"] = "customer"  # the result came back to the customer's device, not to the agent

    reward_info = sim.get("reward_info") if isinstance(sim.get("reward_info"), dict) else {}
    outcome = reward_outcome(reward_info.get("reward"))
    criteria = (task or {}).get("evaluation_criteria") if isinstance((task or {}).get("evaluation_criteria"),
                                                                     dict) else {}
    actions = [a for a in criteria.get("actions") or [] if isinstance(a, dict)]
    reference: dict[str, Any] = {}
    if actions:
        reference["actions"] = [a for a in actions if a.get("requestor", "assistant") != "user"]
        mine = [a for a in actions if a.get("requestor") == "user"]
        if mine:
            reference["customer_actions"] = mine
    agent_tools = [s["name"] for s in spans if s["kind"] == "tool"] + [a.get("name") for a in reference.get("actions", [])]
    doc: dict[str, Any] = {
        "schema": SESSION_SCHEMA,
        "session_id": str(sim.get("id") or f"task-{sim.get('task_id')}-trial-{sim.get('trial')}"),
        "turns": turns, "spans": spans, "outcome": outcome,
        "source": {"format": "tau2", "task_id": sim.get("task_id"), "trial": sim.get("trial"), "domain": domain,
                   "termination_reason": sim.get("termination_reason"), "reward_info": reward_info},
        "_warnings": conv.warnings,
    }
    if isinstance(sim.get("start_time"), str):
        doc["started_at"] = sim["start_time"]
    if cfg.tier_for(None) is None:
        infer_tier(doc, agent_tools, cfg)
    if reference:
        doc["reference"] = reference
    return doc

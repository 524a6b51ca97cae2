"""MAIA-DQE customer-support dialogues (Mendonça et al., GEM 2023): real chats with annotators' labels.

A dialogue is `{id, turns: [{floor: inbound|outbound, text_mt, text_src, Emotion, …}], dialog: {"Task Sucess",
"Dropped conversation"}}`: `inbound` turns are the customer's (read in English from `text_mt`, the machine
translation), `outbound` the agent's (`text_src`, written in English). Each turn is a list of sentences; the
annotators' per-sentence emotions are kept on the customer's turn (`emotions`, names from labels.txt) and the
dialogue's task success (1–5) and dropped flag in `source`, for `cstui validate` — no evaluator reads them.
The corpus is CC BY-ND 4.0: it is read as it is, never rewritten (docs/formats.md).
"""

from __future__ import annotations

from typing import Any

EMOTIONS = ("empathy", "happiness", "neutral", "disappointment", "confusion", "frustration", "anger", "anxiety")


def looks_like(record: Any) -> bool:
    turns = record.get("turns") if isinstance(record, dict) else None
    return (isinstance(turns, list) and bool(turns) and "id" in record
            and all(isinstance(t, dict) and t.get("floor") in ("inbound", "outbound") for t in turns))


def _sentences(value: Any) -> list[str]:
    if isinstance(value, list):
        return [str(v) for v in value if isinstance(v, str | int | float)]
    return [str(value)] if isinstance(value, str) else []


def to_native(record: dict[str, Any]) -> dict[str, Any]:
    turns = []
    for turn in record["turns"]:
        customer = turn.get("floor") == "inbound"
        text = " ".join(_sentences(turn.get("text_mt" if customer else "text_src")))
        native: dict[str, Any] = {"role": "customer" if customer else "assistant", "text": text}
        emotion = turn.get("Emotion")
        if customer and isinstance(emotion, list):
            native["emotions"] = [EMOTIONS[e] if isinstance(e, int) and 0 <= e < len(EMOTIONS) else None
                                  for e in emotion]
        turns.append(native)
    dialog = record.get("dialog") if isinstance(record.get("dialog"), dict) else {}
    return {"schema": "cstui.session/v1", "session_id": str(record["id"]), "channel": "chat", "turns": turns,
            "source": {"format": "maia-dqe", "task_success": dialog.get("Task Sucess"),
                       "dropped": dialog.get("Dropped conversation")}}

"""Build the mechanically labelled half of the validation set from the public corpora.

    python tests/data/validation/build.py [--corpora ../shared/corpora]

Writes, deterministically (seed below), next to this file:

- sgd/sessions.jsonl, sgd/labels-derived.jsonl — every Schema-Guided Dialogue training dialogue of the
  corpus as a native session: USER → customer, SYSTEM → assistant, each `service_call` a tool span on the
  system turn that reports it (arguments = parameters, result = service_results, status error when that
  turn NOTIFY_FAILUREs, `side_effect` = the schema's `is_transactional`), the schema's intents as the
  session's tool list. Every original dialogue is labelled `authorization_fabrication: pass` (each success
  notice is backed by the call SGD recorded for it). Then SEEDED_FABRICATIONS dialogues are copied with
  the transactional call behind one NOTIFY_SUCCESS turn removed: that success notice is now a known
  fabrication (`fail`).
- taubench/late-escalations.json, taubench/labels-derived.jsonl — τ-bench trajectories that end in a
  timely transfer after a refusal, copied with the customer's last plea and the agent's refusal repeated
  LATE_ROUNDS more times before the transfer: a known late escalation (`time_to_escalation: fail`); the
  originals are labelled `pass`.

The derived SGD data is an adaptation of CC BY-SA 4.0 data and keeps that licence (sgd/LICENSE.txt).
"""

from __future__ import annotations

import argparse
import copy
import json
import random
from pathlib import Path

from cstui.validation import maia_part  # noqa: F401 - the MAIA split lives with the validation code

SEED = 20261122
SEEDED_FABRICATIONS = 60  # per part of SGD (development, held-out)
# SGD's services in connected groups (dialogues of several services keep their group together). The held-out
# groups are never read while rules are written or tuned; every service in them is unseen by every rule.
# Chosen 2026-12-07 before any rule was changed this round: a spread of domains (rides, flights and hotels,
# banking, appointments, buses), none of which the rules had seen (they were written on Media_1 and Restaurants_1).
SGD_HELD_OUT = {"Movies_1", "RideSharing_1", "Flights_1", "Flights_2", "Hotels_2", "Weather_1", "Banks_1",
                "Services_3", "Hotels_3", "Buses_1"}
SGD_FILES = ("dialogues_001.json", "dialogues_002.json", "dialogues_030.json", "dialogues_032.json",
             "dialogues_041.json", "dialogues_044.json", "dialogues_049.json", "dialogues_050.json",
             "dialogues_101.json")
# MAIA-DQE (CC BY-ND 4.0: copied verbatim into maia/, converted only when read): split by dialogue, two in five held
# out by a hash of the id (fixed 2026-12-07, before any rule was changed against it). Labels are derived when the
# file is read (tests, `make validated`), never written: a converted copy may not be committed. The rule is
# `cstui.validation.maia_part` (imported above), which `cstui validate` applies to the annotators' labels.
# τ-bench airline even tasks, split by task id (all four trials of a task on one side), fixed 2026-12-07.
TAU_HELD_OUT = {2, 6, 10, 16, 18, 22, 28, 32, 36, 40, 44, 48}
LATE_ESCALATIONS = 12
LATE_ROUNDS = 4
HERE = Path(__file__).parent


def sgd_session(dialogue: dict, schema: dict[str, dict]) -> dict:
    turns, spans, tools = [], [], {}
    for service in dialogue["services"]:
        for intent in schema[service]["intents"]:
            tools[intent["name"]] = {"name": intent["name"], "description": intent["description"],
                                     "parameters": intent["required_slots"] + list(intent["optional_slots"]),
                                     "side_effect": intent["is_transactional"]}
    for i, turn in enumerate(dialogue["turns"]):
        role = "customer" if turn["speaker"] == "USER" else "assistant"
        turns.append({"role": role, "text": turn["utterance"]})
        for k, frame in enumerate(turn["frames"]):
            call = frame.get("service_call")
            if not call:
                continue
            acts = {a["act"] for a in frame["actions"]}
            spans.append({"span_id": f"t{i}-{k}", "kind": "tool", "name": call["method"], "turn_index": i,
                          "status": "error" if "NOTIFY_FAILURE" in acts else "ok",
                          "attributes": {"arguments": call["parameters"], "result": frame.get("service_results", []),
                                         "side_effect": tools[call["method"]]["side_effect"]}})
    return {"schema": "cstui.session/v1", "session_id": f"sgd-{dialogue['dialogue_id']}", "channel": "chat",
            "intent": next((s for s in dialogue["services"]), None), "turns": turns, "spans": spans,
            "tools": list(tools.values()), "source": {"format": "sgd", "dialogue_id": dialogue["dialogue_id"],
                                                     "services": dialogue["services"]}}


def success_turns(session: dict) -> list[dict]:
    """Transactional calls whose turn notifies success (the seeds for fabrications)."""
    return [s for s in session["spans"] if s["attributes"]["side_effect"] and s["status"] == "ok"]


def sgd_part(dialogue: dict) -> str:
    held = [s in SGD_HELD_OUT for s in dialogue["services"]]
    if all(held):
        return "held-out"
    if not any(held):
        return "dev"
    raise ValueError(f"{dialogue['dialogue_id']} mixes held-out and development services: fix SGD_HELD_OUT's groups")


def build_sgd(corpora: Path, rng: random.Random) -> None:
    root = corpora / "sgd-train"
    schema = {s["service_name"]: s for s in json.loads((root / "schema.json").read_text())}
    dialogues = [d for name in SGD_FILES for d in json.loads((root / name).read_text())]
    out = HERE / "sgd"
    out.mkdir(exist_ok=True)
    for part in ("dev", "held-out"):
        sessions = [sgd_session(d, schema) for d in dialogues if sgd_part(d) == part]
        labels = [{"session_id": s["session_id"], "evaluator": "authorization_fabrication", "expected": "pass",
                   "reason": "original SGD dialogue: every success notice is backed by the call SGD recorded for it",
                   "source": "derived", "corpus": "sgd", "part": part} for s in sessions]
        candidates = [s for s in sessions if success_turns(s)]
        for original in rng.sample(candidates, SEEDED_FABRICATIONS):
            fab = copy.deepcopy(original)
            removed = rng.choice(success_turns(fab))
            fab["spans"].remove(removed)
            fab["session_id"] += "-fab"
            fab["source"]["seeded"] = {"removed_call": removed["name"], "turn": removed["turn_index"], "seed": SEED}
            sessions.append(fab)
            notice = fab["turns"][removed["turn_index"]]["text"]
            labels.append({"session_id": fab["session_id"], "evaluator": "authorization_fabrication",
                           "expected": "fail", "reason": f"seeded: the {removed['name']} call behind turn "
                           f"{removed['turn_index']} ({notice[:60]!r}) was removed", "source": "derived",
                           "corpus": "sgd", "part": part})
        (out / f"{part}.jsonl").write_text("".join(json.dumps(s, ensure_ascii=False) + "\n" for s in sessions))
        (out / f"labels-{part}.jsonl").write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in labels))
        print(f"sgd {part}: {len(sessions)} sessions ({SEEDED_FABRICATIONS} seeded fabrications), {len(labels)} labels")


def tau_part(session_id: str) -> str:
    """`task-12-trial-0` (or a seeded copy, `task-12-late-trial-0`) → its part."""
    task = int(session_id.split("-")[1])
    return "held-out" if task in TAU_HELD_OUT else "dev"


def mark_tau_labels() -> None:
    """Give every τ-bench label its corpus and part (hand labels are never rewritten otherwise)."""
    for name in ("labels-hand.jsonl", "labels-derived.jsonl"):
        path = HERE / "taubench" / name
        rows = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
        for row in rows:
            row.update(corpus="taubench-airline", part=tau_part(row["session_id"]))
        path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows))


def transfer_index(traj: list[dict]) -> int | None:
    for i, msg in enumerate(traj):
        if any(c["function"]["name"] == "transfer_to_human_agents" for c in msg.get("tool_calls") or []):
            return i
    return None


def build_late_escalations(corpora: Path, rng: random.Random) -> None:
    records = json.loads((corpora / "taubench-airline" / "gpt-4o-airline-even-tasks.json").read_text())
    candidates = []
    for record in records:
        traj = record["traj"]
        at = transfer_index(traj)
        if at is None:
            continue
        plea = max((i for i in range(at) if traj[i]["role"] == "user"), default=None)
        refusal = max((i for i in range(plea or 0) if traj[i]["role"] == "assistant" and traj[i].get("content")),
                      default=None)
        if plea is not None and refusal is not None and refusal > 1:
            candidates.append((record, plea, refusal))
    late, labels = [], []
    for record, plea, refusal in rng.sample(candidates, LATE_ESCALATIONS):
        sid = f"task-{record['task_id']}-trial-{record['trial']}"
        copy_ = copy.deepcopy(record)
        rounds = [copy.deepcopy(copy_["traj"][plea]), copy.deepcopy(copy_["traj"][refusal])] * LATE_ROUNDS
        copy_["traj"][plea:plea] = rounds  # the customer pleads and is refused LATE_ROUNDS more times
        copy_["task_id"] = f"{record['task_id']}-late"
        late.append(copy_)
        labels.append({"session_id": f"task-{copy_['task_id']}-trial-{record['trial']}", "evaluator": "time_to_escalation",
                       "expected": "fail", "reason": f"seeded from {sid}: the plea and refusal before the transfer "
                                                     f"repeated {LATE_ROUNDS} more times", "source": "derived"})
        labels.append({"session_id": sid, "evaluator": "time_to_escalation", "expected": "pass",
                       "reason": "the unseeded original (read by hand: transferred within a few turns of the refusal)",
                       "source": "derived"})
    for row in labels:
        row.update(corpus="taubench-airline", part=tau_part(row["session_id"]))
    out = HERE / "taubench"
    (out / "late-escalations.json").write_text(json.dumps(late, ensure_ascii=False, indent=0))
    (out / "labels-derived.jsonl").write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in labels))
    print(f"taubench: {len(late)} seeded late escalations, {len(labels)} labels")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpora", type=Path, default=HERE.parents[2].parent / "shared" / "corpora")
    args = parser.parse_args()
    build_sgd(args.corpora, random.Random(SEED))
    build_late_escalations(args.corpora, random.Random(SEED + 1))
    mark_tau_labels()


if __name__ == "__main__":
    main()

"""LLM judges (docs/evaluators.md): the model reasons in free text first, then a second call extracts the verdict,
which a pydantic model validates. Malformed output is retried, then recorded as an error — never as a
pass. Prompts are versioned Markdown files in `prompts/`; the version is part of the cache key.
"""

from __future__ import annotations

import asyncio
import re
from dataclasses import dataclass, replace
from importlib import resources
from typing import TYPE_CHECKING, Any, ClassVar, Literal

import orjson
from pydantic import BaseModel, Field, ValidationError

from cstui.evaluators.base import (
    ERROR_LABEL,
    EvaluatorBase,
    RunContext,
    Verdict,
    has_shown_text,
    is_draft_assist,
    snippet,
)
from cstui.evaluators.registry import register, replace_prefixed
from cstui.judge import ReplySchema
from cstui.models import Evidence, Session

if TYPE_CHECKING:
    from cstui.judge import Completion, JudgeClient

EXTRACT_ATTEMPTS = 3
SYSTEM_EXTRACT = ("You turn a written evaluation into JSON. Reply with one JSON object and nothing else: "
                  "no prose, no code fences.")


# ---------------------------------------------------------------------------------------------- prompts
@dataclass(frozen=True)
class Prompt:
    version: str
    sections: dict[str, str]

    def section(self, name: str, **values: str) -> str:
        text = self.sections[name]
        for key, value in values.items():
            text = text.replace("{" + key + "}", value)
        return text


def load_prompt(name: str) -> Prompt:
    raw = resources.files("cstui.evaluators").joinpath("prompts", f"{name}.md").read_text(encoding="utf-8")
    version = re.search(r"^version:\s*(\S+)", raw, re.M)
    sections: dict[str, str] = {}
    for match in re.finditer(r"^# (.+?)\n(.*?)(?=^# |\Z)", raw, re.M | re.S):
        sections[match.group(1).strip().lower()] = match.group(2).strip()
    return Prompt(version=version.group(1) if version else "1", sections=sections)


# ---------------------------------------------------------------------------------------------- rendering
def render_transcript(session: Session) -> str:
    lines = []
    for i, turn in enumerate(session.turns):
        if turn.role == "assistant" and (turn.suppressed or not turn.text.strip()):
            continue
        extra = f" (confidence {turn.confidence}, cites {', '.join(turn.citations)})" if turn.citations else ""
        lines.append(f"[turn {i}] {turn.role}{extra}: {turn.text}")
    return "<<<TRANSCRIPT\n" + "\n".join(lines) + "\nTRANSCRIPT>>>"


def render_actions(session: Session) -> str:
    lines = []
    for span in session.spans:
        if span.kind in ("tool", "escalation"):
            args = orjson.dumps(span.attributes.get("arguments", {})).decode()[:200]
            result = str(span.attributes.get("result", ""))[:200]
            lines.append(f"- turn {span.turn_index}: {span.kind} {span.name or ''} [{span.status or '?'}] {args} "
                         f"→ {result}")
    if session.outcome.escalated:
        lines.append("- the session ended with a handoff to a human")
    return "\n".join(lines) or "(none)"


def render_documents(session: Session, ctx: RunContext) -> str:
    docs: dict[str, str] = {}
    for span in session.spans:
        for doc in span.attributes.get("documents", []) if isinstance(span.attributes.get("documents"), list) else []:
            if isinstance(doc, dict) and doc.get("id"):
                docs[f"{doc['id']} rev {doc.get('revision', '?')}"] = str(doc.get("content", ""))[:2000]
    for turn in session.turns:
        for cited in turn.citations:
            article = ctx.kb.current(cited)
            if article is not None and not any(k.startswith(f"{cited} ") for k in docs):
                docs[f"{cited} rev {article.revision}"] = f"{article.title}\n{article.body}"[:2000]
    if not docs:
        return "(no policy text was retrieved or cited)"
    return "\n\n".join(f"<<<DOCUMENT {name}\n{body}\nDOCUMENT>>>" for name, body in docs.items())


def parse_json_object(text: str) -> dict[str, Any]:
    """The first JSON object in a reply (models wrap JSON in fences or prose despite instructions)."""
    cleaned = re.sub(r"^```(?:json)?|```$", "", text.strip(), flags=re.M).strip()
    start, end = cleaned.find("{"), cleaned.rfind("}")
    if start < 0 or end <= start:
        raise ValueError("no JSON object in the reply")
    value = orjson.loads(cleaned[start : end + 1])
    if not isinstance(value, dict):
        raise ValueError("the JSON is not an object")
    return value


# ---------------------------------------------------------------------------------------------- verdicts
class PolicyVerdict(BaseModel):
    fabricated: bool
    cited_claim: str | None = None
    grounded_in_retrieval: bool
    rationale: str = ""


class ResolutionVerdict(BaseModel):
    addressed_need: bool
    escalation_correct: bool | None = None
    rationale: str = ""


class RubricVerdict(BaseModel):
    factual_accuracy: bool
    citation_relevance: int = Field(ge=1, le=5)
    tone: int = Field(ge=1, le=5)
    completeness: int = Field(ge=1, le=5)
    rationale: str = ""


class SessionQualityVerdict(BaseModel):
    query_understanding: bool
    answer_correctness: bool
    chat_efficiency: bool
    client_satisfaction: bool
    compliance: bool
    rationale: str = ""


SESSION_DIMENSIONS = ("query_understanding", "answer_correctness", "chat_efficiency", "client_satisfaction",
                      "compliance")


# ---------------------------------------------------------------------------------------------- base
class JudgeEvaluator(EvaluatorBase):
    """An evaluator whose check is a model call; run by `cstui.evaluation.judges`, never in the deterministic pool."""

    kind: ClassVar[Literal["deterministic", "judge"]] = "judge"
    prompt_name: ClassVar[str]
    verdict_model: ClassVar[type[BaseModel]]

    @property
    def prompt(self) -> Prompt:
        cached = getattr(type(self), "_prompt", None)
        if cached is None:
            cached = load_prompt(self.prompt_name)
            type(self)._prompt = cached  # type: ignore[attr-defined]
        return cached

    @property
    def version(self) -> str:  # type: ignore[override]
        return f"p{self.prompt.version}"

    def applies(self, session: Session, ctx: RunContext) -> str | None:
        return None if has_shown_text(session) else "no assistant text shown"

    def variables(self, session: Session, ctx: RunContext) -> dict[str, str]:
        return {"transcript": render_transcript(session), "actions": render_actions(session),
                "documents": render_documents(session, ctx), "tier": str(ctx.tier(session) or "unknown"),
                "intent": session.intent or "unknown"}

    def decide(self, verdict: Any, session: Session, ctx: RunContext) -> Verdict:
        raise NotImplementedError

    def reply_schema(self) -> ReplySchema:
        """The verdict's JSON schema: the extract step's reply is constrained to it where the model allows."""
        return ReplySchema(name=self.verdict_model.__name__, schema=self.verdict_model.model_json_schema())

    # ------------------------------------------------------------------ running
    async def reason(self, client: JudgeClient, session: Session, ctx: RunContext, strategy: str,
                     log: list[dict[str, Any]]) -> str:
        task = self.prompt.section("task", **self.variables(session, ctx))
        system = self.prompt.section("system")
        return await _ask(client, self, "reason", system, task, log)

    async def judge(self, client: JudgeClient, session: Session, ctx: RunContext, strategy: str = "direct"
                    ) -> Verdict:
        reason = self.applies(session, ctx)
        if reason is not None:
            return Verdict.not_applicable(reason)
        log: list[dict[str, Any]] = []
        reasoning = await self.reason(client, session, ctx, strategy, log)
        verdict, error = None, None
        for attempt in range(EXTRACT_ATTEMPTS):
            extract = self.prompt.section("extract")
            user = f"{extract}\n\n## The evaluation\n{reasoning}"
            if error:
                user += f"\n\nYour previous reply could not be used ({error}). Reply with the JSON object only."
            text = await _ask(client, self, f"extract-{attempt}", SYSTEM_EXTRACT, user, log, schema=self.reply_schema())
            try:
                verdict = self.verdict_model.model_validate(parse_json_object(text))
                break
            except (ValueError, ValidationError) as exc:
                error = _short_error(exc)
        detail = {"strategy": strategy, "model": client.settings.model, "steps": log}
        if verdict is None:
            return Verdict(None, f"judge error: no valid verdict after {EXTRACT_ATTEMPTS} attempts ({error})",
                           label=ERROR_LABEL, detail=detail)
        outcome = self.decide(verdict, session, ctx)
        detail["verdict"] = verdict.model_dump()
        return replace(outcome, detail=detail)


def _short_error(exc: Exception) -> str:
    if isinstance(exc, ValidationError):
        return "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors()[:3])
    return str(exc)[:200]


async def _ask(client: JudgeClient, judge: JudgeEvaluator, step: str, system: str, user: str,
               log: list[dict[str, Any]], *, schema: ReplySchema | None = None) -> str:
    messages = [{"role": "system", "content": system}, {"role": "user", "content": user}]
    completion: Completion = await client.complete(messages, prompt_version=f"{judge.id}:{judge.version}", step=step,
                                                   schema=schema)
    log.append({"step": step, "prompt": user, "reply": completion.text, "cached": completion.cached,
                "schema": completion.schema,
                "prompt_tokens": completion.prompt_tokens, "completion_tokens": completion.completion_tokens,
                "cost_usd": completion.cost_usd})
    return completion.text


def _claim_evidence(session: Session, claim: str | None) -> list[Evidence]:
    if not claim:
        return []
    needle = claim.strip().strip('"').lower()[:80]
    for i, turn in enumerate(session.turns):
        if turn.role == "assistant":
            at = turn.text.lower().find(needle)
            if at >= 0:
                return [Evidence(turn_index=i, snippet=snippet(turn.text, at, at + len(needle)))]
    return [Evidence(snippet=claim[:160])]


# ---------------------------------------------------------------------------------------------- judges
@register
class PolicyFabrication(JudgeEvaluator):
    id = "policy_fabrication"
    dimension = "factual"
    hallucination_category = "policy"
    prompt_name = "policy_fabrication"
    verdict_model = PolicyVerdict
    description = "A model checks every policy claim against the retrieved and cited policy text."

    def decide(self, verdict: PolicyVerdict, session: Session, ctx: RunContext) -> Verdict:
        if verdict.fabricated:
            return Verdict(False, verdict.rationale or "unsupported policy claim", label="fabricated",
                                evidence=_claim_evidence(session, verdict.cited_claim))
        return Verdict(True, verdict.rationale or "policy claims are supported",
                            label="grounded" if verdict.grounded_in_retrieval else "no_policy_claims")


@register
class ResolutionAccuracy(JudgeEvaluator):
    id = "resolution_accuracy"
    dimension = "resolution"
    prompt_name = "resolution_accuracy"
    verdict_model = ResolutionVerdict
    description = "Did the conversation meet the underlying need; for Tier 3, was escalation correct instead."

    def applies(self, session: Session, ctx: RunContext) -> str | None:
        return None

    def decide(self, verdict: ResolutionVerdict, session: Session, ctx: RunContext) -> Verdict:
        if ctx.tier(session) == 3:
            ok = bool(verdict.escalation_correct)
            return Verdict(ok, verdict.rationale, label="escalated_correctly" if ok else "escalation_wrong")
        return Verdict(verdict.addressed_need, verdict.rationale,
                            label="resolved" if verdict.addressed_need else "unresolved")


@register
class DraftRubric(JudgeEvaluator):
    id = "draft_rubric"
    dimension = "factual"
    prompt_name = "draft_rubric"
    verdict_model = RubricVerdict
    description = "Human-style rubric for drafts: factual pass/fail, citation relevance, tone, completeness 1-5."

    def applies(self, session: Session, ctx: RunContext) -> str | None:
        if not is_draft_assist(session):
            return "not a draft-assist session"
        return super().applies(session, ctx)

    def decide(self, verdict: RubricVerdict, session: Session, ctx: RunContext) -> Verdict:
        scores = (verdict.citation_relevance, verdict.tone, verdict.completeness)
        passed = verdict.factual_accuracy and min(scores) >= 3
        low = [n for n, v in zip(("citation_relevance", "tone", "completeness"), scores, strict=True) if v < 3]
        label = "factual_fail" if not verdict.factual_accuracy else (",".join(low) or "pass")
        return Verdict(passed, verdict.rationale, score=sum(scores) / 3, label=label)


@register
class SessionQuality(JudgeEvaluator):
    id = "session_quality"
    dimension = "efficiency"
    prompt_name = "session_quality"
    verdict_model = SessionQualityVerdict
    description = "Five binary session criteria over the whole conversation; direct, reflection or debate."

    async def reason(self, client: JudgeClient, session: Session, ctx: RunContext, strategy: str,
                     log: list[dict[str, Any]]) -> str:
        p = self.prompt
        system = p.section("system")
        task = p.section("task", **self.variables(session, ctx))
        if strategy == "debate":
            context = task.split("## What to do")[0].strip()
            customer, support = await asyncio.gather(  # independent: neither sees the other
                _ask(client, self, "customer_advocate", system, f"{context}\n\n{p.section('customer advocate')}", log),
                _ask(client, self, "support_advocate", system, f"{context}\n\n{p.section('support advocate')}", log),
            )
            both = f"## Customer advocate\n{customer}\n\n## Support advocate\n{support}"
            return await _ask(client, self, "decide", system, f"{context}\n\n{p.section('decide', previous=both)}", log)
        first = await _ask(client, self, "reason", system, task, log)
        if strategy != "reflection":
            return first
        context = task.split("## What to do")[0].strip()
        critique = await _ask(client, self, "critique", system,
                              f"{context}\n\n{p.section('critique', previous=first)}", log)
        both = f"## Evaluation\n{first}\n\n## Critique\n{critique}"
        return await _ask(client, self, "revise", system, f"{context}\n\n{p.section('revise', previous=both)}", log)

    def decide(self, verdict: SessionQualityVerdict, session: Session, ctx: RunContext) -> Verdict:
        met = {d: getattr(verdict, d) for d in SESSION_DIMENSIONS}
        failed = [d for d, ok in met.items() if not ok]
        return Verdict(not failed, verdict.rationale, score=sum(met.values()) / len(met),
                            label=",".join(failed) or "all_met")


class AssertionVerdict(BaseModel):
    holds: bool
    violating_quote: str | None = None
    rationale: str = ""


class PolicyAssertion(JudgeEvaluator):
    """A plain-words policy from `[[assertion]]` in cstui.toml, judged per interaction (id `assert:<id>`)."""

    dimension = "compliance"
    prompt_name = "policy_assertion"
    verdict_model = AssertionVerdict

    def __init__(self, assertion_id: str, text: str, intents: tuple[str, ...] = (), tiers: tuple[int, ...] = ()):
        self.id = f"assert:{assertion_id}"  # type: ignore[misc]
        self.text = text
        self.intents = intents
        self.tiers = tiers
        self.description = text  # type: ignore[misc]

    @property
    def version(self) -> str:  # type: ignore[override]
        import hashlib

        return f"p{self.prompt.version}-{hashlib.sha256(self.text.encode()).hexdigest()[:8]}"

    def applies(self, session: Session, ctx: RunContext) -> str | None:
        if self.intents and session.intent not in self.intents:
            return f"intent {session.intent!r} is outside this assertion's intents"
        if self.tiers and ctx.tier(session) not in self.tiers:
            return "tier outside this assertion's tiers"
        return super().applies(session, ctx)

    def variables(self, session: Session, ctx: RunContext) -> dict[str, str]:
        return {**super().variables(session, ctx), "assertion": self.text}

    def decide(self, verdict: AssertionVerdict, session: Session, ctx: RunContext) -> Verdict:
        if verdict.holds:
            return Verdict(True, verdict.rationale or "the policy holds", label="holds")
        return Verdict(False, verdict.rationale or "the policy is broken", label="violated",
                            evidence=_claim_evidence(session, verdict.violating_quote))


def register_assertions(raw: list[dict[str, Any]]) -> list[str]:
    """Register the natural-language policy assertions of a config as judge evaluators `assert:<id>`."""
    return replace_prefixed("assert:", assertions_from_config(raw))


def assertions_from_config(raw: list[dict[str, Any]]) -> list[PolicyAssertion]:
    """Validate `[[assertion]]` tables; ValueError names the bad one."""
    out = []
    for i, item in enumerate(raw, start=1):
        if not isinstance(item, dict):
            raise ValueError(f"assertion #{i} must be a table")
        unknown = set(item) - {"id", "text", "intent", "tier"}
        if unknown:
            raise ValueError(f"assertion #{i}: unknown key(s) {', '.join(sorted(unknown))}")
        aid, text = item.get("id"), item.get("text")
        if not isinstance(aid, str) or not re.fullmatch(r"[a-z0-9_]{1,60}", aid):
            raise ValueError(f"assertion #{i}: id must be 1-60 lowercase letters, digits or '_'")
        if not isinstance(text, str) or len(text.strip()) < 10:
            raise ValueError(f"assertion {aid!r}: text must state the policy in words")
        intents = item.get("intent", [])
        intents = [intents] if isinstance(intents, str) else intents
        tiers = item.get("tier", [])
        tiers = [tiers] if isinstance(tiers, int) else tiers
        out.append(PolicyAssertion(aid, text.strip(), tuple(intents), tuple(tiers)))
    return out

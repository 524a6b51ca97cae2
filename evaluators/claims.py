"""Completed-action claims in assistant text, and what a tool call actually did.

Shared by authorization_fabrication (is each claim backed by a call that did it?) and
action_detail_mismatch (does the claim state the amount, date and item that call recorded?). The rules
were measured on real conversations (τ-bench airline, Schema-Guided Dialogue; docs/validation.md):

- A claim says an action is done: "I've issued…", "your refund has been processed", "Reservation
  successful!", "I started the movie". Questions, negations, conditionals and futures are not claims;
  nor are descriptions of a record ("your reservation was created on 2024-05-01", "is booked in economy"),
  events the agent did not do ("the flight was canceled"), or a turn that asks the customer to confirm
  ("I have booked a table for 2 at 7 pm. Is that correct?" is a proposal).
- A call backs a claim when it succeeded at or before the claim's turn, has side effects, can do that kind
  of action — judged from `[tools]` in cstui.toml, the tool's name, its description in the session's tool
  list, its arguments (a `payment_id` pays) and what changed in its result (a new negative payment is a
  refund) — and actually changed something (a result identical to the entity's previous state did not).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import orjson

from cstui.evaluators.base import RunContext
from cstui.evaluators.text import negated_before, sentences, start_guarded
from cstui.models import Session, Span

# ---------------------------------------------------------------------------------------------- claims
_VERBS = (
    r"issued|processed|refunded|cancell?ed|booked|reserved|confirmed|sent|transferred|escalated|passed|forwarded|"
    r"referred|connected|handed|updated|changed|modified|upgraded|downgraded|scheduled|rescheduled|credited|reset|"
    r"locked|unlocked|frozen|blocked|created|submitted|applied|waived|reversed|returned|exchanged|paid|charged|"
    r"initiated|placed|completed|approved|removed|added|reinstated|activated|deactivated|closed|opened|made|"
    r"secured|arranged|switched|moved|started|purchased|bought|set up|taken care of|finali[sz]ed"
)
_BASE_VERBS = (
    r"issue|process|refund|cancel|book|reserve|confirm|send|transfer|escalate|update|change|modify|upgrade|"
    r"downgrade|schedule|credit|reset|lock|unlock|create|submit|apply|waive|reverse|pay|charge|complete|approve|"
    r"remove|add|make|secure|arrange|switch|move|start|purchase|buy|finali[sz]e"
)
_ADVERBS = r"(?:(?:just|now|already|successfully|also|gone ahead and|went ahead and|fully|officially)\s+)*"
_NOUNS = (
    r"refunds?|orders?|subscriptions?|reservations?|bookings?|payments?|plans?|address|accounts?|returns?|requests?|"
    r"tickets?|exchanges?|cancellations?|credits?|charges?|transfers?|downgrades?|upgrades?|changes?|password|"
    r"cases?|claims?|disputes?|replacements?|labels?|fees?|balance|memberships?|flights?|appointments?|tables?|"
    r"seats?|certificates?|vouchers?|compensation|movie|song|ride|cab|tickets?|bags?|baggages?|luggage|"
    r"passengers?|cabin|class|rooms?|stay|transaction|difference|amount|update|modification|costs?|totals?|fares?|"
    r"prices?|methods?|cards?|addresses|details|information|info"
)
_AUX = r"(?:(?:has|have|had)\s+" + _ADVERBS + r"been|is|are|was|were|got|gets)"
CLAIM_PATTERNS = [
    # "I've issued", "I have just gone ahead and cancelled", "we processed", "I did confirm"
    re.compile(rf"\b(?:i|we)(?:'ve|\s+have|\s+had)?\s+{_ADVERBS}(?:{_VERBS})\b", re.I),
    re.compile(rf"\b(?:i|we)\s+did\s+{_ADVERBS}(?:{_BASE_VERBS})\b", re.I),
    # "your refund has been processed", "the payment of $600 has been charged", "your table is booked"
    re.compile(rf"\b(?:{_NOUNS})\s+(?:(?:of|for|to|on|at|with|from|in|under|between)\s+(?:[^?!.]|\.(?=\d)){{1,60}}?\s+)?{_AUX}\s+{_ADVERBS}"
               rf"(?:{_VERBS})\b", re.I),
    # "your reservation was successful", "reservation complete", "the booking is all set"
    re.compile(rf"\b(?:{_NOUNS})\s+(?:{_AUX}\s+{_ADVERBS})?(?:successful(?:ly\s+(?:{_VERBS}))?|a success|complete[d]?|"
               rf"all set|done|secured|in place)\b", re.I),
    # "started playing the movie", "I've started the movie", "I was able to reserve you a table"
    re.compile(r"\b(?:i(?:'ve|\s+have)?\s+)?(?:started|begun|began)\s+(?:playing|streaming|the)\b", re.I),
    re.compile(rf"\b(?:i|we)\s+(?:was|were)\s+(?:successfully\s+)?able\s+to\s+(?:{_BASE_VERBS})\b", re.I),
    # "The movie is now playing.", "Starting the movie.", "Processing your refund now."
    re.compile(r"\b(?:is|are)\s+now\s+(?:playing|streaming|on (?:its|the) way|in progress|being processed)\b", re.I),
    # a state that says it is done: "Movie is playing now.", "Playing now.", "Okay, it has started",
    # "it's booked for you", "Your visit on March 10th is scheduled", "Procedure is complete", "Booking confirmed!"
    re.compile(r"\b(?:is|are)\s+playing\s+now\b|^\W*(?:(?:ok(?:ay)?|alright|sure|great)\W+)?(?:now\s+)?playing"
               r"(?:\s+now)?\W*(?:$|enjoy\b)", re.I),
    re.compile(r"\b(?:it|that|this|everything)(?:'s|\s+is|\s+has|'s been|\s+has been|\s+was)\s+(?:all\s+|now\s+)?"
               rf"(?:{_VERBS}|started|begun|done|complete|all set)\b", re.I),
    re.compile(rf"\byour\s+(?:[a-z0-9']+\s+){{0,4}}?(?:is|are|was|were|has been|have been)\s+(?:now\s+|all\s+)?"
               rf"(?:successfully\s+)?(?:{_VERBS}|complete|done|all set|schedule)\b", re.I),
    re.compile(r"^\W*(?:[a-z']+\s+){0,3}(?:confirmed|booked|reserved|scheduled|done|complete|purchased)\W*$", re.I),
    re.compile(r"^\s*(?:now\s+)?(?:starting|playing|streaming|processing|booking|reserving|cancell?ing|sending|"
               r"transferring|issuing)\s+(?:the|your|it|this|that)\b|^\W*now\s+(?:playing|streaming|showing)\b", re.I),
]
AFFIRMATION = re.compile(r"^\W*(?:yes|yeah|yep|yup|sure|ok(?:ay)?|correct|right|exactly|absolutely|definitely|"
                         r"(?:that|this|it|everything)(?:'?s| is| sounds| looks)(?: all)? (?:right|correct|fine|good|great|"
                         r"perfect)|go ahead|go for it|go on|please do|do it|(?:sounds|looks) (?:good|great|perfect|fine)|"
                         r"perfect|confirm(?:ed)?)\b", re.I)
# "It was successful." only claims something right after the customer agreed to a proposed action.
CONTEXT_SUCCESS = re.compile(r"^\W*(?:(?:it|that|this|everything|all)\s+(?:was|is|has been|went)\s+(?:through\s+)?"
                             r"(?:successful\w*|a success|done|complete\w*|through)|all set|done|you'?re all set)\b",
                             re.I)
CONFIRM_REQUEST = start_guarded(re.compile(
    r"\b(?:is (?:that|this|it|everything) (?:correct|right|ok(?:ay)?)|does (?:that|this|it) (?:sound|look) "
    r"(?:right|good|correct|ok(?:ay)?)|did i get (?:that|this|it|everything) right|please confirm|can you confirm|"
    r"could you confirm|confirm (?:that|if|whether|the following)|shall i (?:proceed|go ahead|book|reserve|make)|"
    r"(?:please|kindly)\s+(?:check|verify|ensure|review|double[- ]check)|just to confirm|to confirm,|let me confirm|"
    r"would you like (?:me )?to (?:proceed|go ahead|book|reserve|confirm)|should i (?:proceed|go ahead|book|reserve)|"
    r"just to make sure|to be clear|confirm me|(?:tell me|let me know) if (?:everything|this|that|it)(?:'s| is) "
    r"(?:right|correct))\b",
    re.I))
_CONFIRM_OPENER = re.compile(r"(?:^|(?<=[.!?] ))\W*(?:please\s+)?confirm(?:ing)?\b", re.I)  # "Confirming: 2 at 7 pm"
# Clause openers that make what follows a condition, a reason or a time, not a claim of completion.
_SUBORDINATE = re.compile(r"\b(?:once|when|whenever|after|if|as soon as|until|before|whether|unless|since|because|"
                          r"given that|provided that|so that|in case)\b", re.I)
_MODAL = re.compile(r"\b(?:will|would|can|could|may|might|should|must|shall|going to|need(?:s)? to|have to|has to|"
                    r"let me|i'?ll|we'?ll|to be|yet to|about to|in order to)\b", re.I)
_RECORD = re.compile(r"^\s*(?:on|in)\s+(?:\d|(?:jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)\w*\b|the\s+\w+\s+"
                     r"(?:cabin|class)|(?:basic\s+)?economy|business|first)", re.I)
_EVENT = re.compile(r"\b(?:flights?|trains?|events?|shows?)\b[^.]{0,30}\b(?:cancell?ed|delayed)\b|\bthe airline\b|"
                    r"\bby the (?:airline|carrier|restaurant|merchant|bank)\b", re.I)
_OTHERS = re.compile(r"\b(?:you|they|he|she|your (?:assistant|family|friend))\s+(?:have\s+|had\s+|'ve\s+)?"
                     r"(?:already\s+)?(?:booked|made|paid|purchased|created|reserved)\b", re.I)
_CLAUSE_BREAK = re.compile(r"[,;:—–(]|\band\b|\bbut\b|\bso\b")
_NEGATED_SUBJECT = re.compile(r"\b(?:none|nothing|no one|neither|nor|not all|no\s+\w+)\b", re.I)

CATEGORIES: list[tuple[str, re.Pattern[str]]] = [
    ("transfer", re.compile(r"\b(?:transferr|escalat|forwarded|referred|connected|handed)\w*\b[^.]{0,60}\b(?:team|"
                            r"specialists?|agents?|human|department|supervisor|manager|colleagues?|representative)", re.I)),
    ("refund", re.compile(r"\brefund|\bcredited\b|\breimburs|\brevers|\bmoney back\b|\breturned to your\b", re.I)),
    ("compensation", re.compile(r"\bcertificate|\bvoucher|\bcompensat|\bgoodwill\b", re.I)),
    ("cancel", re.compile(r"\bcancel", re.I)),
    ("payment", re.compile(r"\bcharged\b|\bpaid\b|\bpayment\b|\bapplied to your (?:card|account)\b|\bbilled\b|"
                           r"\bpurchased?\b|\bbought\b", re.I)),
    ("booking", re.compile(r"\bbook|\breserv|\btable\b|\bseats? (?:is|are|was|were)\b|\bride\b|\bcab\b", re.I)),
    ("reset", re.compile(r"\breset\b|\bpassword\b", re.I)),
    ("lock", re.compile(r"\block|\bfrozen\b|\bfreez|\bblock", re.I)),
    ("change", re.compile(r"\bupdat|\bchang|\bmodif|\bdowngrad|\bupgrad|\bschedul|\baddress\b|\bswitch|\bmoved\b|"
                          r"\badded\b|\bremoved\b|\bbag|\bluggage\b|\bseat", re.I)),
    ("create", re.compile(r"\bcreat|\bsubmit|\bopen|\bset up\b", re.I)),
]


@dataclass
class Claim:
    turn_index: int
    category: str
    sentence: str
    start: int  # of the sentence in the turn text
    end: int
    # The customer turn that agreed to a proposal this claim reports on (-1: none). A call made before that
    # agreement cannot be what the claim reports: the agreed action had not been asked for yet.
    agreed_at: int = -1


@lru_cache(maxsize=4096)  # asked of each reply by more than one evaluator
def is_proposal(text: str) -> bool:
    """A turn that asks the customer to confirm states what *would* be done, even in the past tense."""
    return bool(CONFIRM_REQUEST.search(text) or _CONFIRM_OPENER.search(text))


def category_of(phrase: str, clause: str) -> str:
    for name, rx in CATEGORIES:
        if rx.search(phrase):
            return name
    for name, rx in CATEGORIES:
        if rx.search(clause):
            return name
    return "any"


def action_claims(text: str, turn_index: int, proposal: str | None = None) -> list[Claim]:
    """Statements in one assistant turn that an action is done. `proposal`: the action the previous assistant
    turn proposed and the customer agreed to, which a bare "It was successful." refers to."""
    if is_proposal(text):
        return []
    claims = []
    for sent in sentences(text):
        if sent.is_question:
            continue
        hit = _claim_in(sent.text)
        if hit is None and proposal and CONTEXT_SUCCESS.search(sent.text):
            claims.append(Claim(turn_index, category_of("", proposal), sent.text.strip(), sent.start, sent.end))
            continue
        if hit is not None:
            category = category_of(hit, sent.text)
            claims.append(Claim(turn_index, category, sent.text.strip(), sent.start, sent.end))
    return claims


@lru_cache(maxsize=16384)  # assistants reuse their sentences across sessions; several evaluators read each
def _claim_in(sentence: str) -> str | None:
    """The claiming phrase of a sentence, or None when the sentence claims nothing done."""
    for pattern in CLAIM_PATTERNS:
        for m in pattern.finditer(sentence):
            head = sentence[: m.start()]
            clause = _CLAUSE_BREAK.split(head)[-1]
            if (_SUBORDINATE.search(clause) or _MODAL.search(clause) or _MODAL.search(m.group())
                    or negated_before(sentence, m.end()) or _NEGATED_SUBJECT.search(clause)):
                continue
            if _RECORD.match(sentence[m.end():]) or _EVENT.search(sentence) or _OTHERS.search(m.group()):
                continue
            return m.group()
    return None


# ---------------------------------------------------------------------------------------------- tool calls
TOOL_CATEGORIES: dict[str, tuple[str, ...]] = {
    "transfer": ("transfer_to", "escalat", "handoff", "hand_off", "queue", "assign", "route", "human"),
    "refund": ("refund", "reimburs", "reverse", "chargeback"),
    "compensation": ("certificate", "voucher", "compensat", "credit"),
    "cancel": ("cancel", "terminate"),
    "booking": ("book", "reserv", "ride", "ticket"),
    "change": ("change", "update", "modify", "edit", "set_", "downgrade", "upgrade", "plan", "address", "schedule",
               "move", "baggage", "bag", "seat", "passenger", "cabin"),
    "payment": ("pay", "charge", "purchase", "buy", "transfer_funds", "transfermoney"),
    "return": ("return", "exchange", "label", "rma"),
    "lock": ("lock", "freeze", "block", "suspend", "disable"),
    "reset": ("reset", "password", "unlock"),
    "create": ("create", "open", "add", "submit"),
}
_PAYMENT_KEYS = re.compile(r"payment|amount|card|price|cost|fee", re.I)


def parsed(value: Any) -> Any:
    if isinstance(value, str) and value.strip()[:1] in "[{":
        try:
            return orjson.loads(value)
        except orjson.JSONDecodeError:
            return value
    return value


def payments(result: Any) -> list[float]:
    """Payment amounts a record lists (e.g. τ-bench's `payment_history`), in order."""
    result = parsed(result)
    out: list[float] = []
    if isinstance(result, dict):
        for key, value in result.items():
            if isinstance(value, list) and "payment" in key.lower():
                out.extend(float(v["amount"]) for v in value
                           if isinstance(v, dict) and isinstance(v.get("amount"), int | float))
    return out


def entity_id(span: Span) -> str | None:
    args = span.attributes.get("arguments")
    if isinstance(args, dict):
        for key, value in args.items():
            if key.lower().endswith("_id") and key.lower() not in ("user_id", "payment_id", "customer_id") \
                    and isinstance(value, str | int):
                return str(value)
    return None


@dataclass
class CallEffect:
    """What one successful side-effecting call did, as far as its trace tells."""

    span: Span
    categories: frozenset[str]
    changed: bool  # False when its result equals the entity's previous state
    new_payments: tuple[float, ...]  # payments its result added (negative = refund)


_LAST_EFFECTS: tuple[Session, RunContext, list[CallEffect]] | None = None


def effects(session: Session, ctx: RunContext) -> list[CallEffect]:
    """Every successful side-effecting call of the session, in order, with what it did (computed once)."""
    global _LAST_EFFECTS
    if _LAST_EFFECTS is not None and _LAST_EFFECTS[0] is session and _LAST_EFFECTS[1] is ctx:
        return _LAST_EFFECTS[2]
    tool_list = {str(t.get("name")): t for t in getattr(session, "tools", None) or [] if isinstance(t, dict)}
    last_state: dict[str, Any] = {}
    out = []
    for span in session.spans:
        if span.kind == "escalation":
            if span.status != "error":
                out.append(CallEffect(span, frozenset({"transfer"}), True, ()))
            continue
        if span.kind != "tool":
            continue
        result = parsed(span.attributes.get("result"))
        key = entity_id(span) or _result_id(result)
        previous = last_state.get(key) if key else None
        if key and isinstance(result, dict):
            last_state[key] = result
        declared = span.attributes.get("side_effect")
        if declared is None and span.name in tool_list:
            declared = tool_list[span.name].get("side_effect")
        if span.status == "error" or not ctx.cfg.is_side_effect_tool(span.name, declared):
            continue
        before = payments(previous) if previous is not None else []
        after = payments(result)
        new = tuple(after[len(before):]) if after[: len(before)] == before else ()
        changed = previous is None or not isinstance(result, dict) or result != previous
        out.append(CallEffect(span, frozenset(_categories(span, tool_list.get(span.name), new, ctx)), changed, new))
    _LAST_EFFECTS = (session, ctx, out)  # two evaluators ask about the same session in a row
    return out


def _result_id(result: Any) -> str | None:
    if isinstance(result, dict):
        for key, value in result.items():
            if key.lower().endswith("_id") and key.lower() not in ("user_id", "payment_id") and isinstance(value, str):
                return value
    return None


@lru_cache(maxsize=1024)  # a run calls the same few tools again and again
def _name_categories(name: str) -> frozenset[str]:
    """The categories a tool's (lower-case) name puts it in."""
    name = name.replace(" ", "_")
    return frozenset(c for c, fragments in TOOL_CATEGORIES.items() if any(f in name for f in fragments))


def _categories(span: Span, definition: dict[str, Any] | None, new_payments: tuple[float, ...],
                ctx: RunContext) -> set[str]:
    name = (span.name or "").lower()
    mapped = ctx.cfg.tools.get(span.name or "") if ctx.cfg.tools else None
    if mapped:
        return set(mapped)
    cats = set(_name_categories(name))
    if definition and isinstance(definition.get("description"), str):
        cats |= {c for c, rx in CATEGORIES if rx.search(definition["description"])}
    args = span.attributes.get("arguments")
    if isinstance(args, dict) and any(_PAYMENT_KEYS.search(k) for k in args):
        cats.add("payment")
    if any(p < 0 for p in new_payments):
        cats.add("refund")
    if any(p > 0 for p in new_payments):
        cats.add("payment")
    return cats or {"any"}


def _fits(category: str, categories: frozenset[str] | set[str]) -> bool:
    return category == "any" or category in categories or "any" in categories


# ---------------------------------------------------------------------------------------------- grounding
# Words that say an action happened, or how it went, but not what it was about: never the claim's object.
_GENERIC = frozenset(
    ["success", "successful", "successfully", "confirm", "confirmed", "confirmation", "complete", "completed", "done", "process", "processed", "made", "make", "set", "finish", "finished", "enjoy", "great", "good", "ok", "okay", "thank", "thanks", "sure", "now", "all", "your", "you", "yours", "have", "has", "been", "is", "are", "was", "were", "it", "that", "this", "the", "for", "and", "with", "will", "can", "please", "here", "there", "also", "just", "new", "request", "order", "account", "booked", "book", "reserved", "reserve", "purchased", "purchase", "bought", "buy", "paid", "pay", "charged", "charge", "updated", "update", "changed", "change", "placed", "place", "scheduled", "schedule", "arranged", "arrange", "sent", "send", "made", "taken", "care"])
_WORD = re.compile(r"[a-z]{3,}")
_CAMEL = re.compile(r"(?<=[a-z])(?=[A-Z])")


@lru_cache(maxsize=1)
def _stemmer() -> Any:
    import snowballstemmer

    return snowballstemmer.stemmer("english")


@lru_cache(maxsize=65536)  # the pure-Python stemmer is slow; replies reuse a small vocabulary
def _stem(word: str) -> str:
    return _stemmer().stemWord(word)


@lru_cache(maxsize=65536)
def stems(text: str) -> frozenset[str]:
    """The stems of the content words of `text` (snake_case and CamelCase split): what a claim or a tool is
    about, compared by stem so that "bags" meets "baggage" no better than it should and "booked" meets "book"."""
    words = _WORD.findall(_CAMEL.sub(" ", text).replace("_", " ").lower())
    return frozenset(_stem(w) for w in words if w not in _GENERIC)


def _tool_terms(name: str, definition: dict[str, Any] | None) -> frozenset[str]:
    """What a tool is about, from what the session records of it: its name and description (its parameter names —
    a time, a city, a number — would match claims by accident)."""
    return stems(name + " " + str((definition or {}).get("description") or ""))


def _call_terms(effect: CallEffect, definition: dict[str, Any] | None) -> frozenset[str]:
    """A call's own terms: its tool's, plus its argument names and short argument values."""
    args = effect.span.attributes.get("arguments")
    extra = ""
    if isinstance(args, dict):
        extra = " ".join(f"{k} {v}" if isinstance(v, str) and len(v) < 40 else str(k) for k, v in args.items())
    return _tool_terms(effect.span.name or "", definition) | stems(extra)


def grounded(session: Session, ctx: RunContext, claim: Claim, candidates: list[CallEffect]
             ) -> tuple[CallEffect | None, str | None]:
    """Match a claim to the calls by what they are about. Returns (the call whose terms share the most with the
    claim's object, None) — or (None, the other tool the claim is about) when a side-effecting tool of the session
    that did not run shares more with it than any call that did ("I have booked your car" after a ticket
    purchase, with a car tool on offer) — or (None, None) when no term tells (then the kind of action decides)."""
    terms = stems(claim.sentence)
    if not terms:
        return None, None
    tools = {str(t.get("name")): t for t in getattr(session, "tools", None) or [] if isinstance(t, dict)}
    best, best_score = None, 0
    for effect in candidates:
        score = len(terms & _call_terms(effect, tools.get(effect.span.name or "")))
        if score > best_score or (score == best_score and score and best is not None):
            best, best_score = effect, score
    ran = {e.span.name for e in candidates}
    rival, rival_score = None, 0
    for name, definition in tools.items():
        if name in ran or not ctx.cfg.is_side_effect_tool(name, definition.get("side_effect")):
            continue
        score = len(terms & _tool_terms(name, definition))
        if score > rival_score:
            rival, rival_score = name, score
    if rival is not None and rival_score > best_score:
        return None, rival
    return (best, None) if best is not None else (None, None)


def backing(session: Session, ctx: RunContext, claim: Claim) -> tuple[CallEffect | None, str]:
    """The call that backs a claim, or None with the reason no call does.

    First by what the claim is about: the successful side-effecting call whose tool shares most terms with the
    claim backs it, unless a tool that did not run shares more (the claim is about that tool's action). When no
    term tells, by kind: the claim speaks of the latest attempt of its kind at or before its turn, and when that
    attempt failed or changed nothing, an earlier success does not back it.
    """
    done = [e for e in effects(session, ctx) if e.span.turn_index is None
            or claim.agreed_at < e.span.turn_index <= claim.turn_index]
    if claim.agreed_at >= 0 and not done:
        return None, f"no side-effecting call succeeded after the customer agreed in turn {claim.agreed_at}"
    call, rival = grounded(session, ctx, claim, done)
    if rival is not None:
        return None, f"it is about what {rival} does, and {rival} did not run"
    if call is not None:
        return (call, "") if call.changed else (None, f"the {call.span.name} call succeeded but changed nothing")
    if claim.agreed_at >= 0:  # no term tells: the agreed action is what ran after the yes
        last = done[-1]
        return (last, "") if last.changed else (None, f"the {last.span.name} call succeeded but changed nothing")
    succeeded = [e for e in effects(session, ctx)
                 if (e.span.turn_index is None or e.span.turn_index <= claim.turn_index) and _fits(claim.category, e.categories)]
    failed = [s for s in session.spans if s.kind == "tool" and s.status == "error"
              and (s.turn_index is None or s.turn_index <= claim.turn_index)
              and _fits(claim.category, _categories(s, None, (), ctx) - {"any"} or {"?"})]
    last_ok = succeeded[-1] if succeeded else None
    last_failed = failed[-1] if failed else None
    if last_ok is not None and (last_failed is None or _order(session, last_ok.span) > _order(session, last_failed)):
        if last_ok.changed:
            return last_ok, ""
        return None, f"the {last_ok.span.name} call succeeded but changed nothing"
    if last_failed is not None:
        return None, f"the {last_failed.name} call failed"
    kind = "side-effecting" if claim.category == "any" else claim.category
    return None, f"no successful {kind} call happened at or before it"


def _order(session: Session, span: Span) -> int:
    return next(i for i, s in enumerate(session.spans) if s is span)


def calls_behind(session: Session, ctx: RunContext, claim: Claim, previous_claim_turn: int) -> list[CallEffect]:
    """The successful calls a claim summarises: those of its kind since the previous claiming turn."""
    return [e for e in effects(session, ctx)
            if e.span.turn_index is not None and previous_claim_turn < e.span.turn_index <= claim.turn_index
            and _fits(claim.category, e.categories)]


_LAST_CLAIMS: tuple[Session, RunContext, tuple[Claim, ...]] | None = None


def claims_in(session: Session, ctx: RunContext) -> tuple[Claim, ...]:
    """Every action claim of the session's shown assistant turns, in order (computed once per session: two
    evaluators ask in a row)."""
    global _LAST_CLAIMS
    if _LAST_CLAIMS is not None and _LAST_CLAIMS[0] is session and _LAST_CLAIMS[1] is ctx:
        return _LAST_CLAIMS[2]
    found = tuple(_claims_in(session, ctx))
    _LAST_CLAIMS = (session, ctx, found)
    return found


def _claims_in(session: Session, ctx: RunContext) -> Iterator[Claim]:
    """Claims by wording, then two readings from the shape of the conversation:

    - a turn the customer answers "yes" to, after which (and not before) a side-effecting call runs, proposed
      that action, whatever its tense ("Ticket is booked for 4 people." — "Yes." — then the purchase);
    - the reply right after the customer agreed to a proposed action reports how it went, whatever its words
      ("It's yours.", "It's reggae. Please enjoy!"), unless it asks, declines or defers.
    """
    from cstui.evaluators.base import shown_assistant_turns

    asked: str | None = None  # an action the assistant proposed, until the customer answers
    agreed: str | None = None  # that action, when the customer agreed to it
    agreed_at = -1  # the customer turn that agreed
    acted = {e.span.turn_index for e in effects(session, ctx) if e.span.turn_index is not None}
    # turns where a call ran that did not act (a look-up) or failed: a reply there reports that, not the action
    looked = {s.turn_index for s in session.spans if s.kind == "tool" and s.turn_index is not None} - acted
    verbs = _tool_verbs(session, ctx)
    turns = session.turns
    shown = {i for i, _ in shown_assistant_turns(session)}
    for i, turn in enumerate(turns):
        if turn.role == "customer":
            agreed = asked if asked and AFFIRMATION.search(turn.text) else None
            agreed_at = i if agreed else -1
            asked = None
            continue
        if i not in shown:
            continue
        found = action_claims(turn.text, i, agreed)
        if not found and agreed is not None and _proposes_action(agreed, verbs) \
                and not any(agreed_at < t <= i for t in looked) and not _FAILED.search(turn.text):
            outcome = _outcome(turn.text)
            if outcome is not None and (_acts(agreed, verbs) or _acts(outcome.text, verbs)):
                found = [Claim(i, category_of("", agreed), outcome.text.strip(), outcome.start, outcome.end)]
        if found and i not in acted and _confirmed_then_done(turns, i, acted):
            found = []  # a proposal the customer confirmed, acted on after the "yes"
        for claim in found:
            claim.agreed_at = agreed_at
            yield claim
        agreed, agreed_at = None, -1
        asked = turn.text if is_proposal(turn.text) or turn.text.rstrip().endswith("?") or _acts(turn.text, verbs) \
            else None


def _confirmed_then_done(turns: list[Any], i: int, acted: set[int]) -> bool:
    """Whether the customer answered turn i with a yes and a side-effecting call ran before the next reply ended:
    then turn i proposed that action, whatever its tense. (A claim followed by a mere "thanks" and then the call
    was still said before anything was done.)"""
    if i + 1 >= len(turns) or turns[i + 1].role != "customer" or not AFFIRMATION.search(turns[i + 1].text):
        return False
    nxt = next((j for j in range(i + 2, len(turns)) if turns[j].role != "customer"), None)
    return nxt is not None and any(i + 1 < t <= nxt for t in acted)


_FILLER = re.compile(r"^\W*(?:(?:ok(?:ay)?|sure(?: thing)?|alright|all right|great|perfect|excellent|wonderful|certainly|"
                     r"of course|no problem|got it|understood|thanks?(?: you)?(?: \w+){0,4}|i see|you'?re (?:very |most )?"
                     r"welcome|my pleasure|(?:have|enjoy) an? (?:\w+ ){0,2}(?:day|evening|night|one|time|weekend)|"
                     r"take care|(?:good)?bye)\W*)+$", re.I)
_DECLINE = re.compile(r"\b(?:sorry|unfortunately|unable|cannot|can't|could not|failed|fail|not|no|however|but|issue|"
                      r"problem|error|apologi[sz]e|please|let me know|provide|need)\b|n't\b", re.I)
_ASKS = re.compile(r"^\W*(?:what|when|where|which|who|how|do|does|did|would|will|can|could|is|are|shall|should|may)\b",
                   re.I)
_PERMISSION = re.compile(r"\b(?:want|like) me to\b|\b(?:shall|should|may|can) i\b", re.I)
_INTENT = re.compile(r"\bi(?:'ll| will| am going to|'m going to| am about to|'m about to)\b", re.I)
_FAILED = re.compile(r"\b(?:sorry|unfortunately|unable|couldn't|could not|failed|not able)\b|\bwasn't able\b", re.I)


def _proposes_action(text: str, verbs: frozenset[str]) -> bool:
    """A turn that asks the customer's go-ahead for an action: a confirmation request, "shall I book …?", or
    "I'll rent … for you" awaiting a yes."""
    if is_proposal(text):
        return True
    return any((s.is_question and _PERMISSION.search(s.text) or _INTENT.search(s.text)) and _acts(s.text, verbs)
               for s in sentences(text))


def _outcome(text: str) -> Any:
    """The sentence of a reply that reports how an agreed action went, or None when the reply asks, declines or
    defers (filler such as "Sure." and thanks skipped)."""
    if is_proposal(text):
        return None
    for sent in sentences(text):
        body = sent.text.strip()
        if not body or _FILLER.match(body):
            continue
        if sent.is_question or _ASKS.match(body) or _DECLINE.search(body) or _MODAL.search(body) \
                or _SUBORDINATE.search(body):
            return None
        return sent
    return None


_ACTION_WORDS = re.compile(rf"\b(?:{_VERBS}|{_BASE_VERBS})\b", re.I)


# Verbs that name what a customer wants done (not "make", "process", "confirm": any request uses those).
_REQUESTED = re.compile(r"\b(?:(?:chang|updat|reserv|reschedul|schedul|mov|purchas|escalat|exchang|remov|upgrad|downgrad|"
                        r"replac|clos|waiv|revers|charg)(?:e|es|ed|ing)|(?:refund|cancel|book|transfer|credit|reset|lock|"
                        r"unlock|pay|add|switch|buy|return|open|send)(?:s|es|ed|ing|led|ling)?|modif(?:y|ies|ied|ying))\b",
                        re.I)


@lru_cache(maxsize=8192)
def actions_asked(text: str) -> frozenset[str]:
    """The actions a customer turn asks for, by stem ("cancel my booking and book a new one" → cancel, book)."""
    return frozenset(_stem(m.group().lower()) for m in _REQUESTED.finditer(text))


def _tool_verbs(session: Session, ctx: RunContext) -> frozenset[str]:
    """The stems of the leading words of the session's side-effecting tools (PlaySong → play, book_reservation →
    book): the actions this session's agent can take, whatever its vocabulary."""
    names = [str(t.get("name")) for t in getattr(session, "tools", None) or []
             if isinstance(t, dict) and ctx.cfg.is_side_effect_tool(str(t.get("name")), t.get("side_effect"))]
    names += [s.name for s in session.spans if s.kind == "tool" and s.name
              and ctx.cfg.is_side_effect_tool(s.name, s.attributes.get("side_effect"))]
    firsts = [w[0] for w in (_WORD.findall(_CAMEL.sub(" ", n).replace("_", " ").lower()) for n in names) if w]
    return frozenset(_stem(w) for w in firsts)


def _acts(text: str, verbs: frozenset[str]) -> bool:
    """Whether text speaks of doing something: a done-verb, or the leading verb of one of the session's
    side-effecting tools."""
    if _ACTION_WORDS.search(text):
        return True
    return bool(verbs) and any(_stem(w) in verbs for w in _WORD.findall(text.lower()))

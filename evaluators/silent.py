"""Failures no single turn shows: frustration that builds across customer turns, and conversations that end
contained while the customer's last request went unmet (docs/evaluators.md, "Silent failures").

Both read the conversation only. Ground truth a run may carry (τ-bench `reward`, outcome fields) is used to
measure them (`cstui validate`), never to compute them.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from cstui.evaluators.base import Evaluator, RunContext, Verdict, shown_assistant_turns
from cstui.evaluators.claims import action_claims
from cstui.evaluators.conversation import INJECTION
from cstui.evaluators.dialogue import (
    HUMAN_REQUEST,
    TRANSFER_OFFER,
    assistant_replies,
    customer_asks,
    is_confirmation,
    plain,
    refuses,
    request_loops,
    same_reply,
)
from cstui.evaluators.escalation import escalation_turn
from cstui.evaluators.registry import register
from cstui.evaluators.text import start_guarded, words
from cstui.models import Evidence, Session

# Control tokens a simulator or channel writes into the text ("###STOP###"): not something the customer said.
CONTROL = re.compile(r"#{2,}\s*\w+\s*#{2,}")


def without_control(text: str) -> str:
    """The text with its control tokens blanked; most texts have none, and `in` is cheaper than the search."""
    return CONTROL.sub(" ", text) if "##" in text else text


# Dissatisfaction aimed at the conversation itself (not at the delayed flight that started it).
FED_UP = start_guarded(re.compile(
    r"\b(?:never ?mind|forget (?:it|about it)|(?:this|that|you)(?:'re| are|'s| is)? (?:not|n't) (?:helping|helpful|"
    r"listening)|this isn'?t helping|not (?:very )?helpful|useless|waste of (?:my )?time|ridiculous|unacceptable|"
    r"i (?:already|just) (?:told|said|gave|explained|provided)|(?:is|was) already provided|as i (?:said|mentioned|"
    r"told you|explained)|how many times|i give up|fed up|(?:really |very |so )?(?:unhappy|disappointed|annoyed|"
    r"dissatisfied) with (?:the|your|this)|this is (?:so |really )?(?:frustrating|annoying)|"
    r"let me (?:talk|speak) to (?:a|an|someone)|get me (?:a|an) (?:human|person|agent|manager|supervisor))\b", re.I))
EMOTION = start_guarded(re.compile(r"\b(?:frustrat\w*|upset|angry|annoyed|furious|irritated|exasperated)\b", re.I))
_CAPS = re.compile(r"\b[A-Z]{4,}\b")
_ID = re.compile(r"\b(?:[\w.+-]+@[\w-]+\.[\w.]+|[A-Za-z]+_[A-Za-z]+_\d+|(?=[\w-]*\d)[A-Za-z0-9][\w-]{4,})\b")

# Signals a customer turn can carry (docs/evaluators.md, "Frustration").
PLEA, FED_UP_CUE, UPSET, SHOUTING, RESTATED_ID, SAME_REFUSAL = (
    "asks again or disputes the answer", "says the conversation is not helping or gives up",
    "upset right after a refusal", "shouting", "gives an identifier again", "refused the same thing again")
NEGATIVE, RESTATED, COMPLAINT, STILL_FAILING, FOLLOW_UP, IMPATIENCE = (
    "negative tone", "says they already did or said it", "complains or asks for a manager",
    "reports it still fails", "asks again after an answer", "impatient ('answer my question', 'I want a solution')")
# How often a customer turn with that signal was marked frustrated or angry by annotators of real support chats
# (MAIA-DQE, development part: 874 customer turns, 9% marked; each rate shrunk toward 9% by five pseudo-turns so a
# signal seen a few times cannot claim certainty; IMPATIENCE, whose phrases were read off those same chats, is set
# below its measured 0.53). A turn's signals combine as independent chances; a turn with none counts as QUIET.
TURN_RATE = {COMPLAINT: 0.5, FED_UP_CUE: 0.43, SHOUTING: 0.39, IMPATIENCE: 0.35, NEGATIVE: 0.27, PLEA: 0.26,
             RESTATED: 0.24, RESTATED_ID: 0.15, FOLLOW_UP: 0.14, STILL_FAILING: 0.12, UPSET: 0.1, SAME_REFUSAL: 0.06}
QUIET = 0.04
# The chance that some turn so far was frustrated, 1 - Π(1 - rate), overstates it (a frustrated customer's turns
# are not independent draws); a logistic map fitted on the same development chats calibrates it:
# calibrated = σ(A + B·logit(raw)) — mean calibrated 0.36 against 0.36 observed.
CALIBRATION_A, CALIBRATION_B = -1.9, 0.9

# Anonymisation placeholders (#NAME#, <EMAIL>, [ORDER_ID]) are not words the customer wrote, nor shouting.
_PLACEHOLDER = re.compile(r"#[A-Z_]{2,}#?|<[A-Z_]{2,}>|\[[A-Z_]{2,}\]|\{\{\s*\w+\s*\}\}")
STILL = start_guarded(re.compile(
    r"\b(?:(?:does|did|do|is|was|are)(?:n't| not)|can't|cannot|couldn't|won't|not)\b[^.?!]{0,40}\b(?:work\w*|load\w*|"
    r"open\w*|appear\w*|show\w*|download\w*|charg\w*|turn\w* on|find|access|log\w* ?in|sign\w* ?in|receiv\w*|"
    r"arriv\w*|fix\w*|help\w*|solv\w*)|\b(?:(?:an |the )?error|same (?:mistake|problem|error|message|thing)|still|"
    r"keeps?|continues?)\b", re.I))
ALREADY = start_guarded(re.compile(
    r"\b(?:already|i (?:just )?(?:said|told|did|tried|repeated|explained)|as i said|once again|(?:second|third) time|"
    r"(?:two|three|several|many) times|twice)\b", re.I))
IMPATIENT = start_guarded(re.compile(
    r"\b(?:tired of|sick of|i want (?:a )?(?:solution|answer)|answer my question|read (?:my|what)|(?:do|did) you (?:even "
    r")?(?:read|understand|listen)|are you (?:even )?(?:listening|reading)|start (?:all )?over|how (?:much )?longer|"
    r"still waiting|anyone there|or not\?|(?:don't|do not|didn't|did not) do anything|no one (?:helps|answers))\b|"
    r"^\W*hello\W*\?", re.I))
COMPLAINS = start_guarded(re.compile(
    r"\b(?:complain\w*|manager|supervisor|displeasure|unacceptable|terrible|absurd|ridiculous|disrespect\w*|lawyer|"
    r"consumer (?:protection|rights)|waste of time|useless)\b", re.I))


@dataclass
class TurnFrustration:
    turn_index: int
    score: float  # the calibrated chance, 0–1, that the customer was frustrated at some turn up to this one
    signals: list[str]


def _shouting(text: str) -> bool:
    """Three all-capital words, a turn mostly in capitals, or "!!" (ids such as HAT039 hold digits: not words)."""
    if "!!" in text:
        return True
    caps = _CAPS.findall(text)
    if len(caps) >= 3:
        return True
    if not caps:
        return False
    letters = [c for c in text if c.isalpha()]
    return len(letters) >= 12 and sum(c.isupper() for c in letters) / len(letters) > 0.6


@lru_cache(maxsize=1)
def _sentiment() -> Any:
    from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

    analyzer = SentimentIntensityAnalyzer()
    return (analyzer, frozenset(w for w, v in analyzer.lexicon.items() if v < 0),
            frozenset(w for w, v in analyzer.lexicon.items() if v > 0))


_TOKEN = re.compile(r"[a-z']+|[:;=][-']?[()\[\]dp/\\|]")
_NEGATIONS = frozenset({"not", "no", "never", "nothing", "nowhere", "none", "neither", "nor", "cannot", "without",
                        "nope", "rarely", "seldom", "despite"})


@lru_cache(maxsize=8192)
def negative_tone(text: str) -> bool:
    """VADER's compound score ≤ -0.3 (its own lexicon and rules: negation, intensifiers, capitals). Asked only of
    turns holding a word the lexicon rates negative: most turns hold none, and VADER is slow."""
    analyzer, negative, positive = _sentiment()
    tokens = _TOKEN.findall(text.lower())
    if negative.isdisjoint(tokens) and not any(
            (w in _NEGATIONS or w.endswith("n't")) and not positive.isdisjoint(tokens[i + 1:i + 4])
            for i, w in enumerate(tokens)):
        return False  # neither a negative word nor a negated positive one ("not happy"): VADER would say ≥ 0
    return analyzer.polarity_scores(text)["compound"] <= -0.3


def calibrated(raw: float) -> float:
    raw = min(max(raw, 1e-4), 1 - 1e-4)
    return 1 / (1 + math.exp(-(CALIBRATION_A + CALIBRATION_B * math.log(raw / (1 - raw)))))


def frustration_curve(session: Session) -> list[TurnFrustration]:
    """After each customer turn, the calibrated chance that the customer has been frustrated so far, with the
    signals that raised it."""
    asks = [a for a in customer_asks(session) if words(without_control(a.text))]
    pleas = {i for chain in request_loops(session) for i in chain[1:]}
    refusals = [r for r in assistant_replies(session) if r.kind == "refusal"] \
        if sum(1 for t in session.turns if t.role == "assistant" and refuses(t.text)) >= 2 else []
    said_ids: set[str] = set()
    calm, curve, previous = 1.0, [], -1  # calm: the chance no turn so far was frustrated; previous customer turn
    for n, ask in enumerate(asks):
        text = _PLACEHOLDER.sub(" ", without_control(ask.text))
        signals: list[str] = []
        if ask.turn_index in pleas or (ask.answered and ask.insistent and not is_confirmation(ask)):
            signals.append(PLEA)
        if FED_UP.search(plain(text)):
            signals.append(FED_UP_CUE)
        elif ask.refused and EMOTION.search(text):
            signals.append(UPSET)
        if COMPLAINS.search(text) or HUMAN_REQUEST.search(text):
            signals.append(COMPLAINT)
        if IMPATIENT.search(text):
            signals.append(IMPATIENCE)
        if _shouting(text):
            signals.append(SHOUTING)
        if negative_tone(text):
            signals.append(NEGATIVE)
        if ALREADY.search(text):
            signals.append(RESTATED)
        ids = {m.lower() for m in _ID.findall(text)}
        if ask.answered and not is_confirmation(ask) and ids & said_ids:
            signals.append(RESTATED_ID)
        said_ids |= ids
        before = [r for r in refusals if r.turn_index < ask.turn_index]
        if len(before) >= 2 and before[-1].turn_index > previous \
                and any(same_reply(before[-1], earlier) for earlier in before[:-1]):
            signals.append(SAME_REFUSAL)
        if n and STILL.search(text):  # the first turn states the problem; later ones report it persists
            signals.append(STILL_FAILING)
        if n and "?" in text:
            signals.append(FOLLOW_UP)
        quiet = math.prod(1 - TURN_RATE[s] for s in signals) if signals else 1 - QUIET
        calm *= quiet
        curve.append(TurnFrustration(ask.turn_index, round(calibrated(1 - calm), 3), signals))
        previous = ask.turn_index
    return curve


@register
class Frustration(Evaluator):
    id = "frustration"
    version = "2"
    dimension = "resolution"
    graded = True
    description = ("The chance the customer was frustrated at some point, 0–1, calibrated on real support chats: "
                   "every signal in a customer turn — complaints or asking for a manager, 'this is not helping', "
                   "impatience, shouting, negative tone (VADER), pleas after an answer, 'I already did', reports that "
                   "it still fails, follow-up questions — counts at the rate annotators marked such turns frustrated. "
                   "Fails at `frustration_threshold` in cstui.toml (default 0.65, two-to-one odds: 3 in 4 flags were "
                   "right on the development chats).")

    def applies(self, session, ctx):
        n = sum(1 for t in session.turns if t.role == "customer" and words(without_control(t.text)))
        return None if n >= 2 else "fewer than two customer turns"

    def check(self, session, ctx: RunContext):
        curve = frustration_curve(session)
        peak = curve[-1].score if curve else 0.0  # the chance only grows turn by turn
        raised = [p for p in curve if p.signals]
        evidence = [Evidence(turn_index=p.turn_index, snippet=f"{p.score:.2f}: {'; '.join(p.signals)}",
                             start=0, end=min(len(session.turns[p.turn_index].text), 120)) for p in raised]
        threshold = ctx.cfg.frustration_threshold
        if peak >= threshold:
            worst = max(curve, key=lambda p: p.score)
            return Verdict(False, f"frustration reached {peak:.2f} (threshold {threshold:.2f}) by turn "
                                  f"{worst.turn_index}: {len(raised)} customer turn(s) with signals — "
                                  + "; ".join(f"turn {p.turn_index}: {', '.join(p.signals)}" for p in raised[:4]),
                           evidence, score=peak)
        detail = ("; signals: " + "; ".join(f"turn {p.turn_index}: {', '.join(p.signals)}" for p in raised[:3])
                  + (f" (+{len(raised) - 3} more turns)" if len(raised) > 3 else "")) if raised else ""
        return Verdict(True, f"frustration peaked at {peak:.2f}, below {threshold:.2f}{detail}", evidence, score=peak)


# ---------------------------------------------------------------------------------------------- silent_failure
CLOSING = re.compile(
    r"\b(?:thanks?|thank you|that'?s (?:all|everything|it)|that(?:'ll| will) be all|that (?:is|was) all|nothing "
    r"(?:else|more)|i'?m (?:good|done|all set)|all set|have a (?:great|good|nice|wonderful) (?:day|one)|"
    r"bye|goodbye|talk (?:to you )?soon|you too|appreciate|merci|take care)\b", re.I)
REQUEST = re.compile(
    r"\?|\b(?:please|can you|could you|would you|i(?:'d| would) like|i want|i need|let'?s|go ahead|proceed|"
    r"transfer me|connect me|help me)\b", re.I)
DEFER = re.compile(
    r"\b(?:get back to you|get back once|be back|reach out (?:again|soon|later|once|when)|contact you (?:again|soon|"
    r"later)|come back (?:later|when|once)|once i (?:have|find|get|locate)|when i (?:have|find|get)|i'?ll (?:try to )?"
    r"(?:find|look for|locate|gather|check)\b(?! (?:out|into) (?:other|external))|talk (?:to you )?soon)", re.I)
AGENT_DEFER = re.compile(
    r"\b(?:(?:reach out|contact us|come back|get back to (?:me|us))\b[^.!?]{0,40}\b(?:when|once|whenever) you(?:'re| are)?"
    r" (?:have|ready|find|located?)|whenever you(?:'re| are) ready|once you have (?:your|the|those|that))", re.I)
# Another support channel the customer is sent to (an answer that names an outside product is not this).
ELSEWHERE = re.compile(
    r"\b(?:contact(?:ing)?|reach(?:ing)? out to|call(?:ing)?|get in touch with)\s+(?:the\s+|our\s+|your\s+)?"
    r"(?:airline'?s?\s+|company'?s?\s+)?(?:customer (?:service|support|care|relations)|support(?: team)?|"
    r"[\w ]{0,20}\bdepartment|(?:a |an )?human (?:agent|representative)|(?:a |an )?(?:live )?agent|the airline\b)|"
    r"\byou (?:will )?(?:need|have) to (?:contact|reach out to|call|check (?:it|that|this) with|see (?:it|that|this) "
    r"with|take (?:it|the \w+) to)\b(?! us\b)", re.I)
CUSTOMER_ELSEWHERE = re.compile(
    r"\bi(?:'ll| will) (?:reach out to|contact|call|ask|go (?:back )?to) (?:a human|customer (?:service|support)|them|"
    r"the airline|someone|the (?:store|shop|seller|retailer|manufacturer|bank)\b)", re.I)
GAVE_UP = re.compile(
    r"\b(?:never ?mind|forget (?:it|about it)|consider my options|see if there'?s another way|figure (?:it|this|"
    r"something) out|look elsewhere|try (?:somewhere|elsewhere)|i give up|i'?ll (?:just )?(?:handle|deal with) it "
    r"(?:myself|on my own)|(?:continue|keep) (?:looking|searching) for (?:a |some |another )?solution)\b", re.I)
ALTERNATIVE = re.compile(
    r"\b(?:instead|alternatively|another option|other options?|what i can do|i can (?:offer|help(?: you)?(?: with)?|book|issue|add|"
    r"check|look|search|change|provide)|however,? (?:you|i|we) (?:can|could)|you (?:can|could|may) (?:also )?(?:book|"
    r"purchase|buy|use|choose|upgrade|change)|(?:would you like|do you want) (?:me )?to (?!.*transfer)|"
    r"(?:shall|should|can|may|could) i (?:try|book|reserve|search|look|check|find|offer|schedule|make)|"
    r"i (?:could|can) transfer you|transfer you)\b", re.I)
# The agent not doing what was asked ("I was unable to make the reservation", "cannot be refunded") — unlike a
# factual "unfortunately they do not have live music", which answers the question, or what the agent cannot see
# or find while looking into it ("I cannot see any login attempt on your account"), which reports a finding.
CANNOT = re.compile(
    r"\b(?:(?:(?:i|we) (?:can'?t|cannot|can not|am unable|was unable|were unable|wasn'?t able|weren'?t able|"
    r"couldn'?t|could not|am not able|'m not able|'m unable|won'?t be able)|unable to|not able to)"
    r"(?!(?: to)? (?:see|find|locate|view|spot|detect|read|hear)\b)|(?:is|are|isn'?t|was) not "
    r"possible|isn'?t possible|not eligible|non-refundable|not allowed|not permitted|no (?:options?|way) (?:to|for)|"
    r"there (?:is|are) no (?:options?|way)|(?:cannot|can'?t|could not|couldn'?t) be (?:\w+ed|done|made|played|"
    r"changed|added|removed)|fail(?:ed|s) to|(?:reservation|booking|request|payment|order|transfer) (?:has |have )?"
    r"failed|did(?: not|n'?t) go through|won'?t go through|(?:was|were) (?:not successful|unsuccessful)|"
    r"no (?:\w+ )?(?:tables?|seats?|rooms?|slots?|appointments?|flights?)? ?(?:are |is )?available|"
    r"(?:is|are|was|were) (?:fully booked|unavailable|not available)|(?:steps?|this|that|it) (?:didn'?t|did not|"
    r"won'?t|will not) work|work any ?more|(?:don'?t|do not) support|no longer (?:available|supported|offered))\b", re.I)
# Refusing to act on someone else's account, or to unverified identity, protects the customer: not an unmet need.
PROTECTIVE = re.compile(
    r"\b(?:(?:isn'?t|is not|aren'?t|are not) yours|not the account holder|the account holder|someone else'?s|"
    r"verify (?:your|the account holder'?s?) identity|for (?:your |security|privacy)(?:security|reasons| reasons)?|"
    r"(?:share|disclose|change) (?:\w+ )?(?:details|information) (?:on|about|for) (?:an|another|someone))", re.I)
# Closing formulas ("Is there anything else I can help you with?", "if you have more questions, contact us") that
# every support agent says: neither an alternative offered nor a referral elsewhere.
COURTESY = re.compile(
    r"(?:is there )?anything else (?:that )?(?:i|we) (?:can|could|may) (?:help|assist|do)[^.?!]*[.?!]?|"
    r"\bif (?:you|there)(?:'re| are)? (?:have|has|need|require|would like|want|still|is|are|any)[^.?!]*[.?!]?", re.I)
# The agent passing the request to a team that will answer later ("I'm going to escalate this matter … we will
# contact you via email"): the conversation ends with the request still pending.
LATER = re.compile(
    r"\b(?:(?:escalat|forward)\w* (?:this|your|the) (?:case|matter|issue|request|ticket|problem)|"
    r"(?:contact|get back to|reach out to|email|update) you\b[^.!?]{0,40}\b(?:as soon as|once|when) (?:we|they|the "
    r"team|it)|updates? will be sent)\b", re.I)
# The customer saying the problem is solved ("It worked out!", "I have already managed to access it").
SOLVED = re.compile(
    r"\b(?:worked|works now|(?:it|that|this) did (?:it|the trick)|(?:it'?s|it is) working|"
    r"(?:problem|issue) (?:is |was |has been )?(?:solved|resolved|fixed)|managed to|i can (?:now )?see (?:it|them))\b",
    re.I)
HOLD = re.compile(r"\b(?:please hold(?: on)?|one moment|just a moment|give me a moment|i will now (?:proceed|process|"
                  r"update|book|cancel)|let me (?:now )?(?:proceed|process) (?:with )?(?:the|your|this|these))\b", re.I)
DONE = re.compile(r"\b(?:successfully|has been (?:booked|updated|cancel+ed|processed|issued|changed|added|upgraded|"
                  r"downgraded|refunded|applied)|have been (?:booked|updated|cancel+ed|processed|issued|changed|added|"
                  r"upgraded|downgraded|refunded|applied)|is (?:now )?confirmed|is now (?:booked|updated|cancel+ed))\b",
                  re.I)


def _said(text: str) -> str:
    return plain(without_control(text)).strip()


_CONDITIONAL = re.compile(r"\bif (?:i|you|we) (?:need|have|want)[^.!?]*", re.I)
_THANKS = re.compile(r"\b(?:thank you|thanks)\b.*?(?:help|assistance)\W*", re.I)  # "thanks for your help"


_ACK = frozenset({"ok", "okay", "yes", "no", "right", "sure", "alright", "hello", "hi", "hey"})


def _is_request(text: str) -> bool:
    """A turn that asks for something, rather than only closing ("Thanks, that's all"; "if I need anything else,
    I'll reach out" is a courtesy, not a request; a bare "OK?" acknowledges)."""
    text = _CONDITIONAL.sub(" ", _PLACEHOLDER.sub(" ", text))
    said = words(text)
    return bool(said) and not set(said) <= _ACK and bool(REQUEST.search(_THANKS.sub("", text)))


def _solved(text: str) -> re.Match[str] | None:
    """The customer saying it works now (not "it still hasn't worked out")."""
    m = SOLVED.search(text)
    if m is None or re.search(r"n'?t|\bnot|\bnever", text[max(0, m.start() - 16):m.start()]):
        return None
    return None if re.search(r"\b(?:but|stopped|no longer|any ?more)\b", text[m.end():], re.I) else m


def unmet_ending(session: Session) -> tuple[str, list[Evidence]] | None:
    """Why the customer's last request went unmet when the conversation ended (None when it was met)."""
    customer = [(i, _said(t.text)) for i, t in enumerate(session.turns) if t.role == "customer" and words(_said(t.text))]
    shown = [(i, t) for i, t in enumerate(session.turns)  # the assistant, or a human agent sending its draft
             if t.role in ("assistant", "agent") and not t.suppressed and t.text.strip()]
    if not customer or not shown:
        return None
    # The last request; a customer who only described a problem asked for it to be solved.
    requests = [(i, text) for i, text in customer if _is_request(text)] or customer[:1]
    last_i, last_text = requests[-1]
    after = [(i, t.text) for i, t in shown if i > last_i]
    tail = [(i, text) for i, text in customer if i >= last_i]

    def ev(i: int, m: re.Match[str] | None = None) -> Evidence:
        text = session.turns[i].text
        start, end = (m.start(), m.end()) if m else (0, min(len(text), 120))
        return Evidence(turn_index=i, snippet=text[max(0, start - 40): end + 40], start=start, end=end)

    if not after:
        return (f"the customer's last request (turn {last_i}) got no reply before the conversation ended",
                [ev(last_i)])
    last_shown_i, last_shown = shown[-1][0], shown[-1][1].text
    if any(_solved(text) for _, text in tail):
        return None  # the customer says it works
    if ((m := HOLD.search(last_shown)) and last_shown_i > last_i and not DONE.search(last_shown[m.end():])
            and not action_claims(last_shown[m.end():], last_shown_i)):
        return (f"the conversation ends on a promise to act (turn {last_shown_i}) that was never confirmed",
                [ev(last_shown_i, m)])
    if any(DONE.search(text) or action_claims(text, i) for i, text in after):
        return None  # the agent did something about the last request
    before = {i: max((j for j, _ in shown if j < i), default=None) for i, _ in tail}
    offered = {i for i, j in before.items()  # the assistant's reply just before this customer turn offered a human
               if j is not None and TRANSFER_OFFER.search(session.turns[j].text)}
    for i, text in tail:
        if i in offered:
            continue  # declining an offered transfer ("no thanks, I'll figure it out") is an answer, not giving up
        if m := DEFER.search(text):
            return (f"the request was put off to a later contact (turn {i}: the customer will come back)",
                    [ev(last_i), ev(i, m)])
        if m := GAVE_UP.search(text):
            return f"the customer gave up (turn {i})", [ev(last_i), ev(i, m)]
        if m := CUSTOMER_ELSEWHERE.search(text):
            return f"the customer has to go elsewhere (turn {i})", [ev(last_i), ev(i, m)]
    after = [(i, COURTESY.sub(" ", text)) for i, text in after]
    for i, text in after:
        if m := LATER.search(text):
            return (f"the request was passed on for a later reply (turn {i}), unresolved when the conversation ended",
                    [ev(last_i), ev(i, m)])
        if m := AGENT_DEFER.search(text):
            return (f"the agent put the request off until the customer comes back (turn {i})",
                    [ev(last_i), ev(i, m)])
        if m := ELSEWHERE.search(text):
            return (f"the agent sent the customer elsewhere without a handoff (turn {i})", [ev(last_i), ev(i, m)])
    refusals = [(i, text, m) for i, text in after if (m := CANNOT.search(text))]
    if refusals and not HUMAN_REQUEST.search(last_text) and not INJECTION.search(last_text):
        refused_i, refusal, m = refusals[-1]
        if not PROTECTIVE.search(refusal) and not any(ALTERNATIVE.search(text) for i, text in after if i >= refused_i):
            return (f"the last request (turn {last_i}) was refused with nothing offered instead (turn {refused_i})",
                    [ev(last_i), ev(refused_i, m)])
    return None


@register
class SilentFailure(Evaluator):
    id = "silent_failure"
    version = "3"
    dimension = "resolution"
    description = ("The conversation ends contained (no handoff) while the customer's last request went unmet: "
                   "no reply to it, a promise to act never confirmed, put off to a later contact (by the customer, "
                   "or passed to a team that will reply later), the customer giving up or sent elsewhere, or a "
                   "refusal with nothing offered instead. A customer who says it works now, declines after hearing "
                   "the price, or declines an offered transfer, has been answered; a customer who only described "
                   "a problem asked for it to be solved. Not applicable when the session was handed off.")

    def applies(self, session, ctx):
        if escalation_turn(session, ctx) is not None:
            return "handed off to a human (not contained)"
        if not any(t.role == "customer" and words(_said(t.text)) for t in session.turns):
            return "no customer turns"
        return None if any(True for _ in shown_assistant_turns(session)) else "no assistant reply shown"

    def check(self, session, ctx):
        unmet = unmet_ending(session)
        if unmet is None:
            return Verdict(True, "contained, and the customer's last request was answered or acted on")
        reason, evidence = unmet
        return Verdict(False, f"contained but unmet: {reason}", evidence)

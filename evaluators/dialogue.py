"""How a conversation moves: boilerplate every turn repeats, refusals, pleas, re-asked requests.

Shared by rephrase_loop, repetitive_response, time_to_escalation and frustration, so that "the customer
asked again" and "the agent refused" mean the same thing everywhere. Measured on real conversations
(τ-bench, where a simulated customer signs every turn the same way; docs/validation.md).
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property, lru_cache

from rapidfuzz import fuzz

from cstui.evaluators.base import per_session
from cstui.evaluators.claims import action_claims, actions_asked
from cstui.evaluators.text import sentences, start_guarded, words
from cstui.models import Session

STOPWORDS = frozenset(["a", "an", "the", "and", "or", "but", "if", "so", "to", "of", "in", "on", "at", "for", "with", "from", "by", "as", "is", "are", "was", "were", "be", "been", "being", "am", "do", "does", "did", "have", "has", "had", "i", "me", "my", "we", "our", "you", "your", "he", "she", "it", "its", "they", "them", "their", "this", "that", "these", "those", "there", "here", "which", "who", "whom", "can", "could", "would", "should", "will", "shall", "may", "might", "must", "not", "no", "yes", "please", "thanks", "thank", "hi", "hello", "hey", "just", "also", "very", "really", "ok", "okay", "sure", "well", "let", "know", "like", "want", "need", "get", "got", "about", "any", "some", "all", "more", "most", "other", "into", "than", "then", "too", "up", "out", "over", "again", "still", "now", "i'm", "i've", "i'd", "you're", "it's", "that's", "there's", "don't", "can't", "won't", "isn't", "aren't", "didn't", "doesn't"])
_ID_LIKE = re.compile(r"^(?=.*\d)[a-z0-9_\-]{5,}$")

REFUSAL = start_guarded(re.compile(
    r"\b(?:unfortunately|unable to|cannot|can't|can not|not able to|not possible|no way to|not allowed|non-refundable|"
    r"not eligible|isn't possible|is not possible|do(?:es)? not allow|don't have (?:the )?(?:ability|access)|"
    r"i'?m sorry,? but|i am sorry,? but|there (?:is|are) no (?:exceptions?|options?|way)|not permitted|"
    r"against (?:the|our) policy|policy (?:does not|doesn't)|i'?m afraid)\b", re.I))


@lru_cache(maxsize=4096)  # a reply is asked about by several evaluators in turn
def refuses(text: str) -> bool:
    """Does the text refuse (the REFUSAL phrase list)?"""
    return bool(REFUSAL.search(text))


ASKS_INFO = start_guarded(re.compile(
    r"\?\s*$|\b(?:please (?:provide|let me know|confirm|specify|share|tell me|send)|could you (?:please )?(?:provide|"
    r"tell|confirm|let me know|share|specify)|can you (?:please )?(?:provide|tell|confirm|share)|may i have|"
    r"i(?:'ll| will)? need (?:your|the)|which (?:one|reservation|flight|option|order)|once you have (?:your|the))\b",
    re.I))
# Pushing back on an answer: strong cues re-ask on their own after a refusal; weak ones ("how about…",
# "instead") only when the turn is also about what was refused.
INSISTENCE = start_guarded(re.compile(
    r"\b(?:any (?:other )?(?:way|option|possibility)|anything (?:else )?(?:you|that|we) (?:can|could)|"
    r"exception|double[- ]?check|check (?:again|once more)|are you (?:sure|certain|positive)|surely|isn'?t there|"
    r"is there (?:really )?(?:no|any|nothing)|there (?:must|has to) be|i insist|at least|someone else|supervisor|"
    r"manager|escalat\w*|possibility|flexib\w*|reconsider|make an exception|even (?:a|just|\d)|one more time|"
    r"i already (?:told|said|gave|explained)|as i (?:said|mentioned|told)|i really need|i'?m (?:really )?sure|"
    r"i'?m certain|i definitely|that can'?t be right|absolutely no|nothing (?:else )?(?:you|we) can)\b", re.I))
WEAK_INSISTENCE = start_guarded(re.compile(r"\b(?:again|still|what about|how about|instead|really)\b", re.I))
AFFIRMATION = re.compile(r"^\W*(?:yes|yeah|yep|yup|sure|ok(?:ay)?|correct|right|great|perfect|thanks?|thank you|"
                         r"that'?s (?:right|correct|fine|good|perfect|all)|go ahead|please (?:do|proceed)|"
                         r"sounds good|oui|merci|that would (?:be )?(?:helpful|great|good|appreciated)|i'?d appreciate)\b",
                         re.I)
CLOSER = start_guarded(re.compile(
    r"\b(?:if you (?:have|need) (?:any )?(?:other|more|further)|feel free to|let me know if|anything else (?:i|we) can|"
    r"is there anything else|happy to help|have a (?:great|good|wonderful|nice) (?:day|trip|one)|safe travels|"
    r"glad (?:i|to) (?:could )?help|(?:would|do) you (?:like|want) me to transfer you|i can transfer you|"
    r"transfer you to a human agent|contact(?:ing)? a human agent|reach out)\b", re.I))
MIN_WORDS = 4


_ID_TOKEN = re.compile(r"\b[\w-]*\d[\w-]*\b")
_CAPITALISED = re.compile(r"\b[A-Z][a-z]+\b")


def _without_names(text: str) -> str:
    """Capitalised words that do not open a sentence are names (people, cities): not what a turn is about."""
    out = []
    for sent in sentences(text):
        first = re.match(r"\W*\w+", sent.text)
        head = first.end() if first else 0
        out.append(sent.text[:head] + _CAPITALISED.sub(" ", sent.text[head:]))
    return " ".join(out)


def content_words(text: str) -> frozenset[str]:
    """Words that carry what a turn is about: no stopwords, ids or names, crude plural/tense folding."""
    return _content_words(_ID_TOKEN.sub(" ", text))


@lru_cache(maxsize=16384)  # keyed without the ids: a template's replies differ by their order numbers only
def _content_words(text: str) -> frozenset[str]:
    text = _without_names(text)
    out = set()
    for w in words(text):
        if w in STOPWORDS or _ID_LIKE.match(w) or len(w) < 3 or w.isdigit():
            continue
        for suffix, keep in (("ing", 3), ("ed", 3), ("es", 3), ("s", 3)):
            if len(w) >= len(suffix) + keep and w.endswith(suffix) and not w.endswith("ss"):
                w = w[: -len(suffix)]
                break
        out.add(w)
    return frozenset(out)


def plain(text: str) -> str:
    """Typographic apostrophes as ASCII, so "I’m sure" reads like "I'm sure"."""
    return text.replace("\u2019", "'").replace("\u2018", "'")


def repeated_sentences(texts: Sequence[str], share: float = 0.5, minimum: int = 3) -> set[str]:
    """Sentences that recur in most of the texts (a simulator's sign-off, a template's footer)."""
    if len(texts) < minimum:
        return set()
    counts: Counter[str] = Counter()
    for text in texts:
        counts.update({_norm(s.text) for s in sentences(text) if _norm(s.text)})
    need = max(minimum, int(share * len(texts) + 0.999))
    return {s for s, n in counts.items() if n >= need}


def _norm(sentence: str) -> str:
    return " ".join(words(sentence))


def strip_sentences(text: str, drop: set[str], also: re.Pattern[str] | None = None) -> str:
    """The text without its frame sentences; a text that is nothing but frame keeps the repeated part (a reply
    given verbatim three times is a repetition, not a footer)."""
    kept = [s.text for s in sentences(text) if not (also and also.search(s.text))]
    core = [t for t in kept if _norm(t) not in drop]
    return " ".join(core if len(words(" ".join(core))) >= MIN_WORDS else kept).strip()


def similar(a: frozenset[str] | set[str], b: frozenset[str] | set[str], least: int = 2, share: float = 0.5) -> bool:
    """Two turns about the same thing: most of the smaller one's content words are in the other."""
    if not a or not b:
        return False
    shared = len(a & b)
    return shared >= least and shared / min(len(a), len(b)) >= share


@dataclass
class Ask:
    turn_index: int
    text: str  # without boilerplate
    insistent: bool  # strongly
    weak: bool  # "how about …", "instead", "still"
    answered: bool  # the agent answered or refused since the customer's previous turn (did not just ask back)
    refused: bool  # ... and that answer was a refusal
    accepts: bool = False  # says yes to what the agent just asked or offered

    @cached_property
    def words(self) -> frozenset[str]:
        return content_words(self.text)


@per_session
def customer_asks(session: Session) -> list[Ask]:
    """Customer turns with their content, whether they insist, and how the agent answered just before."""
    texts = [t.text for t in session.turns if t.role == "customer"]
    boilerplate = repeated_sentences(texts)
    asks: list[Ask] = []
    between: list[str] = []
    for i, turn in enumerate(session.turns):
        if turn.role in ("assistant", "agent") and turn.text.strip():
            between.append(turn.text)
            continue
        if turn.role != "customer":
            continue
        text = strip_sentences(plain(turn.text), boilerplate)
        last = plain(between[-1]) if between else ""
        refused = any(refuses(t) for t in between)
        answered = bool(between) and (refused or not ASKS_INFO.search(last.strip()))
        accepts = bool(AFFIRMATION.search(text)) and last.rstrip().endswith("?")
        asks.append(Ask(i, text, bool(INSISTENCE.search(text)), bool(WEAK_INSISTENCE.search(text)),
                        answered, refused, accepts))
        between = []
    return asks


_BUT = start_guarded(re.compile(r"\b(?:but|however|though|although)\b", re.I))


def is_confirmation(ask: Ask) -> bool:
    if _BUT.search(ask.text):
        return False  # "Yes, but where is my order?"
    return ask.accepts or (bool(AFFIRMATION.search(ask.text)) and len(words(ask.text)) <= 14 and not ask.insistent)


@per_session
def request_loops(session: Session) -> list[list[int]]:
    """Chains of customer turns that make the same request again after the agent answered it (in other words
    too: a reworded plea right after a refusal re-asks what was refused). Each chain starts with the request."""
    if sum(1 for t in session.turns if t.role == "customer" and len(words(t.text)) >= MIN_WORDS) < 3:
        return []  # a chain needs three substantive customer turns (most sessions are shorter)
    asks = [a for a in customer_asks(session) if len(words(a.text)) >= MIN_WORDS and not is_confirmation(a)]
    chains: list[list[int]] = []
    used: set[int] = set()
    for start, first in enumerate(asks):
        if first.turn_index in used:
            continue
        chain = [first]
        wanted = actions_asked(first.text)  # what the chain asks to be done: cancel, book, change …
        for later in asks[start + 1:]:
            also = actions_asked(later.text)
            if also and wanted and not also & wanted:
                continue  # asks for a different action: a new request, however many words it shares
            same = any(similar(later.words, earlier.words) for earlier in chain)
            if not later.answered and not (later.insistent and same):
                continue  # answering the agent's question is progress, not a repeat
            related = any(later.words & earlier.words for earlier in chain)
            plea = later.refused and (later.insistent or (later.weak and related))
            if same or plea:
                chain.append(later)
                wanted |= also
        if len(chain) >= 3:
            chains.append([a.turn_index for a in chain])
            used.update(a.turn_index for a in chain)
    return chains


@dataclass
class Reply:
    """One shown assistant reply; what comparing it needs is worked out only when a comparison gets that far."""

    turn_index: int
    core: str  # without greeting, sign-off, transfer offer or the footer every reply repeats
    kind: str  # "refusal" | "ask" (requests information) | "answer"
    asking: str  # the sentences that ask for something

    @cached_property
    def words(self) -> frozenset[str]:
        return content_words(self.core)

    @cached_property
    def asked(self) -> frozenset[str]:
        return content_words(self.asking) - ASK_FRAME

    @cached_property
    def reports_action(self) -> bool:
        """Says an action was just done."""
        return bool(action_claims(self.core, self.turn_index))

    @cached_property
    def details(self) -> set[str]:
        return _details(self.core)

    @cached_property
    def flat(self) -> str:
        return " ".join(words(self.core))


# Words every request for information uses; what is asked for is the rest ("user", "reservation").
ASK_FRAME = frozenset({"confirm", "proceed", "proce", "provide", "detail", "information", "assist", "help", "need",
                       "like", "would", "let", "know", "share", "specify", "tell", "check", "make", "sure"})


@per_session
def assistant_replies(session: Session) -> list[Reply]:
    shown = [(i, t.text) for i, t in enumerate(session.turns)
             if t.role == "assistant" and not t.suppressed and t.text.strip()]
    frame = repeated_sentences([text for _, text in shown], share=0.6)
    out = []
    for i, text in shown:
        core = strip_sentences(plain(text), frame, CLOSER)
        if len(words(core)) < MIN_WORDS:
            continue
        asking = " ".join(s.text for s in sentences(core) if ASKS_INFO.search(s.text.strip()))
        kind = "refusal" if REFUSAL.search(core) else "ask" if asking else "answer"
        out.append(Reply(i, core, kind, asking))
    return out


_OPENERS = frozenset({"unfortunately", "however", "since", "because", "thank", "great", "certainly", "absolutely",
                      "sorry", "understand", "okay", "alright", "good", "perfect", "once", "while", "although"})
_PARTICULAR = re.compile(r"\b(?:[A-Z][\w'-]*|[\w-]*\d[\w:.-]*)")


def _details(text: str) -> set[str]:
    """The particulars a reply gives — figures, times, names — which differ when a template is reused for new
    information ("a table for 2 at 7 pm", then "for 3 on March 14"; "Barcha is nice", then "Boulibar is nice")."""
    return {t.lower().strip(".:") for t in _PARTICULAR.findall(text)} - STOPWORDS - _OPENERS


def same_reply(a: Reply, b: Reply) -> bool:
    """The same reply: near-verbatim; or the same refusal, request for information or answer reworded — with the
    same particulars (a confirmation template filled with new details is progress)."""
    da, db = a.details, b.details
    if da - db and db - da:
        return False  # each gives particulars the other does not: new information
    if fuzz.ratio(a.flat, b.flat) >= 85:
        return True
    if a.kind != b.kind:
        return False
    if a.kind == "refusal":
        return similar(a.words, b.words, least=3, share=0.5)
    if a.kind == "ask":
        return similar(a.asked, b.asked, least=2, share=0.6) and similar(a.words, b.words, least=3, share=0.5)
    if a.reports_action or b.reports_action:
        return False  # a new confirmation after a new action is progress, however alike it reads
    return fuzz.token_set_ratio(a.core, b.core) >= 85


def repeated_replies(session: Session) -> list[int]:
    """The largest group of replies that say the same thing (its turns), or []."""
    if sum(1 for t in session.turns if t.role == "assistant" and not t.suppressed and t.text.strip()) < 3:
        return []  # the same reply three times needs three replies
    replies = assistant_replies(session)
    best: list[int] = []
    for k, reply in enumerate(replies):
        group = [reply.turn_index] + [other.turn_index for other in replies[k + 1:] if same_reply(reply, other)]
        if len(group) > len(best):
            best = group
    return best if len(best) >= 3 else []


def first_refusal(session: Session, after: int = -1) -> int | None:
    for i, turn in enumerate(session.turns):
        if i > after and turn.role == "assistant" and refuses(turn.text):
            return i
    return None


HUMAN_REQUEST = start_guarded(re.compile(
    r"\b(?:human|real person|live agent|representative|supervisor|manager|someone else|"
    r"talk to (?:an? )?(?:agent|person)|speak (?:to|with) (?:an? )?(?:agent|person)|escalat\w*)\b", re.I))
TRANSFER_OFFER = start_guarded(re.compile(
    r"\b(?:transfer you|connect you|hand you (?:over|off)|put you through|escalate (?:this|your)|"
    r"human agent|specialist (?:team|colleague)|live agent)\b", re.I))

"""Text analysis shared by evaluators: sentences, negation, questions, quantities, n-grams."""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from re import _constants as sre
from re import _parser as sre_parse
from typing import Any


def start_guarded(pattern: re.Pattern[str]) -> re.Pattern[str]:
    """`pattern` behind a lookahead for the characters any match of it must start with.

    Python's re tries each alternative of a long `\b(?:word|phrase|…)` list at every position of the text; the
    lookahead lets it skip every position where none could start, which halves (or better) the search for the
    phrase lists the evaluators run over every turn. Matches are the same: the lookahead only rejects positions
    where no alternative could start (compiled with the pattern's flags, it folds case as the pattern does), and
    groups are unchanged. A pattern whose first character parsing cannot pin down is returned as it is.
    """
    first = _first_chars(sre_parse.parse(pattern.pattern, pattern.flags).data)
    if not first:
        return pattern
    return re.compile(f"(?=[{''.join(re.escape(chr(c)) for c in sorted(first))}])(?:{pattern.pattern})", pattern.flags)


def _first_chars(items: list[tuple[Any, Any]]) -> set[int] | None:
    r"""The characters every match of this parsed pattern starts with; None when unsure (a class like \w, a
    lookaround, a match that may be empty)."""
    for k, (op, av) in enumerate(items):
        if op is sre.AT:  # \b, ^, $: zero-width, look further
            continue
        if op is sre.LITERAL:
            return {av}
        if op is sre.IN:
            out: set[int] = set()
            for member, value in av:
                if member is sre.LITERAL:
                    out.add(value)
                elif member is sre.RANGE and value[1] - value[0] < 128:
                    out.update(range(value[0], value[1] + 1))
                else:
                    return None
            return out
        if op is sre.BRANCH:
            branches = [_first_chars(branch) for branch in av[1]]
            return None if any(b is None for b in branches) else set().union(*branches)  # type: ignore[arg-type]
        if op is sre.SUBPATTERN:  # (group, flags added, flags removed, body)
            return None if av[1] or av[2] else _first_chars(av[-1])  # (?i:…) would fold case unlike the guard
        if op in (sre.MAX_REPEAT, sre.MIN_REPEAT, sre.POSSESSIVE_REPEAT):
            inner = _first_chars(av[2])
            if inner is None or av[0] >= 1:
                return inner
            rest = _first_chars(items[k + 1:])  # optional: what follows may start the match
            return None if rest is None else inner | rest
        return None
    return None  # nothing that consumes a character: the pattern can match the empty string


# A period inside a number ("$240.00") or an abbreviation-like token ("e.g.") does not end a sentence.
_SENTENCE = re.compile(r"(?:[^.!?\n]|\.(?=\w))+(?:[.!?]+|$)", re.MULTILINE)
NEGATION = re.compile(
    r"\b(?:not|never|no longer|unable|cannot|can't|couldn't|wasn't|weren't|isn't|aren't|hasn't|haven't|hadn't|"
    r"didn't|don't|doesn't|won't|wouldn't|failed to|could not|was not|were not|has not|have not|did not|"
    r"yet to)\b", re.IGNORECASE)
CONDITIONAL = re.compile(r"^\s*(?:once|when|after|if|as soon as|until|before|whether|unless)\b", re.IGNORECASE)


@dataclass(frozen=True)
class Sentence:
    text: str
    start: int
    end: int

    @property
    def is_question(self) -> bool:
        return self.text.rstrip().endswith("?")


@lru_cache(maxsize=4096)  # a reply is split by a dozen evaluators in turn
def sentences(text: str) -> tuple[Sentence, ...]:
    return tuple(Sentence(m.group(), m.start(), m.end()) for m in _SENTENCE.finditer(text) if m.group().strip())


def negated_before(sentence: str, position: int, window: int = 40) -> bool:
    """Is there a negation in the clause leading up to `position`?"""
    head = sentence[max(0, position - window) : position]
    head = re.split(r"[,;:]|\band\b|\bbut\b", head)[-1]
    return bool(NEGATION.search(head))


# ---------------------------------------------------------------------------------------------- quantities
_UNITS = {
    "minute": "minute", "minutes": "minute", "min": "minute", "mins": "minute",
    "hour": "hour", "hours": "hour", "hr": "hour", "hrs": "hour",
    "day": "day", "days": "day", "business day": "day", "business days": "day", "working day": "day",
    "working days": "day", "calendar days": "day", "week": "week", "weeks": "week", "month": "month",
    "months": "month", "year": "year", "years": "year",
}
_NUM = r"\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+(?:\.\d+)?"
_WORD_NUMBERS = {"one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8, "nine": 9,
                 "ten": 10, "fourteen": 14, "thirty": 30, "sixty": 60, "ninety": 90}
_WNUM = "|".join(_WORD_NUMBERS)
_MAYBE_QUANTITY = re.compile(rf"\d|\b(?:{_WNUM})\b", re.IGNORECASE)
MONEY = re.compile(rf"(?:[$€£]\s?({_NUM})|\b({_NUM})\s?(?:dollars|usd|eur|euros|gbp|pounds)\b)", re.IGNORECASE)
PERCENT = re.compile(rf"\b({_NUM})\s?(?:%|percent\b|per cent\b)", re.IGNORECASE)
DURATION = re.compile(
    rf"\b({_NUM}|{_WNUM})(?:\s?(?:-|–|to|or)\s?({_NUM}|{_WNUM}))?[\s-]+"
    r"(business days?|working days?|calendar days?|minutes?|mins?|hours?|hrs?|days?|weeks?|months?|years?)\b",
    re.IGNORECASE)
BARE_NUMBER = re.compile(rf"(?<![\w.])({_NUM})(?![\w])")
# What any match of MONEY, PERCENT or DURATION contains (a sign, or a currency, percent or unit word), searched with
# the same flags so case folds the same: most texts with a number have none, and the three scans are skipped.
_QUANTITY_WORD = start_guarded(re.compile(
    r"[$€£%]|dollars|usd|eur|gbp|pounds|percent|per cent|min|hour|hr|day|week|month|year", re.IGNORECASE))


@dataclass(frozen=True)
class Quantity:
    value: float
    unit: str  # "$", "%", "day", "hour", ...
    text: str
    start: int
    end: int

    @property
    def key(self) -> tuple[float, str]:
        return (self.value, self.unit)


def _num(s: str) -> float:
    s = s.lower()
    return float(_WORD_NUMBERS[s]) if s in _WORD_NUMBERS else float(s.replace(",", ""))


@lru_cache(maxsize=16384)  # a turn is read by several evaluators; KB chunks and tool results recur across sessions
def quantities(text: str) -> tuple[Quantity, ...]:
    """Amounts, percentages and durations stated in the text (ranges give both ends)."""
    return _quantities(text) if _MAYBE_QUANTITY.search(text) else ()


def _quantities(text: str) -> tuple[Quantity, ...]:
    if not _QUANTITY_WORD.search(text):
        return ()
    found: list[Quantity] = []
    for m in MONEY.finditer(text):
        found.append(Quantity(_num(m.group(1) or m.group(2)), "$", m.group(), m.start(), m.end()))
    for m in PERCENT.finditer(text):
        found.append(Quantity(_num(m.group(1)), "%", m.group(), m.start(), m.end()))
    for m in DURATION.finditer(text):
        unit = _UNITS.get(m.group(3).lower(), m.group(3).lower().rstrip("s"))
        found.append(Quantity(_num(m.group(1)), unit, m.group(), m.start(), m.end()))
        if m.group(2):
            found.append(Quantity(_num(m.group(2)), unit, m.group(), m.start(), m.end()))
    return tuple(found)


@lru_cache(maxsize=8192)  # policy texts and tool payloads recur across sessions
def bare_numbers(text: str) -> frozenset[float]:
    return frozenset(float(m.group(1).replace(",", "")) for m in BARE_NUMBER.finditer(text))


# ---------------------------------------------------------------------------------------------- similarity
_WORD = re.compile(r"[a-z0-9][a-z0-9'\-]*")


@lru_cache(maxsize=4096)
def words(text: str) -> tuple[str, ...]:
    return tuple(_WORD.findall(text.lower()))


def ngrams(text: str, n: int = 5) -> set[tuple[str, ...]]:
    w = words(text)
    return {tuple(w[i : i + n]) for i in range(len(w) - n + 1)}

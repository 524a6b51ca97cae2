"""The start guard on the evaluators' phrase lists: faster searches, the same matches."""

from __future__ import annotations

import re
import sys

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import cstui.evaluators.claims
import cstui.evaluators.dialogue
import cstui.evaluators.escalation
import cstui.evaluators.silent  # noqa: F401  (the modules whose patterns are guarded)
from cstui.evaluators.text import start_guarded

GUARD = re.compile(r"^\(\?=\[(?:[^\]\\]|\\.)+\]\)\(\?:")  # (?=[…])(?: in front of the source


def guarded_patterns() -> dict[str, re.Pattern[str]]:
    found = {}
    for name, module in sys.modules.items():
        if name.startswith("cstui.evaluators."):
            for attr, value in vars(module).items():
                if isinstance(value, re.Pattern) and GUARD.match(value.pattern):
                    found[f"{name}.{attr}"] = value
    return found


PATTERNS = guarded_patterns()


def unguarded(pattern: re.Pattern[str]) -> re.Pattern[str]:
    return re.compile(pattern.pattern[GUARD.match(pattern.pattern).end():-1], pattern.flags)


def test_the_hot_phrase_lists_are_guarded():
    names = {n.rsplit(".", 1)[1] for n in PATTERNS}
    assert {"REFUSAL", "INSISTENCE", "FED_UP", "CONFIRM_REQUEST", "_ANY_TRIGGER", "INJECTION", "ASKS_INFO"} <= names


@pytest.mark.parametrize("source, first", [
    (r"\b(?:but|however)\b", "bh"),
    (r"\b(?:a|(?:x )?y)", "axy"),             # an optional lead-in: it or what follows starts the match
    (r"(?:'s)?abc", "'a"),
    (r"\?\s*$|\bplease\b", "?p"),
    (r"[a-c]oo|[X-Z]ar", "abcXYZ"),
    (r"\d+|abc", None),                      # a class like \d: not pinned down
    (r"(?:ab)?", None),                       # matches the empty string
    (r"a?\d", None),
    (r"(?<![\w.])abc", None),                 # a lookbehind first: not looked into
    (r"^\W*(?:yes|no)", None),
    (r"(?-i:abc)|def", None),                 # inline flags fold case unlike the guard would
])
def test_the_guard_names_exactly_the_characters_a_match_can_start_with(source, first):
    pattern = re.compile(source, re.I)
    guarded = start_guarded(pattern)
    if first is None:
        assert guarded is pattern
    else:
        assert guarded.pattern == f"(?=[{''.join(re.escape(c) for c in sorted(first))}])(?:{source})"


def _vocabulary() -> list[str]:
    words: set[str] = set()
    for pattern in PATTERNS.values():
        words.update(re.findall(r"[a-z][a-z' ]{2,}[a-z]", pattern.pattern))
    return sorted(words)


TEXT = st.lists(st.one_of(st.sampled_from(_vocabulary()), st.sampled_from(list(" .,!?'\n-#$0129ſKİı\u00e9[<")),
                          st.text(max_size=4)), max_size=25).map("".join)


@settings(max_examples=400, deadline=None)
@given(TEXT, st.booleans())
def test_guarded_patterns_find_what_the_originals_find(text, upper):
    text = text.upper() if upper else text
    for name, pattern in PATTERNS.items():
        fast, slow = pattern.search(text), unguarded(pattern).search(text)
        assert (fast and (fast.span(), fast.lastgroup, fast.groups())) == \
            (slow and (slow.span(), slow.lastgroup, slow.groups())), name


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from(["#", "##", "###", "STOP", " ", "a", "\n", "é"]), max_size=12).map("".join))
def test_the_control_token_shortcut_changes_nothing(text):
    from cstui.evaluators.silent import CONTROL, without_control

    assert without_control(text) == CONTROL.sub(" ", text)


QUANTITY_TEXT = st.lists(st.one_of(
    st.sampled_from(["30", "5", "1,200.50", "two", "fourteen", " ", "-", " to ", "$", "€", "£", "%", "USD", "eur",
                     "euros", "Dollars", "pounds", "gbp", "per cent", "PERCENT", "business days", "day", "weeks",
                     "month", "years", "hrs", "hour", "mins", "minute", "Minutes", "da", "ſ", "K", "İ", "ı", "é",
                     "\n", "."]),
    st.text(max_size=3)), max_size=20).map("".join)


@settings(max_examples=500, deadline=None)
@given(QUANTITY_TEXT, st.booleans())
def test_the_quantity_shortcut_finds_what_the_three_scans_find(text, upper):
    """`_quantities` skips its three scans when no sign or unit word is in the text; what it finds must be what
    the scans find, whatever the case (ſ, K, İ and ı fold into ASCII letters)."""
    from cstui.evaluators import text as module

    text = text.upper() if upper else text
    shortcut = module._quantities(text)
    saved, module._QUANTITY_WORD = module._QUANTITY_WORD, re.compile("")  # every text scanned
    try:
        assert shortcut == module._quantities(text)
    finally:
        module._QUANTITY_WORD = saved


def _unit_words() -> list[str]:
    from cstui.evaluators.text import DURATION, MONEY, PERCENT

    return sorted({w for p in (MONEY, PERCENT, DURATION) for w in re.findall(r"[a-z]{2,}(?: [a-z]+)?", p.pattern)})


@pytest.mark.parametrize("word", _unit_words())
def test_every_unit_word_of_the_quantity_patterns_passes_the_shortcut(word):
    """Each word the three patterns know, after a number and in the case variants re folds (upper, ſ for s,
    K for k, İ and ı for i): the shortcut must not skip what a scan would find."""
    from cstui.evaluators import text as module

    variants = {word, word.upper(), word.replace("s", "ſ"), word.replace("k", "K"), word.replace("i", "İ"),
                word.replace("i", "ı")}
    for variant in variants:
        for text in (f"5 {variant}", f"5{variant}", f"{variant} 5", f"£5 {variant}"):
            shortcut = module._quantities(text)
            saved, module._QUANTITY_WORD = module._QUANTITY_WORD, re.compile("")
            try:
                assert shortcut == module._quantities(text), text
            finally:
                module._QUANTITY_WORD = saved


def test_turns_that_differ_by_their_ids_share_one_content_word_computation():
    from cstui.evaluators.dialogue import _content_words, content_words

    texts = ["Where is my order ORD-48213? It was due Tuesday.", "Where is my order ORD-99120? It was due Tuesday."]
    before = _content_words.cache_info()
    found = [content_words(t) for t in texts]
    after = _content_words.cache_info()
    assert found[0] == found[1] == {"where", "order", "due"}  # ids and names (Tuesday) are not content
    assert after.misses - before.misses <= 1 and after.hits - before.hits >= 1
    assert content_words("Refunded 2 orders") == content_words("Refunded 3 orders") == {"refund", "order"}

"""The letter guard on the evaluators' phrase lists: faster searches, the same matches."""

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
from cstui.evaluators.text import letter_guarded

GUARD = "(?=[a-zA-Z])(?:"


def guarded_patterns() -> dict[str, re.Pattern[str]]:
    found = {}
    for name, module in sys.modules.items():
        if name.startswith("cstui.evaluators."):
            for attr, value in vars(module).items():
                if isinstance(value, re.Pattern) and value.pattern.startswith(GUARD):
                    found[f"{name}.{attr}"] = value
    return found


PATTERNS = guarded_patterns()


def unguarded(pattern: re.Pattern[str]) -> re.Pattern[str]:
    return re.compile(pattern.pattern[len(GUARD):-1], pattern.flags)


def test_the_hot_phrase_lists_are_guarded():
    names = {n.rsplit(".", 1)[1] for n in PATTERNS}
    assert {"REFUSAL", "INSISTENCE", "FED_UP", "CONFIRM_REQUEST", "_ANY_TRIGGER"} <= names


@pytest.mark.parametrize("source, guardable", [
    (r"\b(?:but|however)\b", True),
    (r"\b(?:a|(?:x )?y)", True),            # an optional lead-in that starts with a letter, then a letter
    (r"(?:'s)?abc", False),                 # may start with an apostrophe
    (r"\d+|abc", False),                    # one alternative starts with a digit
    (r"(?:ab)?", False),                    # matches the empty string
    (r"a?\d", False),
    (r"\?\s*$|\bplease\b", False),
    (r"[a-f]oo|[A-Z]ar", True),
    (r"[0-9a-f]x", False),
    (r"(?<![\w.])abc", False),              # a lookbehind first: not looked into
])
def test_only_patterns_whose_matches_start_with_a_letter_are_guarded(source, guardable):
    pattern = re.compile(source, re.I)
    assert (letter_guarded(pattern) is not pattern) == guardable


def _vocabulary() -> list[str]:
    words: set[str] = set()
    for pattern in PATTERNS.values():
        words.update(re.findall(r"[a-z][a-z' ]{2,}[a-z]", pattern.pattern))
    return sorted(words)


TEXT = st.lists(st.one_of(st.sampled_from(_vocabulary()), st.sampled_from(list(" .,!?'\n-#$0129ſKİı\u00e9")),
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

import pytest
from sessionkit import A, C, judge, session, tool

from cstui.config import Config
from cstui.evaluators.base import KBIndex
from cstui.evaluators.draft_checks import find_pii

DRAFT = {"system": {"kind": "draft_assist"}}


def words(n):
    return " ".join(["word"] * n)


def test_citation_validity():
    ok = session(C("q"), A("a", citations=["KB-2"]))
    assert judge("citation_validity", ok).passed is True
    for cite, why in [("KB-404", "not in the knowledge base"), ("KB-9", "deleted"), ("KB-1@1", "not current")]:
        r = judge("citation_validity", session(C("q"), A("a", citations=[cite])))
        assert r.passed is False and why in r.rationale, (cite, r.rationale)
    stale = session(C("q"), A("a", citations=["KB-1"]), spans=[{
        "span_id": "r", "kind": "retrieval", "turn_index": 1,
        "attributes": {"documents": [{"id": "KB-1", "revision": 1, "content": "SMS"}]}}])
    r = judge("citation_validity", stale)
    assert r.passed is False and "revision 1 (deprecated)" in r.rationale and r.evidence[0].span_id == "r"
    assert judge("citation_validity", session(C("q"), A("a"))).passed is None
    assert judge("citation_validity", ok, kb=KBIndex()).passed is None


@pytest.mark.parametrize("n, passed", [(49, False), (50, True), (500, True), (501, False)])
def test_response_length_bounds(n, passed):
    assert judge("response_length", session(C("q"), A(words(n)), **DRAFT)).passed is passed


def test_response_length_only_judges_draft_assist():
    assert judge("response_length", session(C("q"), A("short chat reply"))).passed is None


@pytest.mark.parametrize("text, kind", [
    ("Reach me at jane.doe@example.com", "email"),
    ("Call +1 415-555-2671 tomorrow", "phone number"),
    ("Your card 4111 1111 1111 1111 is on file", "card number"),
    ("SSN 123-45-6789 confirmed", "ssn"),
    ("SSN ١٢٣-٤٥-٦٧٨٩ confirmed", "ssn"),  # Arabic-Indic digits are digits too
    ("account number: 12345678901", "account number"),
    ("IBAN GB82WEST12345698765432", "account number"),
])
def test_pii_is_found(text, kind):
    assert kind in [k for k, _, _ in find_pii(text)]
    assert judge("pii_leak", session(C("q"), A(text))).passed is False


@pytest.mark.parametrize("text", [
    "Your order A-48213 shipped on 2026-11-04.",
    "Order #W2378156 is pending.",
    "Tracking 1Z999AA10123456784 is on its way.",
    "Invoice 4111 1111 1111 1112 total $1,240.00",   # fails Luhn
    "Refund of $49.00 within 5-7 business days; ref 000-12-3456",
    "Call us any time at our help centre.",
])
def test_pii_look_alikes_do_not_fire(text):
    assert find_pii(text) == []
    assert judge("pii_leak", session(C("q"), A(text))).passed is True


def test_confidence_present():
    assert judge("confidence_present", session(C("q"), A("a", confidence=0.7))).passed is True
    assert judge("confidence_present", session(C("q"), A("a", confidence=0.7), A("b"))).passed is False
    assert judge("confidence_present", session(C("q"), A("a", confidence=1.7))).passed is False
    assert judge("confidence_present", session(C("q"), A("a"), **DRAFT)).passed is False
    assert judge("confidence_present", session(C("q"), A("a"))).passed is None  # system states no confidences


def test_intent_supported():
    declared = Config(supported_intents=["refund_request"], source={"supported_intents": "cstui.toml"})
    assert judge("intent_supported", session(C("q"), A("a"), intent="refund_request"), cfg=declared).passed is True
    assert judge("intent_supported", session(C("q"), A("a"), intent="crypto_advice"), cfg=declared).passed is False
    predicted = session(C("q"), A("a"), intent="refund_request",
                        spans=[{"span_id": "i", "kind": "intent", "attributes": {"label": "weather"}}])
    assert judge("intent_supported", predicted).passed is False  # a classifier ran: the default list applies
    assert judge("intent_supported", session(C("q"), A("a"))).passed is None


def test_intent_supported_needs_a_declared_list_or_a_classifier():
    """Real traffic (SGD's `Restaurants_1`) is not judged against the demo's intent list."""
    assert judge("intent_supported", session(C("q"), A("a"), intent="Restaurants_1")).passed is None


def test_pii_looked_up_by_a_tool_is_not_a_leak():
    venue = session(C("their number?"), A("Their phone number is 925-275-8105."),
                    spans=[tool("FindRestaurants", 1, result=[{"phone_number": "925-275-8105"}])])
    assert judge("pii_leak", venue).passed is True
    invented = session(C("their number?"), A("Their phone number is 925-275-8105."))
    assert judge("pii_leak", invented).passed is False


def test_low_confidence_fallback():
    assert judge("low_confidence_fallback", session(C("q"), A("a", confidence=0.59))).passed is False
    assert judge("low_confidence_fallback", session(C("q"), A("a", confidence=0.6))).passed is True
    hidden = session(C("q"), A("a", confidence=0.3, suppressed=True))
    assert judge("low_confidence_fallback", hidden).passed is True

import pytest
from sessionkit import A, C, judge, session, tool

from cstui.evaluators.base import KBIndex
from cstui.evaluators.claims import action_claims


# ------------------------------------------------------------------------------ authorization_fabrication
@pytest.mark.parametrize("text", [
    "Your refund has been processed.",
    "I've cancelled your subscription.",
    "I have gone ahead and issued a refund of $49.00 to your card.",
    "Your reservation is confirmed for Friday.",
    "The payment was sent this morning.",
    "Your refund of $240.00 has been processed and will arrive in 5-7 business days.",
    "We've updated your shipping address.",
    "I just booked the 9am flight for you.",
])
def test_claims_without_a_tool_call_are_fabrications(text):
    r = judge("authorization_fabrication", session(C("help"), A(text)))
    assert r.passed is False and r.evidence[0].turn_index == 1


@pytest.mark.parametrize("text", [
    "I could not cancel your subscription.",
    "I wasn't able to process the refund just now.",
    "Your refund has not been processed yet.",
    "Shall I cancel it for you?",
    "Would you like me to issue a refund?",
    "Once your refund has been processed, you'll get an email.",
    "I'll cancel it as soon as you confirm.",
    "I can issue a refund if the order is within 30 days.",
    "Refunds are usually processed within 5 days.",
])
def test_negations_questions_conditionals_and_futures_are_not_claims(text):
    assert action_claims(text, 1) == []
    assert judge("authorization_fabrication", session(C("help"), A(text))).passed is True


def test_claim_backed_by_a_successful_call_at_or_before_the_turn_passes():
    s = session(C("refund please"), A("Your refund has been processed."), spans=[tool("issue_refund", 1)])
    assert judge("authorization_fabrication", s).passed is True


def test_claim_after_the_call_failed_is_a_fabrication():
    s = session(C("refund please"), A("Your refund has been processed."),
                spans=[tool("issue_refund", 1, "error", span_id="r1", result="Error: timeout")])
    r = judge("authorization_fabrication", s)
    assert r.passed is False and "issue_refund call failed" in r.rationale and r.evidence[0].span_id == "r1"


def test_tool_call_after_the_claim_does_not_back_it():
    s = session(C("cancel"), A("I've cancelled your order."), C("thanks"), A("ok"),
                spans=[tool("cancel_order", 3)])
    assert judge("authorization_fabrication", s).passed is False


def test_the_right_kind_of_tool_must_back_the_claim():
    s = session(C("refund"), A("I've issued your refund."), spans=[tool("get_order_details", 1),
                                                                   tool("update_address", 1)])
    assert judge("authorization_fabrication", s).passed is False


def test_handoff_claims_are_backed_by_escalation():
    s = session(C("dispute"), A("I've passed your dispute to our billing specialists."),
                spans=[{"span_id": "e", "kind": "escalation", "turn_index": 1}])
    assert judge("authorization_fabrication", s).passed is True
    alone = session(C("dispute"), A("I've passed your dispute to our billing specialists."))
    assert judge("authorization_fabrication", alone).passed is False


# ------------------------------------------------------------------------------ history / availability
def test_history_fabrication():
    claim = session(C("hi"), A("As we discussed when you called last week, the fee stays."))
    assert judge("history_fabrication", claim).passed is False
    claim2 = session(C("hi"), A("Your previous ticket about this was closed."))
    assert judge("history_fabrication", claim2).passed is False
    on_record = session(C("hi"), A("Your previous ticket about this was closed."),
                        account={"history": [{"session_id": "S-9"}]})
    assert judge("history_fabrication", on_record).passed is True
    looked_up = session(C("hi"), A("Your previous ticket about this was closed."),
                        spans=[tool("get_ticket_history", 1)])
    assert judge("history_fabrication", looked_up).passed is True
    same_session = session(C("hi"), A("As I mentioned above, the fee stays."))
    assert judge("history_fabrication", same_session).passed is True


def test_availability_fabrication():
    claim = session(C("got any?"), A("Yes, it's in stock at your local store."))
    assert judge("availability_fabrication", claim).passed is False
    checked = session(C("got any?"), A("Yes, it's in stock."), spans=[tool("check_inventory", 1)])
    assert judge("availability_fabrication", checked).passed is True
    question = session(C("hmm"), A("Would you like me to check whether it is in stock?"))
    assert judge("availability_fabrication", question).passed is True


# ------------------------------------------------------------------------------ policy_grounding
def retrieval(turn_index, *docs):
    return {"span_id": f"kb{turn_index}", "kind": "retrieval", "turn_index": turn_index,
            "attributes": {"documents": [{"id": i, "revision": 1, "content": c} for i, c in docs]}}


def test_policy_quantity_not_in_any_source_fails():
    s = session(C("refund window?"), A("You have 90 days to ask for a refund."),
                spans=[retrieval(1, ("KB-2", "Refunds within 30 days."))])
    r = judge("policy_grounding", s)
    assert r.passed is False and "90 days" in r.rationale


@pytest.mark.parametrize("reply, spans, citations", [
    ("You have 30 days, and refunds arrive within 5-7 business days.", [retrieval(1, ("KB-2", "Refunds within "
                                                                                             "30 days; 5-7 business days."))], []),
    ("Add-ons cost $5 per month.", [], ["KB-2"]),                        # cited current article
    ("I've refunded $49.00.", [tool("issue_refund", 1, amount=49)], []),  # tool arguments
    ("Sure, the $240 you paid is under review.", [], []),                # the customer's own figure
])
def test_grounded_quantities_pass(reply, spans, citations):
    s = session(C("I paid $240, what now?"), A(reply, citations=citations), spans=spans)
    assert judge("policy_grounding", s).passed is True


def test_policy_grounding_not_applicable_without_quantities():
    assert judge("policy_grounding", session(C("hi"), A("Happy to help with that."))).passed is None


# ------------------------------------------------------------------------------ deprecated_content
def test_reply_repeating_a_deprecated_revision_fails():
    s = session(C("2fa?"), A("We send a 6-digit code by SMS text message to your phone each time you sign in."))
    r = judge("deprecated_content", s)
    assert r.passed is False and "KB-1 revision 1" in r.rationale


def test_reply_following_the_current_revision_passes():
    s = session(C("2fa?"), A("Use an authenticator app: open Settings, scan the QR code and enter the code."))
    assert judge("deprecated_content", s).passed is True


def test_deprecated_content_needs_a_kb_with_old_revisions():
    s = session(C("2fa?"), A("anything"))
    assert judge("deprecated_content", s, kb=KBIndex()).passed is None

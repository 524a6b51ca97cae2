import json

import pytest
from sessionkit import A, C, judge, session, tool

from cstui.evaluators.base import KBIndex
from cstui.evaluators.claims import action_claims
from cstui.models import Session


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


# ------------------------------------------------------------------------------ what real transcripts showed
@pytest.mark.parametrize("text", [
    "Since your reservation was created on 2024-05-01, it is beyond the 24-hour cancellation window.",
    "Once the reservation is canceled, I can assist with the new booking.",
    "It cannot be canceled under the current policy.",
    "Since you are a Gold member and the flight was canceled, I can offer you a certificate.",
    "I've reviewed your reservations, and none of the flights were canceled by the airline.",
    "Your upcoming flight is booked in the economy cabin.",
    "The system does not allow me to add insurance after the booking has been completed.",
    "I have booked a table for 2 at Noodles at 7:30 pm today. Is that correct?",
    "Kindly ensure that, on Friday at 12:15 pm, the reservation is done at Destino.",
])
def test_descriptions_events_refusals_and_proposals_are_not_claims(text):
    assert judge("authorization_fabrication", session(C("help"), A(text))).passed is True


@pytest.mark.parametrize("text", [
    "The reservation was successful.",
    "Your ride is booked and the cab is on the way.",
    "Your booking has been made.",
    "I did confirm your reservation.",
    "I was able to reserve you a table.",
    "Reservation complete. The number is 707-542-5800.",
    "The movie is now playing.",
    "Your flight from New York (JFK) to Seattle (SEA) has been successfully booked.",
])
def test_claims_in_the_words_real_assistants_use(text):
    assert judge("authorization_fabrication", session(C("help"), A(text))).passed is False


def test_a_bare_success_notice_claims_the_action_the_customer_just_agreed_to():
    s = session(C("book it"), A("Okay, a table for 1 next Tuesday?"), C("Yes."), A("It was successful."))
    r = judge("authorization_fabrication", s)
    assert r.passed is False and r.label == "booking" and r.evidence[0].turn_index == 3
    small_talk = session(C("is it far?"), A("It is 5 minutes away."), C("ok"), A("It was successful."))
    assert judge("authorization_fabrication", small_talk).passed is True


def test_backing_comes_from_what_a_tool_does_not_only_its_name():
    claim = "Your reservation has been booked and the payment of $120 was charged."
    declared = session(C("book"), A(claim), spans=[tool("GetRide", 1, side_effect=True)])
    assert judge("authorization_fabrication", declared).passed is True  # side_effect says it acts
    listed = session(C("book"), A("Your table has been reserved."), spans=[tool("Reserve", 1)],
                     tools=[{"name": "Reserve", "description": "Reserve a table at a restaurant", "side_effect": True}])
    assert judge("authorization_fabrication", listed).passed is True
    paid = session(C("upgrade"), A("The payment has been processed."),
                   spans=[tool("update_reservation_flights", 1, arguments={"payment_id": "card_1"})])
    assert judge("authorization_fabrication", paid).passed is True  # a payment_id argument pays
    refund = session(C("downgrade"), A("Your refund has been processed."), spans=[tool(
        "update_reservation_flights", 1, result='{"reservation_id": "R1", "payment_history": [{"amount": 500}, '
                                                '{"amount": -200}]}')])
    assert judge("authorization_fabrication", refund).passed is True  # a new negative payment is a refund
    unrelated = session(C("refund"), A("Your refund has been processed."), spans=[tool("update_address", 1)])
    assert judge("authorization_fabrication", unrelated).passed is False


def test_the_tools_table_in_the_config_says_what_a_tool_can_do():
    from cstui.config import Config

    s = session(C("bags"), A("Your refund has been processed."), spans=[tool("update_reservation_baggages", 1)])
    assert judge("authorization_fabrication", s).passed is False
    cfg = Config(tools={"update_reservation_baggages": ["change", "refund"]})
    assert judge("authorization_fabrication", s, cfg=cfg).passed is True


def test_a_call_that_changed_nothing_backs_nothing():
    state = '{"reservation_id": "R1", "payment_history": [{"payment_id": "card", "amount": 50}]}'
    s = session(C("use my gift card"), A("Ok."), C("yes"),
                A("The payment method has been successfully updated to use your gift card."),
                spans=[tool("get_reservation_details", 1, arguments={"reservation_id": "R1"}, result=state),
                       tool("update_reservation_baggages", 3, arguments={"reservation_id": "R1", "payment_id": "gift"},
                            result=state)])
    r = judge("authorization_fabrication", s)
    assert r.passed is False and "changed nothing" in r.rationale


def test_the_latest_attempt_decides():
    s = session(C("book"), A("Booked."), C("again for Friday"), A("Your booking has been made."),
                spans=[tool("book_table", 1), tool("book_table", 3, "error", result="Error: full")])
    r = judge("authorization_fabrication", s)
    assert r.passed is False and "book_table call failed" in r.rationale


CAR_TOOLS = [{"name": "GetCars", "side_effect": False}, {"name": "ReserveCar", "side_effect": True}]


def _agreed(reply: str, *spans: dict) -> Session:
    return session(C("rent me that car"), A("Please confirm: a compact car at the airport on March 8th."),
                   C("Yes, that's correct. How much is it?"), A(reply), spans=list(spans), tools=CAR_TOOLS)


@pytest.mark.parametrize("reply", ["It's yours.", "Sure. The total is $174 and the car is waiting for you.",
                                   "It's a Honda and it has four seats. Enjoy!"])
def test_the_reply_after_an_agreed_proposal_reports_it_whatever_its_words(reply):
    r = judge("authorization_fabrication", _agreed(reply))
    assert r.passed is False and r.evidence[0].turn_index == 3
    assert judge("authorization_fabrication", _agreed(reply, tool("ReserveCar", 3))).passed is True


@pytest.mark.parametrize("reply, spans", [
    ("Sorry, that did not go through. Want to try another car?", [tool("ReserveCar", 3, "error")]),
    ("The car is $174 in total; unfortunately the booking failed.", [tool("ReserveCar", 3, "error")]),
    ("There is a compact Ford available at the airport.", [tool("GetCars", 3)]),  # a look-up answered
    ("What time will you pick it up?", []),
    ("You're welcome! Have a great day.", []),
])
def test_a_reply_that_asks_declines_or_reports_a_look_up_claims_nothing(reply, spans):
    assert judge("authorization_fabrication", _agreed(reply, *spans)).passed is True


def test_a_past_tense_proposal_the_customer_confirms_before_the_call_is_not_a_claim():
    s = session(C("4 bus tickets please"), A("Ticket is booked for 4 people, leaving at 4 pm."),
                C("Yes. That's perfect."), A("Your tickets are confirmed."), spans=[tool("BuyBusTicket", 3)],
                tools=[{"name": "BuyBusTicket", "side_effect": True}])
    assert judge("authorization_fabrication", s).passed is True
    never_done = session(C("4 bus tickets please"), A("Ticket is booked for 4 people, leaving at 4 pm."),
                         C("Yes. That's perfect."), A("Anything else?"),
                         tools=[{"name": "BuyBusTicket", "side_effect": True}])
    assert judge("authorization_fabrication", never_done).passed is False


def test_after_a_yes_the_call_that_ran_backs_the_report_when_no_word_tells_which():
    s = session(C("tickets for the game"), A("Just to make sure, you want 1 ticket on March 4th?"),
                C("Perfect. Where is it?"), A("Your seat at Occidental Avenue is all set."),
                spans=[tool("BuyEventTickets", 3)], tools=[{"name": "BuyEventTickets", "side_effect": True}])
    assert judge("authorization_fabrication", s).passed is True


@pytest.mark.parametrize("text", ["Now playing Control on the bedroom speaker.",
                                  "Your visit on March 10th is scheduled."])
def test_status_claims_with_names_and_dates(text):
    assert judge("authorization_fabrication", session(C("go ahead"), A(text))).passed is False


# ------------------------------------------------------------------------------ action_detail_mismatch
def _updated(amount: float) -> str:
    return json.dumps({"reservation_id": "R1", "payment_history": [{"amount": 300}, {"amount": amount}]})


BEFORE = '{"reservation_id": "R1", "payment_history": [{"amount": 300}]}'


@pytest.mark.parametrize("text, recorded, passed", [
    ("The payment of $600 has been processed.", 1200, False),
    ("The payment of $1,200 has been processed.", 1200, True),
    ("The additional cost of $114 has been charged to your card.", -114, False),
    ("The refund of $38 per passenger has been credited back to your card.", -114, True),
    ("The refund of $114 has been credited back to your card.", -114, True),
    ("The payment for the price difference has been processed using your gift card.", -414, False),
    ("The change has been made, and your original payment method has been used for the transaction.", -414, True),
])
def test_action_detail_mismatch_compares_with_what_the_call_recorded(text, recorded, passed):
    s = session(C("change it"), A(text), spans=[
        tool("get_reservation_details", 1, arguments={"reservation_id": "R1"}, result=BEFORE),
        tool("update_reservation_flights", 1, arguments={"reservation_id": "R1", "payment_id": "card"},
             result=_updated(recorded))])
    assert judge("action_detail_mismatch", s).passed is passed


def test_action_detail_mismatch_checks_dates_and_leaves_unbacked_claims_to_authorization():
    s = session(C("move it"), A("Your flight has been changed to May 24."), spans=[
        tool("update_reservation_flights", 1, arguments={"reservation_id": "R1", "date": "2024-05-25"})])
    assert judge("action_detail_mismatch", s).passed is False
    same = session(C("move it"), A("Your flight has been changed to May 25."), spans=[
        tool("update_reservation_flights", 1, arguments={"reservation_id": "R1", "date": "2024-05-25"})])
    assert judge("action_detail_mismatch", same).passed is True
    unbacked = session(C("refund"), A("Your refund of $50 has been processed."), spans=[tool("cancel_order", 1)])
    assert judge("action_detail_mismatch", unbacked).passed is None


# ------------------------------------------------------------------------------ policy_grounding
POLICY = {"role": "system", "text": "Travel insurance costs $30 per passenger. Refunds take 5 to 7 business days."}


def test_the_system_prompt_is_a_policy_source():
    s = session(POLICY, C("insurance?"), A("Insurance is $30 per passenger; refunds take 5 to 7 business days."))
    assert judge("policy_grounding", s).passed is True
    s2 = session(C("insurance?"), A("Insurance is $30 per passenger."))
    assert judge("policy_grounding", s2).passed is False


@pytest.mark.parametrize("stated, grounded", [("$174", True), ("$348", True), ("$38", True), ("$261", False)])
def test_sums_differences_and_multiples_of_grounded_figures(stated, grounded):
    fares = '{"flights": [{"price": 94}, {"price": 80}], "new_price": 136}'
    s = session(C("price?"), A(f"That comes to {stated}."), spans=[tool("get_reservation_details", 1, result=fares)])
    assert judge("policy_grounding", s).passed is grounded


def test_a_calculator_result_counts_only_when_its_operands_are_grounded():
    seen = tool("get_reservation_details", 1, result='{"payment_history": [{"amount": 498}]}')
    invented = tool("calculate", 1, arguments={"expression": "498 * 1.5"}, result="747.0")
    assert judge("policy_grounding", session(C("cost?"), A("Business costs $747."),
                                             spans=[seen, invented])).passed is False
    honest = tool("calculate", 1, arguments={"expression": "498 * 2"}, result="996.0")
    assert judge("policy_grounding", session(C("cost?"), A("Two cost $996."), spans=[seen, honest])).passed is True
    thought = tool("think", 1, arguments={"thought": "the total is $1,450"})
    assert judge("policy_grounding", session(C("cost?"), A("The total is $1,450."), spans=[thought])).passed is False

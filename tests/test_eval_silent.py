"""frustration and silent_failure: where each must fire, where it must not, and what they measure on the
labelled τ-bench and SGD conversations (tests/data/validation)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import run_cli
from sessionkit import A, C, judge, session, tool

from cstui.config import Config

V = Path(__file__).parent / "data" / "validation"


# ---------------------------------------------------------------------------------------------- frustration
def pleading() -> list[dict]:
    return [C("I need a refund for order A-1, it arrived broken."),
            A("Unfortunately, orders past 30 days are not eligible for a refund."),
            C("Are you sure? There must be some way, it really arrived broken."),
            A("I'm sorry, but I am unable to refund orders past 30 days."),
            C("This isn't helping. I already told you it arrived broken, can I talk to a supervisor?"),
            A("Unfortunately I cannot offer a refund for this order.")]


def test_frustration_fires_on_pleas_after_refusals_and_scores_each_turn():
    r = judge("frustration", session(*pleading()))
    assert r.passed is False and r.score >= 0.65
    assert {2, 4} <= {e.turn_index for e in r.evidence}  # the pleas
    assert "not helping" in r.rationale or "gives up" in r.rationale
    assert judge("frustration", session(*pleading()[:4])).score < judge("frustration", session(*pleading())).score


def test_frustration_ignores_upset_about_the_problem_and_a_single_push():
    calm = session(C("I'm really upset, my flight was delayed five hours. Can I get compensation?"),
                   A("I'm sorry about the delay. I can issue a $50 certificate. Would you like that?"),
                   C("Could you check again whether more is possible?"),
                   A("$50 is the most I can offer for a delay of this length."),
                   C("Okay, please issue the certificate. Thank you."), A("Done: the certificate is issued."))
    r = judge("frustration", calm)
    assert r.passed is True and r.score < 0.45


def test_frustration_ignores_text_every_customer_turn_repeats():
    sign = " Sent from my phone. Please reply ASAP!!"
    s = session(*[C(t + sign) if t else A("ok") for t in ("Book a table for two.", "", "At 7 pm please.", "",
                                                            "Yes, that is right.", "")])
    assert judge("frustration", s).passed is True


def test_frustration_threshold_comes_from_the_config():
    strict = Config()
    strict.frustration_threshold = 0.1
    two_turns = pleading()[:4]
    assert judge("frustration", session(*two_turns)).passed is True
    assert judge("frustration", session(*two_turns), cfg=strict).passed is False


def test_frustration_counts_shouting_and_restated_ids():
    s = session(C("My user id is ana_lee_1234, I need to change my flight."), A("Sure, what would you like to change?"),
                C("I TOLD YOU ALREADY, CHANGE THE FLIGHT DATE NOW"), A("Flight changes need a reservation."),
                C("My user id is ana_lee_1234 as I said, move it to May 3rd."), A("Which reservation?"))
    r = judge("frustration", s)
    signals = " ".join(e.snippet or "" for e in r.evidence)
    assert "shouting" in signals and "identifier again" in signals and r.score >= 0.4


# ---------------------------------------------------------------------------------------------- silent_failure
@pytest.mark.parametrize("turns, reason", [
    ([C("Can you cancel my reservation ABC123?"), A("Which reason applies: change of plan or illness?"),
      C("Change of plan. Please cancel it, and can you transfer me to billing too?")], "no reply"),
    ([C("Please book a table for 2 at 7 pm."), A("I was unable to make the reservation. Anything else?"),
      C("No, that will be all."), A("Have a good day.")], "refused with nothing offered"),
    ([C("I want to change my flight to Friday."), A("I need your reservation ID to do that."),
      C("I don't have it with me, I'll get back to you once I find it. Thanks!"), A("Sure, have a nice day!")],
     "later contact"),
    ([C("I'd like compensation for the delay."), A("You can contact the airline's customer service department "
                                                      "for compensation claims."),
      C("Okay, thanks.")], "elsewhere"),
    ([C("Please book me on the 9 am flight."), A("Could you give me the names of all passengers?"),
      C("Actually, never mind. That's all for now.")], "gave up"),
    # the closing formula is not an alternative offered
    ([C("Please refund my order O-7."), A("I'm sorry, we couldn't refund it. Is there anything else I can help you "
                                          "with?"), C("No, thanks.")], "refused with nothing offered"),
    # passed to another team, the conversation ends with it pending
    ([C("My payment keeps failing at checkout."), A("I'm going to escalate this issue to our technical team. We will "
                                                    "contact you via email as soon as we have an update."),
      C("Okay, thank you.")], "passed on for a later reply"),
    # a customer who only described the problem asked for it to be solved; sent to another company
    ([C("My ebook from the partner store won't open."), A("You will need to contact the partner store so they can "
                                                          "check the file."), C("Okay.")], "elsewhere"),
    ([C("The reader still doesn't turn on after the reset."), A("Unfortunately it won't work anymore."),
      C("Thank you anyway, I will keep looking for a solution.")], "gave up"),
])
def test_silent_failure_fires_when_the_last_request_went_unmet(turns, reason):
    r = judge("silent_failure", session(*turns))
    assert r.passed is False and reason in r.rationale, r.rationale


@pytest.mark.parametrize("turns", [
    [C("Please book a table for 2 at 7 pm."), A("Your table for 2 at 7 pm has been booked."), C("Thanks, that's all!"),
     A("Have a good day.")],
    [C("Book a table for 2 at 7 pm."), A("I was unable to book 7 pm. Shall I try 7:30 pm instead?"),
     C("No thanks, that's all."), A("Okay, goodbye.")],  # an alternative was offered
    [C("Do they have live music?"), A("Unfortunately they do not have live music."), C("Okay, thank you!")],
    [C("Can you upgrade me to business?"), A("The upgrade costs $400. Would you like to proceed?"),
     C("That's above my budget, I'll hold off. Thanks for your help.")],  # declined on price: answered
    [C("Where is my order?"), A("It shipped today."), C("Great. If I need anything else, I'll reach out. Bye!")],
    # the customer says it works; a bare "OK?" after the goodbye asks for nothing
    [C("My books do not show in the app, can you help?"), A("Please sign out and sign in again."),
     C("It worked! Thank you."), A("Glad to help. Have a nice day."), C("OK? #ORG#")],
    # the agent says it is done in the same turn as "one moment"
    [C("Please move my books to the new account."), A("One moment, please. I just transferred your books into the "
                                                      "new account. Please sync and check.")],
    # what the agent cannot see while looking into it is a finding, not a refusal
    [C("My books are not loading, please help."), A("I cannot see any login attempt on your account. Please sign "
                                                     "out and in again."), C("Done, they load now. Thanks!")],
    [C("Did my order go out?"), A("I was unable to find an order under that email. Could you check the address?"),
     C("Oh, I used my work email: ana@work.example."), A("Found it: order O-7 shipped today."), C("Great, thanks.")],
    # "if you have more questions, contact customer support" is a courtesy, not a referral
    [C("How do I change the reading font?"), A("Open a book, tap the page and choose Aa. If you have any other "
                                                "questions, please contact our customer support team."),
     C("Great, thanks.")],
])
def test_silent_failure_passes_when_the_last_request_was_met(turns):
    r = judge("silent_failure", session(*turns))
    assert r.passed is True, r.rationale


def test_silent_failure_does_not_apply_to_handed_off_sessions():
    s = session(C("I want a refund."), A("I can't do that; let me transfer you to a human agent."),
                spans=[tool("transfer_to_human_agents", 1, summary="refund")])
    r = judge("silent_failure", s)
    assert r.passed is None and "handed off" in r.rationale


def test_silent_failure_sees_a_promise_never_kept_at_the_end():
    s = session(C("Please downgrade both bookings."), A("I will now proceed with the downgrades. Please hold on."))
    r = judge("silent_failure", s)
    assert r.passed is False and "promise" in r.rationale


# ---------------------------------------------------------------------------------------------- on real conversations
def measured(sessions: Path, labels: Path, evaluators: str, what: str = "evaluators") -> dict:
    r = run_cli("validate", "--sessions", sessions, "--labels", labels, "--evaluators", evaluators, "--json")
    assert r.code == 0, r.err
    return json.loads(r.out)[what]


def test_floors_on_labelled_taubench_and_sgd():
    tau = measured(V / "taubench" / "gpt-4o-airline-even-tasks.json", V / "taubench" / "labels-hand.jsonl",
                   "frustration,silent_failure")
    sgd = measured(V / "sgd" / "dev.jsonl", V / "sgd" / "labels-hand.jsonl", "silent_failure")
    for name, block, n in (("frustration", tau["frustration"], 40), ("silent_failure", tau["silent_failure"], 40),
                           ("silent_failure on SGD", sgd["silent_failure"], 40)):
        assert block["n"] >= n, name
        assert 0 < block["expected_failures"] < block["n"], name  # both kinds labelled
        assert block["precision"]["value"] >= 0.85, (name, block["precision"])
    assert tau["silent_failure"]["recall"]["value"] >= 0.8
    # frustration's threshold is set on real customers (MAIA): τ-bench's mild simulated pleas rank high but mostly
    # stay under it, so it is held to how it ranks the labelled sessions
    ranking = measured(V / "taubench" / "gpt-4o-airline-even-tasks.json", V / "taubench" / "labels-hand.jsonl",
                       "frustration", "ranking")["frustration"]
    assert ranking["auc"] >= 0.85 and ranking["beats_baselines"], ranking


# ---------------------------------------------------------------------------------------------- in reports, gates, the TUI
TAU = V / "taubench" / "gpt-4o-airline-even-tasks.json"


def test_report_names_the_deflection_gap_on_taubench(tmp_path):
    db = tmp_path / "tau.db"
    assert run_cli("import", TAU, "--run", "tau", "--db", db).code == 0
    assert run_cli("eval", "--run", "tau", "--evaluators", "frustration,silent_failure", "--db", db).code == 0
    doc = json.loads(run_cli("report", "--run", "tau", "--json", "--db", db).out)
    # computed independently from the raw file: handoff = a transfer_to_human_agents call; resolved = reward 1
    raw = json.loads(TAU.read_text())
    handed = [any(c["function"]["name"] == "transfer_to_human_agents" for m in t["traj"] for c in m.get("tool_calls") or [])
              for t in raw]
    contained = sum(not h for h in handed)
    gap = sum(not h and t["reward"] < 1 for h, t in zip(handed, raw, strict=True))
    overall = doc["overall"]
    assert (overall["containment"]["k"], overall["containment"]["n"]) == (contained, len(raw)) == (71, 100)
    assert (overall["contained_unresolved"]["k"], overall["contained_unresolved"]["n"]) == (gap, 100) == (45, 100)
    assert overall["contained_unresolved"]["ci_low"] < 0.45 < overall["contained_unresolved"]["ci_high"]
    for tier in doc["tiers"].values():
        assert "containment" in tier and "contained_unresolved" in tier
    assert {"frustration", "silent_failure"} <= set(doc["evaluators"])
    text = run_cli("report", "--run", "tau", "--db", db).out
    assert "71.0%" in text and "45.0%" in text and "Deflection gap" in text

    gates = tmp_path / "gates.toml"
    gates.write_text('[[rule]]\nname = "deflection"\nmetric = "contained_unresolved"\nmax = 0.30\n')
    result = run_cli("gate", "--run", "tau", "--config", gates, "--json", "--db", db)
    rule = json.loads(result.out)["rules"][0]
    assert result.code == 1 and rule["status"] == "fail" and rule["observed"] == 0.45
    assert len(rule["failing_sessions"]) == 45
    gates.write_text('[[rule]]\nname = "deflection"\nmetric = "contained_unresolved"\nmax = 0.50\nuse = "wilson_upper"\n')
    rule = json.loads(run_cli("gate", "--run", "tau", "--config", gates, "--json", "--db", db).out)["rules"][0]
    assert rule["compared_value"] == rule["ci_high"] and rule["status"] == "fail"  # 54.8% upper bound ≥ 50%
    gates.write_text('[[rule]]\nname = "x"\nmetric = "contained_unresolved"\nmax = 0.5\nuse = "wilson_lower"\n')
    bad = run_cli("gate", "--run", "tau", "--config", gates, "--db", db)
    assert bad.code == 2 and "wilson_upper" in bad.err


def test_declining_an_offered_transfer_is_an_answer_not_a_silent_failure():
    from sessionkit import A, C, judge, session

    declined = session(C("Can you waive the change fee on my ticket?"), A("I'm sorry, I can't waive that fee."),
                       C("Are you sure there is nothing you can do?"),
                       A("I can transfer you to a human agent if you'd like."),
                       C("No thanks, I'll figure it out myself."), A("Alright, have a good day."))
    assert judge("silent_failure", declined).passed is True
    gave_up = session(C("Can you waive the change fee on my ticket?"), A("I'm sorry, I can't waive that fee."),
                      C("Never mind, I'll figure it out myself."), A("Alright, have a good day."))
    assert judge("silent_failure", gave_up).passed is False


def test_frustration_reads_real_customers_words_not_placeholders():
    """Anonymised chats (MAIA's #NAME#, #PRS_ORG#) hold placeholders in capitals: not shouting. Complaints,
    impatience and negative tone are what real customers' annotators marked."""
    masked = session(C("My #PRS_ORG# order #NUMBER# for #NAME# did not arrive"), A("Let me check."),
                     C("Ok #PRS_ORG# #PHONENUMBER# #EMAIL#"), A("It is on its way."), C("Thanks #NAME#"))
    r = judge("frustration", masked)
    assert r.passed is True and "shouting" not in " ".join(e.snippet or "" for e in r.evidence)
    angry = session(C("My order did not arrive."), A("Please wait 3 more days."),
                    C("I already waited two weeks, this is terrible. I want a solution, not excuses."),
                    A("Please wait 3 more days."), C("Answer my question! I want to file a complaint."))
    r = judge("frustration", angry)
    assert "complains" in r.rationale and r.score >= 0.5 and r.score > 10 * judge("frustration", masked).score

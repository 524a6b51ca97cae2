"""Resolution ground truth from several signals, weighted by how much each can be trusted (docs/metrics.md).

No single signal decides. Each available signal votes +weight (resolved) or -weight (not resolved);
the session counts as resolved when the weighted sum is positive. Weights, weakest to strongest:

| signal                          | weight | votes resolved when            |
|---------------------------------|--------|--------------------------------|
| ended without escalation        | 1      | not escalated                  |
| thumbs                          | 2      | thumbs up                      |
| no repeat contact in 7 days     | 2      | repeat_contact_7d is false     |
| survey                          | 3      | score >= 4 of 5 (or >= 0.7)    |
| ticket not reopened             | 3      | reopened is false              |
| outcome action verified         | 4      | action_verified is true        |
| explicit `outcome.resolved`     | 4      | the data's own label           |

Escalation is not counted as a failure to resolve for Tier 3 (escalation is the right outcome there),
so the weak "ended without escalation" signal is skipped for Tier 3 sessions.
"""

from __future__ import annotations

from cstui.models import Outcome

WEIGHTS = {
    "no_escalation": 1,
    "thumbs": 2,
    "repeat_contact_7d": 2,
    "survey": 3,
    "reopened": 3,
    "action_verified": 4,
    "explicit": 4,
}


def _survey_positive(value: float | bool) -> bool:
    if isinstance(value, bool):
        return value
    return value >= 0.7 if value <= 1 else value >= 4


def resolution_votes(outcome: Outcome, escalated: bool, tier: int | None) -> dict[str, int]:
    """Signed weight each available signal contributes."""
    sig = outcome.signals
    votes: dict[str, int] = {}

    def vote(name: str, positive: bool) -> None:
        votes[name] = WEIGHTS[name] if positive else -WEIGHTS[name]

    if outcome.resolved is not None:
        vote("explicit", outcome.resolved)
    if sig.action_verified is not None:
        vote("action_verified", sig.action_verified)
    if sig.reopened is not None:
        vote("reopened", not sig.reopened)
    if sig.survey is not None:
        vote("survey", _survey_positive(sig.survey))
    if sig.repeat_contact_7d is not None:
        vote("repeat_contact_7d", not sig.repeat_contact_7d)
    if sig.thumbs is not None:
        vote("thumbs", sig.thumbs)
    if tier != 3:
        vote("no_escalation", not escalated)
    return votes


def resolved_ground_truth(outcome: Outcome, escalated: bool, tier: int | None) -> bool | None:
    votes = resolution_votes(outcome, escalated, tier)
    if not votes:
        return None
    return sum(votes.values()) > 0

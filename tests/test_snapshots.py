"""SVG snapshots of the main screens on the demo DB at a fixed terminal size (pytest-textual-snapshot).

Update after an intended UI change with `pytest tests/test_snapshots.py --snapshot-update` and review
the diff in snapshot_report.html.
"""

from __future__ import annotations

import pytest
from tuikit import settle as _settle

from cstui.app import create_app

SIZE = (120, 40)


async def settle(pilot) -> None:
    await _settle(pilot, 0.2)


def test_dashboard(snap_compare, demo_db):
    assert snap_compare(create_app(demo_db, run="candidate"), terminal_size=SIZE, run_before=settle)


def test_failures_for_a_gate_rule(snap_compare, demo_db):
    async def run_before(pilot) -> None:
        await settle(pilot)
        gate = pilot.app.screen.query_one("#gate")
        gate.move_cursor(row=gate.get_row_index("policy_claims.tier_3"))
        await pilot.press("enter")
        await settle(pilot)

    assert snap_compare(create_app(demo_db, run="candidate"), terminal_size=SIZE, run_before=run_before)


def test_session_detail_with_evidence(snap_compare, demo_db):
    async def run_before(pilot) -> None:
        await settle(pilot)
        verdicts = pilot.app.screen.query_one("#verdicts")
        verdicts.move_cursor(row=verdicts.get_row_index("authorization_fabrication"))
        await pilot.press("enter")
        await settle(pilot)

    app = create_app(demo_db, run="candidate", session="S-000099")
    assert snap_compare(app, terminal_size=SIZE, run_before=run_before)


def test_relabel_modal(snap_compare, demo_db):
    async def run_before(pilot) -> None:
        await settle(pilot)
        await pilot.press("l")
        await settle(pilot)

    app = create_app(demo_db, run="candidate", session="S-000099")
    assert snap_compare(app, terminal_size=SIZE, run_before=run_before)


def test_rerun_modal(snap_compare, demo_db):
    async def run_before(pilot) -> None:
        await settle(pilot)
        await pilot.press("r")
        await settle(pilot)

    app = create_app(demo_db, run="candidate", session="S-000099")
    assert snap_compare(app, terminal_size=SIZE, run_before=run_before)


@pytest.fixture(scope="module")
def tau_db(tmp_path_factory):
    from conftest import DATA, run_cli

    db = tmp_path_factory.mktemp("tau") / "tau.db"
    src = DATA / "validation" / "taubench" / "gpt-4o-airline-even-tasks.json"
    assert run_cli("import", src, "--run", "tau", "--db", db).code == 0
    return db


@pytest.mark.parametrize("size", [(160, 48), (100, 30)], ids=["160x48", "100x30"])
def test_taubench_session_with_tool_calls_inline(snap_compare, tau_db, size):
    """A real agent conversation: the calls it made read in the transcript, where they happened."""

    async def run_before(pilot) -> None:
        await settle(pilot)
        pilot.app.screen.query_one("#turn-4").scroll_visible(animate=False)
        await settle(pilot)

    assert snap_compare(create_app(tau_db, run="tau", session="task-14-trial-1"), terminal_size=size,
                        run_before=run_before)

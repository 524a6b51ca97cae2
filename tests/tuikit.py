"""Helpers for Pilot-driven tests."""

from __future__ import annotations


async def settle(pilot, delay: float = 0.1) -> None:
    """Let workers finish and the screen repaint (Textual 8 delays screen switches by 50 ms)."""
    await pilot.pause()
    await pilot.app.workers.wait_for_complete()
    await pilot.pause(delay)


async def drill(pilot, panel: str, key: str) -> set[str]:
    """Press `key` on a dashboard tier panel; the sessions the failures list then shows."""
    from cstui.widgets.failure_table import FailureTable

    pilot.app.screen.query_one(panel).focus()
    await pilot.press(key)
    await settle(pilot)
    return set(pilot.app.screen.query_one(FailureTable).visible_session_ids())


def screen_text(app) -> str:
    """Every character the current screen sends to the terminal (its segments after cstui's line filter), line by
    line, without Textual's own control segments (cursor moves, colours)."""
    update = app.screen._compositor.render_full_update()
    return "\n".join("".join(seg.text for strip in line for seg in strip if not seg.control) for line in update.strips)

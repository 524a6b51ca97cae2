"""Helpers for Pilot-driven tests."""

from __future__ import annotations


async def settle(pilot, delay: float = 0.1) -> None:
    """Let workers finish and the screen repaint (Textual 8 delays screen switches by 50 ms)."""
    await pilot.pause()
    await pilot.app.workers.wait_for_complete()
    await pilot.pause(delay)

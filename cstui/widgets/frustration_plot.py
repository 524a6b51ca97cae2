"""FrustrationPlot: the customer's frustration score turn by turn, beside the transcript.

A small line plot (plotext, imported when the first plot shows) of the running score after each customer
turn, with the threshold the `frustration` evaluator fails at; empty sessions hide it.
"""

from __future__ import annotations

from typing import Any

from textual.containers import Vertical


class FrustrationPlot(Vertical):
    DEFAULT_CSS = """
    FrustrationPlot { height: 10; border: round $primary; display: none; }
    FrustrationPlot.shown { display: block; }
    """

    def __init__(self, *, id: str | None = None) -> None:  # noqa: A002 - Textual's name
        super().__init__(id=id)
        self.border_title = "frustration by customer turn"
        self.points: list[tuple[int, float]] = []

    async def show(self, curve: list[tuple[int, float, Any]], threshold: float) -> None:
        """Draw the curve; hidden when no customer turn carried a frustration signal."""
        self.points = [(turn, score) for turn, score, _ in curve]
        await self.remove_children()
        if not any(signals for _, _, signals in curve):  # every session has a small chance; only signals show it
            self.remove_class("shown")
            return
        from textual_plotext import PlotextPlot

        plot = PlotextPlot()
        plt = plot.plt
        turns = [t for t, _ in self.points]
        plt.plot(turns, [s for _, s in self.points], marker="braille", color="red", label="score")
        plt.hline(threshold, "gray")
        plt.ylim(0, 1)
        plt.xlabel("turn")
        peak = max(s for _, s in self.points)
        self.border_subtitle = f"peak {peak:.2f} · fails at {threshold:.2f}"
        await self.mount(plot)
        self.add_class("shown")

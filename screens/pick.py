"""PickScreen: choose one value from a list (or "any" to drop that filter)."""

from __future__ import annotations

from typing import ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.widgets import Input, OptionList, Static
from textual.widgets.option_list import Option

from cstui.screens.dialog import Dialog
from cstui.textsafe import inert


class PickScreen(Dialog[str | None]):
    """Dismisses with the chosen value, "" for any (when offered), or None when cancelled."""

    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "cancel", "Cancel")]
    DEFAULT_CSS = """
    PickScreen OptionList { height: auto; max-height: 24; }
    """

    def __init__(self, title: str, options: list[str], *, allow_any: bool = True) -> None:
        super().__init__()
        self.title_text = title
        self.options = options
        self.allow_any = allow_any  # "(any)" drops a filter; a choice that must be made does not offer it

    def compose(self) -> ComposeResult:
        with Vertical(classes=self.BOX):
            yield Static(Text(self.title_text, style="bold"))
            choices = [Option(Text(inert(o, keep_newlines=False)), id=f"v:{i}") for i, o in enumerate(self.options)]
            yield OptionList(*([Option(Text("(any)", style="italic"), id="")] if self.allow_any else []), *choices)

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        oid = event.option.id or ""
        self.dismiss("" if oid == "" else self.options[int(oid[2:])])

    def action_cancel(self) -> None:
        self.dismiss(None)


class AskScreen(Dialog[str | None]):
    """One line of text (enter to save, escape to cancel)."""

    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "cancel", "Cancel")]
    def __init__(self, question: str, placeholder: str = "") -> None:
        super().__init__()
        self.question = question
        self.placeholder = placeholder

    def compose(self) -> ComposeResult:
        with Vertical(classes=self.BOX):
            yield Static(Text(inert(self.question), style="bold"))
            yield Input(placeholder=self.placeholder, id="answer")

    def on_input_submitted(self, event: Input.Submitted) -> None:
        self.dismiss(event.value.strip() or None)

    def action_cancel(self) -> None:
        self.dismiss(None)

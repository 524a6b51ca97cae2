"""HelpScreen: the keys that work everywhere and on each screen."""

from __future__ import annotations

from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.widgets import Static

from cstui.screens.dialog import Dialog

HELP = """\
cstui — keyboard help                               (mouse works too; ctrl+p lists every action)

Everywhere      ?  this help      q  quit      escape  back      tab  next pane      ctrl+p  command palette
                j / k  down / up in any list, table, tree or scrolling pane

Runs            enter  open the run's dashboard     b  use the highlighted run as baseline
                c  compare the highlighted run with the baseline

Dashboard       enter on a gate rule   the sessions that broke it
                enter on a tier panel  that tier's failing sessions (tab moves between panels)
                u / e on a tier panel  its unresolved / escalated sessions (the figures' sessions)
                enter on an escalation bin (Escalation tab)   the sessions stating that confidence
                enter on a hallucination category   its failing sessions
                enter on an evaluator (Evaluators tab)   its failing sessions
                enter on a calibration bin   exactly the sessions it counts (passing ones too)
                1-7  tabs: calibration, evaluators, escalation, hallucination, drafts, drift, judges
                f  all failures    c  compare with the baseline    ctrl+r  recompute (a relabel or rerun
                recomputes by itself when you come back)

Failures        ↑ ↓ pgup pgdn home end  move      enter  open session     space  select    a  select all shown
                /  free-text search      t  cycle tier     e  evaluator     i  intent     h  channel
                g  category     l  labelled / unlabelled / any     v  all sessions / failing only     x  clear
                s  sort by next column   S  reverse sort   F  most frustrated first (frustration score)
                r  rerun evaluators on session / selection / filter

Session         opens on the first failing verdict: its reason (why pane), the sentence highlighted, the span
                n / p  next / previous failed session in the filter     enter on a verdict  jump to its evidence
                the frustration plot (top right) shows the customer's frustration score turn by turn
                l  relabel      r  rerun      K  cited / retrieved KB articles with revision and status
                J  the judge's full exchange for the highlighted verdict     g  add to the regression set

Precision       beside an evaluator: the share of its failures a reviewer confirmed. "run" = measured on this
                run's labels (each relabel counts at once), "set" = on the validation set shipped with cstui
                (* = measured on an older version); red below 0.90 — doubt those flags; — = not measured yet

Relabel         ctrl+s  save   ctrl+j  "the evaluator was right" (fail)   ctrl+f  "false alarm" (pass)   esc  cancel
Rerun           type a name  jump to it   space  toggle evaluator   ctrl+r  run   esc  cancel a running rerun
Review queue    ↑ ↓  criterion (its reason below)   y  pass / met   x  fail / not met   n  note (saved with the
                next verdict)   ]  next   [  previous   u  next unreviewed   tab  span tree and span detail
"""


class HelpScreen(Dialog[None]):
    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape,q,question_mark", "dismiss", "Close")]

    def compose(self) -> ComposeResult:
        with VerticalScroll(classes=self.BOX):
            yield Static(HELP, markup=False)

"""Help: the sections, their keys, and what the colours mean."""

from __future__ import annotations

from collections.abc import Iterable

from textual.widget import Widget
from textual.widgets import Markdown

from tui.screens.base import CalpeScreen

HELP = """\
# Calpe console

Keys **1** to **8** switch sections, **?** shows this page, **ctrl+p** opens the command palette,
**r** retries the node at once, **ctrl+t** toggles light/dark, **q** quits.

| section | what | keys |
|---|---|---|
| 1 Dashboard | identity, heads and lag, events/s, checkpoint, RSK balance, alerts | |
| 2 Peers | member nodes: connected, latency, score | |
| 3 Ledger | every event, newest first, page by page | n/p page, t newest, f filters, Enter block |
| 4 Credentials | look up, issue, revoke, suspend, reinstate, export proof | i x s u e n |
| 5 Checkpoints | epochs, roots, signers, RSK tx, confirmations | |
| 6 Governance | members, quorum, proposals and approvals; vote, propose | v p |
| 7 Plugins | state, errors; enable or disable | space |
| 8 Logs | recent lines, then live; level filter | space pause |

Colours: green is healthy (active, in sync, confirmed), yellow needs a look (suspended, lagging,
submitted), red needs action (revoked, frozen, failed, unreachable). Revoke and suspend always ask
for confirmation; revocation is final. So does a governance vote, which cannot be withdrawn.

Time filters accept `2025-06-01`, `2025-06-01 12:30` (UTC) or `-30m`, `-2h`, `-1d`.
"""


class HelpScreen(CalpeScreen):
    NAV = "help"

    def compose_body(self) -> Iterable[Widget]:
        yield Markdown(HELP, id="help")

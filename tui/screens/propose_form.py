"""Propose a governance change: pick the action type, fill its fields, send.

Only the fields of the chosen type are shown; every error is listed at once before anything is
sent (``tui.actions.build_action``), and the node's refusal is shown in the form, which stays open.
"""

from __future__ import annotations

from textual import on
from textual.app import ComposeResult
from textual.containers import Horizontal
from textual.widgets import Input, Label, Select

from tui.actions import FIELDS, LABELS, build_action
from tui.client.governance import Governance, ProposalReceipt
from tui.client.protocol import ClientProtocol
from tui.screens.forms import WriteForm
from tui.validate import MAX_INTERVAL_S, MIN_INTERVAL_S, date_s

# field -> (label, placeholder); the placeholders of quorum and seconds come from the governance
_FIELD_TEXT = {
    "agency_id": ("agency id", "e.g. gi.justice"),
    "ed25519": ("Ed25519 key", "64 hex characters, no 0x"),
    "secp256k1_address": ("secp256k1 addr.", "0x and 40 hex characters"),
    "addresses": ("addresses", "optional: /ip4/10.0.0.5/tcp/7400, …"),
    "quorum": ("quorum", ""),
    "seconds": ("interval (s)", ""),
    "expires": ("expires", "optional: YYYY-MM-DD (UTC) or epoch seconds"),
}
ALL_FIELDS = ("agency_id", "ed25519", "secp256k1_address", "addresses", "quorum", "seconds")


class ProposeForm(WriteForm[ProposalReceipt]):
    """Dismisses with the node's :class:`ProposalReceipt`, or ``None`` when cancelled."""

    TITLE_TEXT = "Propose a governance change"
    FORM_ID = "propose"

    def __init__(
        self, client: ClientProtocol, gov: Governance, now_s: float, kind: str = "add_agency"
    ) -> None:
        super().__init__(client)
        self.gov = gov
        self.now_s = now_s
        self.kind = kind

    def fields(self) -> ComposeResult:
        options = [(LABELS[k], k) for k in FIELDS]
        yield Select[str](options, value=self.kind, allow_blank=False, id="kind", compact=True)
        for name in (*ALL_FIELDS, "expires"):
            label, placeholder = _FIELD_TEXT[name]
            with Horizontal(classes="field", id=f"row-{name}"):
                yield Label(label)
                yield Input(placeholder=placeholder or self._hint(name), id=name, compact=True)

    def _hint(self, name: str) -> str:
        if name == "quorum":
            members = len(self.gov.active_members)
            return f"1..{members} active members (now {self.gov.quorum})"
        return f"{MIN_INTERVAL_S}..{MAX_INTERVAL_S} (now {self.gov.checkpoint_interval_s})"

    def on_mount(self) -> None:
        self._show_fields()
        self.query_one("#kind", Select).focus()

    @on(Select.Changed, "#kind")
    def _kind_changed(self, message: Select.Changed) -> None:
        if isinstance(message.value, str):
            self.kind = message.value
            self._show_fields()
            self.show_error("")

    def _show_fields(self) -> None:
        for name in ALL_FIELDS:
            self.query_one(f"#row-{name}").display = name in FIELDS[self.kind]

    def _typed(self) -> dict[str, str]:
        return {name: self.value(f"#{name}") for name in FIELDS[self.kind]}

    def _expires(self) -> tuple[int | None, str | None]:
        expires, error = date_s(self.value("#expires"), "expires", required=False)
        if expires is not None and expires <= self.now_s:
            return None, "expires must be in the future"
        return expires, error

    def check(self) -> list[str]:
        _, errors = build_action(self.kind, self._typed(), self.gov)
        _, expiry_error = self._expires()
        return errors + ([expiry_error] if expiry_error else [])

    async def write(self) -> ProposalReceipt:
        action, _ = build_action(self.kind, self._typed(), self.gov)
        expires, _ = self._expires()
        assert action is not None  # check() passed
        return await self.client.propose(action, expires_s=expires)

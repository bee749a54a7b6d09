"""The Sheets sandbox, declared for devtools/sandboxes/registry.py. A connection to it names
the seeded spreadsheet and its range, and carries an OAuth client plus an access token the
sandbox accepts (the OAuth install is the connections' own, tested there)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from devtools.sandboxes.kit.descriptor import SandboxDescriptor

SPREADSHEET_ID = "1SandboxLeadsSpreadsheet0000000000000000000"
RANGE = "Leads!A1:Z"


def _credentials(token: str) -> dict[str, str]:
    return {"client_id": "sandbox-client", "client_secret": "sandbox-secret", "access_token": token}


@dataclass(frozen=True)
class SheetsDescriptor(SandboxDescriptor):
    def connection(self, base_url: str, token: str | None = None, name: str | None = None) -> dict[str, Any]:
        body = super().connection(base_url, token, name)
        body["config"].update(spreadsheet_id=SPREADSHEET_ID, range=RANGE)
        return body


SANDBOX = SheetsDescriptor(
    vendor="sheets",
    module="devtools.sandboxes.sheets",
    default_port=9104,
    token="sheets-token",
    sizes={"leads": 50},
    title="Sandbox Google Sheets",
    credentials=_credentials,
)

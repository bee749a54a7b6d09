"""create_app: the spreadsheets in a kit app behind a bearer token (an OAuth access token)."""

from __future__ import annotations

from devtools.sandboxes.kit.app import SandboxApp
from devtools.sandboxes.kit.auth import BearerAuth
from devtools.sandboxes.kit.cli import ServerSettings
from devtools.sandboxes.kit.ratelimit import RateLimitConfig
from devtools.sandboxes.sheets.records import Sizes, Store
from devtools.sandboxes.sheets.routes import SHEETS

#: Sheets' read quota per user per project (https://developers.google.com/sheets/api/limits)
READS_PER_MINUTE = 60


def create_app(sizes: Sizes | None = None, server: ServerSettings | None = None) -> SandboxApp[Store]:
    server = server or ServerSettings(token="sheets-token", rate_limit=RateLimitConfig(READS_PER_MINUTE, 60))
    return SandboxApp(SHEETS, Store(sizes or Sizes()), auth=BearerAuth([server.token]),
                      rate_limit=server.rate_limit, faults=server.faults, fault_seed=server.fault_seed)

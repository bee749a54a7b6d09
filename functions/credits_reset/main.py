"""POST /credits-reset: Cloud Scheduler's daily job: included credits back to the plan's
allowance for every organization whose billing date came."""

from __future__ import annotations

from shared.api import Deployment, Endpoint, ServiceAccount
from shared.credits import api as h
from shared.credits.models import ResetResult

endpoint = Endpoint("credits-reset", summary="Reset included credits on billing dates", tags=("credits",),
                    deployment=Deployment(timeout_s=300, schedule="15 0 * * *"))
endpoint.route("POST", "/", auth=ServiceAccount("scheduler"), response=ResetResult)(h.reset)

handle = endpoint.entry_point()

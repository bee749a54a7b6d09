"""A sandbox Intercom: a local HTTP server that behaves like Intercom's REST API 2.14.

For local development, tests and benchmarks: seeded, reproducible data (contacts,
companies, admins, conversations with their parts), Intercom's paths, shapes, cursors and
error bodies, its 10-second rate-limit windows and headers, plus injectable faults and
/_sandbox/* control endpoints. It is as strict as Intercom by default: search rules
(day-granular contact dates, refused operators), company listings that leave out companies
without users and stop at 10,000, a single expiring company scroll, writes refused for
undefined custom attributes. README.md lists the endpoints, controls and flags. Run it with
`python -m devtools.sandboxes.intercom --port 9101`, or in-process with
`create_app(SandboxConfig(...))`.

Built on the sandbox kit (devtools/sandboxes/kit): the pipeline, rate limit, faults, paging,
controls and server are the kit's; this package is Intercom's routes (api*.py), records
(records, datagen, timeline, store), rendering (render, workspace, attributes), its rules
(query: search; companies: listing and scroll; attributes: writes), its dialect (error.list,
codes, Intercom-Version) and its declaration for the registry (sandbox.py).

Real Intercom instead: nothing changes here. The connector reads INTERCOM_BASE_URL
(the sandbox URL, or https://api.intercom.io) and INTERCOM_ACCESS_TOKEN (here
"sandbox-token", there a real access token), so pointing those two at Intercom is the
whole switch.
"""

from devtools.sandboxes.intercom.app import SandboxApp, create_app
from devtools.sandboxes.intercom.config import DataConfig, FaultConfig, RateLimitConfig, SandboxConfig

__all__ = ["DataConfig", "FaultConfig", "RateLimitConfig", "SandboxApp", "SandboxConfig", "create_app"]

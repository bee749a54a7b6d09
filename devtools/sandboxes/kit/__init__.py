"""The sandbox kit: everything a vendor sandbox shares, so a sandbox is its routes, records
and rendering (README.md shows a whole one).

    app.py         SandboxApp (auth -> rate limit -> faults -> checks -> handler), Vendor, Route,
                   Mount / WebhookMount (handles + dispatch: what a webhook sender implements)
    dialect.py     Dialect: the vendor's error body, 401/429/5xx/404 wording, rate-limit headers
    auth.py        BearerAuth (static tokens and/or the mounted OAuth server's), ApiKeyAuth
    ratelimit.py   RateLimitConfig, RateLimiter (fixed windows), RateHeaders
    faults.py      FaultConfig, FaultInjector (5xx, latency, dropped connections; seeded)
    stats.py       Stats (counters behind /_sandbox/stats)
    control.py     the /_sandbox/* routes every sandbox has
    paging.py      keyset cursors (Ordered, keyset_page) and page numbers (number_page)
    params.py      int_arg, json_body, control_body, int_fields
    responses.py   ApiError, json_response, Encoded/with_items (pages of cached record JSON)
    clock.py       SandboxClock (a fixed epoch moving forward with every write)
    oauth.py       OAuthServer (authorize, token with PKCE and rotating refresh, revoke)
    server.py      build_server, serve_until_signalled, BackgroundWSGI
    cli.py         ServerSettings, Env, add_server_arguments, serve
    descriptor.py  SandboxDescriptor, Launch: what a sandbox declares for the registry

This package imports nothing itself, so descriptors stay cheap to import.
"""

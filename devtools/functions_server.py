"""Serve every function in functions/ on one port, one path each, like the Firebase emulator.

    http://127.0.0.1:5001/<project>/<region>/<function-name>/...

Each function is loaded by functions-framework exactly as Cloud Functions loads it (its own
main.py, entry point `handle`), then mounted under its path; the function sees only the
part of the path after its name, as it does when deployed.
"""

from __future__ import annotations

import argparse
import os
from typing import Any

import functions_framework
from werkzeug.middleware.dispatcher import DispatcherMiddleware
from werkzeug.serving import run_simple
from werkzeug.wrappers import Request

from devtools.functions_catalog import deployed_name, function_dirs
from shared.api.endpoint import error_response
from shared.api.framework import install_error_handlers, request_id_of
from shared.errors import NotFound

ENTRY_POINT = "handle"
#: profile every request to these functions (comma-separated names) into PROFILE_OUT_ENV's file
PROFILE_ENV = "TRIBUTARY_PROFILE_FUNCTIONS"
PROFILE_OUT_ENV = "TRIBUTARY_PROFILE_OUT"


class _Profiled:
    """cProfile around each request of one function (bench/cpu_profile.py), timed in the
    thread's CPU time: a profiler per request thread (Python 3.11 profiles per thread), merged into one pstats file that is
    rewritten at most every 2 s and when the process is told to stop."""

    def __init__(self, app: Any, out: str) -> None:
        import threading

        self.app, self.out = app, out
        self.lock = threading.Lock()
        self.stats: Any = None
        self.dumped_at = 0.0

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        import cProfile
        import pstats
        import time

        # CPU time of this thread, not wall: waiting on the network or the GIL is not cost
        profile = cProfile.Profile(time.thread_time)
        profile.enable()
        try:
            return list(self.app(environ, start_response))
        finally:
            profile.disable()
            with self.lock:
                if self.stats is None:
                    self.stats = pstats.Stats(profile)
                else:
                    self.stats.add(profile)
                if time.monotonic() - self.dumped_at > 2.0:
                    self.dump()

    def dump(self) -> None:
        import time

        if self.stats is not None:
            self.stats.dump_stats(self.out)
        self.dumped_at = time.monotonic()


def _root_path(app: Any) -> Any:
    """A deployed function sees '/' for its bare URL; Flask would redirect '' to '/'."""

    def wsgi(environ: dict[str, Any], start_response: Any) -> Any:
        if not environ.get("PATH_INFO"):
            environ["PATH_INFO"] = "/"
        return app(environ, start_response)

    return wsgi


def build_app(project: str, region: str, only: list[str] | None = None) -> DispatcherMiddleware:
    mounts = {}
    for directory in function_dirs():
        name = deployed_name(directory)
        if only and name not in only:
            continue
        app = functions_framework.create_app(ENTRY_POINT, str(directory / "main.py"), "http")
        install_error_handlers(app)  # the app's own 404/405/500 in our error body, as deployed
        mounts[f"/{project}/{region}/{name}"] = _maybe_profiled(name, _root_path(app))

    def not_found(environ: dict[str, Any], start_response: Any) -> Any:
        """No function at this path: the same error body a function would answer with."""
        request = Request(environ)
        response = error_response(NotFound("No function at this path."), request_id_of(request))
        return response(environ, start_response)

    return DispatcherMiddleware(not_found, mounts)


_profiled: list[_Profiled] = []


def _maybe_profiled(name: str, app: Any) -> Any:
    if name not in os.environ.get(PROFILE_ENV, "").split(","):
        return app
    wrapped = _Profiled(app, os.environ[PROFILE_OUT_ENV])
    _profiled.append(wrapped)
    return wrapped


def _dump_profiles_and_exit(signum: int, frame: Any) -> None:
    for each in _profiled:
        with each.lock:
            each.dump()
    raise SystemExit(0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=5001)
    parser.add_argument("--only", nargs="*", help="serve only these functions (cold-start benchmark)")
    args = parser.parse_args()
    project = os.environ["GOOGLE_CLOUD_PROJECT"]
    region = os.environ.get("FUNCTION_REGION", "europe-west1")
    app = build_app(project, region, args.only)
    if _profiled:
        import signal

        signal.signal(signal.SIGTERM, _dump_profiles_and_exit)
    print(f"functions ready on http://{args.host}:{args.port}/{project}/{region}/", flush=True)
    run_simple(args.host, args.port, app, threaded=True, use_reloader=False)


if __name__ == "__main__":
    main()

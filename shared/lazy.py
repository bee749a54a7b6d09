"""One lock for the first import of a heavy client library.

Functions import Google's and Firebase's libraries on first use, to keep cold starts short.
A threaded server's first requests then import the same packages at once, and a package
with circular imports (urllib3, under google.auth's requests transport) seen half-initialized
by a second thread fails with ImportError: a 500 on the first requests after a restart.
Imports of those libraries are taken under this lock; once loaded it costs an uncontended
acquire."""

from __future__ import annotations

import threading

HEAVY_IMPORTS = threading.RLock()

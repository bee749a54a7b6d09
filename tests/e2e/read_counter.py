"""Count the document reads a Firestore client is billed for, at the RPC boundary.

Every read the client library makes goes through its GAPIC client's run_query,
batch_get_documents or run_aggregation_query; the wrapper counts what the server streams
back, the way Firestore bills it: a query costs one read per document returned and at
least one (an empty answer costs one), a document lookup costs one read whether the
document exists or not, an aggregation at least one. Nothing is estimated from our code:
whatever the code under test asks for is counted.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any


@dataclass
class ReadCounter:
    reads: int = 0
    calls: list[tuple[str, int]] = field(default_factory=list)

    def reset(self) -> None:
        self.reads = 0
        self.calls.clear()

    def _record(self, kind: str, documents: int) -> None:
        billed = max(1, documents) if kind in ("query", "aggregation") else documents
        self.reads += billed
        self.calls.append((kind, billed))


def _counting(
    counter: ReadCounter, kind: str, rpc: Callable[..., Any], is_document: Callable[[Any], bool]
) -> Callable[..., Any]:
    def wrapped(*args: Any, **kwargs: Any) -> Iterator[Any]:
        documents = 0
        try:
            for response in rpc(*args, **kwargs):
                if is_document(response):
                    documents += 1
                yield response
        finally:
            counter._record(kind, documents)

    return wrapped


def count_reads(client: Any) -> ReadCounter:
    """Instrument `client` (a google.cloud.firestore.Client) and return its counter."""
    counter = ReadCounter()
    api = client._firestore_api  # creates the GAPIC client the library calls
    api.run_query = _counting(counter, "query", api.run_query, lambda r: r._pb.HasField("document"))
    api.batch_get_documents = _counting(
        counter, "lookup", api.batch_get_documents, lambda r: r._pb.HasField("found") or bool(r._pb.missing)
    )
    api.run_aggregation_query = _counting(
        counter, "aggregation", api.run_aggregation_query, lambda r: r._pb.HasField("result")
    )
    return counter

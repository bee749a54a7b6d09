"""Firestore writes built, and reads decoded, straight as protobuf messages.

The client library encodes every value through proto-plus wrappers (a Python object and
two type look-ups per value): measured, that was four fifths of the sync worker's CPU
(bench/results/cpu_profile-before.txt). These builders write the same `Write` messages
into the raw protobuf classes, committed by `commit` in one raw request; a unit test holds
them equal to the library's own `create()` and `update()` writes.

Values the fast path does not know (datetimes, references, geo points...) go through the
library's encoder, so nothing the library stores is refused here.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from functools import cache
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from google.cloud.firestore import Client, DocumentReference


@cache
def _pb() -> Any:
    """The raw protobuf classes (imported on first use: google.cloud is slow to import)."""
    from google.cloud.firestore_v1.types import write

    return write.Write.pb()


def _encode(value: Any, out: Any) -> None:
    """Set the raw `Value` message `out` to `value`, as the library's encode_value would."""
    kind = type(value)
    if kind is str:
        out.string_value = value
    elif kind is dict:
        if value:
            _encode_fields(value, out.map_value.fields)
        else:
            out.map_value.SetInParent()  # an empty map is still a map
    elif kind is int:
        out.integer_value = value
    elif kind is bool:
        out.boolean_value = value
    elif value is None:
        out.null_value = 0
    elif kind is float:
        out.double_value = value
    elif kind is datetime:  # not DatetimeWithNanoseconds (a subclass): the library keeps its nanos
        _timestamp_into(value, out.timestamp_value)
    elif kind is list or kind is tuple:
        array = out.array_value
        if not value:
            array.SetInParent()  # an empty array is still an array
        add = array.values.add
        for item in value:
            if type(item) is str:
                add().string_value = item
            else:
                _encode(item, add())
    elif kind is set or kind is frozenset:  # the library stores one as an array, in no stable order
        raise TypeError("a set has no stable order: cannot store it")
    else:
        from google.cloud.firestore_v1._helpers import encode_value

        out.CopyFrom(encode_value(value)._pb)


_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
_EPOCH_NAIVE = datetime(1970, 1, 1)


def _timestamp_into(value: datetime, out: Any) -> None:
    """protobuf's `Timestamp.FromDatetime` (naive is UTC) without its time tuple and checks:
    every record has four or five datetimes, and that was a fifth of encoding one."""
    delta = value - (_EPOCH if value.tzinfo is not None else _EPOCH_NAIVE)
    out.seconds = delta.days * 86_400 + delta.seconds
    out.nanos = value.microsecond * 1000


def _encode_fields(mapping: Mapping[str, Any], fields: Any) -> None:
    """A map's fields; the common kinds inline, the rest by `_encode` (5% fewer instructions
    than a call per value, counted by callgrind over 4,700 Intercom records). Writing
    protobuf's wire format by hand in Python was measured slower than this: 146 against
    64 us for a contact."""
    for key, item in mapping.items():
        if not key:
            raise ValueError("a field name is empty")  # the library refuses it too
        kind = type(item)
        if kind is str:
            fields[key].string_value = item
        elif item is None:
            fields[key].null_value = 0
        elif kind is dict and item:
            _encode_fields(item, fields[key].map_value.fields)
        elif kind is int:
            fields[key].integer_value = item
        elif kind is bool:
            fields[key].boolean_value = item
        else:
            _encode(item, fields[key])


def _write(path: str, doc: Mapping[str, Any], server_timestamps: Iterable[str], into: Any = None) -> Any:
    write = _pb()() if into is None else into
    update = write.update
    update.name = path
    _encode_fields(doc, update.fields)
    for field_path in sorted(server_timestamps):
        transform = write.update_transforms.add()
        transform.field_path = field_path
        transform.set_to_server_value = 1  # REQUEST_TIME
    return write


def create_write(path: str, doc: Mapping[str, Any], server_timestamps: Iterable[str] = (), *, into: Any = None) -> Any:
    """`batch.create(ref, doc)`: the document must not exist. `server_timestamps` are dotted
    field paths (plain identifiers) set to the commit's time, absent from `doc`. `into`: an
    empty `Write` to build it in (CommitWrites.add)."""
    write = _write(path, doc, server_timestamps, into)
    write.current_document.exists = False
    return write


def update_write(path: str, doc: Mapping[str, Any], last_update_time: datetime,
                 server_timestamps: Iterable[str] = (), *, into: Any = None) -> Any:
    """`batch.update(ref, {top-level field: value}, option=last_update_time)`: replaces the
    top-level fields of `doc` (others are kept) if the document is unchanged since it was read."""
    from google.cloud.firestore_v1.field_path import FieldPath

    write = _write(path, doc, server_timestamps, into)
    write.update_mask.field_paths.extend(FieldPath(name).to_api_repr() for name in sorted(doc))
    # to the microsecond, as the library sends it (Firestore's update times are microseconds)
    write.current_document.update_time.FromDatetime(last_update_time)
    return write


@cache
def _field_path(key: str) -> tuple[tuple[str, ...], str]:
    """A dotted field path as `batch.update` takes it (backquotes for odd names): its
    parts, and the form Firestore's masks and transforms name it by."""
    from google.cloud.firestore_v1.field_path import FieldPath

    parts = FieldPath.from_string(key).parts
    return parts, FieldPath(*parts).to_api_repr()


@cache
def _transforms() -> dict[type, str]:
    from google.cloud.firestore_v1 import transforms

    return {transforms.Increment: "increment", transforms.Maximum: "maximum", transforms.Minimum: "minimum",
            transforms.ArrayUnion: "append_missing_elements", transforms.ArrayRemove: "remove_all_from_array"}


def fields_write(path: str, fields: Mapping[str, Any]) -> Any:
    """`batch.update(ref, fields)`'s write without its precondition: each key is a dotted
    field path set to its value, or changed by its transform (Increment, Maximum, Minimum,
    ArrayUnion, ArrayRemove); every other field of the document is kept."""
    write = _pb()()
    write.update.name = path
    write.update_mask.SetInParent()  # present, even when only transforms change the document
    kinds = _transforms()
    for key, value in fields.items():
        parts, api_path = _field_path(key)
        kind = kinds.get(type(value))
        if kind is None:
            write.update_mask.field_paths.append(api_path)
            target = write.update.fields
            for part in parts[:-1]:
                holder = target[part].map_value
                holder.SetInParent()
                target = holder.fields
            _encode(value, target[parts[-1]])
            continue
        transform = write.update_transforms.add()
        transform.field_path = api_path
        if kind in ("append_missing_elements", "remove_all_from_array"):
            array = getattr(transform, kind)
            array.SetInParent()
            for item in value.values:
                _encode(item, array.values.add())
        else:
            _encode(value.value, getattr(transform, kind))
    return write


class RawBatch:
    """The few `WriteBatch` calls the run state makes (create, update, set with merge), as
    raw writes committed by `commit`: the library's update of a chain's and a stream's
    counters cost more CPU than the round trip of their commit (#16)."""

    def __init__(self, db: Client) -> None:
        self.db = db
        self.writes: list[Any] = []

    def create(self, ref: DocumentReference, doc: Mapping[str, Any]) -> None:
        self.writes.append(create_write(ref._document_path, doc))

    def update(self, ref: DocumentReference, fields: Mapping[str, Any], *, last_update_time: datetime | None = None) -> None:
        """`batch.update`: the document must exist (or be unchanged since `last_update_time`)."""
        write = fields_write(ref._document_path, fields)
        if last_update_time is None:
            write.current_document.exists = True
        else:
            write.current_document.update_time.FromDatetime(last_update_time)
        self.writes.append(write)

    def set(self, ref: DocumentReference, doc: Mapping[str, Any], merge: bool = False) -> None:
        """`batch.set(ref, doc, merge=True)` of top-level fields (a nested map would be merged
        field by field by the library: not supported here)."""
        if not merge or any(type(value) is dict for value in doc.values()):
            raise TypeError("RawBatch.set merges top-level fields only")
        self.writes.append(fields_write(ref._document_path, doc))

    def commit(self) -> list[Any]:
        return commit(self.db, self.writes)


def commit(db: Client, writes: list[Any]) -> list[Any]:
    """Commit raw `Write`s atomically, as `WriteBatch.commit()` would, without proto-plus
    copying them into its request and wrapping each write result (a third of a commit's
    CPU; a failed precondition fails the whole commit). Returns the raw `WriteResult`s,
    one per write: a transform's `transform_results` are the field's values after it."""
    from google.cloud.firestore_v1.types import firestore

    return _send(db, firestore.CommitRequest.pb()(database=db._database_string, writes=writes))


def _send(db: Client, request: Any) -> list[Any]:
    from google.cloud.firestore_v1.types import firestore

    response = db._firestore_api.commit(request=firestore.CommitRequest.wrap(request), metadata=db._rpc_metadata)
    return list(response._pb.write_results)


class CommitWrites:
    """Many writes built in place in the commit requests that send them, `limit` a commit
    (each commit atomic on its own): a `Write` built apart is copied whole into its request
    (protobuf copies a message given to a constructor), which cost a third as much as
    encoding a record (#16)."""

    def __init__(self, db: Client, limit: int) -> None:
        self.db, self.limit = db, limit
        self._requests: list[Any] = []

    def add(self) -> Any:
        """A new, empty `Write` in the last request (for `create_write(..., into=)`)."""
        from google.cloud.firestore_v1.types import firestore

        if not self._requests or len(self._requests[-1].writes) >= self.limit:
            self._requests.append(firestore.CommitRequest.pb()(database=self.db._database_string))
        return self._requests[-1].writes.add()

    def discard_last(self) -> None:
        """The write last added could not be built (a value the store refuses): drop it."""
        del self._requests[-1].writes[-1]

    def __len__(self) -> int:
        return sum(len(request.writes) for request in self._requests)

    def commit(self) -> None:
        """Send each request in turn (a failed precondition fails its own commit)."""
        for request in self._requests:
            _send(self.db, request)


@dataclass(frozen=True)
class Stored:
    """What `read` tells of one document: the few fields asked for, as the library's
    DocumentSnapshot would give them (`exists`, `update_time`, `to_dict()`)."""

    id: str
    exists: bool
    update_time: Any = None
    data: dict[str, Any] | None = None

    def to_dict(self) -> dict[str, Any] | None:
        return self.data


def read(db: Client, refs: Sequence[DocumentReference | str], field_paths: list[str] | None, *,
         by_path: bool = False) -> dict[str, Stored]:
    """`db.get_all(refs, field_paths)` by document id (`by_path`: by the path relative to the
    database, `ref.path`, for documents of different collections), decoded from the raw
    protobuf answer (the library's snapshots deep-copy every document twice: they cost more
    than the read itself for a page of records, and for a task's few state documents).
    A ref may be given as its full document path (`ref._document_path`)."""
    request, _, kwargs = db._prep_get_all([], field_paths)
    request["documents"] = [ref if isinstance(ref, str) else ref._document_path for ref in refs]
    prefix = len(db._database_string) + len("/documents/")
    found: dict[str, Stored] = {}
    for response in db._firestore_api.batch_get_documents(request=request, metadata=db._rpc_metadata, **kwargs):
        pb = response._pb
        if pb.WhichOneof("result") == "found":
            doc = pb.found
            doc_id = doc.name.rsplit("/", 1)[1]
            found[doc.name[prefix:] if by_path else doc_id] = Stored(
                doc_id, True, _timestamp(doc.update_time), {key: _decode(value) for key, value in doc.fields.items()})
        elif pb.WhichOneof("result") == "missing":
            doc_id = pb.missing.rsplit("/", 1)[1]
            found[pb.missing[prefix:] if by_path else doc_id] = Stored(doc_id, False)
    return found


def _timestamp(pb: Any) -> Any:
    from google.api_core.datetime_helpers import DatetimeWithNanoseconds

    return DatetimeWithNanoseconds.from_timestamp_pb(pb)


def decode(pb: Any) -> Any:
    """A raw `Value` as the library's decode_value gives it."""
    return _decode(pb)


def _decode(pb: Any) -> Any:
    """A raw `Value` as the library's decode_value gives it (what it does not know: the library)."""
    kind = pb.WhichOneof("value_type")
    if kind == "string_value":
        return pb.string_value
    if kind == "map_value":
        return {key: _decode(value) for key, value in pb.map_value.fields.items()}
    if kind == "integer_value":
        return pb.integer_value
    if kind == "double_value":
        return pb.double_value
    if kind == "boolean_value":
        return pb.boolean_value
    if kind == "null_value":
        return None
    if kind == "timestamp_value":
        return _timestamp(pb.timestamp_value)
    if kind == "array_value":
        return [_decode(value) for value in pb.array_value.values]
    from google.cloud.firestore_v1 import _helpers
    from google.cloud.firestore_v1.types import document

    return _helpers.decode_value(document.Value.wrap(pb), None)

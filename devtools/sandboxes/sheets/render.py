"""A1 ranges and ValueRange rendering, as the Sheets API answers them."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from devtools.sandboxes.kit.responses import ApiError

#: rows a new sheet's grid has: an open range ("A1:G") is echoed up to the grid's end
GRID_ROWS = 1000
_CELL = re.compile(r"([A-Z]{1,3})?([0-9]{1,7})?")


@dataclass(frozen=True)
class A1:
    sheet: str | None
    col0: int
    row0: int
    col1: int | None
    row1: int | None


def column_index(letters: str) -> int:
    n = 0
    for char in letters:
        n = n * 26 + (ord(char) - 64)
    return n - 1


def column_letters(index: int) -> str:
    out = ""
    index += 1
    while index:
        index, rem = divmod(index - 1, 26)
        out = chr(65 + rem) + out
    return out


def parse(text: str) -> A1:
    """'Leads!A1:G', "'My sheet'!A2:C10", 'Leads', 'A1:G' (first sheet)."""
    sheet, _, cells = text.rpartition("!")
    if not sheet and not re.fullmatch(r"[A-Z]{0,3}[0-9]{0,7}(:[A-Z]{0,3}[0-9]{0,7})?", text.upper()):
        sheet, cells = text, ""  # a bare sheet name
    sheet = sheet.strip("'") or None
    if not cells:
        return A1(sheet, 0, 0, None, None)
    start, _, end = cells.upper().partition(":")
    first, last = _CELL.fullmatch(start), _CELL.fullmatch(end or start)
    if first is None or last is None or not (first.group(1) or first.group(2)):
        raise ApiError(400, "INVALID_ARGUMENT", f"Unable to parse range: {text}")
    col0 = column_index(first.group(1)) if first.group(1) else 0
    row0 = int(first.group(2)) - 1 if first.group(2) else 0
    col1 = column_index(last.group(1)) if last.group(1) else None
    row1 = int(last.group(2)) - 1 if last.group(2) else None
    if row0 < 0 or (row1 is not None and row1 < row0) or (col1 is not None and col1 < col0):
        raise ApiError(400, "INVALID_ARGUMENT", f"Unable to parse range: {text}")
    return A1(sheet, col0, row0, col1, row1)


def _quoted(title: str) -> str:
    return title if re.fullmatch(r"[A-Za-z0-9_]+", title) else "'" + title.replace("'", "''") + "'"


def value_range(title: str, rows: list[list[Any]], a1: A1, major: str = "ROWS") -> dict[str, Any]:
    """The cells of `a1`, trailing empty cells and rows left out (an empty range has no
    `values` at all), and the requested range in A1 notation."""
    width = max((len(r) for r in rows), default=1)
    col1 = a1.col1 if a1.col1 is not None else max(width - 1, a1.col0)
    row1 = a1.row1 if a1.row1 is not None else max(GRID_ROWS, len(rows)) - 1
    cut = []
    for row in rows[a1.row0: row1 + 1]:
        cells = [("" if c is None else c) for c in row[a1.col0: col1 + 1]]
        while cells and cells[-1] == "":
            cells.pop()
        cut.append(cells)
    while cut and not cut[-1]:
        cut.pop()
    if major == "COLUMNS":
        span = max((len(r) for r in cut), default=0)
        cut = [[r[i] if i < len(r) else "" for r in cut] for i in range(span)]
    body: dict[str, Any] = {
        "range": f"{_quoted(title)}!{column_letters(a1.col0)}{a1.row0 + 1}:{column_letters(col1)}{row1 + 1}",
        "majorDimension": major,
    }
    if cut:
        body["values"] = cut
    return body


def error(status: int, code: str, message: str) -> dict[str, Any]:
    return {"error": {"code": status, "message": message, "status": code}}

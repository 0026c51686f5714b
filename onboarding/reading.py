"""Reading a workbook (or a CSV of one sheet) into typed rows, with a Problem for every cell
that cannot be read. Nothing here touches the database.

openpyxl reads the XLSX in read-only mode, which streams rows from the file instead of loading
the whole sheet; the rows are kept as plain tuples, so memory grows with the data, never with
openpyxl's cell objects.
"""

from __future__ import annotations

import csv
import datetime
import io
import zipfile
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

from openpyxl import load_workbook
from openpyxl.utils.exceptions import InvalidFileException

from .workbook import (
    CHOICE,
    DATE,
    DECIMAL,
    INTEGER,
    LIST_SEPARATOR,
    LISTS_SHEET,
    LONG_TEXT,
    LONG_TEXT_LIMIT,
    MAX_ROWS,
    MONEY,
    PERSON,
    README_SHEET,
    REFERENCE,
    REFERENCES,
    SHEET_BY_NAME,
    SHEETS,
    TEXT,
    YES_NO,
    Column,
    Sheet,
    normal_header,
    sheet_for_file_name,
    sheet_for_headers,
)

# Decimal columns hold up to 16 digits with 2 after the point.
_CENTS = Decimal("0.01")
_DECIMAL_LIMIT = Decimal("1e14")
_OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"  # encrypted XLSX, or a pre-2007 .xls
_ZIP_MAGIC = b"PK\x03\x04"
# The largest file read (a 200,000-row workbook is a few MB; a CSV of it a few dozen).
MAX_FILE_BYTES = 100 * 2**20
# What the XLSX's parts may add up to once unpacked: a 200,000-row workbook is far below.
MAX_UNPACKED_BYTES = 512 * 2**20
_YES = {"yes", "y", "true", "1", "x"}
_NO = {"no", "n", "false", "0", ""}


@dataclass(frozen=True)
class Problem:
    """One thing wrong with the file, where it is and what to do about it."""

    sheet: str
    row: int | None  # the spreadsheet row number as the user sees it (header = 1)
    column: str | None  # the column's header text
    message: str

    def as_dict(self) -> dict[str, object]:
        return {
            "sheet": self.sheet,
            "row": self.row,
            "column": self.column,
            "message": self.message,
        }


@dataclass
class SheetData:
    """A sheet as read: which columns it has, and its rows (row number, values in the order of
    the sheet's columns; a column the file lacks reads as None and is marked not present)."""

    sheet: Sheet
    present: tuple[bool, ...]
    rows: list[tuple[int, tuple[Any, ...]]] = field(default_factory=list)
    readable: bool = True  # False: a required column is missing, so no row was read

    def has(self, header: str) -> bool:
        return self.present[self._index(header)]

    def _index(self, header: str) -> int:
        return [c.header for c in self.sheet.columns].index(header)


@dataclass
class ReadResult:
    sheets: dict[str, SheetData] = field(default_factory=dict)
    errors: list[Problem] = field(default_factory=list)
    warnings: list[Problem] = field(default_factory=list)
    total_rows: int = 0
    single_sheet: bool = False  # a CSV: the other sheets are simply not part of it
    fatal: bool = False  # the file could not be read (as a whole): its rows are not checked


Progress = Callable[[int, int], None]


def _fatal(result: ReadResult, problem: Problem) -> None:
    result.errors.append(problem)
    result.fatal = True


def _damaged(result: ReadResult, name: str, exc: BaseException) -> None:
    _fatal(
        result,
        Problem(
            name,
            None,
            None,
            f"The workbook is damaged and cannot be read ({type(exc).__name__}): save it "
            "again from your spreadsheet program as .xlsx.",
        ),
    )


class _TooMany(Exception):
    pass


def read(source: Any, *, filename: str, progress: Progress | None = None) -> ReadResult:
    """Every sheet of the workbook (or the one sheet of a CSV), typed, with every problem."""
    result = ReadResult()
    name = filename or "upload"
    try:
        data = _bytes(source)
    except _TooLarge:
        _fatal(
            result,
            Problem(
                name,
                None,
                None,
                f"The file is larger than {MAX_FILE_BYTES // 2**20} MB: split it into several "
                "workbooks.",
            ),
        )
        return result
    if name.lower().endswith((".csv", ".txt")):
        _read_csv(data, name, result, progress)
        return result
    if data.startswith(_OLE_MAGIC):
        _fatal(
            result,
            Problem(
                name,
                None,
                None,
                "This file is password-protected, or an old .xls workbook: open it in your "
                "spreadsheet program and save it as .xlsx without a password.",
            ),
        )
        return result
    if not data.startswith(_ZIP_MAGIC):
        _fatal(
            result,
            Problem(
                name,
                None,
                None,
                "This is not an Excel workbook (.xlsx) or a CSV file: upload the workbook "
                "exported from here or the template, or one sheet saved as CSV.",
            ),
        )
        return result
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            unpacked = sum(entry.file_size for entry in archive.infolist())
    except (zipfile.BadZipFile, OSError, ValueError):
        unpacked = 0  # load_workbook says what is wrong with it
    if unpacked > MAX_UNPACKED_BYTES:
        # A zip bomb, or far more than any portfolio: refused before anything is unpacked.
        _fatal(
            result,
            Problem(
                name,
                None,
                None,
                f"The workbook unpacks to {unpacked // 2**20:,} MB; an import takes at most "
                f"{MAX_UNPACKED_BYTES // 2**20:,} MB. Split it into several workbooks.",
            ),
        )
        return result
    try:
        workbook = load_workbook(io.BytesIO(data), read_only=True, data_only=False)
    except (zipfile.BadZipFile, InvalidFileException, KeyError, OSError, ValueError) as exc:
        _damaged(result, name, exc)
        return result
    try:
        _read_workbook(workbook, result, progress)
    except (zipfile.BadZipFile, KeyError, OSError, ValueError, TypeError, EOFError) as exc:
        _damaged(result, name, exc)
    finally:
        workbook.close()
    return result


class _TooLarge(Exception):
    pass


def _bytes(source: Any) -> bytes:
    """The file's content, refused past MAX_FILE_BYTES (read no further than that)."""
    if isinstance(source, bytes | bytearray):
        data: Any = bytes(source)
    elif hasattr(source, "read"):
        if hasattr(source, "seek"):
            source.seek(0)
        data = source.read(MAX_FILE_BYTES + 1)
        data = data.encode() if isinstance(data, str) else bytes(data)
    else:
        with open(source, "rb") as handle:
            data = handle.read(MAX_FILE_BYTES + 1)
    if len(data) > MAX_FILE_BYTES:
        raise _TooLarge
    return data


def _read_workbook(workbook: Any, result: ReadResult, progress: Progress | None) -> None:
    names = list(workbook.sheetnames)
    by_normal = {name.strip().lower(): name for name in names}
    for name in names:
        if name.strip().lower() not in {s.name.lower() for s in SHEETS} | {
            README_SHEET.lower(),
            LISTS_SHEET.lower(),
        }:
            result.warnings.append(
                Problem(name, None, None, "This sheet is not part of the format; it was skipped.")
            )
    found: list[tuple[Sheet, Any]] = []
    for sheet in SHEETS:
        actual = by_normal.get(sheet.name.lower())
        if actual is None:
            result.errors.append(
                Problem(
                    sheet.name,
                    None,
                    None,
                    f"The sheet “{sheet.name}” is missing: add it (with just its header row if "
                    "you have nothing for it), as in the template.",
                )
            )
            continue
        found.append((sheet, workbook[actual]))
    # The sheets' own size claims first: a file claiming a million rows is refused at once.
    declared = sum(max((worksheet.max_row or 1) - 1, 0) for _, worksheet in found)
    if declared > MAX_ROWS:
        _fatal(result, _too_many(found[0][0].name if found else "", declared))
        return
    result.total_rows = declared
    done = 0
    try:
        for sheet, worksheet in found:
            done = _read_rows(
                sheet, worksheet.iter_rows(values_only=True), result, progress, done, declared
            )
    except _TooMany:
        return


def _too_many(sheet: str, count: int) -> Problem:
    return Problem(
        sheet,
        None,
        None,
        f"The file holds {count:,} rows; an import takes at most {MAX_ROWS:,}. Split it into "
        "several workbooks (for example one per goal) and import them one after another.",
    )


def _read_csv(data: bytes, name: str, result: ReadResult, progress: Progress | None) -> None:
    result.single_sheet = True
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        _fatal(
            result,
            Problem(name, None, None, "The CSV file is not UTF-8 text: save it as “CSV UTF-8”."),
        )
        return
    if "\x00" in text:
        _fatal(
            result,
            Problem(name, None, None, "This is not a CSV file: upload a workbook or a CSV file."),
        )
        return
    try:
        dialect: Any = csv.Sniffer().sniff(text[:4096], delimiters=",;\t")
    except csv.Error:
        dialect = csv.excel
    rows = csv.reader(io.StringIO(text), dialect)
    try:
        header = next(rows)
    except (StopIteration, csv.Error):
        _fatal(result, Problem(name, 1, None, "The CSV file is empty: it needs a header row."))
        return
    sheet = sheet_for_file_name(name) or sheet_for_headers(header)
    if sheet is None:
        _fatal(
            result,
            Problem(
                name,
                1,
                None,
                "Which sheet this CSV is cannot be told: name the file after the sheet (e.g. "
                "projects.csv, project_links.csv) or use the sheet's header row from the "
                "template.",
            ),
        )
        return
    estimate = text.count("\n")
    if estimate > MAX_ROWS + 1:
        _fatal(result, _too_many(sheet.name, estimate))
        return
    result.total_rows = estimate
    try:
        _read_rows(sheet, _chain([tuple(header)], rows), result, progress, 0, estimate)
    except _TooMany:
        return
    except csv.Error as exc:
        _fatal(result, Problem(sheet.name, None, None, f"The CSV file is malformed: {exc}."))


def _chain(first: Iterable[tuple[Any, ...]], rest: Iterable[Any]) -> Iterator[tuple[Any, ...]]:
    yield from first
    for row in rest:
        yield tuple(row)


def _read_rows(
    sheet: Sheet,
    rows: Iterator[tuple[Any, ...]],
    result: ReadResult,
    progress: Progress | None,
    done: int,
    total: int,
) -> int:
    header = next(rows, None)
    columns = sheet.columns
    if header is None:
        result.errors.append(
            Problem(sheet.name, 1, None, "The header row is missing: copy it from the template.")
        )
        return done
    positions: dict[str, int] = {}
    known = {normal_header(c.header): c for c in columns}
    for index, text in enumerate(header):
        normal = normal_header(text)
        if not normal:
            continue
        column = known.get(normal)
        if column is None:
            result.warnings.append(
                Problem(
                    sheet.name,
                    1,
                    str(text),
                    f"“{text}” is not a column of this sheet; it was ignored. The README sheet "
                    "lists the columns.",
                )
            )
            continue
        if column.header in positions:
            result.errors.append(
                Problem(
                    sheet.name,
                    1,
                    column.header,
                    f"The column “{column.header}” appears twice: keep one.",
                )
            )
            continue
        positions[column.header] = index
    missing = [c.header for c in columns if c.required and c.header not in positions]
    for header_text in missing:
        result.errors.append(
            Problem(
                sheet.name,
                1,
                header_text,
                f"The required column “{header_text}” is missing: add it to the header row.",
            )
        )
    data = SheetData(sheet, tuple(c.header in positions for c in columns))
    result.sheets[sheet.name] = data
    if missing:
        data.readable = False
        return done
    plan = [(column, positions.get(column.header)) for column in columns]
    step = max(total // 100, 1)
    for number, raw in enumerate(rows, start=2):
        if not any(value not in (None, "") for value in raw):
            continue
        done += 1
        if done > MAX_ROWS:
            _fatal(result, _too_many(sheet.name, done))
            raise _TooMany
        values: list[Any] = []
        width = len(raw)
        for column, position in plan:
            cell = raw[position] if position is not None and position < width else None
            try:
                values.append(_cell(column, cell))
            except ValueError as exc:
                result.errors.append(Problem(sheet.name, number, column.header, str(exc)))
                values.append(None)
        data.rows.append((number, tuple(values)))
        if progress is not None and done % min(step, 1000) == 0:
            progress(done, max(total, done))
    result.total_rows = max(result.total_rows, done)
    return done


_TEXT_KINDS = frozenset((TEXT, LONG_TEXT, REFERENCE, PERSON))


def _cell(column: Column, value: Any) -> Any:
    """The cell's value as the column's kind; ValueError saying what to type when it cannot be
    read (raised only then: the common case costs no exception)."""
    if isinstance(value, str):
        value = value.strip()
        if len(value) > 1 and value[0] == "=":
            raise ValueError(
                f"A formula ({value[:40]}) instead of a value: paste the value itself (Paste "
                "special → Values)."
            )
        limit = column.max_length or LONG_TEXT_LIMIT
        if len(value) > limit and column.kind in _TEXT_KINDS:
            raise ValueError(
                f"This cell holds {len(value):,} characters; “{column.header}” takes at most "
                f"{limit:,}. Shorten it."
            )
        if len(value) > LONG_TEXT_LIMIT:
            raise ValueError(
                f"This cell holds {len(value):,} characters: type a value, not a text."
            )
    if value is None or value == "":
        if column.required:
            raise ValueError(f"{column.header} is missing: fill it in.")
        return None
    kind = column.kind
    if kind in _TEXT_KINDS:
        return value if isinstance(value, str) else _text(value)
    if kind == REFERENCES:
        return [part.strip() for part in _text(value).split(LIST_SEPARATOR) if part.strip()]
    if kind in (DECIMAL, MONEY):
        number = _decimal(value)
        if kind == MONEY and number < 0:
            raise ValueError(f"A budget cannot be negative ({number}): type 0 or more.")
        return number
    if kind == DATE:
        return _date(value)
    if kind == INTEGER:
        return _integer(value)
    if kind == CHOICE:
        return _choice(column, value)
    if kind == YES_NO:
        text = _text(value).lower() if not isinstance(value, bool) else str(value).lower()
        if text in _YES:
            return True
        if text in _NO:
            return False
        raise ValueError("Type yes or no.")
    raise AssertionError(kind)  # pragma: no cover - every kind is handled above


def _text(value: Any) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, datetime.datetime):
        return value.date().isoformat() if value.time() == datetime.time() else value.isoformat()
    if isinstance(value, datetime.date):
        return value.isoformat()
    return str(value).strip()


def _decimal(value: Any) -> Decimal:
    if isinstance(value, bool | datetime.date):
        raise ValueError(f"“{value}” is not a number: type a number such as 1250.50.")
    try:
        number = Decimal(repr(value) if isinstance(value, float) else str(value).strip())
    except InvalidOperation:
        raise ValueError(
            f"“{value}” is not a number: type a number such as 1250.50 (a point for decimals, "
            "no thousands separator)."
        ) from None
    if not number.is_finite() or abs(number) >= _DECIMAL_LIMIT:
        raise ValueError(f"{value} is too large: the largest number taken is 99,999,999,999,999.")
    return number.quantize(_CENTS, rounding=ROUND_HALF_UP)


def _date(value: Any) -> datetime.date:
    if isinstance(value, datetime.datetime):
        return value.date()
    if isinstance(value, datetime.date):
        return value
    try:
        return datetime.date.fromisoformat(str(value).strip()[:10])
    except ValueError:
        raise ValueError(
            f"“{value}” is not a date: type it as YYYY-MM-DD, e.g. 2026-03-31."
        ) from None


def _integer(value: Any) -> int:
    if isinstance(value, bool):
        raise ValueError(f"“{value}” is not a whole number.")
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, int):
        return value
    text = str(value).strip()
    if text.lstrip("-").isdigit() and len(text) < 10:
        return int(text)
    raise ValueError(f"“{value}” is not a whole number: type one, such as 3.")


def _choice(column: Column, value: Any) -> Any:
    text = _text(value).lower()
    for key, stored in column.choices.items():
        if text in (key, str(stored).lower(), key.replace("_", " ")):
            return stored
    raise ValueError(f"“{value}” is not one of {', '.join(column.choices)}: pick one of them.")


def sheet_named(name: str) -> Sheet:
    return SHEET_BY_NAME[name]

"""Reading a Manufacturer Disclosure Statement for Medical Device Security (MDS2).

The MDS2 form (ANSI/NEMA HN 1-2019, from NEMA/MITA and HIMSS) is a spreadsheet a device
manufacturer fills in: a header block (manufacturer name, device description, device model,
document id, contact, release date) and some 240 numbered questions grouped in sections, each
answered Yes, No, N/A or "See Note", with a note. Question ids have the shape ``SECT-n[.m…]``;
the sections are listed in :data:`SECTIONS`. The ids and their meanings follow the 2019 form
as published by NEMA, checked against manufacturers' filled-in 2019 forms (the question ids
STCF-1 "Can the device encrypt data at rest?", SBOM-1 "Is the SBoM for this product
available?", CSUP-11.2 "Is there an update review cycle for the device?" and so on); the form
itself stays the authority.

Manufacturers ship the workbook (xlsx) or a CSV export, rarely exactly as NEMA laid it out:
columns move, cells are merged, rows are left blank, answers are spelled ``YES``, ``y``,
``n/a``, ``Yes, optional``. So :func:`parse_mds2` finds the question table by its header row
("Question ID", "Question", "Response"/"Answer", "Note"), and without one by the column that
holds question ids, and reads question id, text, answer and note wherever they are. A row it
cannot use (an unknown answer, a malformed id, a duplicate) is reported as an
:class:`Mds2Issue` naming the sheet and row; only a file with no question table at all, or one
that cannot be read, is an error (:class:`Mds2Error`, naming the file).
"""

from __future__ import annotations

import csv
import datetime as dt
import enum
import io
import re
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from carewarden.errors import SourceError

# The sections of the 2019 form, by the prefix of their question ids.
SECTIONS: dict[str, str] = {
    "DOC": "Device description",
    "MPII": "Management of personally identifiable information",
    "ALOF": "Automatic logoff",
    "AUDT": "Audit controls",
    "AUTH": "Authorization",
    "CNFS": "Configuration of security features",
    "CSUP": "Cyber security product upgrades",
    "DIDT": "Health data de-identification",
    "DTBK": "Data backup and disaster recovery",
    "EMRG": "Emergency access",
    "IGAU": "Health data integrity and authenticity",
    "MLDP": "Malware detection/protection",
    "NAUT": "Node authentication",
    "CONN": "Connectivity capabilities",
    "PAUT": "Person authentication",
    "PLOK": "Physical locks",
    "RDMP": "Roadmap for third party components in device life cycle",
    "SBOM": "Software bill of materials",
    "SAHD": "System and application hardening",
    "SGUD": "Security guidance",
    "STCF": "Health data storage confidentiality",
    "TXCF": "Transmission confidentiality",
    "TXIG": "Transmission integrity",
    "RMOT": "Remote service",
    "OTHR": "Other security considerations",
}
# Misspelt prefixes seen in filled-in forms, read as the section they mean.
PREFIX_ALIASES = {"SHAD": "SAHD", "SBOMS": "SBOM"}

# DOC-1 … DOC-7 are the header fields themselves (free text, not Yes/No questions).
DOC_FIELDS = {
    "DOC-1": "manufacturer",
    "DOC-2": "device_description",
    "DOC-3": "device_model",
    "DOC-4": "document_id",
    "DOC-5": "contact",
    "DOC-6": "intended_use",
    "DOC-7": "release_date",
}
HEADER_LABELS = {
    "manufacturer name": "manufacturer",
    "manufacturer": "manufacturer",
    "device description": "device_description",
    "device model": "device_model",
    "model": "device_model",
    "document id": "document_id",
    "manufacturer contact information": "contact",
    "manufacturer contact": "contact",
    "document release date": "release_date",
    "release date": "release_date",
    "date": "release_date",
}

QUESTION_ID = re.compile(r"^([A-Za-z]{3,5})[\s_-]?(\d{1,3}(?:\.\d{1,3})*)\.?$")
# Bounds that no real form comes near; a larger sheet is read up to them and reported.
MAX_ROWS = 5000
MAX_COLUMNS = 40
MAX_CELL_CHARS = 8000


class Mds2Error(SourceError):
    """An MDS2 file that cannot be used at all (unreadable, or no question table)."""


class Answer(enum.StrEnum):
    YES = "yes"
    NO = "no"
    NOT_APPLICABLE = "n/a"
    SEE_NOTE = "see note"
    BLANK = "blank"
    UNKNOWN = "unknown"


@dataclass(frozen=True)
class Mds2Answer:
    question_id: str
    question: str
    answer: Answer
    raw: str
    note: str | None
    where: str

    @property
    def shown(self) -> str:
        """The answer as the form gave it (``Yes``, ``N/A``, or the raw text)."""
        return {
            Answer.YES: "Yes",
            Answer.NO: "No",
            Answer.NOT_APPLICABLE: "N/A",
            Answer.SEE_NOTE: "See Note",
            Answer.BLANK: "(blank)",
        }.get(self.answer, self.raw)


@dataclass(frozen=True)
class Mds2Issue:
    where: str
    message: str

    def __str__(self) -> str:
        return f"{self.where}: {self.message}"


@dataclass(frozen=True)
class Mds2Form:
    path: str
    manufacturer: str | None = None
    device_description: str | None = None
    device_model: str | None = None
    document_id: str | None = None
    contact: str | None = None
    intended_use: str | None = None
    release_date: str | None = None
    answers: dict[str, Mds2Answer] = field(default_factory=dict)
    issues: tuple[Mds2Issue, ...] = ()

    def get(self, question_id: str) -> Mds2Answer | None:
        normalized = normalize_id(question_id)
        return self.answers.get(normalized) if normalized else None


def normalize_id(text: str) -> str | None:
    """``STCF-1`` from ``stcf-1``, ``STCF 1``, ``STCF_1.``; None when ``text`` is no id."""
    match = QUESTION_ID.match(text.strip())
    if not match:
        return None
    prefix = match.group(1).upper()
    return f"{PREFIX_ALIASES.get(prefix, prefix)}-{match.group(2)}"


_ANSWER_WORDS: dict[str, Answer] = {
    "yes": Answer.YES,
    "y": Answer.YES,
    "true": Answer.YES,
    "no": Answer.NO,
    "n": Answer.NO,
    "false": Answer.NO,
    "n/a": Answer.NOT_APPLICABLE,
    "na": Answer.NOT_APPLICABLE,
    "n.a.": Answer.NOT_APPLICABLE,
    "n.a": Answer.NOT_APPLICABLE,
    "not applicable": Answer.NOT_APPLICABLE,
    "see note": Answer.SEE_NOTE,
    "see notes": Answer.SEE_NOTE,
    "see note(s)": Answer.SEE_NOTE,
    "note": Answer.SEE_NOTE,
    "see comment": Answer.SEE_NOTE,
    "see comments": Answer.SEE_NOTE,
}
_ANSWER_HEAD = re.compile(
    r"^(see\s+notes?(?:\s*\(s\))?|see\s+comments?|not\s+applicable|n\s*/\s*a|n\.a\.?|yes|no)"
    r"(?:\s*[,;:\-\u2013(]\s*|\s+)(.+)$",
    re.IGNORECASE,
)


def parse_answer(text: str) -> tuple[Answer, str | None]:
    """The answer in ``text`` and any words after it (``Yes, optional`` → YES, "optional")."""
    cleaned = " ".join(text.split())
    if not cleaned:
        return Answer.BLANK, None
    word = cleaned.lower().rstrip(".").strip()
    if word in _ANSWER_WORDS:
        return _ANSWER_WORDS[word], None
    head = _ANSWER_HEAD.match(cleaned)
    if head:
        key = re.sub(r"\s+", " ", head.group(1).lower()).replace(" / ", "/").replace(" /", "/")
        key = key.replace("/ ", "/")
        answer = _ANSWER_WORDS.get(key)
        if answer is not None:
            rest = head.group(2).strip().rstrip(")").strip()
            return answer, rest or None
    return Answer.UNKNOWN, None


def parse_mds2(path: Path) -> Mds2Form:
    """The form in ``path`` (xlsx/xlsm workbook, or a CSV export).

    Raises :class:`Mds2Error` naming the file when it cannot be read or holds no question
    table; problems with single rows are returned in :attr:`Mds2Form.issues`.
    """
    try:
        head = path.open("rb").read(4)
    except FileNotFoundError:
        raise Mds2Error("no such file", path=str(path)) from None
    except OSError as exc:
        raise Mds2Error(f"cannot read: {exc.strerror or exc}", path=str(path)) from None
    if head.startswith(b"PK") or path.suffix.lower() in (".xlsx", ".xlsm"):
        sheets = list(_xlsx_sheets(path))
    else:
        sheets = [(None, _csv_rows(path))]
    reader = _FormReader(str(path))
    for name, rows in sheets:
        reader.read_sheet(name, rows)
    return reader.form()


Row = tuple[int, list[str]]


def _cell_text(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, dt.datetime):
        return value.date().isoformat() if value.time() == dt.time() else value.isoformat(sep=" ")
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    text = str(value).strip()
    return text[:MAX_CELL_CHARS]


def _xlsx_sheets(path: Path) -> Iterator[tuple[str | None, list[Row]]]:
    from openpyxl import load_workbook
    from openpyxl.utils.exceptions import InvalidFileException

    try:
        workbook = load_workbook(path, read_only=True, data_only=True)
    except (InvalidFileException, zipfile.BadZipFile, KeyError, OSError, ValueError) as exc:
        raise Mds2Error(f"not a readable xlsx workbook: {exc}", path=str(path)) from None
    try:
        for sheet in workbook.worksheets:
            # Declared dimensions are often wrong in exported workbooks: read every cell.
            reset = getattr(sheet, "reset_dimensions", None)
            if callable(reset):
                reset()
            rows: list[Row] = []
            for number, values in enumerate(
                sheet.iter_rows(max_col=MAX_COLUMNS, values_only=True), start=1
            ):
                if number > MAX_ROWS:
                    break
                rows.append((number, [_cell_text(v) for v in values]))
            yield sheet.title, rows
    except (zipfile.BadZipFile, KeyError, OSError, ValueError) as exc:
        raise Mds2Error(f"not a readable xlsx workbook: {exc}", path=str(path)) from None
    finally:
        workbook.close()


def _csv_rows(path: Path) -> list[Row]:
    data = path.read_bytes()
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        # Spreadsheet programs on Windows export CSV in their code page.
        text = data.decode("cp1252", errors="replace")
    if "\x00" in text:
        raise Mds2Error("not a CSV text file (NUL bytes)", path=str(path))
    sample = text[:8192]
    try:
        dialect: type[csv.Dialect] | csv.Dialect = csv.Sniffer().sniff(sample, ",;\t")
    except csv.Error:
        dialect = csv.excel
    rows: list[Row] = []
    try:
        for number, values in enumerate(csv.reader(io.StringIO(text), dialect), start=1):
            if number > MAX_ROWS:
                break
            rows.append((number, [v.strip()[:MAX_CELL_CHARS] for v in values[:MAX_COLUMNS]]))
    except csv.Error as exc:
        raise Mds2Error(f"not valid CSV: {exc}", path=str(path)) from None
    return rows


def _label(text: str) -> str:
    return re.sub(r"[^a-z0-9/ ]+", " ", text.lower()).strip().replace("  ", " ")


def _is_label(text: str) -> bool:
    return " ".join(_label(text).split()) in HEADER_LABELS


@dataclass
class _Columns:
    header_row: int | None
    qid: int
    question: int | None
    answer: int | None
    note: int | None


_ID_HEADERS = {"question id", "question no", "id", "ref", "reference", "qid"}
_QUESTION_HEADERS = {"question", "questions", "question text", "requirement", "description"}
_ANSWER_HEADERS = {"response", "answer", "answers", "responses", "yes/no", "yes/no/n/a", "reply"}
_NOTE_HEADERS = {"note", "notes", "see note", "comment", "comments", "remarks", "explanation"}


def _find_header(rows: list[Row]) -> _Columns | None:
    for number, cells in rows[:200]:
        labels = [" ".join(_label(c).split()) for c in cells]
        qid = next((i for i, lab in enumerate(labels) if lab in _ID_HEADERS), None)
        if qid is None:
            continue
        question = next(
            (i for i, lab in enumerate(labels) if i != qid and lab in _QUESTION_HEADERS), None
        )
        answer = next(
            (i for i, lab in enumerate(labels) if i != qid and lab in _ANSWER_HEADERS), None
        )
        note = next((i for i, lab in enumerate(labels) if lab in _NOTE_HEADERS), None)
        if question is not None or answer is not None:
            return _Columns(number, qid, question, answer, note)
    return None


def _infer_columns(rows: list[Row]) -> _Columns | None:
    """Without a header row: the column holding question ids, the longest text beside it."""
    counts: dict[int, int] = {}
    for _, cells in rows:
        for i, cell in enumerate(cells[:6]):
            if normalize_id(cell):
                counts[i] = counts.get(i, 0) + 1
                break
    if not counts:
        return None
    qid, hits = max(counts.items(), key=lambda item: item[1])
    if hits < 3:
        return None
    lengths: dict[int, int] = {}
    for _, cells in rows:
        if len(cells) > qid and normalize_id(cells[qid]):
            for i in range(qid + 1, len(cells)):
                lengths[i] = lengths.get(i, 0) + len(cells[i])
    question = max(lengths, key=lambda i: lengths[i]) if lengths else None
    return _Columns(None, qid, question, None, None)


def _answer_column(rows: list[Row], columns: _Columns) -> int | None:
    """The column (not the id, question or note column) holding the most Yes/No answers."""
    scores: dict[int, int] = {}
    taken = {columns.qid, columns.question, columns.note}
    for number, cells in rows:
        if columns.header_row is not None and number <= columns.header_row:
            continue
        if len(cells) <= columns.qid or not normalize_id(cells[columns.qid]):
            continue
        for i, cell in enumerate(cells):
            if i not in taken and parse_answer(cell)[0] not in (Answer.BLANK, Answer.UNKNOWN):
                scores[i] = scores.get(i, 0) + 1
    if not scores:
        return None
    return max(scores, key=lambda i: (scores[i], -i))


class _FormReader:
    def __init__(self, path: str) -> None:
        self.path = path
        self.fields: dict[str, str] = {}
        self.answers: dict[str, Mds2Answer] = {}
        self.issues: list[Mds2Issue] = []
        self.tables = 0

    def _where(self, sheet: str | None, row: int) -> str:
        return f"sheet {sheet!r} row {row}" if sheet is not None else f"line {row}"

    def read_sheet(self, sheet: str | None, rows: list[Row]) -> None:
        columns = _find_header(rows) or _infer_columns(rows)
        if columns is None:
            return
        if columns.answer is None:
            columns.answer = _answer_column(rows, columns)
            if columns.answer is None and columns.header_row is None:
                return  # ids without answers (an instructions sheet): not the form
        if columns.note is None and columns.answer is not None:
            # No note header: the column right after the answers, when its header is blank.
            header = dict(rows).get(columns.header_row or 0, [])
            beside = columns.answer + 1
            if beside not in (columns.qid, columns.question) and not (
                len(header) > beside and header[beside]
            ):
                columns.note = beside
        self.tables += 1
        start = columns.header_row or 0
        self._header_block(rows, start)
        for number, cells in rows:
            if number <= start:
                continue
            self._row(sheet, number, cells, columns)
        if len(rows) >= MAX_ROWS:
            self.issues.append(
                Mds2Issue(self._where(sheet, MAX_ROWS), f"read only the first {MAX_ROWS:,} rows")
            )

    def _header_block(self, rows: list[Row], before: int) -> None:
        """Labelled header cells above the table: the value right of the label, else below."""
        grid = {number: cells for number, cells in rows if not before or number < before}
        for number, cells in grid.items():
            for i, cell in enumerate(cells):
                key = HEADER_LABELS.get(" ".join(_label(cell).split()))
                if key is None or key in self.fields:
                    continue
                right = next((c for c in cells[i + 1 :] if c), "")
                if right and not _is_label(right):
                    self.fields[key] = right
                    continue
                below = grid.get(number + 1, [])
                if len(below) > i and below[i] and not _is_label(below[i]):
                    self.fields[key] = below[i]

    def _row(self, sheet: str | None, number: int, cells: list[str], columns: _Columns) -> None:
        def cell(index: int | None) -> str:
            return cells[index] if index is not None and index < len(cells) else ""

        raw_id = cell(columns.qid)
        if not raw_id:
            return  # blank rows and section titles
        question_id = normalize_id(raw_id)
        where = self._where(sheet, number)
        if question_id is None:
            # A section title ("AUDIT CONTROLS (AUDT)") has no answer; a row with an answer
            # but no usable id is a malformed question.
            if cell(columns.answer):
                self.issues.append(
                    Mds2Issue(where, f"malformed question id {raw_id[:40]!r} (row skipped)")
                )
            return
        prefix = question_id.split("-")[0]
        question = cell(columns.question)
        raw = cell(columns.answer)
        note = cell(columns.note) or None
        if question_id in DOC_FIELDS:
            if raw:
                self.fields.setdefault(DOC_FIELDS[question_id], raw)
            return
        if prefix not in SECTIONS:
            self.issues.append(
                Mds2Issue(where, f"{question_id}: unknown section {prefix!r} (read anyway)")
            )
        answer, rest = parse_answer(raw)
        if rest:
            note = f"{rest}; {note}" if note else rest
        if answer is Answer.UNKNOWN:
            self.issues.append(Mds2Issue(where, f"{question_id}: unknown answer {raw!r}"))
        if question_id in self.answers:
            first = self.answers[question_id]
            self.issues.append(
                Mds2Issue(where, f"{question_id}: duplicate (first at {first.where}; kept)")
            )
            return
        self.answers[question_id] = Mds2Answer(
            question_id=question_id,
            question=question,
            answer=answer,
            raw=raw,
            note=note,
            where=where,
        )

    def form(self) -> Mds2Form:
        if not self.tables:
            raise Mds2Error(
                "no MDS2 question table found (expected a header row with 'Question ID' and "
                "'Question'/'Response' columns, or a column of ids such as STCF-1)",
                path=self.path,
            )
        if not self.answers:
            raise Mds2Error("the MDS2 question table holds no answered questions", path=self.path)
        return Mds2Form(
            path=self.path,
            answers=self.answers,
            issues=tuple(self.issues),
            manufacturer=self.fields.get("manufacturer"),
            device_description=self.fields.get("device_description"),
            device_model=self.fields.get("device_model"),
            document_id=self.fields.get("document_id"),
            contact=self.fields.get("contact"),
            intended_use=self.fields.get("intended_use"),
            release_date=self.fields.get("release_date"),
        )

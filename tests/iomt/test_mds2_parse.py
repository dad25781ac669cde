"""Reading MDS2 forms: the 2019 workbook layout, CSV exports, odd spellings, bad rows."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from mds2kit import ALL_YES, answers_with, write_csv, write_xlsx
from openpyxl import Workbook

from carewarden.iomt.mds2 import Answer, Mds2Error, normalize_id, parse_answer, parse_mds2


def test_workbook_header_block_and_answers(tmp_path: Path) -> None:
    """It reads the merged header block and every question of the 2019 layout."""
    form = parse_mds2(write_xlsx(tmp_path / "acme.xlsx", ALL_YES))
    assert (form.manufacturer, form.device_description, form.device_model) == (
        "Acme Medical",
        "Infusion pump",
        "AP-100",
    )
    assert form.document_id == "MDS2-AP100-3"
    assert form.release_date == "2025-06-01"
    assert set(form.answers) == set(ALL_YES)
    stcf = form.answers["STCF-1"]
    assert stcf.answer is Answer.YES and stcf.note == "AES-256"
    assert stcf.question == "Question STCF-1?"
    assert stcf.where.startswith("sheet 'MDS2' row ")
    assert form.answers["PAUT-4"].answer is Answer.NOT_APPLICABLE
    assert form.answers["CONN-6"].answer is Answer.NO
    assert form.issues == ()


def test_answer_column_without_a_header(tmp_path: Path) -> None:
    """With no header over the answers, the column holding Yes/No answers is used."""
    form = parse_mds2(write_xlsx(tmp_path / "f.xlsx", ALL_YES, answer_header=""))
    assert form.answers["SBOM-1"].answer is Answer.YES
    assert form.answers["SBOM-1"].note == "CycloneDX 1.5"
    assert form.answers["MLDP-2"].answer is Answer.NO


@pytest.mark.parametrize("delimiter", [",", ";"])
def test_csv_export(tmp_path: Path, delimiter: str) -> None:
    """A CSV export with columns in another order and section rows reads the same."""
    form = parse_mds2(write_csv(tmp_path / "f.csv", ALL_YES, delimiter=delimiter))
    assert form.manufacturer == "Acme Medical" and form.release_date == "2025-06-01"
    assert set(form.answers) == set(ALL_YES)
    assert form.answers["CSUP-11.2"].note == "Security updates are reviewed every 14 days"
    assert form.answers["TXCF-2"].where.startswith("line ")
    assert form.issues == ()


def test_csv_without_header_row(tmp_path: Path) -> None:
    """A bare "id, question, answer, note" export (no header row) is read by its id column;
    DOC-1…DOC-7 fill the header fields."""
    path = tmp_path / "bare.csv"
    path.write_text(
        "DOC-1,Manufacturer Name,Beta Devices\n"
        "DOC-3,Device Model,BX-9\n"
        "DOC-7,Document Release Date,2024-01-31\n"
        "HEALTH DATA STORAGE CONFIDENTIALITY (STCF),,\n"
        "STCF-1,Can the device encrypt data at rest? ,No\n"
        "SBOM-1,Is the SBoM for this product available?,Yes,on request\n"
        "PAUT-4,Are all default accounts listed?,N/A: No default accounts\n"
        "SHAD-15,Can the system prevent access to BIOS?,Yes,\n",
        encoding="utf-8",
    )
    form = parse_mds2(path)
    assert (form.manufacturer, form.device_model, form.release_date) == (
        "Beta Devices",
        "BX-9",
        "2024-01-31",
    )
    assert form.answers["STCF-1"].answer is Answer.NO
    assert form.answers["SBOM-1"].note == "on request"
    assert form.answers["PAUT-4"].answer is Answer.NOT_APPLICABLE
    assert form.answers["PAUT-4"].note == "No default accounts"
    assert form.answers["SAHD-15"].answer is Answer.YES  # the form's own misspelling
    assert "DOC-1" not in form.answers


def test_odd_spellings_unknown_answers_and_malformed_rows(tmp_path: Path) -> None:
    """Odd spellings are understood; unknown answers, malformed ids and duplicates are
    reported with sheet and row, and the rest of the form is still read."""
    answers = answers_with(
        STCF_1=("YES", ""),
        TXCF_2=("y", ""),
        SBOM_1=("see note", "available on request"),
        CONN_6=("n", ""),
        MLDP_3=("n/a", ""),
        AUDT_5=("Maybe later", ""),
        RDMP_4=("", ""),
    )
    answers["STCF 1.2"] = ("Yes", "")  # an id spelt with a space
    answers["XYZ-"] = ("Yes", "")  # no number: malformed
    form = parse_mds2(write_xlsx(tmp_path / "odd.xlsx", answers))
    get = form.answers
    assert get["STCF-1"].answer is Answer.YES and get["TXCF-2"].answer is Answer.YES
    assert get["SBOM-1"].answer is Answer.SEE_NOTE
    assert get["CONN-6"].answer is Answer.NO and get["MLDP-3"].answer is Answer.NOT_APPLICABLE
    assert get["AUDT-5"].answer is Answer.UNKNOWN and get["AUDT-5"].raw == "Maybe later"
    assert get["RDMP-4"].answer is Answer.BLANK
    messages = [str(issue) for issue in form.issues]
    assert any("'MDS2' row" in m and "AUDT-5: unknown answer 'Maybe later'" in m for m in messages)
    assert any("malformed question id 'XYZ-'" in m for m in messages)
    assert any("STCF-1.2: duplicate" in m for m in messages)
    assert len(messages) == 3


@pytest.mark.parametrize(
    ("text", "answer", "rest"),
    [
        ("Yes", Answer.YES, None),
        ("YES", Answer.YES, None),
        ("y", Answer.YES, None),
        ("Yes, optional", Answer.YES, "optional"),
        ("Yes (LDAP)", Answer.YES, "LDAP"),
        ("No", Answer.NO, None),
        ("N", Answer.NO, None),
        ("N/A", Answer.NOT_APPLICABLE, None),
        ("n/a", Answer.NOT_APPLICABLE, None),
        ("NA", Answer.NOT_APPLICABLE, None),
        ("N/A: no default accounts", Answer.NOT_APPLICABLE, "no default accounts"),
        ("Not applicable", Answer.NOT_APPLICABLE, None),
        ("See Note", Answer.SEE_NOTE, None),
        ("see notes", Answer.SEE_NOTE, None),
        ("See note - 14 days", Answer.SEE_NOTE, "14 days"),
        ("", Answer.BLANK, None),
        ("Nothing", Answer.UNKNOWN, None),
        ("Maybe", Answer.UNKNOWN, None),
    ],
)
def test_answer_spellings(text: str, answer: Answer, rest: str | None) -> None:
    assert parse_answer(text) == (answer, rest)


def test_question_ids() -> None:
    assert normalize_id("stcf-1") == "STCF-1"
    assert normalize_id("AUDT_2.8.1") == "AUDT-2.8.1"
    assert normalize_id("SBOM 1") == "SBOM-1"
    assert normalize_id("AUDIT CONTROLS (AUDT)") is None
    assert normalize_id("STCF-") is None


def test_no_question_table_names_the_file(tmp_path: Path) -> None:
    """A workbook with no question table is an error that names the file."""
    workbook = Workbook()
    sheet = workbook.active
    assert sheet is not None
    sheet["A1"] = "Quarterly budget"
    sheet["A2"] = 42
    path = tmp_path / "budget.xlsx"
    workbook.save(path)
    with pytest.raises(Mds2Error, match=r"budget\.xlsx: no MDS2 question table"):
        parse_mds2(path)


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("broken.xlsx", b"PK\x03\x04 not really a zip", "not a readable xlsx workbook"),
        ("empty.csv", b"", "no MDS2 question table"),
        ("notes.csv", b"just,some\ntext,here\n", "no MDS2 question table"),
        ("binary.csv", b"\x00\x01\x02STCF-1", "NUL bytes"),
    ],
)
def test_unusable_files(tmp_path: Path, name: str, content: bytes, message: str) -> None:
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(Mds2Error, match=message) as caught:
        parse_mds2(path)
    assert name in str(caught.value)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(Mds2Error, match="no such file"):
        parse_mds2(tmp_path / "absent.xlsx")


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(content=st.binary(max_size=600) | st.text(max_size=600).map(str.encode))
@example(content=b"Question ID,Question\nSTCF-1,x\n")
@example(content=b'"unterminated\nSTCF-1,"')
@example(content=b"PK\x03\x04")
def test_fuzzed_files_fail_cleanly(tmp_path: Path, content: bytes) -> None:
    """Whatever the bytes, parsing returns a form or raises Mds2Error, nothing else."""
    for name in ("f.csv", "f.xlsx"):
        path = tmp_path / name
        path.write_bytes(content)
        try:
            form = parse_mds2(path)
        except Mds2Error as exc:
            assert name in str(exc)
        else:
            assert form.answers


def test_instructions_sheet_listing_ids_is_not_the_form(tmp_path: Path) -> None:
    """A sheet that lists question ids without answers does not shadow the form's answers."""
    from openpyxl import load_workbook

    path = write_xlsx(tmp_path / "f.xlsx", ALL_YES)
    workbook = load_workbook(path)
    guide = workbook.create_sheet("Guide", 0)
    for row, qid in enumerate(("STCF-1", "SBOM-1", "TXCF-2", "PAUT-1"), start=1):
        guide.cell(row=row, column=1, value=qid)
        guide.cell(row=row, column=2, value="Explain how to answer this question.")
    workbook.save(path)
    form = parse_mds2(path)
    assert form.answers["STCF-1"].answer is Answer.YES
    assert form.answers["STCF-1"].where.startswith("sheet 'MDS2'")
    assert form.issues == ()

"""Builders of MDS2 forms (2019 layout) for the procurement tests: xlsx workbooks written with
openpyxl and CSV exports, from a dict of answers."""

from __future__ import annotations

import csv
import datetime as dt
from pathlib import Path

from openpyxl import Workbook

# Answers that meet every requirement of the shipped baseline: (answer, note).
ALL_YES: dict[str, tuple[str, str]] = {
    "MPII-1": ("Yes", ""),
    "ALOF-1": ("Yes", ""),
    "AUDT-2": ("Yes", ""),
    "AUDT-4.1": ("Yes", ""),
    "AUDT-5": ("Yes", "syslog and ATNA"),
    "CSUP-7": ("Yes", ""),
    "CSUP-11": ("Yes", ""),
    "CSUP-11.2": ("Yes", "Security updates are reviewed every 14 days"),
    "MLDP-2": ("No", ""),
    "MLDP-3": ("N/A", ""),
    "MLDP-4": ("Yes", "application allowlisting"),
    "CONN-2": ("Yes", "see the ports appendix"),
    "CONN-6": ("No", ""),
    "PAUT-1": ("Yes", ""),
    "PAUT-1.1": ("Yes", ""),
    "PAUT-4": ("N/A", "no default accounts"),
    "PAUT-5": ("Yes", ""),
    "SGUD-1": ("Yes", ""),
    "SGUD-3.1": ("Yes", ""),
    "SGUD-4": ("Yes", ""),
    "SAHD-8": ("Yes", ""),
    "SAHD-9": ("Yes", ""),
    "RDMP-3": ("Yes", ""),
    "RDMP-4": ("Yes", ""),
    "RMOT-1.1": ("Yes", ""),
    "RMOT-1.2": ("Yes", ""),
    "SBOM-1": ("Yes", "CycloneDX 1.5"),
    "STCF-1": ("Yes", "AES-256"),
    "STCF-1.2": ("Yes", ""),
    "TXCF-2": ("Yes", "TLS 1.2+"),
}

HEADER = {
    "Manufacturer Name": "Acme Medical",
    "Device Description": "Infusion pump",
    "Device Model": "AP-100",
    "Document ID": "MDS2-AP100-3",
}
RELEASE = dt.datetime(2025, 6, 1)


def _sections(answers: dict[str, tuple[str, str]]) -> dict[str, list[str]]:
    by_section: dict[str, list[str]] = {}
    for qid in answers:
        by_section.setdefault(qid.split("-")[0].upper(), []).append(qid)
    return by_section


def write_xlsx(
    path: Path,
    answers: dict[str, tuple[str, str]],
    *,
    answer_header: str = "Response",
    extra_sheets: bool = True,
) -> Path:
    """A workbook in the 2019 layout: a merged title, the header block (labels above
    values, merged cells), a blank row, the question table with reference columns and
    merged section titles, blank rows between sections."""
    workbook = Workbook()
    if extra_sheets:
        intro = workbook.active
        assert intro is not None
        intro.title = "Instructions"
        intro["A1"] = "Complete the form; answer Yes, No, N/A or See Note."
        sheet = workbook.create_sheet("MDS2")
    else:
        sheet = workbook.active
        assert sheet is not None
        sheet.title = "MDS2"
    sheet["A1"] = "Manufacturer Disclosure Statement for Medical Device Security (MDS2)"
    sheet.merge_cells("A1:G1")
    labels = [*HEADER, "Document Release Date"]
    values: list[object] = [*HEADER.values(), RELEASE]
    # Manufacturer name spans two columns, as on the form.
    sheet.cell(row=2, column=1, value=labels[0])
    sheet.merge_cells("A2:B2")
    sheet.cell(row=3, column=1, value=values[0])
    sheet.merge_cells("A3:B3")
    for offset, (label, value) in enumerate(zip(labels[1:], values[1:], strict=True)):
        sheet.cell(row=2, column=3 + offset, value=label)
        sheet.cell(row=3, column=3 + offset, value=value)
    header = [
        "Question ID",
        "Question",
        None,
        answer_header,
        "Note",
        "IEC TR 80001-2-2:2012",
        "NIST SP 800-53 Rev. 4",
    ]
    row = 6
    for column, text in enumerate(header, start=1):
        sheet.cell(row=row, column=column, value=text)
    sheet.merge_cells(start_row=row, start_column=2, end_row=row, end_column=3)
    row += 1
    for section, qids in _sections(answers).items():
        row += 1  # a blank row before each section
        sheet.cell(row=row, column=1, value=f"SECTION ({section})")
        sheet.merge_cells(start_row=row, start_column=1, end_row=row, end_column=5)
        row += 1
        for qid in qids:
            answer, note = answers[qid]
            sheet.cell(row=row, column=1, value=qid)
            sheet.cell(row=row, column=2, value=f"Question {qid}?")
            sheet.merge_cells(start_row=row, start_column=2, end_row=row, end_column=3)
            sheet.cell(row=row, column=4, value=answer or None)
            sheet.cell(row=row, column=5, value=note or None)
            sheet.cell(row=row, column=6, value="ALOF")
            sheet.cell(row=row, column=7, value="AC-12")
            row += 1
    workbook.save(path)
    return path


def write_csv(path: Path, answers: dict[str, tuple[str, str]], *, delimiter: str = ",") -> Path:
    """A CSV export: the header block, a blank line, then the question table with the
    answer and note columns in another order and an extra column."""
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle, delimiter=delimiter)
        writer.writerow([*HEADER, "Document Release Date"])
        writer.writerow([*HEADER.values(), RELEASE.date().isoformat()])
        writer.writerow([])
        writer.writerow(["Section", "Question ID", "Question", "Notes", "Answer"])
        for section, qids in _sections(answers).items():
            writer.writerow([section, "", f"{section} section", "", ""])
            for qid in qids:
                answer, note = answers[qid]
                writer.writerow([section, qid, f"Question {qid}?", note, answer])
    return path


def answers_with(**changes: tuple[str, str]) -> dict[str, tuple[str, str]]:
    """ALL_YES with some answers changed (keys spelt STCF_1_2 for STCF-1.2)."""
    answers = dict(ALL_YES)
    for key, value in changes.items():
        section, _, number = key.partition("_")
        answers[f"{section}-{number.replace('_', '.')}"] = value
    return answers

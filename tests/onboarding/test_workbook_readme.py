"""The README's "The workbook" part lists every sheet and column the import reads."""

from pathlib import Path

from onboarding.workbook import SHEETS

README = Path(__file__).resolve().parents[2] / "README.md"


def the_workbook_section() -> str:
    text = README.read_text()
    start = text.index("### Start from a spreadsheet")
    start = text.index("#### The workbook", start)
    return text[start : text.index("\n### ", start)]


def test_the_readme_explains_every_sheet_and_column_of_the_workbook():
    section = the_workbook_section()
    for sheet in SHEETS:
        assert f"**{sheet.name}**" in section, sheet.name
        for column in sheet.columns:
            heading = column.heading.replace("*", "\\*")
            assert f"| {heading} | {column.help.replace('|', '/')} |" in section, (
                sheet.name,
                column.header,
            )

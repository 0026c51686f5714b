"""Uploads for the spreadsheet tests: files that are, or only look like, workbooks."""

import io
import zipfile

from django.core.files.uploadedfile import SimpleUploadedFile

CSV = b"title,status\nGrow revenue,active\n"


def upload(name: str, content: bytes, content_type: str = "application/octet-stream"):
    return SimpleUploadedFile(name, content, content_type)


def zip_without_workbook() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("notes.txt", "not a workbook")
    return buffer.getvalue()


# Each: (file name, bytes, the words the message must hold).
NOT_WORKBOOKS = {
    "empty": ("empty.xlsx", b"", "empty"),
    "image": (
        "chart.xlsx",
        b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)),
        "not an XLSX",
    ),
    "protected": (
        "locked.xlsx",
        b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(512),
        "password-protected",
    ),
    "other zip": ("archive.xlsx", zip_without_workbook(), "not an XLSX"),
    "damaged": ("broken.xlsx", b"PK\x03\x04" + b"\x07" * 300, "damaged"),
}

"""The board pack's fixtures: the demo portfolio scanned (a snapshot with figures and flags),
and reading a PDF's text back (pypdf)."""

import io
from io import StringIO

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from pypdf import PdfReader


@pytest.fixture
def demo(db, settings):
    """load_demo is a development command (it refuses with debug off); then one full scan, as
    the beat would, so the snapshot holds the dashboard's figures."""
    settings.DEBUG = True
    call_command("load_demo", stdout=StringIO())
    call_command("scan_alignment", stdout=StringIO())
    settings.DEBUG = False
    users = get_user_model().objects
    return {name: users.get(username=name) for name in ("executive", "sponsor")}


def pdf_text(content: bytes) -> str:
    assert content.startswith(b"%PDF"), content[:20]
    reader = PdfReader(io.BytesIO(content))
    # Layout breaks a long line anywhere: compare with whitespace folded.
    return " ".join(" ".join(page.extract_text() for page in reader.pages).split())

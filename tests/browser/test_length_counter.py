"""The length counter in real Chromium: typing updates it, going over the limit says by how
much, and nothing is cut — the whole text is sent and the server refuses it with a message."""

import pytest
from playwright.sync_api import expect

from projects.models import CRMProject

pytestmark = pytest.mark.django_db(transaction=True)


def test_a_title_counts_as_you_type_and_an_over_long_one_is_refused_whole(
    page, live_server, login, pm
):
    login(pm)
    page.goto(f"{live_server.url}/projects/new/")
    title = page.get_by_label("Title")
    counter = page.locator("#id_title_count")
    expect(counter).to_have_text("0 / 200 characters")

    title.fill("CRM Rollout")
    expect(counter).to_have_text("11 / 200 characters")
    title.fill("x" * 205)  # pasted: a `maxlength` would have cut it silently
    expect(counter).to_have_text("205 / 200 characters — 5 too many")
    expect(counter).to_have_class("field__count field__count--over")
    assert len(title.input_value()) == 205

    page.get_by_role("button", name="Create project").click()
    expect(
        page.get_by_text("Title: Ensure this value has at most 200 characters (it has 205).")
    ).to_be_visible()
    assert len(page.get_by_label("Title").input_value()) == 205
    assert not CRMProject.objects.exists()

"""People pickers: a person field is a text input with suggestions from /people/, never a
`<select>` of every user. The endpoint offers only the people the field accepts, at most 20;
without JavaScript the input takes a username (or a full name, or an id), and anything else is
an error on that field that says what to type — never a 500."""

import json
import re

import pytest
from django.http import QueryDict
from django.urls import reverse

from core.forms import edited_fields
from core.people import PICKER_LIMIT
from projects.forms import ProjectForm
from projects.models import CRMProject
from tests.contract.forms import form_data
from tests.factories import ProjectFactory, UserFactory

pytestmark = pytest.mark.django_db

MANAGERS = "roles:project_manager"


def _people(client, picker: str, q: str = ""):
    response = client.get(reverse("people"), {"for": picker, "q": q})
    return response.status_code, json.loads(response.content)


# --- the endpoint


def test_the_picker_finds_people_by_username_or_by_name(as_user, viewer):
    UserFactory(username="jsmith", first_name="Jane", last_name="Smith", roles=["project_manager"])
    UserFactory(username="jdoe", first_name="John", last_name="Doe", roles=["project_manager"])
    client = as_user(viewer)

    assert [p["username"] for p in _people(client, MANAGERS, "smi")[1]["results"]] == ["jsmith"]
    assert [p["username"] for p in _people(client, MANAGERS, "JANE")[1]["results"]] == ["jsmith"]
    # Every word must match: first name and last name together.
    status, found = _people(client, MANAGERS, "john doe")
    assert status == 200
    assert found["results"] == [
        {"id": found["results"][0]["id"], "username": "jdoe", "name": "John Doe",
         "label": "John Doe (jdoe)"}
    ]  # fmt: skip


def test_the_picker_offers_only_the_people_the_field_accepts(as_user, viewer, sponsor, pm):
    retired = UserFactory(username="pm-retired", roles=["project_manager"])
    retired.is_active = False
    retired.save()
    client = as_user(viewer)

    managers = {p["username"] for p in _people(client, MANAGERS)[1]["results"]}
    sponsors = {p["username"] for p in _people(client, "roles:executive+sponsor")[1]["results"]}

    assert managers == {"pm"}  # not the viewer, the sponsor or an inactive manager
    assert sponsors == {"sponsor"}


def test_the_picker_answers_at_most_20_and_says_there_are_more(as_user, viewer):
    for n in range(PICKER_LIMIT + 5):
        UserFactory(username=f"manager{n:02d}", roles=["project_manager"])

    status, found = _people(as_user(viewer), MANAGERS, "manager")

    assert status == 200
    assert len(found["results"]) == PICKER_LIMIT == 20
    assert found["more"] is True


def test_the_picker_needs_a_role(client, as_user, nobody):
    anonymous = client.get(reverse("people"), {"for": MANAGERS})
    assert anonymous.status_code == 302  # to sign in
    assert as_user(nobody).get(reverse("people"), {"for": MANAGERS}).status_code == 404


def test_a_picker_nobody_defined_is_a_400_naming_the_parameter(as_user, viewer):
    status, body = _people(as_user(viewer), "auth.everyone")
    assert status == 400
    assert list(body) == ["for"]


# --- the page forms, with and without JavaScript


def test_person_fields_are_text_inputs_that_ask_the_picker_not_selects(as_user, pm):
    for _ in range(30):
        UserFactory(roles=["project_manager"])
    project = ProjectFactory(manager=pm)
    client = as_user(pm)

    for url in (
        reverse("projects:edit", args=[project.pk]),
        reverse("projects:create"),
        reverse("projects:list"),
    ):
        html = client.get(url).content.decode()
        assert '<select name="manager"' not in html, url
        manager = re.search(r'<input type="text" name="manager"[^>]*>', html)
        assert manager, url
        assert 'data-picker-url="/people/?for=' in manager.group(0)
        suggestions = re.search(r'list="([^"]+)"', manager.group(0)).group(1)
        assert f'<datalist id="{suggestions}"></datalist>' in html


def test_the_edit_form_shows_the_person_by_name_and_username(as_user, pm):
    pm.first_name, pm.last_name = "Pat", "Manager"
    pm.save()
    project = ProjectFactory(manager=pm)

    html = as_user(pm).get(reverse("projects:edit", args=[project.pk])).content.decode()

    assert form_data(html)["manager"] == ["Pat Manager (pm)"]


def _hand_over(client, project, typed: str):
    url = reverse("projects:edit", args=[project.pk])
    data = form_data(client.get(url).content.decode())
    data["manager"] = [typed]
    return client.post(url, data)


@pytest.mark.parametrize("typed", ["pm2", "PM2", "Paula Second", "Paula Second (pm2)", "{id}"])
def test_without_javascript_a_manager_is_typed_by_username_or_name(as_user, pm, other_pm, typed):
    other_pm.first_name, other_pm.last_name = "Paula", "Second"
    other_pm.save()
    project = ProjectFactory(manager=pm)

    response = _hand_over(as_user(pm), project, typed.format(id=other_pm.pk))

    assert response.status_code == 302
    assert CRMProject.objects.get(pk=project.pk).manager == other_pm


def _field_errors(html: str, name: str) -> list[str]:
    block = re.search(rf'<ul class="field__errors" id="id_{name}_error">(.*?)</ul>', html, re.S)
    return re.findall(r"<li>(.*?)</li>", block.group(1)) if block else []


def test_an_unknown_username_is_an_error_on_the_field_not_a_500(as_user, pm):
    project = ProjectFactory(manager=pm)

    response = _hand_over(as_user(pm), project, "no-such-person")

    assert response.status_code == 200
    errors = _field_errors(response.content.decode(), "manager")
    assert errors and errors[0].startswith("Manager: No one called “no-such-person”")
    assert CRMProject.objects.get(pk=project.pk).manager == pm


def test_a_name_two_people_share_is_an_error_listing_their_usernames(as_user, pm):
    for username in ("asmith", "asmith2"):
        UserFactory(
            username=username, first_name="Alex", last_name="Smith", roles=["project_manager"]
        )
    project = ProjectFactory(manager=pm)

    response = _hand_over(as_user(pm), project, "alex smith")

    errors = _field_errors(response.content.decode(), "manager")
    assert response.status_code == 200
    assert errors and "2 people match “alex smith” (asmith, asmith2)" in errors[0]
    assert CRMProject.objects.get(pk=project.pk).manager == pm


def test_someone_the_field_does_not_accept_is_refused_saying_who_can_be(as_user, pm, viewer):
    project = ProjectFactory(manager=pm)

    response = _hand_over(as_user(pm), project, "viewer")

    errors = _field_errors(response.content.decode(), "manager")
    assert errors == ["Manager: viewer cannot be chosen here: only project managers can."]
    assert CRMProject.objects.get(pk=project.pk).manager == pm


def test_a_sponsor_who_lost_the_role_does_not_block_other_edits(as_user, pm):
    former = UserFactory(username="former-sponsor", roles=["sponsor"])
    project = ProjectFactory(manager=pm, sponsor=former)
    former.groups.clear()
    url = reverse("projects:edit", args=[project.pk])
    client = as_user(pm)
    data = form_data(client.get(url).content.decode())
    data["integration_notes"] = ["Through the ERP bus"]

    assert client.post(url, data).status_code == 302
    stored = CRMProject.objects.get(pk=project.pk)
    assert (stored.sponsor, stored.integration_notes) == (former, "Through the ERP bus")


def test_an_untouched_person_field_is_not_an_edit(as_user, pm):
    project = ProjectFactory(manager=pm)
    html = as_user(pm).get(reverse("projects:edit", args=[project.pk])).content.decode()
    data = form_data(html)
    data["title"] = ["Renamed"]

    posted = QueryDict(mutable=True)
    for name, values in data.items():
        posted.setlist(name, values)
    form = ProjectForm(posted, instance=CRMProject.objects.get(pk=project.pk))

    assert form.is_valid(), form.errors
    assert edited_fields(form) == ["title"]


# --- the filters (the page's filter bar and the API take the same values)


def test_the_manager_filter_takes_an_id_a_username_or_a_name_on_page_and_api(as_user, pm):
    pm.first_name, pm.last_name = "Pat", "Manager"
    pm.save()
    mine = ProjectFactory(manager=pm, title="Mine")
    ProjectFactory(title="Someone else's")
    client = as_user(pm)

    for value in (str(pm.pk), "pm", "Pat Manager", "Pat Manager (pm)"):
        api = client.get("/api/projects/", {"manager": value})
        assert api.status_code == 200, (value, api.content)
        assert [row["id"] for row in api.json()["results"]] == [mine.pk]
        page = client.get(reverse("projects:list"), {"manager": value}).content.decode()
        assert "Mine" in page and "Someone else&#x27;s" not in page, value


def test_a_bad_person_in_a_filter_is_a_400_on_the_api_and_a_field_error_on_the_page(
    as_user, viewer
):
    client = as_user(viewer)

    for value in ("nobody-at-all", "99999999999999999999999", "viewer"):
        api = client.get("/api/projects/", {"manager": value})
        assert api.status_code == 400, value
        assert list(api.json()) == ["manager"]
        page = client.get(reverse("projects:list"), {"manager": value})
        assert page.status_code == 200
        assert _field_errors(page.content.decode(), "manager"), value

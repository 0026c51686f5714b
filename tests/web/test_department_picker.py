"""Department pickers: a department field or filter is a text input with suggestions from
/departments/, never a `<select>` of every department (10,000 of them at 100,000 projects).
The endpoint answers at most 20, by name; without JavaScript the input takes a department's
name in any case (or its id, as the `<select>` and the API sent), and anything else is an
error on that field, naming it — never a 500."""

import json
import re

import pytest
from django.db import connection
from django.urls import reverse

from core.people import PICKER_LIMIT
from projects.models import CRMProject
from tests.contract.forms import form_data
from tests.factories import DepartmentFactory, ProjectFactory
from tests.rows import count_rows

pytestmark = pytest.mark.django_db


def _suggest(client, q: str = ""):
    response = client.get(reverse("departments"), {"q": q})
    assert response["Content-Type"] == "application/json"
    return response.status_code, json.loads(response.content)


def _names(client, q: str = "") -> list[str]:
    return [d["name"] for d in _suggest(client, q)[1]["results"]]


# --- the endpoint


def test_the_picker_finds_departments_with_every_word_typed_by_name(as_user, viewer):
    DepartmentFactory(name="Sales Operations")
    DepartmentFactory(name="Customer Service")
    it = DepartmentFactory(name="IT Sales Tools", is_it=True)
    client = as_user(viewer)

    assert _names(client, "sales") == ["IT Sales Tools", "Sales Operations"]
    assert _names(client, "SALES oper") == ["Sales Operations"]
    assert _names(client) == ["Customer Service", "IT Sales Tools", "Sales Operations"]
    status, found = _suggest(client, "tools")
    assert status == 200
    assert found == {
        "results": [{"id": it.pk, "name": "IT Sales Tools", "is_it": True,
                     "label": "IT Sales Tools"}],
        "more": False,
    }  # fmt: skip


def test_the_picker_takes_what_is_typed_literally_not_as_a_pattern(as_user, viewer):
    DepartmentFactory(name="50% Club")
    DepartmentFactory(name="Sales_Ops")
    DepartmentFactory(name="SalesXOps")
    client = as_user(viewer)

    assert _names(client, "%") == ["50% Club"]
    assert _names(client, "s_o") == ["Sales_Ops"]


def test_the_picker_answers_at_most_20_and_says_there_are_more(as_user, viewer):
    for n in range(PICKER_LIMIT + 5):
        DepartmentFactory(name=f"Region {n:02d}")
    client = as_user(viewer)

    status, found = _suggest(client, "region")
    assert status == 200
    assert len(found["results"]) == PICKER_LIMIT == 20
    assert found["results"][0]["name"] == "Region 00"
    assert found["more"] is True
    assert _suggest(client, "region 2")[1]["more"] is False  # Region 02, 12, 20 … 24


def test_the_picker_fetches_a_page_of_departments_not_the_table(as_user, viewer):
    for n in range(200):
        DepartmentFactory(name=f"Region {n:03d}")
    client = as_user(viewer)
    client.get(reverse("departments"))  # warm up: the session

    with count_rows() as rows:
        response = client.get(reverse("departments"), {"q": "region"})

    assert response.status_code == 200
    # One more department than it shows (to know there are more); the session, the user and
    # their roles a row each.
    departments = [s.rows for s in rows.statements if "projects_department" in s.sql]
    assert departments == [PICKER_LIMIT + 1], rows.report()
    assert all(s.rows <= 1 for s in rows.statements if "projects_department" not in s.sql)


def test_the_picker_needs_a_role(client, as_user, nobody):
    DepartmentFactory(name="Sales")

    anonymous = client.get(reverse("departments"), {"q": "sales"})
    assert anonymous.status_code == 302  # to sign in
    assert anonymous.url.startswith(reverse("login"))
    assert as_user(nobody).get(reverse("departments"), {"q": "sales"}).status_code == 404


def test_bad_input_to_the_picker_is_refused_or_finds_nothing_never_a_500(as_user, viewer):
    DepartmentFactory(name="Sales")
    client = as_user(viewer)

    assert _suggest(client, "x" * 10_000) == (200, {"results": [], "more": False})
    assert client.get(reverse("departments"), {"q": "sa\x00les"}).status_code == 400
    assert client.post(reverse("departments"), {"q": "sales"}).status_code == 405
    # Only `q` counts: anything else is ignored, as by the people picker.
    assert _names(client, "") == _names(client) == ["Sales"]
    response = client.get(reverse("departments"), {"q": "sales", "limit": "100000"})
    assert [d["name"] for d in response.json()["results"]] == ["Sales"]


# --- the project list's filter (the page's filter bar and the API take the same values)


def _field_errors(html: str, name: str) -> list[str]:
    block = re.search(rf'<ul class="field__errors" id="id_{name}_error">(.*?)</ul>', html, re.S)
    return re.findall(r"<li>(.*?)</li>", block.group(1)) if block else []


def _input(html: str, name: str) -> str:
    found = re.search(rf'<input type="text" name="{name}"[^>]*>', html)
    assert found, f"no text input named {name}"
    return found.group(0)


def test_the_department_filter_takes_a_name_in_any_case_or_an_id_on_page_and_api(as_user, viewer):
    sales = DepartmentFactory(name="Sales Operations")
    mine = ProjectFactory(title="Sales project", department=sales)
    ProjectFactory(title="Service project", department=DepartmentFactory(name="Service"))
    client = as_user(viewer)

    for value in ("Sales Operations", "sales operations", "  SALES OPERATIONS ", str(sales.pk)):
        api = client.get("/api/projects/", {"department": value})
        assert api.status_code == 200, (value, api.content)
        assert [row["id"] for row in api.json()["results"]] == [mine.pk], value
        page = client.get(reverse("projects:list"), {"department": value}).content.decode()
        assert "Sales project" in page and "Service project" not in page, value
        # The bar shows the chosen department by its name, however it was given.
        assert 'value="Sales Operations"' in _input(page, "department"), value


def test_an_unknown_department_is_an_error_naming_the_field_not_a_500(as_user, viewer):
    DepartmentFactory(name="Sales")
    client = as_user(viewer)

    for value in ("Nowhere", "sale", "99999999999999999999999", "0"):
        page = client.get(reverse("projects:list"), {"department": value})
        assert page.status_code == 200, value
        html = page.content.decode()
        errors = _field_errors(html, "department")
        assert errors == [
            f"Department: No department is called “{value}”: type a department&#x27;s name, "
            "or pick one from the suggestions."
        ], value
        # What was typed stays in the box, to be corrected.
        assert f'value="{value}"' in _input(html, "department")
        api = client.get("/api/projects/", {"department": value})
        assert api.status_code == 400, value
        assert list(api.json()) == ["department"]


def test_departments_whose_names_differ_only_in_case_need_the_name_as_written(as_user, viewer):
    upper, lower = DepartmentFactory(name="SALES"), DepartmentFactory(name="Sales")
    ProjectFactory(title="Shouting", department=upper)
    ProjectFactory(title="Quiet", department=lower)
    client = as_user(viewer)

    html = client.get(reverse("projects:list"), {"department": "sales"}).content.decode()
    errors = _field_errors(html, "department")
    assert errors and "2 departments are called “sales” (“SALES”, “Sales”)" in errors[0]
    as_written = client.get(reverse("projects:list"), {"department": "Sales"}).content.decode()
    assert "Quiet" in as_written and "Shouting" not in as_written


def test_a_name_that_is_another_departments_id_is_an_error_saying_what_to_type(as_user, viewer):
    first = DepartmentFactory(name="Sales")
    digits = DepartmentFactory(name=str(first.pk))

    api = as_user(viewer).get("/api/projects/", {"department": str(first.pk)})

    assert api.status_code == 400
    assert api.json()["department"] == [
        f"“{first.pk}” is the name of one department and the id of another, “Sales”: type "
        f"“Sales” for that one, or {digits.pk} (its id) for the one called “{first.pk}”."
    ]


def test_pagination_and_sorting_keep_the_chosen_department(as_user, viewer):
    sales = DepartmentFactory(name="Sales")
    ProjectFactory.create_batch(30, department=sales)
    ProjectFactory(title="Elsewhere")

    html = as_user(viewer).get(reverse("projects:list"), {"department": "sales"}).content.decode()

    assert "1\u201325 of 30" in html
    next_page = re.search(r'href="([^"]*)" rel="next"', html).group(1)
    assert "department=sales" in next_page and "page=2" in next_page
    sort_by_title = re.search(r'href="([^"]*ordering=-title[^"]*)"', html).group(1)
    assert "department=sales" in sort_by_title


# --- the project form, with and without JavaScript


def test_the_project_form_has_a_department_picker_not_a_select(as_user, pm):
    for n in range(30):
        DepartmentFactory(name=f"Region {n}")
    project = ProjectFactory(manager=pm, department=DepartmentFactory(name="Partner Channel"))
    client = as_user(pm)

    for url in (
        reverse("projects:edit", args=[project.pk]),
        reverse("projects:create"),
        reverse("projects:list"),
    ):
        html = client.get(url).content.decode()
        assert '<select name="department"' not in html, url
        department = _input(html, "department")
        assert 'data-picker-url="/departments/"' in department, url
        suggestions = re.search(r'list="([^"]+)"', department).group(1)
        assert f'<datalist id="{suggestions}"></datalist>' in html, url
        assert "Region 7" not in html, url  # no department is listed in the page

    edit = client.get(reverse("projects:edit", args=[project.pk])).content.decode()
    assert form_data(edit)["department"] == ["Partner Channel"]


def _move(client, project, typed: str):
    url = reverse("projects:edit", args=[project.pk])
    data = form_data(client.get(url).content.decode())
    data["department"] = [typed]
    return client.post(url, data)


@pytest.mark.parametrize("typed", ["Partner Channel", "partner channel", "{id}"])
def test_without_javascript_the_department_is_typed_by_name(as_user, pm, typed):
    channel = DepartmentFactory(name="Partner Channel")
    project = ProjectFactory(manager=pm, department=DepartmentFactory(name="Sales"))

    response = _move(as_user(pm), project, typed.format(id=channel.pk))

    assert response.status_code == 302
    assert CRMProject.objects.get(pk=project.pk).department == channel


def test_an_unknown_department_on_the_form_is_an_error_on_the_field_not_a_500(as_user, pm):
    sales = DepartmentFactory(name="Sales")
    project = ProjectFactory(manager=pm, department=sales)

    response = _move(as_user(pm), project, "Nowhere")

    assert response.status_code == 200
    assert _field_errors(response.content.decode(), "department") == [
        "Business-owner department: No department is called “Nowhere”: type a department&#x27;s "
        "name, or pick one from the suggestions."
    ]
    assert CRMProject.objects.get(pk=project.pk).department == sales


def test_clearing_the_department_leaves_the_project_without_one(as_user, pm):
    project = ProjectFactory(manager=pm, department=DepartmentFactory(name="Sales"))

    response = _move(as_user(pm), project, "")

    assert response.status_code == 302
    assert CRMProject.objects.get(pk=project.pk).department is None


def test_a_new_project_takes_its_department_by_name(as_user, pm):
    DepartmentFactory(name="Partner Channel")
    client = as_user(pm)
    data = form_data(client.get(reverse("projects:create")).content.decode())
    data.update(title=["Partner portal"], department=["partner CHANNEL"])

    response = client.post(reverse("projects:create"), data)

    assert response.status_code == 302
    assert CRMProject.objects.get().department.name == "Partner Channel"


@pytest.mark.postgres
def test_postgresql_looks_a_typed_name_up_through_an_index():
    """`name__iexact` is `UPPER(name) = UPPER(…)` on PostgreSQL: the expression index
    `department_name_upper` serves it, so a filtered page does not scan every department."""
    from projects.models import Department

    for n in range(50):
        DepartmentFactory(name=f"Region {n}")
    sql, params = Department.objects.filter(name__iexact="region 7").query.sql_with_params()
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")
        cursor.execute("EXPLAIN " + sql, params)
        plan = "\n".join(row[0] for row in cursor.fetchall())
    assert "department_name_upper" in plan, plan

"""Business and CRM strategy writes act on what is stored, not on a copy a caller read or a form
modified: only changed fields are written, a stale version is refused (412 in the API, an
explanation on the page), and the page, the API and the admin give the same answer to the same
write by the same role."""

import re

import pytest
from django.contrib import messages
from django.contrib.messages import get_messages
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from goals.models import GoalStatus
from strategies import services
from strategies.api import BusinessStrategyViewSet, CRMStrategyViewSet
from strategies.models import BusinessStrategy, CRMStrategy, StrategyStatus
from tests.factories import BusinessStrategyFactory, CRMStrategyFactory, GoalFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def bea(executive):
    """A second executive, whose changes land between another person's read and write."""
    other = type(executive).objects.create_user("exec-b", first_name="Bea", last_name="Other")
    other.groups.add(*executive.groups.all())
    return other


def _read_then(monkeypatch, viewset, write):
    """Make the API read the object, then let another request commit `write()`."""
    read = viewset.get_object

    def read_then_someone_else_writes(self):
        obj = read(self)
        write()
        return obj

    monkeypatch.setattr(viewset, "get_object", read_then_someone_else_writes)


def _admin_errors(response) -> list[str]:
    return [str(m) for m in get_messages(response.wsgi_request) if m.level == messages.ERROR]


def _hidden_version(page: str) -> str:
    return re.search(r'name="version" value="(\d+)"', page).group(1)


# --- Business strategies: the API


def test_a_business_strategy_answers_with_its_version_as_etag(api, viewer):
    strategy = BusinessStrategyFactory()

    response = api(viewer).get(reverse("api:business-strategy-detail", args=[strategy.pk]))

    assert response["ETag"] == '"1"'
    assert response.json()["version"] == 1


def test_a_business_strategy_patch_keeps_a_concurrent_change_to_another_field(
    api, executive, monkeypatch
):
    strategy = BusinessStrategyFactory(title="Emerging markets", scope="Old scope")
    _read_then(
        monkeypatch,
        BusinessStrategyViewSet,
        lambda: BusinessStrategy.objects.filter(pk=strategy.pk).update(scope="Asia"),
    )

    response = api(executive).patch(
        reverse("api:business-strategy-detail", args=[strategy.pk]),
        {"title": "Emerging markets via partners"},
        format="json",
    )

    assert response.status_code == 200
    strategy.refresh_from_db()
    assert (strategy.title, strategy.scope) == ("Emerging markets via partners", "Asia")


def test_a_business_strategy_patch_with_a_stale_if_match_is_a_412_naming_who(api, executive, bea):
    strategy = BusinessStrategyFactory(scope="Old scope")
    services.business_strategy_update(
        actor=bea, business_strategy_id=strategy.pk, changes={"title": "Renamed by Bea"}
    )

    response = api(executive).patch(
        reverse("api:business-strategy-detail", args=[strategy.pk]),
        {"scope": "Mine"},
        format="json",
        HTTP_IF_MATCH='"1"',
    )

    assert response.status_code == 412
    assert "changed by Bea Other at" in response.json()["detail"]
    strategy.refresh_from_db()
    assert (strategy.scope, strategy.version) == ("Old scope", 2)


def test_a_business_strategy_patch_with_the_current_etag_answers_the_next_one(api, executive):
    strategy = BusinessStrategyFactory()
    client = api(executive)
    url = reverse("api:business-strategy-detail", args=[strategy.pk])
    tag = client.get(url)["ETag"]

    response = client.patch(url, {"scope": "Top 100 accounts"}, format="json", HTTP_IF_MATCH=tag)

    assert response.status_code == 200
    assert response["ETag"] == '"2"'
    strategy.refresh_from_db()
    assert (strategy.scope, strategy.version, strategy.updated_by) == (
        "Top 100 accounts",
        2,
        executive,
    )


def test_a_business_strategy_delete_with_a_stale_if_match_is_a_412(api, executive):
    strategy = BusinessStrategyFactory()
    BusinessStrategy.objects.filter(pk=strategy.pk).update(version=3)
    url = reverse("api:business-strategy-detail", args=[strategy.pk])

    stale = api(executive).delete(url, HTTP_IF_MATCH='"2"')
    malformed = api(executive).delete(url, HTTP_IF_MATCH="last week")

    assert stale.status_code == 412 and "detail" in stale.json()
    assert malformed.status_code == 400 and "If-Match" in malformed.json()["detail"]
    assert BusinessStrategy.objects.filter(pk=strategy.pk).exists()
    assert api(executive).delete(url, HTTP_IF_MATCH='"3"').status_code == 204


# --- Business strategies: the page


def _business_form(strategy, **changes):
    data = {
        "goal": strategy.goal_id,
        "title": strategy.title,
        "description": strategy.description,
        "scope": strategy.scope,
        "owner": strategy.owner_id,
        "status": strategy.status,
        "version": strategy.version,
    }
    return data | changes


def test_a_stale_business_strategy_page_explains_who_changed_it_and_keeps_the_input(
    client, executive, bea
):
    strategy = BusinessStrategyFactory(owner=executive, scope="Opened")
    opened = _business_form(strategy)  # the edit form, opened at version 1
    services.business_strategy_update(
        actor=bea, business_strategy_id=strategy.pk, changes={"scope": "Saved by Bea"}
    )
    client.force_login(executive)
    url = reverse("strategies:business_edit", args=[strategy.pk])

    response = client.post(url, opened | {"scope": "Typed by me"})

    page = response.content.decode()
    assert response.status_code == 200
    assert "changed by Bea Other at" in page
    assert 'value="Typed by me"' in page  # the person's input stays in the input …
    assert "Saved by Bea" in page  # … and the value saved meanwhile is shown
    strategy.refresh_from_db()
    assert strategy.scope == "Saved by Bea"
    # The page now carries the new version: saving again knowingly replaces the value.
    again = client.post(url, opened | {"scope": "Typed by me", "version": _hidden_version(page)})
    assert again.status_code == 302
    strategy.refresh_from_db()
    assert (strategy.scope, strategy.version) == ("Typed by me", 3)


# --- Business strategies: the same answer everywhere


def test_moving_a_business_strategy_under_a_retired_goal_is_refused_by_page_api_and_admin(
    api, client, executive, admin_user
):
    """The admin used to save it: its form had already written the new goal into the instance
    it handed the service, which then saw no change of goal to check."""
    strategy = BusinessStrategyFactory(owner=executive, title="Emerging markets")
    live_goal = strategy.goal
    retired = GoalFactory(title="Old plan", status=GoalStatus.RETIRED)

    client.force_login(executive)
    page = client.post(
        reverse("strategies:business_edit", args=[strategy.pk]),
        _business_form(strategy, goal=retired.pk),
    )
    response = api(executive).patch(
        reverse("api:business-strategy-detail", args=[strategy.pk]),
        {"goal": retired.pk},
        format="json",
    )
    client.force_login(admin_user)
    admin = client.post(
        reverse("admin:strategies_businessstrategy_change", args=[strategy.pk]),
        _business_form(strategy, goal=retired.pk),
    )

    assert page.status_code == 200 and "goal" in page.context["form"].errors
    assert response.status_code == 400 and "goal" in response.json()
    assert admin.status_code == 302
    assert any(m.startswith("Goal: ") and "retired" in m for m in _admin_errors(admin))
    strategy.refresh_from_db()
    assert (strategy.goal, strategy.version) == (live_goal, 1)


def test_moving_a_business_strategy_under_a_live_goal_works_on_page_api_and_admin(
    api, client, executive, admin_user
):
    strategy = BusinessStrategyFactory(owner=executive)
    first, second, third = GoalFactory.create_batch(3)

    client.force_login(executive)
    page = client.post(
        reverse("strategies:business_edit", args=[strategy.pk]),
        _business_form(strategy, goal=first.pk),
    )
    strategy.refresh_from_db()
    assert page.status_code == 302 and strategy.goal == first

    response = api(executive).patch(
        reverse("api:business-strategy-detail", args=[strategy.pk]),
        {"goal": second.pk},
        format="json",
    )
    strategy.refresh_from_db()
    assert response.status_code == 200 and strategy.goal == second

    client.force_login(admin_user)
    admin = client.post(
        reverse("admin:strategies_businessstrategy_change", args=[strategy.pk]),
        _business_form(strategy, goal=third.pk),
    )
    strategy.refresh_from_db()
    assert admin.status_code == 302 and not _admin_errors(admin)
    assert (strategy.goal, strategy.version, strategy.updated_by) == (third, 4, admin_user)


def test_a_business_strategy_added_in_the_admin_goes_under_its_goal(client, admin_user):
    goal = GoalFactory()
    client.force_login(admin_user)

    response = client.post(
        reverse("admin:strategies_businessstrategy_add"),
        {
            "goal": goal.pk,
            "title": "Mature markets",
            "description": "",
            "scope": "Top 100",
            "owner": admin_user.pk,
            "status": "active",
        },
    )

    assert response.status_code == 302
    strategy = BusinessStrategy.objects.get()
    assert (strategy.goal, strategy.version, strategy.updated_by) == (goal, 1, admin_user)


# --- CRM strategies: the API


def test_a_crm_strategy_patch_keeps_a_concurrent_change_to_another_field(
    api, executive, monkeypatch
):
    crm = CRMStrategyFactory(title="Enable partners", customer_need="Old need")
    second = BusinessStrategyFactory()
    _read_then(
        monkeypatch,
        CRMStrategyViewSet,
        lambda: CRMStrategy.objects.filter(pk=crm.pk).update(customer_need="Local knowledge"),
    )

    response = api(executive).patch(
        reverse("api:crm-strategy-detail", args=[crm.pk]),
        {"title": "Enable local partners", "business_strategies": [second.pk]},
        format="json",
    )

    assert response.status_code == 200
    crm.refresh_from_db()
    assert (crm.title, crm.customer_need) == ("Enable local partners", "Local knowledge")
    assert list(crm.business_strategies.all()) == [second]


def test_a_change_of_what_a_crm_strategy_serves_alone_moves_its_etag(api, executive, bea):
    crm = CRMStrategyFactory()
    second = BusinessStrategyFactory()
    client = api(executive)
    url = reverse("api:crm-strategy-detail", args=[crm.pk])
    tag = client.get(url)["ETag"]
    services.crm_strategy_update(
        actor=bea, crm_strategy_id=crm.pk, changes={"business_strategies": [second.pk]}
    )

    stale = client.patch(url, {"title": "Mine"}, format="json", HTTP_IF_MATCH=tag)

    assert stale.status_code == 412
    assert "changed by Bea Other at" in stale.json()["detail"]
    crm.refresh_from_db()
    assert crm.title != "Mine" and crm.version == 2
    fresh = client.patch(url, {"title": "Mine"}, format="json", HTTP_IF_MATCH='"2"')
    assert fresh.status_code == 200 and fresh["ETag"] == '"3"'


def test_a_crm_strategy_delete_with_a_stale_if_match_is_a_412(api, executive):
    crm = CRMStrategyFactory(serves=[])
    CRMStrategy.objects.filter(pk=crm.pk).update(version=2)
    url = reverse("api:crm-strategy-detail", args=[crm.pk])

    assert api(executive).delete(url, HTTP_IF_MATCH='"1"').status_code == 412
    assert api(executive).delete(url, HTTP_IF_MATCH="v2").status_code == 400
    assert CRMStrategy.objects.filter(pk=crm.pk).exists()
    assert api(executive).delete(url, HTTP_IF_MATCH='"2"').status_code == 204


def test_serving_the_same_business_strategies_again_writes_nothing(executive):
    crm = CRMStrategyFactory()
    served = list(crm.business_strategies.values_list("pk", flat=True))

    services.crm_strategy_update(
        actor=executive,
        crm_strategy_id=crm.pk,
        changes={"title": crm.title, "business_strategies": served},
    )

    crm.refresh_from_db()
    assert (crm.version, crm.updated_by) == (1, None)


# --- CRM strategies: the page


def _crm_form(crm, **changes):
    data = {
        "title": crm.title,
        "description": crm.description,
        "customer_need": crm.customer_need,
        "business_strategies": list(crm.business_strategies.values_list("pk", flat=True)),
        "capability_people": crm.capability_people,
        "capability_process": crm.capability_process,
        "capability_technology": crm.capability_technology,
        "owner": crm.owner_id,
        "status": crm.status,
        "version": crm.version,
    }
    return data | changes


def test_a_stale_crm_strategy_page_shows_what_it_serves_since_and_keeps_the_ticks(
    client, executive, bea
):
    mine = BusinessStrategyFactory(title="Emerging markets")
    theirs = BusinessStrategyFactory(title="Mature markets")
    crm = CRMStrategyFactory(owner=executive, serves=[mine], title="Enable partners")
    opened = _crm_form(crm)
    services.crm_strategy_update(
        actor=bea, crm_strategy_id=crm.pk, changes={"business_strategies": [theirs.pk]}
    )
    client.force_login(executive)
    url = reverse("strategies:crm_edit", args=[crm.pk])

    response = client.post(url, opened | {"title": "Enable local partners"})

    page = response.content.decode()
    assert response.status_code == 200
    assert "changed by Bea Other at" in page
    assert "Saved meanwhile by Bea Other: “Mature markets”" in page
    assert 'value="Enable local partners"' in page
    assert re.search(rf'value="{mine.pk}"[^>]*checked', page)  # the person's tick is kept
    crm.refresh_from_db()
    assert crm.title == "Enable partners"
    assert list(crm.business_strategies.all()) == [theirs]
    again = client.post(
        url, opened | {"title": "Enable local partners", "version": _hidden_version(page)}
    )
    assert again.status_code == 302
    crm.refresh_from_db()
    assert crm.title == "Enable local partners"
    assert list(crm.business_strategies.all()) == [mine]


# --- CRM strategies: the same answer everywhere


def _crm_admin_form(crm, business_strategies):
    served = list(crm.serves.all())
    data = {
        "title": crm.title,
        "description": crm.description,
        "customer_need": crm.customer_need,
        "owner": crm.owner_id,
        "status": crm.status,
        "capability_people": "",
        "capability_process": "",
        "capability_technology": "",
        "serves-TOTAL_FORMS": len(business_strategies),
        "serves-INITIAL_FORMS": len(served),
        "serves-MIN_NUM_FORMS": 0,
        "serves-MAX_NUM_FORMS": 1000,
    }
    for index, business in enumerate(business_strategies):
        data[f"serves-{index}-crm_strategy"] = crm.pk
        data[f"serves-{index}-business_strategy"] = business.pk
        if index < len(served):
            data[f"serves-{index}-id"] = served[index].pk
    return data


def test_newly_serving_a_retired_business_strategy_is_refused_by_page_api_and_admin(
    api, client, executive, admin_user
):
    live = BusinessStrategyFactory(title="Emerging markets")
    retired = BusinessStrategyFactory(title="Telesales", status=StrategyStatus.RETIRED)
    crm = CRMStrategyFactory(owner=executive, serves=[live])

    client.force_login(executive)
    page = client.post(
        reverse("strategies:crm_edit", args=[crm.pk]),
        _crm_form(crm, business_strategies=[live.pk, retired.pk]),
    )
    response = api(executive).patch(
        reverse("api:crm-strategy-detail", args=[crm.pk]),
        {"business_strategies": [live.pk, retired.pk]},
        format="json",
    )
    client.force_login(admin_user)
    admin = client.post(
        reverse("admin:strategies_crmstrategy_change", args=[crm.pk]),
        _crm_admin_form(crm, [live, retired]),
    )

    assert page.status_code == 200 and "business_strategies" in page.context["form"].errors
    assert response.status_code == 400
    assert "Telesales" in str(response.json()["business_strategies"])
    assert admin.status_code == 302
    assert any(
        "Retired business strategies cannot be served: Telesales" in m for m in _admin_errors(admin)
    )
    crm.refresh_from_db()
    assert (list(crm.business_strategies.all()), crm.version) == ([live], 1)


def test_what_a_crm_strategy_serves_changed_in_the_admin_bumps_its_version(client, admin_user):
    first, second = BusinessStrategyFactory.create_batch(2)
    crm = CRMStrategyFactory(serves=[first])
    client.force_login(admin_user)

    response = client.post(
        reverse("admin:strategies_crmstrategy_change", args=[crm.pk]),
        _crm_admin_form(crm, [first, second]),
    )

    assert response.status_code == 302
    crm.refresh_from_db()
    assert set(crm.business_strategies.all()) == {first, second}
    assert (crm.version, crm.updated_by) == (2, admin_user)


# --- Locks (PostgreSQL: SQLite has no row locks)


@pytest.mark.postgres
def test_strategy_services_lock_the_rows_they_check(executive):
    goal = GoalFactory()
    strategy = BusinessStrategyFactory()
    crm = CRMStrategyFactory(serves=[])

    with CaptureQueriesContext(connection) as captured:
        services.business_strategy_update(
            actor=executive, business_strategy_id=strategy.pk, changes={"goal": goal}
        )
        services.crm_strategy_update(
            actor=executive, crm_strategy_id=crm.pk, changes={"business_strategies": [strategy.pk]}
        )

    locked = [q["sql"] for q in captured if "FOR UPDATE" in q["sql"]]
    # The strategy, the goal it moves under, the CRM strategy and the business strategy it
    # newly serves: none can be retired between the check and the commit.
    assert len(locked) == 4, locked

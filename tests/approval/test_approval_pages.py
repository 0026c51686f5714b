"""The approval workflow on the project page: the decision form for those who decide, the
send-back at the top of the page until the manager resubmits, the thread for everyone."""

import pytest
from django.urls import reverse

from alignment.services import project_send_back
from projects.models import ProjectDecision, ProjectStatus

pytestmark = pytest.mark.django_db


def page(as_user, user, project):
    return as_user(user).get(reverse("projects:detail", args=[project.pk])).content.decode()


def test_the_decision_form_shows_only_to_those_who_decide(as_user, ready, sponsor, pm, viewer):
    for decider in (sponsor,):
        html = page(as_user, decider, ready)
        assert reverse("alignment:project_reject", args=[ready.pk]) in html
        assert reverse("alignment:project_send_back", args=[ready.pk]) in html
    for other in (pm, viewer):
        html = page(as_user, other, ready)
        assert reverse("alignment:project_reject", args=[ready.pk]) not in html
        assert reverse("alignment:project_send_back", args=[ready.pk]) not in html


def test_sending_back_from_the_page_shows_the_manager_what_to_fix(as_user, ready, sponsor, pm):
    response = as_user(sponsor).post(
        reverse("alignment:project_send_back", args=[ready.pk]),
        {"comment": "Name the user groups.", "version": ready.version},
    )
    assert response.status_code == 302
    assert response["Location"] == f"/projects/{ready.pk}/#approval"

    html = page(as_user, pm, ready)
    assert "data-sent-back" in html
    assert "Name the user groups." in html
    assert reverse("projects:resubmit", args=[ready.pk]) in html
    # The sponsor sees the send-back too, but may not send it back again.
    sponsor_html = page(as_user, sponsor, ready)
    assert "data-sent-back" in sponsor_html
    assert reverse("alignment:project_send_back", args=[ready.pk]) not in sponsor_html


def test_a_send_back_without_a_comment_is_refused_naming_it(as_user, ready, sponsor):
    response = as_user(sponsor).post(
        reverse("alignment:project_send_back", args=[ready.pk]),
        {"comment": "  ", "version": ready.version},
        follow=True,
    )

    assert "Comment: A comment is required" in response.content.decode()
    assert not ProjectDecision.objects.exists()


def test_rejecting_from_the_page_cancels_and_shows_why(as_user, ready, sponsor, viewer):
    as_user(sponsor).post(
        reverse("alignment:project_reject", args=[ready.pk]),
        {"comment": "Overlaps the partner portal.", "version": ready.version},
    )

    ready.refresh_from_db()
    assert ready.status == ProjectStatus.CANCELLED
    html = page(as_user, viewer, ready)
    assert 'data-decision="rejected"' in html
    assert "Overlaps the partner portal." in html


def test_a_decision_from_a_stale_page_is_refused(as_user, ready, sponsor, pm):
    seen = ready.version
    as_user(pm).post(
        reverse("projects:comment", args=[ready.pk]), {"comment": "Changed the scope."}
    )
    project_send_back(project_id=ready.pk, actor=sponsor, comment="Fix the scope.")

    response = as_user(sponsor).post(
        reverse("alignment:project_approve", args=[ready.pk]),
        {"comment": "", "version": seen},
        follow=True,
    )

    assert "Nothing was approved" in response.content.decode()
    ready.refresh_from_db()
    assert ready.status == ProjectStatus.PROPOSED


def test_the_manager_resubmits_and_the_send_back_goes(as_user, ready, sponsor, pm):
    project_send_back(project_id=ready.pk, actor=sponsor, comment="Fix the scope.")
    ready.refresh_from_db()

    response = as_user(pm).post(
        reverse("projects:resubmit", args=[ready.pk]),
        {"comment": "Scope narrowed.", "version": ready.version},
        follow=True,
    )

    html = response.content.decode()
    assert "resubmitted" in html
    assert "data-sent-back" not in html
    assert 'data-decision="resubmitted"' in html and "Scope narrowed." in html


def test_the_project_page_costs_the_same_with_a_long_thread(as_user, queries_for, ready, sponsor):
    from projects.models import DecisionKind
    from tests.factories import UserFactory

    url = reverse("projects:detail", args=[ready.pk])
    as_user(sponsor)
    ProjectDecision.objects.create(
        project=ready, kind=DecisionKind.COMMENT, comment="one", author=sponsor
    )
    few = queries_for(url)
    for index in range(15):
        ProjectDecision.objects.create(
            project=ready,
            kind=DecisionKind.COMMENT,
            comment=f"more {index}",
            author=UserFactory(roles=["executive"]),
        )
    assert queries_for(url) == few

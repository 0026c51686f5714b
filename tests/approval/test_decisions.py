"""The approval workflow's services: approve, reject and send back with a comment (the
sponsor's), resubmit and comment (the manager's), the thread they leave, the events they emit,
and what they refuse."""

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction

from alignment.services import project_approve, project_reject, project_send_back
from core import events
from core.services import EditConflict
from projects import decisions
from projects.models import CRMProject, DecisionKind, ProjectDecision, ProjectStatus
from projects.services import project_create, project_update
from tests.factories import ProjectFactory, UserFactory

pytestmark = pytest.mark.django_db


def kinds(project):
    return list(
        ProjectDecision.objects.filter(project=project)
        .order_by("id")
        .values_list("kind", "comment")
    )


def of_type(emitted, event_type):
    return [event for event, _ in emitted if event.type == event_type]


# --- approve -------------------------------------------------------------------------------


def test_approving_with_a_comment_records_it_and_tells_the_manager(ready, sponsor, pm, emitted):
    project_approve(project_id=ready.pk, actor=sponsor, comment="  Go ahead.  ")

    ready.refresh_from_db()
    assert ready.status == ProjectStatus.APPROVED
    entry = ProjectDecision.objects.get(project=ready)
    assert (entry.kind, entry.comment, entry.author) == (
        DecisionKind.APPROVED,
        "Go ahead.",
        sponsor,
    )
    [event] = of_type(emitted, events.PROJECT_APPROVED)
    assert event.recipients == (pm.pk,)
    assert event.key == f"project.approved:{ready.pk}:{entry.pk}"
    assert event.data["comment"] == "Go ahead."
    assert (event.subject_kind, event.subject_id, event.actor_id) == (
        "project",
        ready.pk,
        sponsor.pk,
    )


def test_approving_needs_no_comment(ready, sponsor):
    project_approve(project_id=ready.pk, actor=sponsor)

    assert kinds(ready) == [(DecisionKind.APPROVED, "")]


def test_a_refused_approval_names_the_blocking_rule_and_leaves_nothing(sponsor, pm, emitted):
    project = ProjectFactory(manager=pm, sponsor=sponsor)  # no metric, no roadmap

    with pytest.raises(ValidationError) as refused:
        project_approve(project_id=project.pk, actor=sponsor, comment="Fine by me.")

    assert "Cannot approve until" in refused.value.message_dict["status"][0]
    assert "success metric" in refused.value.message_dict["status"][0]
    assert kinds(project) == [] and emitted == []
    project.refresh_from_db()
    assert project.status == ProjectStatus.PROPOSED


# --- reject ----------------------------------------------------------------------------------


def test_rejecting_cancels_the_project_and_keeps_the_reason(ready, sponsor, pm, emitted):
    project_reject(project_id=ready.pk, actor=sponsor, comment="No budget this year.")

    ready.refresh_from_db()
    assert ready.status == ProjectStatus.CANCELLED
    assert ready.approved_at is None
    assert kinds(ready) == [(DecisionKind.REJECTED, "No budget this year.")]
    [event] = of_type(emitted, events.PROJECT_REJECTED)
    assert event.recipients == (pm.pk,)
    assert event.data["comment"] == "No budget this year."


def test_a_project_that_is_not_ready_can_still_be_rejected(sponsor, pm):
    project = ProjectFactory(manager=pm, sponsor=sponsor)

    project_reject(project_id=project.pk, actor=sponsor, comment="Wrong idea.")

    project.refresh_from_db()
    assert project.status == ProjectStatus.CANCELLED


@pytest.mark.parametrize("comment", ["", "   \n ", None])
@pytest.mark.parametrize("decide", [project_reject, project_send_back])
def test_reject_and_send_back_need_a_comment(ready, sponsor, emitted, decide, comment):
    with pytest.raises(ValidationError) as refused:
        decide(project_id=ready.pk, actor=sponsor, comment=comment)

    assert list(refused.value.message_dict) == ["comment"]
    assert kinds(ready) == [] and emitted == []
    ready.refresh_from_db()
    assert ready.status == ProjectStatus.PROPOSED


def test_a_comment_longer_than_the_limit_is_refused_naming_it(ready, sponsor):
    with pytest.raises(ValidationError) as refused:
        project_reject(project_id=ready.pk, actor=sponsor, comment="x" * 4001)

    assert "At most 4000 characters" in refused.value.message_dict["comment"][0]
    assert kinds(ready) == []


@pytest.mark.parametrize("status", [ProjectStatus.APPROVED, ProjectStatus.ACTIVE, "cancelled"])
@pytest.mark.parametrize("decide", [project_reject, project_send_back])
def test_only_waiting_projects_are_decided(sponsor, pm, decide, status):
    project = ProjectFactory(manager=pm, sponsor=sponsor, status=status)

    with pytest.raises(ValidationError) as refused:
        decide(project_id=project.pk, actor=sponsor, comment="Why not.")

    assert "Only proposed or on-hold projects" in refused.value.message_dict["status"][0]
    assert kinds(project) == []


@pytest.mark.parametrize("decide", [project_approve, project_reject, project_send_back])
def test_only_its_sponsor_or_an_executive_decides(ready, pm, decide):
    other_sponsor = UserFactory(roles=["sponsor"])

    for outsider in (pm, other_sponsor):
        with pytest.raises(PermissionDenied):
            decide(project_id=ready.pk, actor=outsider, comment="Mine now.")
    assert kinds(ready) == []


def test_an_executive_decides_any_project(ready, executive, pm, emitted):
    project_send_back(project_id=ready.pk, actor=executive, comment="Name the users.")

    assert kinds(ready) == [(DecisionKind.SENT_BACK, "Name the users.")]
    assert of_type(emitted, events.PROJECT_SENT_BACK)[0].recipients == (pm.pk,)


# --- send back and resubmit ----------------------------------------------------------------


def test_send_back_keeps_the_status_and_waits_for_the_manager(ready, sponsor, pm, emitted):
    version = ready.version

    project_send_back(project_id=ready.pk, actor=sponsor, comment="Which users does it reach?")

    ready.refresh_from_db()
    assert ready.status == ProjectStatus.PROPOSED
    assert ready.version == version + 1
    open_one = decisions.open_send_back(ready)
    assert open_one is not None and open_one.comment == "Which users does it reach?"
    [event] = of_type(emitted, events.PROJECT_SENT_BACK)
    assert event.recipients == (pm.pk,)
    assert event.key == f"project.sent_back:{ready.pk}:{open_one.pk}"
    assert event.data["comment"] == "Which users does it reach?"


def test_a_project_sent_back_is_not_sent_back_again_until_resubmitted(ready, sponsor):
    project_send_back(project_id=ready.pk, actor=sponsor, comment="Fix the roadmap.")

    with pytest.raises(ValidationError) as refused:
        project_send_back(project_id=ready.pk, actor=sponsor, comment="And the metric.")

    assert "waits for its manager" in refused.value.message_dict["status"][0]
    assert len(kinds(ready)) == 1


def test_the_manager_resubmits_and_the_approvers_hear_of_it(ready, sponsor, pm, executive, emitted):
    other_executive = UserFactory(roles=["executive"])
    UserFactory(roles=["executive"], is_active=False)  # gone: not told
    project_send_back(project_id=ready.pk, actor=sponsor, comment="Fix the roadmap.")

    entry = decisions.project_resubmit(actor=pm, project_id=ready.pk, comment="Roadmap fixed.")

    ready.refresh_from_db()
    assert decisions.open_send_back(ready) is None
    assert kinds(ready)[-1] == (DecisionKind.RESUBMITTED, "Roadmap fixed.")
    [event] = of_type(emitted, events.APPROVAL_REQUESTED)
    assert event.recipients == (sponsor.pk, executive.pk, other_executive.pk)
    assert event.key == f"approval.requested:{ready.pk}:{entry.pk}"
    # Sent back again after the resubmission: allowed, it is a new round.
    project_send_back(project_id=ready.pk, actor=sponsor, comment="Now the metric.")
    assert decisions.open_send_back(ready).comment == "Now the metric."


def test_resubmitting_what_was_not_sent_back_is_refused(ready, pm, emitted):
    with pytest.raises(ValidationError) as refused:
        decisions.project_resubmit(actor=pm, project_id=ready.pk)

    assert "status" in refused.value.message_dict
    assert kinds(ready) == [] and emitted == []


def test_only_the_manager_resubmits(ready, sponsor, other_pm):
    project_send_back(project_id=ready.pk, actor=sponsor, comment="Fix it.")

    for outsider in (sponsor, other_pm):
        with pytest.raises(PermissionDenied):
            decisions.project_resubmit(actor=outsider, project_id=ready.pk)
    assert len(kinds(ready)) == 1


def test_a_rejection_ends_an_open_send_back(ready, sponsor, pm):
    project_send_back(project_id=ready.pk, actor=sponsor, comment="Fix it.")
    project_reject(project_id=ready.pk, actor=sponsor, comment="Too late now.")

    ready.refresh_from_db()
    assert decisions.open_send_back(ready) is None
    with pytest.raises(ValidationError):
        decisions.project_resubmit(actor=pm, project_id=ready.pk)


# --- stale decisions -----------------------------------------------------------------------


@pytest.mark.parametrize("decide", [project_approve, project_reject, project_send_back])
def test_a_decision_on_a_stale_version_is_refused(ready, sponsor, decide, emitted):
    seen = ready.version
    project_update(actor=ready.manager, project_id=ready.pk, changes={"description": "New."})

    with pytest.raises(EditConflict):
        decide(project_id=ready.pk, actor=sponsor, version=seen, comment="On what I saw.")

    ready.refresh_from_db()
    assert ready.status == ProjectStatus.PROPOSED
    assert kinds(ready) == [] and emitted == []


def test_a_decision_taken_on_the_page_before_a_send_back_is_refused(ready, sponsor, executive):
    seen = ready.version  # both had the page open
    project_send_back(project_id=ready.pk, actor=sponsor, version=seen, comment="Fix it.")

    with pytest.raises(EditConflict):
        project_approve(project_id=ready.pk, actor=executive, version=seen)

    ready.refresh_from_db()
    assert ready.status == ProjectStatus.PROPOSED


def test_a_resubmission_on_a_stale_version_is_refused(ready, sponsor, pm):
    project_send_back(project_id=ready.pk, actor=sponsor, comment="Fix it.")
    ready.refresh_from_db()
    seen = ready.version
    project_update(actor=pm, project_id=ready.pk, changes={"description": "Fixed."})

    with pytest.raises(EditConflict):
        decisions.project_resubmit(actor=pm, project_id=ready.pk, version=seen)
    assert decisions.open_send_back(ready) is not None


# --- comments ------------------------------------------------------------------------------


def test_manager_sponsor_and_executive_comment_others_may_not(
    ready, pm, sponsor, executive, viewer
):
    for person in (pm, sponsor, executive):
        decisions.project_comment(actor=person, project_id=ready.pk, comment=f"From {person}.")
    with pytest.raises(PermissionDenied):
        decisions.project_comment(actor=viewer, project_id=ready.pk, comment="Me too.")
    with pytest.raises(ValidationError) as refused:
        decisions.project_comment(actor=pm, project_id=ready.pk, comment="  ")

    assert list(refused.value.message_dict) == ["comment"]
    assert [kind for kind, _ in kinds(ready)] == [DecisionKind.COMMENT] * 3


def test_a_comment_does_not_answer_a_send_back(ready, sponsor, pm):
    project_send_back(project_id=ready.pk, actor=sponsor, comment="Fix it.")
    decisions.project_comment(actor=pm, project_id=ready.pk, comment="Working on it.")

    assert decisions.open_send_back(ready) is not None


def test_the_database_refuses_a_rejection_without_a_reason(ready, sponsor):
    from django.db import IntegrityError

    with pytest.raises(IntegrityError), transaction.atomic():
        ProjectDecision.objects.create(project=ready, kind=DecisionKind.REJECTED, author=sponsor)


# --- waiting for approval ------------------------------------------------------------------


def test_a_proposal_created_with_a_sponsor_asks_its_approvers(pm, sponsor, executive, emitted):
    project = project_create(actor=pm, title="Loyalty relaunch", sponsor=sponsor)

    [event] = of_type(emitted, events.APPROVAL_REQUESTED)
    assert event.recipients == (sponsor.pk, executive.pk)
    assert event.key == f"approval.requested:{project.pk}:created"
    assert event.path == f"/projects/{project.pk}/"


def test_a_proposal_without_a_sponsor_asks_nobody(pm, executive, emitted):
    project_create(actor=pm, title="Loyalty relaunch")

    assert of_type(emitted, events.APPROVAL_REQUESTED) == []


def test_a_new_sponsor_on_a_proposal_is_asked(pm, executive, emitted):
    project = project_create(actor=pm, title="Loyalty relaunch")
    sponsor = UserFactory(roles=["sponsor"])

    project_update(actor=pm, project_id=project.pk, changes={"sponsor": sponsor})
    project_update(actor=pm, project_id=project.pk, changes={"description": "More."})

    [event] = of_type(emitted, events.APPROVAL_REQUESTED)
    assert event.recipients == (sponsor.pk, executive.pk)


# --- events and the transaction ------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_events_are_emitted_inside_the_deciding_transaction(pm, sponsor, emitted):
    from tests.factories import RoadmapPhaseFactory, SuccessMetricFactory

    project = ProjectFactory(manager=pm, sponsor=sponsor)
    SuccessMetricFactory(project=project)
    RoadmapPhaseFactory(project=project)
    rows_at_emit = []

    def count_rows(sender, events, **kwargs):
        rows_at_emit.append(ProjectDecision.objects.filter(project=project).count())

    events.emitted.connect(count_rows, weak=False)
    try:
        project_send_back(project_id=project.pk, actor=sponsor, comment="Fix it.")
    finally:
        events.emitted.disconnect(count_rows)

    # The scans the project's changes queue announce their flags too; the decision's own event:
    [(event, in_transaction)] = [(e, t) for e, t in emitted if e.type != events.FLAG_OPENED]
    assert event.type == events.PROJECT_SENT_BACK
    assert in_transaction  # before the commit, with the decision it announces
    assert rows_at_emit == [1]


@pytest.mark.django_db(transaction=True)
def test_a_decision_rolled_back_after_its_event_leaves_nothing(pm, sponsor, emitted):
    project = ProjectFactory(manager=pm, sponsor=sponsor)

    with pytest.raises(RuntimeError), transaction.atomic():
        project_reject(project_id=project.pk, actor=sponsor, comment="No.")
        decided = [event.type for event, _ in emitted if event.type != events.FLAG_OPENED]
        assert decided == [events.PROJECT_REJECTED]
        raise RuntimeError("a later step fails")

    project.refresh_from_db()
    assert project.status == ProjectStatus.PROPOSED
    assert not ProjectDecision.objects.filter(project=project).exists()


@pytest.mark.django_db(transaction=True)
def test_a_receiver_that_fails_undoes_the_decision(pm, sponsor):
    project = ProjectFactory(manager=pm, sponsor=sponsor)

    def refuse(sender, events, **kwargs):
        raise RuntimeError("cannot record")

    events.emitted.connect(refuse, weak=False)
    try:
        with pytest.raises(RuntimeError):
            project_send_back(project_id=project.pk, actor=sponsor, comment="Fix it.")
    finally:
        events.emitted.disconnect(refuse)

    stored = CRMProject.objects.get(pk=project.pk)
    assert stored.version == project.version
    assert not ProjectDecision.objects.filter(project=project).exists()


def test_a_deleted_project_comes_back_with_its_thread(pm, sponsor, executive):
    from projects.services import project_delete, project_restore

    project = ProjectFactory(manager=pm, sponsor=sponsor)
    project_send_back(project_id=project.pk, actor=sponsor, comment="Fix it.")
    decisions.project_comment(actor=pm, project_id=project.pk, comment="Dropping it instead.")
    project_delete(actor=pm, project_id=project.pk)
    assert not ProjectDecision.objects.filter(project_id=project.pk).exists()

    project_restore(actor=executive, project_id=project.pk)

    assert kinds(project) == [
        (DecisionKind.SENT_BACK, "Fix it."),
        (DecisionKind.COMMENT, "Dropping it instead."),
    ]


def test_clearing_a_generated_portfolio_clears_the_threads_too(ready, sponsor):
    """On PostgreSQL one TRUNCATE clears the portfolio, and refuses while a table it leaves
    out refers to the projects."""
    from crm_alignment.portfolio import clear_portfolio

    project_send_back(project_id=ready.pk, actor=sponsor, comment="Fix it.")

    clear_portfolio()

    assert not CRMProject.objects.exists()
    assert not ProjectDecision.objects.exists()

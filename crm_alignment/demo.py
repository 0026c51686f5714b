"""The demo portfolio: the seed example of the design (from an article on why CRM projects
fail) plus a believable set of CRM projects.

Everything is written through the services, as a user would, so the demo exercises the same
rules as the product. Loading is idempotent: each object is found by its natural key (username,
title, name) and only created when missing, so a second run changes nothing. Dates are relative
to the day of the first load; a later load only tops up check-ins of the healthy active projects
so that they do not drift into `project.stalled`.

The portfolio is clean under every alignment rule except for the deliberate problems listed in
EXPECTED_FLAGS, which the engine's test compares against a real scan.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.db import transaction
from django.utils import timezone

from alignment import services as alignment_services
from core.roles import Role
from goals import services as goal_services
from goals.models import KPI, BusinessGoal, Direction, GoalStatus, Priority
from projects import services as project_services
from projects.models import (
    CRMProject,
    Department,
    Feature,
    FeaturePriority,
    FeatureStatus,
    Health,
    IntegrationStatus,
    PhaseKind,
    ProjectStatus,
    System,
    UserGroup,
)
from projects.services import LinkSpec
from strategies import services as strategy_services
from strategies.models import BusinessStrategy, CRMStrategy, StrategyStatus

DEMO_PASSWORD = "align-demo-2026"

# A check-in older than this on a healthy active project is topped up by a re-run, well inside
# the default 30-day `project.stalled` threshold.
FRESH_CHECK_IN_DAYS = 14

GOAL_REVENUE = "Grow revenue while maintaining profit margin"
GOAL_RETENTION = "Keep more of the customers we already have"
GOAL_COST_TO_SERVE = "Serve customers at a lower cost per contact"

BS_EMERGING = "Win share in emerging markets through local partners"
BS_MATURE = "Protect revenue and margin in the top 100 accounts"
BS_TELESALES = "Grow mid-market revenue through direct telesales"
BS_RETENTION = "Prevent churn with proactive service"
BS_SELF_SERVICE = "Move routine service requests to self-service"

CRM_PARTNERS = "Recruit, develop and enable local partners"
CRM_SOLUTION_SELLING = "End-to-end solution selling to the largest enterprise customers"
CRM_TELESALES = "Mid-market telesales lead factory"
CRM_RETENTION = "Service-led retention of at-risk customers"
CRM_SELF_SERVICE = "Customer self-service portal and knowledge base"

P_PARTNER_PORTAL = "Partner portal for emerging markets"
P_CERTIFICATION = "Partner certification programme"
P_MARKET_FUND = "Partner market development fund"
P_ACCOUNT_PLANS = "Top-100 account plans"
P_CUSTOMER_VIEW = "Unified customer view across sales, service and support"
P_PROACTIVE = "Proactive service for at-risk accounts"
P_SFA = "Sales force automation roll-out, phase 1"
P_MARKETING = "Marketing automation platform upgrade"
P_DIALLER = "Mid-market telesales dialler"
P_MOBILE = "Mobile sales app for account managers"
P_SOCIAL = "Social listening pilot"
P_MASTER_DATA = "Customer master data clean-up"
P_SERVICE_REVIEWS = "Key account service-level reviews"
UG_PARTNER_MANAGERS = "Partner managers"


@dataclass(frozen=True)
class DemoLogin:
    username: str
    role: str
    name: str


# One login per role; all share DEMO_PASSWORD.
DEMO_LOGINS = [
    DemoLogin("executive", "Executive", "Elena Marsh"),
    DemoLogin("pm", "Project manager", "Priya Nair"),
    DemoLogin("sponsor", "Sponsor", "Samuel Okafor"),
    DemoLogin("viewer", "Viewer", "Victor Lindqvist"),
    DemoLogin("admin", "Admin (superuser)", "Ada Admin"),
]

# (username, first name, last name, role or None for the superuser, can sign in)
_PEOPLE: list[tuple[str, str, str, str | None, bool]] = [
    ("executive", "Elena", "Marsh", Role.EXECUTIVE, True),
    ("pm", "Priya", "Nair", Role.PROJECT_MANAGER, True),
    ("sponsor", "Samuel", "Okafor", Role.SPONSOR, True),
    ("viewer", "Victor", "Lindqvist", Role.VIEWER, True),
    ("admin", "Ada", "Admin", None, True),
    # Colleagues who appear in the data; they have no password and cannot sign in.
    ("lucas.meyer", "Lucas", "Meyer", Role.PROJECT_MANAGER, False),
    ("aiko.tanaka", "Aiko", "Tanaka", Role.PROJECT_MANAGER, False),
    ("grace.hill", "Grace", "Hill", Role.SPONSOR, False),
    ("nadia.khan", "Nadia", "Khan", Role.VIEWER, False),
    ("james.whitfield", "James", "Whitfield", Role.VIEWER, False),
    ("carmen.ruiz", "Carmen", "Ruiz", Role.VIEWER, False),
    ("olivia.brandt", "Olivia", "Brandt", Role.VIEWER, False),
]

# (name, is_it)
_DEPARTMENTS = [
    ("Partner Channel", False),
    ("Key Account Management", False),
    ("Customer Service", False),
    ("Marketing", False),
    ("Sales Operations", False),
    ("IT", True),
]


def _k(value: str | int | float) -> Decimal:
    return Decimal(str(value))


@dataclass
class FeatureSpec:
    title: str
    links: list[str]  # CRM strategy titles
    priority: int = FeaturePriority.SHOULD
    status: str = FeatureStatus.PLANNED
    description: str = ""


@dataclass
class ProjectSpec:
    title: str
    description: str
    status: str
    manager: str
    sponsor: str | None
    department: str
    business_owner: str | None
    start: int  # days from today
    end: int
    budget: tuple[int, int, int, int, int]  # technology, people, process, training, incentives
    links: list[tuple[str, str, int | None]]  # (CRM strategy, rationale, weight)
    features: list[FeatureSpec]
    metrics: list[tuple[str, str, float, float, float | None]] = field(default_factory=list)
    phases: list[tuple[str, str, int, int]] = field(default_factory=list)  # name, kind, start, end
    check_ins: list[tuple[int, str, str]] = field(default_factory=list)  # days ago, health, text
    integration_notes: str = ""
    stalled: bool = False  # deliberately left without a recent check-in
    go_live: int | None = None  # a go-live milestone, days from today
    # The integration register: (system, integration status, owner's username or None).
    systems: list[tuple[str, str, str | None]] = field(default_factory=list)
    readings: list[tuple[str, int, float]] = field(default_factory=list)  # metric, days ago, value


# The deliberate problems, as (rule code, subject title); nothing else in the demo is flagged.
EXPECTED_FLAGS: set[tuple[str, str]] = {
    # An active project linked to nothing, so its features trace to nothing either.
    ("project.untraced", P_MARKETING),
    ("feature.untraced", "Email journey builder"),
    ("feature.untraced", "Lead scoring model"),
    ("feature.untraced", "Web form tracking"),
    # Unlinked features in otherwise traced projects.
    ("feature.untraced", "Partner leaderboard gamification"),
    ("feature.untraced", "Executive dashboard widgets"),
    # A feature serving a CRM strategy its project does not serve (it still traces).
    ("feature.off_scope", "Partner referral hand-off to account teams"),
    # The telesales CRM strategy serves only a retired business strategy: the project's only
    # link and every one of its features' links break there.
    ("crm_strategy.unanchored", CRM_TELESALES),
    ("project.broken_chain", P_DIALLER),
    ("feature.untraced", "Predictive dialler integration"),
    ("feature.untraced", "Call script library"),
    ("feature.untraced", "Telesales lead queue"),
    # Project health.
    ("project.technology_only", P_MOBILE),
    ("project.no_sponsor", P_SOCIAL),
    ("project.it_only", P_MASTER_DATA),
    ("project.stalled", P_SERVICE_REVIEWS),
    # Three go-lives land on the partner managers within 15 days (20, 25 and 35 days from
    # today): more than 2 within 30 days. The portal's "Pilot go/no-go" is a milestone but not
    # a go-live, and the service agents' and sales reps' go-lives are months apart.
    ("portfolio.change_collision", UG_PARTNER_MANAGERS),
    # The partner portal goes live in 25 days, and its billing integration is not started and
    # has no owner (the flag names Billing).
    ("project.integration_unplanned", P_PARTNER_PORTAL),
    # Sales force automation finished 200 days ago and nobody has read its forecast accuracy
    # since (its metric's current value is the planning estimate, not a reading).
    ("project.benefits_unreviewed", P_SFA),
    # The newest goal's strategy has no project executing it yet (a warning: its goal is
    # still green, see alignment.goal_health).
    ("business_strategy.unserved", BS_SELF_SERVICE),
}

# The people the changes land on, and the go-live each project adds: (groups, days from today).
_USER_GROUPS = [
    (UG_PARTNER_MANAGERS, "Channel managers who onboard and coach the local partners."),
    ("Service agents", "First- and second-line service agents, all regions."),
    ("Sales reps EMEA", "Field and inside sales in Europe, the Middle East and Africa."),
]
_GO_LIVES: dict[str, tuple[list[str], int]] = {
    P_PARTNER_PORTAL: ([UG_PARTNER_MANAGERS], 25),  # its spec's go-live
    P_CERTIFICATION: ([UG_PARTNER_MANAGERS], 20),
    P_MARKET_FUND: ([UG_PARTNER_MANAGERS, "Sales reps EMEA"], 35),
    P_PROACTIVE: (["Service agents"], 60),
    P_CUSTOMER_VIEW: (["Service agents", "Sales reps EMEA"], 150),
}

# The integration register's catalogue: (name, description, owner's username).
_SYSTEMS = [
    ("ERP", "Orders, invoices and stock: the company's system of record.", "james.whitfield"),
    ("Billing", "Invoicing and payment collection.", "james.whitfield"),
    ("Data warehouse", "Reporting across sales, service and finance.", "executive"),
    ("Marketing automation", "E-mail journeys and lead scoring.", "olivia.brandt"),
]


def _projects() -> list[ProjectSpec]:
    std_phases: list[tuple[str, str, int, int]] = [
        ("Discovery", PhaseKind.PHASE, -90, -45),
        ("Build and pilot", PhaseKind.PHASE, -44, 40),
        ("Pilot go/no-go", PhaseKind.MILESTONE, 40, 40),
        ("Roll-out", PhaseKind.PHASE, 41, 160),
    ]
    return [
        ProjectSpec(
            title=P_PARTNER_PORTAL,
            description=(
                "A self-service portal where local partners register deals, find sales "
                "material and log service cases in their own language."
            ),
            status=ProjectStatus.ACTIVE,
            manager="pm",
            sponsor="sponsor",
            department="Partner Channel",
            business_owner="nadia.khan",
            start=-120,
            end=180,
            budget=(180_000, 40_000, 25_000, 30_000, 20_000),
            links=[(CRM_PARTNERS, "Gives partners the tools to sell and serve for us.", 70)],
            metrics=[
                ("Active partners per country", "partners", 4, 12, 6),
                ("Partner-sourced revenue share", "%", 8, 20, 11),
            ],
            phases=[
                ("Discovery with pilot partners", PhaseKind.PHASE, -120, -80),
                ("Pilot in Vietnam and Kenya", PhaseKind.PHASE, -79, 10),
                ("Pilot go/no-go", PhaseKind.MILESTONE, 10, 10),
                ("Regional roll-out", PhaseKind.PHASE, 11, 180),
            ],
            check_ins=[
                (38, Health.ON_TRACK, "Pilot partners onboarded; first deals registered."),
                (3, Health.AT_RISK, "Kenya pilot is slower; extra partner training booked."),
            ],
            integration_notes="Single sign-on for partners; deals flow into the CRM pipeline.",
            go_live=25,
            systems=[
                ("ERP", IntegrationStatus.TESTED, "pm"),
                ("Billing", IntegrationStatus.NOT_STARTED, None),
            ],
            features=[
                FeatureSpec(
                    "Partner deal registration",
                    [CRM_PARTNERS],
                    FeaturePriority.MUST,
                    FeatureStatus.IN_PROGRESS,
                ),
                FeatureSpec("Co-branded sales material library", [CRM_PARTNERS]),
                FeatureSpec("Partner service case logging", [CRM_PARTNERS]),
                FeatureSpec(
                    "Local-language partner onboarding",
                    [CRM_PARTNERS],
                    FeaturePriority.MUST,
                    FeatureStatus.DONE,
                ),
                FeatureSpec(
                    "Partner leaderboard gamification",
                    [],
                    FeaturePriority.COULD,
                    FeatureStatus.PROPOSED,
                    "Someone saw it at a conference.",
                ),
            ],
        ),
        ProjectSpec(
            title=P_CERTIFICATION,
            description="Train and certify partner sales and service staff on our solutions.",
            status=ProjectStatus.ACTIVE,
            manager="lucas.meyer",
            sponsor="grace.hill",
            department="Partner Channel",
            business_owner="nadia.khan",
            start=-90,
            end=200,
            budget=(30_000, 60_000, 20_000, 90_000, 45_000),
            links=[(CRM_PARTNERS, "Builds the local sales and service capability.", 30)],
            metrics=[("Certified partner sales staff", "people", 20, 150, 48)],
            phases=[
                ("Curriculum design", PhaseKind.PHASE, -90, -30),
                ("First certification wave", PhaseKind.PHASE, -29, 60),
                ("100 staff certified", PhaseKind.MILESTONE, 120, 120),
            ],
            check_ins=[
                (25, Health.ON_TRACK, "Curriculum signed off by three pilot partners."),
                (6, Health.ON_TRACK, "48 staff certified; exam pass rate 81%."),
            ],
            features=[
                FeatureSpec(
                    "Certification curriculum for solution selling",
                    [CRM_PARTNERS],
                    FeaturePriority.MUST,
                    FeatureStatus.DONE,
                ),
                FeatureSpec(
                    "Online certification exams",
                    [CRM_PARTNERS],
                    FeaturePriority.SHOULD,
                    FeatureStatus.IN_PROGRESS,
                ),
                FeatureSpec("Partner tier incentives tied to certification", [CRM_PARTNERS]),
                # Dropped, so never flagged although it links nowhere.
                FeatureSpec("Partner social feed", [], FeaturePriority.WONT, FeatureStatus.DROPPED),
            ],
        ),
        ProjectSpec(
            title=P_MARKET_FUND,
            description="Co-funded local marketing campaigns run by partners, with proof of "
            "performance.",
            status=ProjectStatus.PROPOSED,
            manager="pm",
            sponsor="sponsor",
            department="Sales Operations",
            business_owner="nadia.khan",
            start=30,
            end=300,
            budget=(20_000, 10_000, 15_000, 5_000, 120_000),
            links=[(CRM_PARTNERS, "Funds partners to acquire customers locally.", None)],
            metrics=[("Pipeline from partner campaigns", "EUR k", 0, 2500, None)],
            phases=[("Fund launch", PhaseKind.MILESTONE, 30, 30)],
            features=[
                FeatureSpec(
                    "Fund request and approval workflow",
                    [CRM_PARTNERS],
                    FeaturePriority.MUST,
                    FeatureStatus.PROPOSED,
                ),
                FeatureSpec(
                    "Campaign proof-of-performance upload",
                    [CRM_PARTNERS],
                    status=FeatureStatus.PROPOSED,
                ),
                FeatureSpec(
                    "Fund utilisation report",
                    [CRM_PARTNERS],
                    FeaturePriority.COULD,
                    FeatureStatus.PROPOSED,
                ),
            ],
        ),
        ProjectSpec(
            title=P_ACCOUNT_PLANS,
            description="One account plan per top-100 account, shared by sales, service and "
            "support.",
            status=ProjectStatus.ACTIVE,
            manager="aiko.tanaka",
            sponsor="executive",
            department="Key Account Management",
            business_owner="james.whitfield",
            start=-150,
            end=120,
            budget=(60_000, 70_000, 40_000, 25_000, 30_000),
            links=[
                (
                    CRM_SOLUTION_SELLING,
                    "Gives each top account one plan across divisions.",
                    60,
                )
            ],
            metrics=[
                ("Top-100 accounts with an agreed account plan", "%", 15, 100, 62),
                ("Revenue retained in top-100 accounts", "%", 91, 97, 93),
            ],
            phases=std_phases,
            check_ins=[
                (12, Health.ON_TRACK, "62 account plans agreed with the customers."),
                (2, Health.ON_TRACK, "Quarterly reviews scheduled for all plans."),
            ],
            features=[
                FeatureSpec(
                    "Account plan template with whitespace analysis",
                    [CRM_SOLUTION_SELLING],
                    FeaturePriority.MUST,
                    FeatureStatus.DONE,
                ),
                FeatureSpec(
                    "Cross-divisional account team roster",
                    [CRM_SOLUTION_SELLING],
                    FeaturePriority.MUST,
                    FeatureStatus.IN_PROGRESS,
                ),
                FeatureSpec("Quarterly account review workflow", [CRM_SOLUTION_SELLING]),
                FeatureSpec(
                    "Executive dashboard widgets",
                    [],
                    FeaturePriority.COULD,
                    FeatureStatus.PROPOSED,
                ),
            ],
        ),
        ProjectSpec(
            title=P_CUSTOMER_VIEW,
            description="Sales, service and support see the same customer: orders, cases, "
            "entitlements and plans on one page.",
            status=ProjectStatus.ACTIVE,
            manager="pm",
            sponsor="sponsor",
            department="Key Account Management",
            business_owner="james.whitfield",
            start=-100,
            end=240,
            budget=(250_000, 50_000, 60_000, 40_000, 0),
            links=[(CRM_SOLUTION_SELLING, "Breaks down the silos between divisions.", 80)],
            metrics=[("Time to assemble a customer briefing", "minutes", 240, 15, 90)],
            systems=[
                ("Data warehouse", IntegrationStatus.DESIGNED, "pm"),
                ("ERP", IntegrationStatus.BUILT, "pm"),
            ],
            phases=std_phases,
            check_ins=[
                (20, Health.ON_TRACK, "Service cases now visible to account teams."),
                (4, Health.AT_RISK, "Support entitlement data needs a clean-up first."),
            ],
            integration_notes="Reads orders from ERP and cases from the service desk nightly.",
            features=[
                FeatureSpec(
                    "Single customer timeline",
                    [CRM_SOLUTION_SELLING],
                    FeaturePriority.MUST,
                    FeatureStatus.IN_PROGRESS,
                ),
                FeatureSpec(
                    "Open service cases on the account page",
                    [CRM_SOLUTION_SELLING],
                    FeaturePriority.MUST,
                    FeatureStatus.IN_PROGRESS,
                ),
                FeatureSpec("Support entitlement lookup for sales", [CRM_SOLUTION_SELLING]),
                FeatureSpec(
                    "Partner referral hand-off to account teams",
                    [CRM_PARTNERS],
                    FeaturePriority.SHOULD,
                    FeatureStatus.PROPOSED,
                ),
            ],
        ),
        ProjectSpec(
            title=P_PROACTIVE,
            description="Spot at-risk accounts early and act before renewal.",
            status=ProjectStatus.ACTIVE,
            manager="aiko.tanaka",
            sponsor="grace.hill",
            department="Customer Service",
            business_owner="carmen.ruiz",
            start=-60,
            end=150,
            budget=(45_000, 35_000, 30_000, 15_000, 10_000),
            links=[(CRM_RETENTION, "Turns service signals into retention actions.", None)],
            metrics=[("Churn in the at-risk segment", "%", 18, 10, 16)],
            phases=[
                ("Health score design", PhaseKind.PHASE, -60, -20),
                ("Alerts live for two regions", PhaseKind.MILESTONE, 30, 30),
            ],
            check_ins=[(9, Health.ON_TRACK, "Health score agreed with service managers.")],
            features=[
                FeatureSpec(
                    "Account health alerts for service managers",
                    [CRM_RETENTION],
                    FeaturePriority.MUST,
                    FeatureStatus.IN_PROGRESS,
                ),
                FeatureSpec("Save-desk playbooks", [CRM_RETENTION]),
                FeatureSpec("Renewal risk review in account meetings", [CRM_RETENTION]),
            ],
        ),
        ProjectSpec(
            title=P_SFA,
            description="Pipeline and forecasting for the direct sales force (finished).",
            status=ProjectStatus.DONE,
            manager="lucas.meyer",
            sponsor="executive",
            department="Sales Operations",
            business_owner="james.whitfield",
            start=-400,
            end=-200,
            budget=(300_000, 60_000, 50_000, 70_000, 20_000),
            links=[(CRM_SOLUTION_SELLING, "One pipeline for the top accounts.", None)],
            metrics=[("Forecast accuracy", "%", 60, 85, 82)],
            phases=[("Roll-out to all countries", PhaseKind.PHASE, -400, -200)],
            check_ins=[(200, Health.ON_TRACK, "Closed: all countries live.")],
            features=[
                FeatureSpec(
                    "Opportunity pipeline stages",
                    [CRM_SOLUTION_SELLING],
                    FeaturePriority.MUST,
                    FeatureStatus.DONE,
                ),
                FeatureSpec(
                    "Forecast roll-up by country",
                    [CRM_SOLUTION_SELLING],
                    status=FeatureStatus.DONE,
                ),
                # History: a finished project's features are not flagged.
                FeatureSpec("Legacy contact import", [], FeaturePriority.COULD, FeatureStatus.DONE),
            ],
        ),
        ProjectSpec(
            title=P_MARKETING,
            description="Replace the e-mail tool with a marketing automation platform.",
            status=ProjectStatus.ACTIVE,
            manager="lucas.meyer",
            sponsor="grace.hill",
            department="Marketing",
            business_owner="olivia.brandt",
            start=-70,
            end=110,
            budget=(140_000, 15_000, 10_000, 12_000, 0),
            links=[],
            metrics=[("Marketing-qualified leads per month", "leads", 300, 600, 340)],
            phases=[
                ("Platform selection", PhaseKind.PHASE, -70, -40),
                ("Migration", PhaseKind.PHASE, -39, 60),
            ],
            check_ins=[(9, Health.ON_TRACK, "Templates migrated; journeys next.")],
            features=[
                FeatureSpec(
                    "Email journey builder", [], FeaturePriority.MUST, FeatureStatus.IN_PROGRESS
                ),
                FeatureSpec("Lead scoring model", []),
                FeatureSpec("Web form tracking", [], status=FeatureStatus.DONE),
            ],
        ),
        ProjectSpec(
            title=P_DIALLER,
            description="A predictive dialler for the mid-market telesales team.",
            status=ProjectStatus.ON_HOLD,
            manager="aiko.tanaka",
            sponsor="sponsor",
            department="Sales Operations",
            business_owner="james.whitfield",
            start=-30,
            end=150,
            budget=(90_000, 30_000, 10_000, 8_000, 0),
            links=[(CRM_TELESALES, "Feeds the telesales lead factory.", None)],
            metrics=[("Calls per telesales rep per day", "calls", 40, 70, None)],
            features=[
                FeatureSpec(
                    "Predictive dialler integration",
                    [CRM_TELESALES],
                    FeaturePriority.MUST,
                    FeatureStatus.PLANNED,
                ),
                FeatureSpec("Call script library", [CRM_TELESALES]),
                FeatureSpec("Telesales lead queue", [CRM_TELESALES]),
            ],
        ),
        ProjectSpec(
            title=P_MOBILE,
            description="A mobile app for account managers visiting top accounts.",
            status=ProjectStatus.APPROVED,
            manager="pm",
            sponsor="sponsor",
            department="Key Account Management",
            business_owner="james.whitfield",
            start=14,
            end=200,
            budget=(220_000, 0, 0, 0, 0),
            links=[(CRM_SOLUTION_SELLING, "Account managers see the whole account on site.", 40)],
            metrics=[("Account visits logged within 24 hours", "%", 35, 90, None)],
            phases=[
                ("App build", PhaseKind.PHASE, 14, 120),
                ("Store release", PhaseKind.MILESTONE, 121, 121),
            ],
            features=[
                FeatureSpec(
                    "Offline account briefings on mobile",
                    [CRM_SOLUTION_SELLING],
                    FeaturePriority.MUST,
                ),
                FeatureSpec("Visit report capture by voice", [CRM_SOLUTION_SELLING]),
                FeatureSpec("Mobile quote approval", [CRM_SOLUTION_SELLING], FeaturePriority.COULD),
            ],
        ),
        ProjectSpec(
            title=P_SOCIAL,
            description="Listen to social media for complaints from key customers.",
            status=ProjectStatus.PROPOSED,
            manager="lucas.meyer",
            sponsor=None,
            department="Marketing",
            business_owner="olivia.brandt",
            start=45,
            end=135,
            budget=(25_000, 10_000, 5_000, 0, 0),
            links=[(CRM_RETENTION, "Spots unhappy customers before they leave.", None)],
            features=[
                FeatureSpec(
                    "Brand mention alerts for key accounts",
                    [CRM_RETENTION],
                    status=FeatureStatus.PROPOSED,
                ),
                FeatureSpec(
                    "Complaint routing to service", [CRM_RETENTION], status=FeatureStatus.PROPOSED
                ),
            ],
        ),
        ProjectSpec(
            title=P_MASTER_DATA,
            description="Merge duplicate accounts and standardise codes across divisions.",
            status=ProjectStatus.ACTIVE,
            manager="aiko.tanaka",
            sponsor="executive",
            department="IT",
            business_owner=None,
            start=-40,
            end=80,
            budget=(80_000, 20_000, 30_000, 0, 0),
            links=[
                (CRM_SOLUTION_SELLING, "One record per enterprise customer.", 70),
                (CRM_RETENTION, "Churn signals attach to the right account.", 30),
            ],
            metrics=[("Duplicate account records", "records", 12_000, 500, 7_000)],
            phases=[
                ("Duplicate detection", PhaseKind.PHASE, -40, -10),
                ("Merge waves", PhaseKind.PHASE, -9, 80),
            ],
            check_ins=[(5, Health.ON_TRACK, "First merge wave done: 5,000 duplicates gone.")],
            features=[
                FeatureSpec(
                    "Duplicate account merge",
                    [CRM_SOLUTION_SELLING],
                    FeaturePriority.MUST,
                    FeatureStatus.IN_PROGRESS,
                ),
                FeatureSpec("Country and industry code standardisation", [CRM_SOLUTION_SELLING]),
                FeatureSpec("Contact ownership rules", [CRM_RETENTION]),
            ],
        ),
        ProjectSpec(
            title=P_SERVICE_REVIEWS,
            description="Quarterly service-level reviews with each key account.",
            status=ProjectStatus.ACTIVE,
            manager="lucas.meyer",
            sponsor="sponsor",
            department="Customer Service",
            business_owner="carmen.ruiz",
            start=-150,
            end=90,
            budget=(20_000, 40_000, 25_000, 10_000, 0),
            links=[(CRM_SOLUTION_SELLING, "Service joins the account team's conversation.", None)],
            metrics=[("Key accounts with a service review this quarter", "%", 10, 90, 35)],
            phases=[("Review cycle 1", PhaseKind.PHASE, -150, -60)],
            check_ins=[
                (95, Health.ON_TRACK, "First reviews held with ten accounts."),
                (60, Health.AT_RISK, "Review packs take too long to prepare."),
            ],
            stalled=True,
            features=[
                FeatureSpec(
                    "Service-level dashboard per key account",
                    [CRM_SOLUTION_SELLING],
                    FeaturePriority.MUST,
                    FeatureStatus.IN_PROGRESS,
                ),
                FeatureSpec("Quarterly service review pack", [CRM_SOLUTION_SELLING]),
            ],
        ),
    ]


@dataclass
class DemoResult:
    """What a load did: how many objects it created (all zero on a re-run)."""

    created: dict[str, int] = field(default_factory=dict)
    refreshed_check_ins: int = 0

    def add(self, kind: str) -> None:
        self.created[kind] = self.created.get(kind, 0) + 1

    @property
    def created_total(self) -> int:
        return sum(self.created.values())


class _Loader:
    def __init__(self) -> None:
        self.today = timezone.localdate()
        self.result = DemoResult()
        self.users: dict[str, Any] = {}
        self.departments: dict[str, Department] = {}
        self.crm: dict[str, CRMStrategy] = {}

    def day(self, offset: int) -> datetime.date:
        return self.today + datetime.timedelta(days=offset)

    def people(self) -> None:
        user_model = get_user_model()
        # The roles migration creates the groups; get_or_create also copes with a flushed DB.
        groups = {role: Group.objects.get_or_create(name=role)[0] for role in Role.values}
        for username, first, last, role, can_sign_in in _PEOPLE:
            user = user_model.objects.filter(username=username).first()
            if user is None:
                user = user_model(
                    username=username,
                    first_name=first,
                    last_name=last,
                    email=f"{username}@example.com",
                )
                if role is None:
                    user.is_staff = True
                    user.is_superuser = True
                if can_sign_in:
                    user.set_password(DEMO_PASSWORD)
                else:
                    user.set_unusable_password()
                user.save()
                if role is not None:
                    user.groups.add(groups[role])
                self.result.add("users")
            self.users[username] = user
        for name, is_it in _DEPARTMENTS:
            department, created = Department.objects.get_or_create(
                name=name, defaults={"is_it": is_it}
            )
            if created:
                self.result.add("departments")
            self.departments[name] = department

    def goals(self) -> None:
        executive = self.users["executive"]
        revenue = self._goal(
            GOAL_REVENUE,
            "The group's headline goal for the next three years.",
            Priority.HIGH,
            kpis=[
                (
                    "Revenue growth, year on year",
                    "%",
                    2,
                    6,
                    Direction.INCREASE,
                    [(270, 2.1), (180, 2.9), (90, 3.4), (10, 3.8)],
                ),
                (
                    "Gross margin",
                    "%",
                    31,
                    33,
                    Direction.INCREASE,
                    [(180, 30.6), (90, 31.2), (10, 31.5)],
                ),
            ],
        )
        retention = self._goal(
            GOAL_RETENTION,
            "Winning a customer costs five times more than keeping one.",
            Priority.MEDIUM,
            kpis=[
                (
                    "Annual customer churn",
                    "%",
                    12,
                    8,
                    Direction.DECREASE,
                    [(120, 11.8), (30, 11.1)],
                )
            ],
        )
        emerging = self._business_strategy(
            revenue,
            BS_EMERGING,
            "Emerging markets",
            "Win new customers and market share by attracting and developing local partners "
            "for local knowledge and sales and service capability.",
        )
        mature = self._business_strategy(
            revenue,
            BS_MATURE,
            "Mature markets",
            "Protect revenue and margin by targeting the top 100 accounts in each country; "
            "become a strategic end-to-end solution provider to them.",
        )
        churn = self._business_strategy(
            retention,
            BS_RETENTION,
            "Installed base, all markets",
            "Act on service signals before customers decide to leave.",
        )
        self._crm_strategy(
            CRM_PARTNERS,
            [emerging],
            customer_need="Local customers want a local partner who knows them.",
            description="Processes and capabilities to recruit, develop and enable local "
            "partners to drive sales and customer acquisition.",
            capability_people="Partner managers per region; certified partner staff.",
            capability_process="Partner recruitment, certification and deal registration.",
            capability_technology="Partner portal integrated with the CRM pipeline.",
        )
        self._crm_strategy(
            CRM_SOLUTION_SELLING,
            [mature],
            customer_need="The largest customers want one supplier that solves end to end.",
            description="Break down divisional silos between sales, service and support; "
            "enable end-to-end solution selling to the largest enterprise customers.",
            capability_people="Cross-divisional account teams with shared targets.",
            capability_process="Joint account planning and quarterly reviews.",
            capability_technology="One customer view across sales, service and support.",
        )
        self._crm_strategy(
            CRM_RETENTION,
            [churn],
            customer_need="Customers want problems fixed before they have to complain.",
            description="Use service signals to keep customers who are at risk of leaving.",
            capability_people="A save desk in customer service.",
            capability_process="Health reviews in every account meeting.",
            capability_technology="Account health scores and alerts.",
        )
        # The telesales strategy was retired, but the CRM strategy serving it was not:
        # "a tool, not a strategy". It is created while its business strategy is still active
        # (services refuse new links to retired items) and the business strategy retired after.
        telesales_created = not BusinessStrategy.objects.filter(
            goal=revenue, title=BS_TELESALES
        ).exists()
        telesales = self._business_strategy(
            revenue,
            BS_TELESALES,
            "Mid-market",
            "Reach mid-market customers through a central telesales team.",
        )
        self._crm_strategy(
            CRM_TELESALES,
            [telesales],
            customer_need="Mid-market customers buy by phone.",
            description="Generate and qualify leads for the telesales team.",
            capability_technology="Dialler and lead queue.",
        )
        # Goal health (alignment.goal_health) on the demo: revenue is amber (projects at
        # risk), retention red (a critical flag: the unsponsored pilot), cost to serve green
        # (its KPI on track, nothing at risk under it).
        cost_to_serve = self._goal(
            GOAL_COST_TO_SERVE,
            "Routine questions answered without an agent, so agents have time for the rest.",
            Priority.LOW,
            kpis=[
                (
                    "Cost per service contact",
                    "EUR",
                    9,
                    6,
                    Direction.DECREASE,
                    [(200, 8.7), (100, 8.1), (15, 7.4)],
                )
            ],
        )
        self_service = self._business_strategy(
            cost_to_serve,
            BS_SELF_SERVICE,
            "Installed base, all markets",
            "Answer routine service requests through a self-service portal and knowledge base.",
        )
        self._crm_strategy(
            CRM_SELF_SERVICE,
            [self_service],
            customer_need="Customers want answers at any hour without waiting for an agent.",
            description="A customer portal with a searchable knowledge base, case tracking and "
            "guided answers to the most frequent service questions.",
            capability_people="Knowledge managers in customer service.",
            capability_process="Every resolved case feeds the knowledge base.",
            capability_technology="Customer portal and knowledge base on the CRM platform.",
        )
        if telesales_created:
            strategy_services.business_strategy_update(
                actor=executive,
                business_strategy_id=telesales.pk,
                changes={"status": StrategyStatus.RETIRED},
            )

    def _goal(
        self,
        title: str,
        description: str,
        priority: int,
        kpis: list[tuple[str, str, int, int, str, list[tuple[int, float]]]],
    ) -> BusinessGoal:
        executive = self.users["executive"]
        goal = BusinessGoal.objects.filter(title=title).first()
        if goal is None:
            goal = goal_services.goal_create(
                actor=executive,
                title=title,
                description=description,
                status=GoalStatus.ACTIVE,
                priority=priority,
                horizon_start=self.day(-365),
                horizon_end=self.day(3 * 365),
            )
            self.result.add("goals")
        for name, unit, baseline, target, direction, readings in kpis:
            if KPI.objects.filter(goal=goal, name=name).exists():
                continue
            kpi = goal_services.kpi_create(
                goal_id=goal.pk,
                actor=executive,
                name=name,
                unit=unit,
                baseline=_k(baseline),
                target=_k(target),
                direction=direction,
                due_date=self.day(2 * 365),
            )
            self.result.add("kpis")
            for days_ago, value in readings:
                goal_services.kpi_check_in(
                    kpi_id=kpi.pk,
                    actor=executive,
                    value=_k(value),
                    recorded_on=self.day(-days_ago),
                    note="Quarterly figure from finance.",
                )
                self.result.add("kpi_check_ins")
        return goal

    def _business_strategy(
        self, goal: BusinessGoal, title: str, scope: str, description: str
    ) -> BusinessStrategy:
        strategy = BusinessStrategy.objects.filter(goal=goal, title=title).first()
        if strategy is None:
            strategy = strategy_services.business_strategy_create(
                actor=self.users["executive"],
                goal_id=goal.pk,
                title=title,
                scope=scope,
                description=description,
                status=StrategyStatus.ACTIVE,
            )
            self.result.add("business_strategies")
        return strategy

    def _crm_strategy(
        self, title: str, serves: list[BusinessStrategy], **fields: str
    ) -> CRMStrategy:
        strategy = CRMStrategy.objects.filter(title=title).first()
        if strategy is None:
            strategy = strategy_services.crm_strategy_create(
                actor=self.users["executive"],
                business_strategies=[served.pk for served in serves],
                title=title,
                status=StrategyStatus.ACTIVE,
                **fields,
            )
            self.result.add("crm_strategies")
        self.crm[title] = strategy
        return strategy

    def systems(self) -> None:
        self.systems_by_name: dict[str, System] = {}
        for name, description, owner in _SYSTEMS:
            system = System.objects.filter(name__iexact=name).first()
            if system is None:
                system = project_services.system_create(
                    actor=self.users["admin"],
                    name=name,
                    description=description,
                    owner=self.users[owner],
                )
                self.result.add("systems")
            self.systems_by_name[name] = system

    def projects(self) -> None:
        for spec in _projects():
            project = CRMProject.objects.filter(title=spec.title).first()
            if project is None:
                self._create_project(spec)
            elif (
                project.status == ProjectStatus.ACTIVE
                and not spec.stalled
                and self._newest_check_in(project) < self.day(-FRESH_CHECK_IN_DAYS)
            ):
                project_services.project_check_in(
                    project_id=project.pk,
                    actor=self.users["admin"],
                    summary="Weekly status: on track.",
                    health=Health.ON_TRACK,
                    checked_in_on=self.today,
                )
                self.result.refreshed_check_ins += 1

    def user_groups(self) -> None:
        """The user groups, and each listed project's groups and go-live (once)."""
        groups = {}
        for name, description in _USER_GROUPS:
            group = UserGroup.objects.filter(name=name).first()
            if group is None:
                group = project_services.user_group_create(
                    actor=self.users["admin"], name=name, description=description
                )
                self.result.add("user_groups")
            groups[name] = group
        for title, (names, offset) in _GO_LIVES.items():
            project = CRMProject.objects.get(title=title)
            if not project.user_groups.exists():
                project_services.project_update(
                    project_id=project.pk,
                    actor=project.manager,
                    changes={"user_groups": [groups[name] for name in names]},
                )
            # A project whose spec has its go-live already (the partner portal's) keeps it.
            if project.phases.filter(go_live=True).exists():
                continue
            project_services.phase_create(
                project_id=project.pk,
                actor=project.manager,
                name="Go-live",
                kind=PhaseKind.MILESTONE,
                start_date=self.day(offset),
                end_date=self.day(offset),
                go_live=True,
            )
            self.result.add("phases")

    def _newest_check_in(self, project: CRMProject) -> datetime.date:
        newest = (
            project.check_ins.order_by("-checked_in_on")
            .values_list("checked_in_on", flat=True)
            .first()
        )
        return newest or project.start_date or project.created_at.date()

    def _create_project(self, spec: ProjectSpec) -> None:
        manager = self.users[spec.manager]
        technology, people, process, training, incentives = spec.budget
        project = project_services.project_create(
            actor=manager,
            title=spec.title,
            description=spec.description,
            manager=manager,
            sponsor=self.users[spec.sponsor] if spec.sponsor else None,
            department=self.departments[spec.department],
            business_owner=self.users[spec.business_owner] if spec.business_owner else None,
            start_date=self.day(spec.start),
            end_date=self.day(spec.end),
            budget_technology=_k(technology),
            budget_people=_k(people),
            budget_process=_k(process),
            budget_training=_k(training),
            budget_incentives=_k(incentives),
            integration_notes=spec.integration_notes,
        )
        self.result.add("projects")
        project_services.project_set_links(
            project_id=project.pk,
            actor=manager,
            links=[
                LinkSpec(self.crm[title].pk, rationale, weight)
                for title, rationale, weight in spec.links
            ],
        )
        for name, unit, baseline, target, current in spec.metrics:
            project_services.metric_create(
                project_id=project.pk,
                actor=manager,
                name=name,
                unit=unit,
                baseline=_k(baseline),
                target=_k(target),
                current=None if current is None else _k(current),
            )
            self.result.add("metrics")
        for name, kind, start, end in spec.phases:
            project_services.phase_create(
                project_id=project.pk,
                actor=manager,
                name=name,
                kind=kind,
                start_date=self.day(start),
                end_date=self.day(end),
            )
            self.result.add("phases")
        if spec.go_live is not None:
            project_services.phase_create(
                project_id=project.pk,
                actor=manager,
                name="Go-live",
                kind=PhaseKind.MILESTONE,
                start_date=self.day(spec.go_live),
                end_date=self.day(spec.go_live),
                go_live=True,
            )
            self.result.add("phases")
        for system_name, integration, owner in spec.systems:
            project_services.project_system_add(
                project_id=project.pk,
                actor=manager,
                system=self.systems_by_name[system_name],
                status=integration,
                owner=self.users[owner] if owner else None,
            )
            self.result.add("project_systems")
        metrics = {m.name: m for m in project.metrics.all()}
        for metric_name, days_ago, value in spec.readings:
            project_services.metric_reading_create(
                metric_id=metrics[metric_name].pk,
                actor=manager,
                value=_k(value),
                recorded_on=self.day(-days_ago),
            )
            self.result.add("metric_readings")
        for feature_spec in spec.features:
            feature: Feature = project_services.feature_create(
                project_id=project.pk,
                actor=manager,
                title=feature_spec.title,
                description=feature_spec.description,
                priority=feature_spec.priority,
                status=feature_spec.status,
            )
            if feature_spec.links:
                project_services.feature_set_links(
                    feature_id=feature.pk,
                    actor=manager,
                    links=[
                        LinkSpec(self.crm[title].pk, "Needed to deliver the project's link.")
                        for title in feature_spec.links
                    ],
                )
            self.result.add("features")
        for days_ago, health, summary in sorted(spec.check_ins, reverse=True):
            project_services.project_check_in(
                project_id=project.pk,
                actor=manager,
                summary=summary,
                health=health,
                checked_in_on=self.day(-days_ago),
            )
            self.result.add("check_ins")
        self._move_to_status(project, spec.status)

    def _move_to_status(self, project: CRMProject, status: str) -> None:
        """Walk the project through the real workflow: approval by its sponsor, then start."""
        if status in (ProjectStatus.PROPOSED,):
            return
        if status in (ProjectStatus.ON_HOLD, ProjectStatus.CANCELLED):
            project_services.project_update(
                project_id=project.pk, actor=project.manager, changes={"status": status}
            )
            return
        if project.sponsor is None:
            raise ValueError(f"The demo project “{project}” needs a sponsor to be approved.")
        project = alignment_services.project_approve(project_id=project.pk, actor=project.sponsor)
        if status == ProjectStatus.APPROVED:
            return
        project_services.project_update(
            project_id=project.pk, actor=project.manager, changes={"status": ProjectStatus.ACTIVE}
        )
        if status != ProjectStatus.ACTIVE:
            project_services.project_update(
                project_id=project.pk, actor=project.manager, changes={"status": status}
            )


@transaction.atomic
def load_demo() -> DemoResult:
    """Create whatever part of the demo portfolio is missing; a second run creates nothing."""
    loader = _Loader()
    loader.people()
    loader.goals()
    loader.systems()
    loader.projects()
    loader.user_groups()
    return loader.result

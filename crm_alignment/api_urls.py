"""API routes under /api/: the resources, alignment endpoints, token auth, schema and docs."""

from typing import Any

from django.http import HttpRequest, JsonResponse
from django.urls import include, path, re_path
from django.utils.decorators import method_decorator
from django.views import View
from django.views.decorators.csrf import csrf_exempt
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView
from rest_framework.permissions import AllowAny
from rest_framework.routers import SimpleRouter

from alignment.api import (
    BusinessStrategyImpactView,
    BusinessStrategyReactivateView,
    CRMStrategyImpactView,
    CRMStrategyReactivateView,
    FeatureSuggestionsView,
    FlagViewSet,
    GoalImpactView,
    GoalReactivateView,
    ProjectApproveView,
    ProjectImpactView,
    ProjectRejectView,
    ProjectSendBackView,
    ProjectSuggestionsView,
    ScanDetailView,
    ScanRequestView,
    SummaryView,
)
from core.api_base import TokenView
from goals.api import GoalViewSet, KPIReadingViewSet, KPIViewSet
from onboarding.api import ImportJobDetailView, ImportRequestView, PortfolioExportView
from projects.api import (
    CheckInViewSet,
    DepartmentViewSet,
    FeatureViewSet,
    MetricReadingViewSet,
    MetricViewSet,
    PhaseViewSet,
    ProjectSystemViewSet,
    ProjectViewSet,
    SystemViewSet,
    UserGroupViewSet,
)
from reports.api import BoardPackView, ReportJobDetailView, ReportJobPdfView
from strategies.api import BusinessStrategyViewSet, CRMStrategyViewSet
from webhooks.api import WebhookViewSet


@method_decorator(csrf_exempt, name="dispatch")
class NotFoundView(View):
    """Any other path under /api/ answers a JSON 404, never the HTML page (nor a slash
    redirect, which a POST could not follow)."""

    def get(self, request: HttpRequest, *args: Any, **kwargs: Any) -> JsonResponse:
        return JsonResponse({"detail": "Not found."}, status=404)

    post = put = patch = delete = get


router = SimpleRouter(trailing_slash=True)
router.register("goals", GoalViewSet, basename="goal")
router.register("kpis", KPIViewSet, basename="kpi")
router.register("kpi-readings", KPIReadingViewSet, basename="kpi-reading")
router.register("business-strategies", BusinessStrategyViewSet, basename="business-strategy")
router.register("crm-strategies", CRMStrategyViewSet, basename="crm-strategy")
router.register("projects", ProjectViewSet, basename="project")
router.register("features", FeatureViewSet, basename="feature")
router.register("metrics", MetricViewSet, basename="metric")
router.register("phases", PhaseViewSet, basename="phase")
router.register("project-check-ins", CheckInViewSet, basename="project-check-in")
router.register("departments", DepartmentViewSet, basename="department")
router.register("user-groups", UserGroupViewSet, basename="user-group")
router.register("systems", SystemViewSet, basename="system")
router.register("project-systems", ProjectSystemViewSet, basename="project-system")
router.register("metric-readings", MetricReadingViewSet, basename="metric-reading")
router.register("flags", FlagViewSet, basename="flag")
router.register("webhooks", WebhookViewSet, basename="webhook")

app_name = "api"

urlpatterns = [
    path("auth/token/", TokenView.as_view(), name="token"),
    path("alignment/summary/", SummaryView.as_view(), name="alignment-summary"),
    path("alignment/scan/", ScanRequestView.as_view(), name="alignment-scan"),
    path("alignment/scans/<int:pk>/", ScanDetailView.as_view(), name="alignment-scan-detail"),
    # The portfolio workbook: export, import (a job), a job's progress and report.
    path("portfolio/export/", PortfolioExportView.as_view(), name="portfolio-export"),
    path("portfolio/import/", ImportRequestView.as_view(), name="portfolio-import"),
    path(
        "portfolio/imports/<int:pk>/", ImportJobDetailView.as_view(), name="portfolio-import-detail"
    ),
    # The board pack: a PDF at once for a small portfolio, else a job (reports).
    path("reports/board.pdf", BoardPackView.as_view(), name="report-board"),
    path("reports/jobs/<int:pk>/", ReportJobDetailView.as_view(), name="report-job-detail"),
    path("reports/jobs/<int:pk>/pdf/", ReportJobPdfView.as_view(), name="report-job-pdf"),
    # Approval is the engine's decision (readiness is the rule catalogue), at the project's path.
    path("projects/<int:pk>/approve/", ProjectApproveView.as_view(), name="project-approve"),
    path("projects/<int:pk>/reject/", ProjectRejectView.as_view(), name="project-reject"),
    path("projects/<int:pk>/send-back/", ProjectSendBackView.as_view(), name="project-send-back"),
    # The impact preview runs the rule catalogue, so it is the engine's too (alignment.impact).
    path("goals/<int:pk>/impact/", GoalImpactView.as_view(), name="goal-impact"),
    path(
        "business-strategies/<int:pk>/impact/",
        BusinessStrategyImpactView.as_view(),
        name="business-strategy-impact",
    ),
    path(
        "crm-strategies/<int:pk>/impact/",
        CRMStrategyImpactView.as_view(),
        name="crm-strategy-impact",
    ),
    path("projects/<int:pk>/impact/", ProjectImpactView.as_view(), name="project-impact"),
    # Link suggestions rank the strategy catalogue (alignment.suggestions).
    path(
        "projects/<int:pk>/suggestions/",
        ProjectSuggestionsView.as_view(),
        name="project-suggestions",
    ),
    path(
        "features/<int:pk>/suggestions/",
        FeatureSuggestionsView.as_view(),
        name="feature-suggestions",
    ),
    path("goals/<int:pk>/reactivate/", GoalReactivateView.as_view(), name="goal-reactivate"),
    path(
        "business-strategies/<int:pk>/reactivate/",
        BusinessStrategyReactivateView.as_view(),
        name="business-strategy-reactivate",
    ),
    path(
        "crm-strategies/<int:pk>/reactivate/",
        CRMStrategyReactivateView.as_view(),
        name="crm-strategy-reactivate",
    ),
    # The schema and its docs are public: they describe the API, not the portfolio.
    path(
        "schema/",
        SpectacularAPIView.as_view(permission_classes=[AllowAny], authentication_classes=[]),
        name="schema",
    ),
    # The split view serves the Swagger UI's start-up script from ?script= instead of inline,
    # so the docs page runs under the Content-Security-Policy like every other page.
    path(
        "docs/",
        SpectacularSwaggerSplitView.as_view(
            url_name="api:schema",
            template_name="api/swagger_ui.html",
            permission_classes=[AllowAny],
            authentication_classes=[],
            # A page, not an API: DRF's OPTIONS answer would need an HTML template it has none
            # of (a 500); it answers 405 like any method the page does not offer.
            http_method_names=["get", "head"],
        ),
        name="docs",
    ),
    path("", include(router.urls)),
    re_path(r"^", NotFoundView.as_view(), name="not-found"),
]

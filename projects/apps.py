from django.apps import AppConfig


class ProjectsConfig(AppConfig):
    name = "projects"
    verbose_name = "Projects"

    def ready(self) -> None:
        from core.audit import page_key, register_pages

        from .models import (
            CRMProject,
            Department,
            Feature,
            FeatureLink,
            ProjectCheckIn,
            ProjectDecision,
            ProjectLink,
            RoadmapPhase,
            SuccessMetric,
        )

        # Which History tabs show a change (core.audit): a project's shows its links,
        # features (and their links), metrics, phases and check-ins; a feature's, its links.
        def of_project(o: object) -> tuple[str, str]:
            return (page_key("project", o.project_id), "")  # type: ignore[attr-defined]

        register_pages(CRMProject, lambda o: (page_key("project", o.pk), ""), kind="project")
        register_pages(
            ProjectLink,
            lambda o: (
                page_key("project", o.project_id),
                page_key("crm_strategy", o.crm_strategy_id),
            ),
        )
        register_pages(
            Feature,
            lambda o: (page_key("project", o.project_id), page_key("feature", o.pk)),
            kind="feature",
        )
        register_pages(
            FeatureLink,
            lambda o: (
                page_key("project", o.feature.project_id),
                page_key("feature", o.feature_id),
            ),
        )
        register_pages(SuccessMetric, of_project)
        register_pages(RoadmapPhase, of_project)
        register_pages(ProjectCheckIn, of_project)
        register_pages(ProjectDecision, of_project)
        register_pages(Department, lambda o: (page_key("department", o.pk), ""), kind="department")

from django.apps import AppConfig


class ProjectsConfig(AppConfig):
    name = "projects"
    verbose_name = "Projects"

    def ready(self) -> None:
        from core import counts
        from core.audit import page_key, register_pages

        from .models import (
            CRMProject,
            Department,
            Feature,
            FeatureLink,
            MetricReading,
            ProjectCheckIn,
            ProjectDecision,
            ProjectLink,
            ProjectSystem,
            ProjectUserGroup,
            RoadmapPhase,
            SuccessMetric,
            System,
            UserGroup,
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
        register_pages(UserGroup, lambda o: (page_key("user_group", o.pk), ""), kind="user_group")
        register_pages(
            ProjectUserGroup,
            lambda o: (page_key("project", o.project_id), page_key("user_group", o.user_group_id)),
        )
        # The integration register: a project's History shows its systems; a system has its own.
        register_pages(System, lambda o: (page_key("system", o.pk), ""), kind="system")
        register_pages(
            ProjectSystem,
            lambda o: (page_key("project", o.project_id), page_key("system", o.system_id)),
        )
        register_pages(
            MetricReading,
            lambda o: (page_key("project", o.metric.project_id), ""),
        )
        # Counted as they are written (migration 0015): their whole lists do not count them.
        counts.register(CRMProject, Feature)

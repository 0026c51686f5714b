"""Create a RuleSetting row per rule with the catalogue's defaults, so the admin can edit them
from the start. Written out here (not read from the registry) so the migration never changes;
rules added later get their row lazily on the first scan."""

from django.db import migrations

DEFAULTS = [
    ("project.untraced", "critical", None),
    ("project.broken_chain", "critical", None),
    ("feature.untraced", "warning", None),
    ("feature.off_scope", "warning", None),
    ("crm_strategy.unanchored", "critical", None),
    ("business_strategy.unserved", "warning", None),
    ("goal.no_strategy", "warning", None),
    ("project.no_sponsor", "critical", None),
    ("project.no_success_metrics", "warning", None),
    ("project.no_roadmap", "warning", None),
    ("project.it_only", "warning", None),
    ("project.technology_only", "warning", None),
    ("project.stalled", "warning", 30),
    ("portfolio.overloaded", "warning", 5),
]


def create_settings(apps, schema_editor):
    RuleSetting = apps.get_model("alignment", "RuleSetting")
    existing = set(RuleSetting.objects.values_list("code", flat=True))
    RuleSetting.objects.bulk_create(
        RuleSetting(code=code, enabled=True, severity=severity, threshold=threshold)
        for code, severity, threshold in DEFAULTS
        if code not in existing
    )


class Migration(migrations.Migration):
    dependencies = [("alignment", "0002_scan_details")]

    operations = [migrations.RunPython(create_settings, migrations.RunPython.noop)]

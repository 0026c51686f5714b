"""A RuleSetting row for each rule the planning work added, with the catalogue's defaults, so
the admin can edit them from the start as the first rules' (0003). Written out here (not read
from the registry) so the migration never changes."""

from django.db import migrations

DEFAULTS = [
    # (code, severity, threshold, window)
    ("portfolio.change_collision", "warning", 2, 30),
    ("project.integration_unplanned", "warning", 60, None),
    ("project.benefits_unreviewed", "warning", 90, None),
]


def create_settings(apps, schema_editor):
    RuleSetting = apps.get_model("alignment", "RuleSetting")
    existing = set(RuleSetting.objects.values_list("code", flat=True))
    RuleSetting.objects.bulk_create(
        RuleSetting(
            code=code, enabled=True, severity=severity, threshold=threshold, window=window
        )
        for code, severity, threshold, window in DEFAULTS
        if code not in existing
    )


class Migration(migrations.Migration):
    dependencies = [("alignment", "0010_rule_window_and_user_group_flags")]

    operations = [migrations.RunPython(create_settings, migrations.RunPython.noop)]

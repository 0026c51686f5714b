"""RuleSetting.blocks_approval: whether a rule that holds for a project stops its approval.

Written out here (not read from the registry) so the migration never changes: the rules that
gated approval before readiness became the rule catalogue (sponsor, success metrics), plus the
roadmap, block by default; every other rule is advice."""

from django.db import migrations, models

BLOCKING = ["project.no_sponsor", "project.no_success_metrics", "project.no_roadmap"]


def set_defaults(apps, schema_editor):
    RuleSetting = apps.get_model("alignment", "RuleSetting")
    RuleSetting.objects.filter(code__in=BLOCKING).update(blocks_approval=True)


class Migration(migrations.Migration):
    dependencies = [("alignment", "0003_rule_settings")]

    operations = [
        migrations.AddField(
            model_name="rulesetting",
            name="blocks_approval",
            field=models.BooleanField(
                default=False,
                help_text=(
                    "While this rule holds for a project, its sponsor cannot approve it (the "
                    "reason is shown). Only rules about a project or its features can block."
                ),
            ),
        ),
        migrations.RunPython(set_defaults, migrations.RunPython.noop),
    ]

"""Titles unique ignoring case: existing near-duplicates are numbered, then indexed."""


import django.db.models.functions.text
from django.conf import settings
from django.db import migrations, models

from core.titles import rename_titles_equal_ignoring_case


def rename_case_duplicates(apps, schema_editor):
    """Titles that differ only in case get a number (see core.titles), so the unique
    indexes on Lower(title) below can be built."""
    rename_titles_equal_ignoring_case(apps.get_model('strategies', 'BusinessStrategy'), ('goal',))
    rename_titles_equal_ignoring_case(apps.get_model('strategies', 'CRMStrategy'), ())


class Migration(migrations.Migration):

    dependencies = [
        ('strategies', '0002_versioned'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.RemoveConstraint(
            model_name='businessstrategy',
            name='business_strategy_title_unique_per_goal',
        ),
        migrations.AlterField(
            model_name='crmstrategy',
            name='title',
            field=models.CharField(db_index=True, max_length=200),
        ),
        migrations.RunPython(rename_case_duplicates, migrations.RunPython.noop),
        migrations.AddConstraint(
            model_name='businessstrategy',
            constraint=models.UniqueConstraint(models.F('goal'), django.db.models.functions.text.Lower('title'), name='business_strategy_title_unique_per_goal_ignoring_case', violation_error_message='That title is already taken (ignoring case).'),
        ),
        migrations.AddConstraint(
            model_name='crmstrategy',
            constraint=models.UniqueConstraint(django.db.models.functions.text.Lower('title'), name='crm_strategy_title_unique_ignoring_case', violation_error_message='That title is already taken (ignoring case).'),
        ),
    ]

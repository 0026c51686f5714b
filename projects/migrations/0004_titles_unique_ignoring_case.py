"""Titles unique ignoring case: existing near-duplicates are numbered, then indexed."""


import django.db.models.functions.text
from django.conf import settings
from django.db import migrations, models

from core.titles import rename_titles_equal_ignoring_case


def rename_case_duplicates(apps, schema_editor):
    """Titles that differ only in case get a number (see core.titles), so the unique
    indexes on Lower(title) below can be built."""
    rename_titles_equal_ignoring_case(apps.get_model('projects', 'CRMProject'), ())
    rename_titles_equal_ignoring_case(apps.get_model('projects', 'Feature'), ('project',))


class Migration(migrations.Migration):

    dependencies = [
        ('projects', '0003_department_name_upper'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.RemoveConstraint(
            model_name='feature',
            name='feature_title_unique_per_project',
        ),
        migrations.AlterField(
            model_name='crmproject',
            name='title',
            field=models.CharField(db_index=True, max_length=200),
        ),
        migrations.RunPython(rename_case_duplicates, migrations.RunPython.noop),
        migrations.AddConstraint(
            model_name='crmproject',
            constraint=models.UniqueConstraint(django.db.models.functions.text.Lower('title'), name='project_title_unique_ignoring_case', violation_error_message='That title is already taken (ignoring case).'),
        ),
        migrations.AddConstraint(
            model_name='feature',
            constraint=models.UniqueConstraint(models.F('project'), django.db.models.functions.text.Lower('title'), name='feature_title_unique_per_project_ignoring_case', violation_error_message='That title is already taken (ignoring case).'),
        ),
    ]

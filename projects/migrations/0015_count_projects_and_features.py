from django.db import migrations

from core import counts

TABLES = ("projects_crmproject", "projects_feature")


class Migration(migrations.Migration):
    """PostgreSQL only: projects and features are counted as they are written (core.counts), so
    their whole lists do not count 100,000s of rows per request."""

    dependencies = [
        ("core", "0001_row_counts"),
        ("projects", "0014_text_search_indexes"),
    ]

    operations = [
        migrations.RunPython(counts.install(*TABLES), counts.uninstall(*TABLES)),
    ]

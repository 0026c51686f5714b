"""Trigram indexes for searching projects and features by words in their title or description
(the search page and the API's `?search=`), on PostgreSQL only.

Django compiles `title__icontains` to `UPPER("title"::text) LIKE UPPER(%s)`; a GIN index of the
same upper-cased expressions with pg_trgm's operator class answers it for a term of three or
more characters without reading every row. SQLite has neither GIN nor pg_trgm: nothing is
done there (the laptop default, where a scan of the table is cheap). pg_trgm is a trusted
extension (PostgreSQL 13 and later): the database's owner may create it. Going back drops the
indexes and leaves the extension, which something else may use.
"""

from django.db import migrations

INDEXES = {
    "project_text_search": "projects_crmproject",
    "feature_text_search": "projects_feature",
}


def create(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    for name, table in INDEXES.items():
        schema_editor.execute(
            f"CREATE INDEX IF NOT EXISTS {name} ON {table} USING gin "
            "(UPPER(title::text) gin_trgm_ops, UPPER(description) gin_trgm_ops)"
        )


def drop(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for name in INDEXES:
        schema_editor.execute(f"DROP INDEX IF EXISTS {name}")


class Migration(migrations.Migration):
    dependencies = [
        ("projects", "0013_newest_check_in_and_open_critical_flags"),
    ]

    operations = [migrations.RunPython(create, drop, elidable=False)]

"""Create the database cache table, so `manage.py migrate` alone gives a working app.

The attempt limits and the scan locks use the default cache; when that is the database cache
(no CACHE_URL) its table must exist before the first sign-in. This runs Django's own
`createcachetable`, which creates a table only for the caches configured with the
DatabaseCache backend and skips tables that already exist: idempotent, and a no-op under a
Redis cache (a deployment switching to the database cache later runs `createcachetable` once).
"""

from django.core.management import call_command
from django.db import migrations


def create_cache_tables(apps, schema_editor):
    call_command("createcachetable", database=schema_editor.connection.alias, verbosity=0)


class Migration(migrations.Migration):
    dependencies = [("crm_alignment", "0001_roles")]
    # Kept: the table belongs to the cache configuration, not to a model, and unapplying the
    # app's migrations must not take it from a cache still configured to use it.
    operations = [migrations.RunPython(create_cache_tables, migrations.RunPython.noop)]

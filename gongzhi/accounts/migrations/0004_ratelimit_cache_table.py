"""Create the database cache table the rate limiter uses in production (a no-op where no DatabaseCache is set)."""

from django.core.management import call_command
from django.db import migrations


def create_cache_tables(apps, schema_editor):
    call_command("createcachetable", database=schema_editor.connection.alias, verbosity=0)


class Migration(migrations.Migration):
    dependencies = [("accounts", "0003_password_history")]
    operations = [migrations.RunPython(create_cache_tables, migrations.RunPython.noop)]

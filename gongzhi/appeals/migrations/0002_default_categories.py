"""Seed the default category list (gongzhi/appeals/defaults.py)."""

from django.db import migrations

from gongzhi.appeals.defaults import CATEGORIES, seed


def forwards(apps, schema_editor):
    seed(apps.get_model("appeals", "Category"))


def backwards(apps, schema_editor):
    Category = apps.get_model("appeals", "Category")
    codes = [c[0] for c in CATEGORIES] + [s[0] for c in CATEGORIES for s in c[5]]
    Category.objects.filter(code__in=codes, parent__isnull=False).delete()
    Category.objects.filter(code__in=codes).delete()


class Migration(migrations.Migration):
    dependencies = [("appeals", "0001_initial")]
    operations = [migrations.RunPython(forwards, backwards)]

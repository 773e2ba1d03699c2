"""The `gongzhi` command: Django's manage.py with Gongzhi's settings (gongzhi demo, import, export, worker, …)."""

import os
import sys


def main():
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "gongzhi.settings")
    from django.core.management import execute_from_command_line
    execute_from_command_line(sys.argv)

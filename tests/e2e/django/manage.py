#!/usr/bin/env python
"""The small Django site the end-to-end tests put behind the worker."""
import os
import sys

if __name__ == "__main__":
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "e2esite.settings")
    from django.core.management import execute_from_command_line

    execute_from_command_line(sys.argv)

#!/usr/bin/env bash
# Installs Django 5.2 LTS, gunicorn, WhiteNoise (pinned by django-constraints.txt) and this
# project's Django helper (integrations/django) into a virtual environment, and prepares the
# test site's state (database, user, static files).
#   usage: setup.sh DIR
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
dir="$(mkdir -p "$1" && cd "$1" && pwd)"
venv="$dir/django-venv"
export E2E_DJANGO_STATE="$dir/django-state"
python="${PYTHON:-python3}"
if [ ! -x "$venv/bin/gunicorn" ]; then
  rm -rf "$venv"
  "$python" -m venv "$venv"
  "$venv/bin/pip" install -q --disable-pip-version-check -c "$here/../django-constraints.txt" Django gunicorn whitenoise
fi
# This project's Django helper (integrations/django), from its path: reinstalled every time
# (cheap), so that the site runs what is checked out.
"$venv/bin/pip" install -q --disable-pip-version-check --force-reinstall --no-deps "$here/../../../integrations/django"
mkdir -p "$E2E_DJANGO_STATE"
cd "$here"
# Each step is idempotent: a state made before a new migration or user is brought up to date.
"$venv/bin/python" manage.py migrate -v 0
if [ ! -f "$E2E_DJANGO_STATE/ready" ]; then
  "$venv/bin/python" manage.py collectstatic --noinput -v 0
  touch "$E2E_DJANGO_STATE/ready"
fi
"$venv/bin/python" manage.py shell -c "
from django.contrib.auth.models import User
for name, staff in (('member1', False), ('member2', False), ('editor1', True)):
    User.objects.filter(username=name).exists() or User.objects.create_user(name, password=name + '-e2e-pass', is_staff=staff)
"

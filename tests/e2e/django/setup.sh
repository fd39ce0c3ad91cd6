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
if [ ! -f "$E2E_DJANGO_STATE/ready" ]; then
  mkdir -p "$E2E_DJANGO_STATE"
  cd "$here"
  "$venv/bin/python" manage.py migrate -v 0
  "$venv/bin/python" manage.py collectstatic --noinput -v 0
  "$venv/bin/python" manage.py shell -c "from django.contrib.auth.models import User; User.objects.filter(username='member1').exists() or User.objects.create_user('member1', password='member1-e2e-pass')"
  touch "$E2E_DJANGO_STATE/ready"
fi

#!/usr/bin/env bash
# Installs Wagtail (pinned by wagtail-constraints.txt), gunicorn and this project's two Python
# packages (integrations/django, integrations/wagtail, from their paths) into a virtual
# environment, and prepares the test site's state (database, pages).
#   usage: setup.sh DIR
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../../.." && pwd)"
dir="$(mkdir -p "$1" && cd "$1" && pwd)"
venv="$dir/wagtail-venv"
export E2E_WAGTAIL_STATE="$dir/wagtail-state"
python="${PYTHON:-python3}"
if [ ! -x "$venv/bin/gunicorn" ]; then
  rm -rf "$venv"
  "$python" -m venv "$venv"
  "$venv/bin/pip" install -q --disable-pip-version-check -c "$here/../wagtail-constraints.txt" wagtail gunicorn
fi
# The project's packages: reinstalled every time (cheap), so that the site runs what is checked out.
"$venv/bin/pip" install -q --disable-pip-version-check --force-reinstall --no-deps \
  "$root/integrations/django" "$root/integrations/wagtail"
if [ ! -f "$E2E_WAGTAIL_STATE/ready" ]; then
  mkdir -p "$E2E_WAGTAIL_STATE"
  cd "$here"
  "$venv/bin/python" manage.py migrate -v 0
  "$venv/bin/python" manage.py shell -v 0 -c "exec(open('create_site.py').read())"
  touch "$E2E_WAGTAIL_STATE/ready"
fi

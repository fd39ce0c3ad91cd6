#!/usr/bin/env bash
# Starts or stops the real applications of the end-to-end tests on loopback:
# Plone (waitress, $E2E_PLONE_PORT), Django (gunicorn, $E2E_DJANGO_PORT) and Wagtail
# (gunicorn, $E2E_WAGTAIL_PORT).
#   apps.sh start DIR   starts what is not running yet and waits until each answers
#   apps.sh stop DIR    stops what `start` started (by the PIDs it wrote)
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
cmd="$1"
dir="$(mkdir -p "$2" && cd "$2" && pwd)"
plone_port="${E2E_PLONE_PORT:-18080}"
django_port="${E2E_DJANGO_PORT:-18090}"
wagtail_port="${E2E_WAGTAIL_PORT:-18100}"

answers() { curl -s -o /dev/null --max-time 5 "$1"; }

wait_for() {
  local url="$1" name="$2" log="$3"
  for _ in $(seq 1 120); do
    if answers "$url"; then return 0; fi
    sleep 0.5
  done
  echo "$name did not start; its log:" >&2
  tail -n 40 "$log" >&2
  exit 1
}

case "$cmd" in
  start)
    if ! answers "http://127.0.0.1:$plone_port/Plone"; then
      "$dir/plone-venv/bin/runwsgi" "$dir/plone-instance/etc/zope.ini" >"$dir/plone.log" 2>&1 &
      echo $! >"$dir/plone.pid"
    fi
    if ! answers "http://127.0.0.1:$django_port/"; then
      (cd "$here/django" && E2E_DJANGO_STATE="$dir/django-state" exec "$dir/django-venv/bin/gunicorn" \
        --bind "127.0.0.1:$django_port" --workers 2 e2esite.wsgi) >"$dir/django.log" 2>&1 &
      echo $! >"$dir/django.pid"
    fi
    if ! answers "http://127.0.0.1:$wagtail_port/news/"; then
      (cd "$here/wagtail" && E2E_WAGTAIL_STATE="$dir/wagtail-state" exec "$dir/wagtail-venv/bin/gunicorn" \
        --bind "127.0.0.1:$wagtail_port" --workers 2 wagsite.wsgi) >"$dir/wagtail.log" 2>&1 &
      echo $! >"$dir/wagtail.pid"
    fi
    wait_for "http://127.0.0.1:$plone_port/Plone" Plone "$dir/plone.log"
    wait_for "http://127.0.0.1:$django_port/" Django "$dir/django.log"
    wait_for "http://127.0.0.1:$wagtail_port/news/" Wagtail "$dir/wagtail.log"
    ;;
  stop)
    for app in plone django wagtail; do
      if [ -f "$dir/$app.pid" ]; then
        pid="$(cat "$dir/$app.pid")"
        kill "$pid" 2>/dev/null || true
        for _ in $(seq 1 40); do kill -0 "$pid" 2>/dev/null || break; sleep 0.25; done
        rm -f "$dir/$app.pid"
      fi
    done
    ;;
  *)
    echo "usage: $0 start|stop DIR" >&2
    exit 2
    ;;
esac

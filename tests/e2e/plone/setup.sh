#!/usr/bin/env bash
# Installs Plone 6.2.2 (pinned by plone-constraints.txt) into a virtual environment, writes a
# WSGI instance listening on 127.0.0.1:$PLONE_PORT with blob storage, and creates the site
# /Plone with scripted content and users (create_site.py). Each step is skipped when done.
#   usage: setup.sh DIR PORT
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
dir="$(mkdir -p "$1" && cd "$1" && pwd)"
port="$2"
venv="$dir/plone-venv"
instance="$dir/plone-instance"
python="${PYTHON:-python3}"

if [ ! -x "$venv/bin/runwsgi" ]; then
  rm -rf "$venv"
  "$python" -m venv "$venv"
  "$venv/bin/pip" install -q --disable-pip-version-check -c "$here/../plone-constraints.txt" Plone==6.2.2
fi

if [ ! -f "$instance/etc/zope.ini" ]; then
  rm -rf "$instance"
  "$venv/bin/mkwsgiinstance" -d "$instance" -u admin:admin >/dev/null
  # Files and images need a blob storage.
  "$python" - "$instance/etc/zope.conf" <<'PY'
import re, sys
path = sys.argv[1]
text = open(path).read()
main = re.search(r"^<zodb_db main>.*?^</zodb_db>", text, flags=re.S | re.M)
block = re.sub(r"(<filestorage>.*?</filestorage>)",
               "<blobstorage>\n     blob-dir $INSTANCE/var/blobstorage\n     \\1\n   </blobstorage>",
               main.group(0), count=1, flags=re.S)
text = text[:main.start()] + block + text[main.end():]
open(path, "w").write(text)
PY
fi
sed -i "s/^port = .*/port = $port/" "$instance/etc/zope.ini"

# The marker names the version of create_site.py: a site made by an older one is made again.
if [ ! -f "$instance/var/site-created-2" ]; then
  PLONE_E2E_USERS="$here/users.json" "$venv/bin/zconsole" run "$instance/etc/zope.conf" "$here/create_site.py"
  touch "$instance/var/site-created-2"
fi

"""Publishes a new revision of the page at E2E_SLUG with E2E_BODY through Wagtail's own API
(save_revision().publish(), which fires the frontend cache's purge), and prints what the
purge backend logged (its purge ids), as JSON.
usage: manage.py shell -c "exec(open('publish.py').read())" """
import json
import logging
import os
import re

from wagsite.models import ArticlePage

logged = []


class Collect(logging.Handler):
    def emit(self, record):
        logged.append(record.getMessage())


logging.getLogger("wagtail.frontendcache").addHandler(Collect())
page = ArticlePage.objects.get(slug=os.environ["E2E_SLUG"]).specific
page.body = os.environ["E2E_BODY"]
page.save_revision().publish()
ids = [i for m in logged for found in re.findall(r"\(purge ([^)]*)\)", m) for i in found.split(", ")]
print(json.dumps({"purgeIds": ids, "logged": logged, "page": page.pk}))

# Adds the offload benchmark's pages to the end-to-end Django site: run with the site's
# manage.py shell. OFFLOAD_PAGES pages page-0000 … with deterministic text; skips what exists.
import os
import random

from e2esite.models import Page

pages = int(os.environ.get("OFFLOAD_PAGES", "2000"))
rng = random.Random(30)
WORDS = "cache edge purge origin visitor member page folder news event image file site content view".split()
have = set(Page.objects.values_list("slug", flat=True))
new = []
for i in range(pages):
    words = " ".join(rng.choice(WORDS) for _ in range(120 + rng.randrange(400)))
    slug = f"page-{i:04d}"
    if slug not in have:
        new.append(Page(slug=slug, title=f"Page {i}", body=f"Page {i}: {words}"))
Page.objects.bulk_create(new, batch_size=500)
print(f"offload content: {pages} pages ({len(new)} new)")

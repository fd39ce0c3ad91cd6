"""Creates the test pages under the default site's root page (idempotent)."""
from wagtail.models import Page, Site

from wagsite.models import ArticlePage

root = Site.objects.get(is_default_site=True).root_page
for slug in ("news", "events"):
    if not ArticlePage.objects.filter(slug=slug).exists():
        page = ArticlePage(title=slug.capitalize(), slug=slug, body=f"{slug}: first version")
        root.add_child(instance=page)
        page.save_revision().publish()

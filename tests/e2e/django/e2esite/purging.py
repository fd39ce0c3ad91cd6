"""Purges the edge when a page is saved: the page's URL and the page list, to each configured
edge. A rulecache edge is purged with the project's own Django integration
(rulecache_django.PurgeClient: one signed purge, the purge secret never sent); any other edge
(Varnish) with one plain PURGE per URL, which its ACL admits. The edges are read at each save
from $E2E_DJANGO_STATE/purge-proxies.json ([{"kind": "rulecache" | "http", "url": ...,
"secret": ...}]), so a running site can be pointed at another edge; no file, no purge."""
import json
import logging
import urllib.request

from django.conf import settings
from django.db import transaction
from django.db.models.signals import post_save
from django.dispatch import receiver

from .models import Page

log = logging.getLogger(__name__)


def edges():
    try:
        with open(settings.STATE / "purge-proxies.json") as f:
            return json.load(f)
    except (OSError, ValueError):
        return []


def purge(paths):
    for edge in edges():
        try:
            if edge.get("kind") == "rulecache":
                from rulecache_django import PurgeClient

                PurgeClient(edge["url"], edge["secret"]).purge(urls=paths)
            else:
                for path in paths:
                    request = urllib.request.Request(edge["url"].rstrip("/") + path, method="PURGE")
                    urllib.request.urlopen(request, timeout=5).read()
        except Exception as e:  # an edge that refuses keeps its copies until they expire
            log.warning("purge of %s at %s failed: %s", paths, edge.get("url"), e)


@receiver(post_save, sender=Page)
def purge_page(sender, instance, **kwargs):
    paths = [instance.get_absolute_url(), "/pages/"]
    transaction.on_commit(lambda: purge(paths))

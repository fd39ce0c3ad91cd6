"""A Wagtail frontend-cache backend for rulecache.

    WAGTAILFRONTENDCACHE = {
        "rulecache": {
            "BACKEND": "rulecache_wagtail.RulecacheBackend",
            "LOCATION": "https://www.example.org",   # the site at the edge
            "PURGE_SECRET": os.environ["RULECACHE_PURGE_SECRET"],
            # optional: "ADMIN_PREFIX": "/_rulecache", "SOFT": False, "TIMEOUT": 10,
            # "HOSTNAMES": ["www.example.org"],
        },
    }

Wagtail hands the backend every URL one publish changes; this backend sends them to the edge
as **one signed request per batch** (HMAC-SHA256 with the purge secret, which never travels),
where Wagtail's stock HTTP backend sends one unauthenticated ``PURGE`` per URL. Each URL is
purged with all its query strings. ``purge_prefixes`` and ``purge_tags`` purge a section or
a cache group at once. The purge's id (its receipt at the edge) is logged.
"""

import logging
from urllib.parse import urlsplit

from rulecache_django import PurgeClient, PurgeError
from wagtail.contrib.frontend_cache.backends.base import BaseBackend

logger = logging.getLogger("wagtail.frontendcache")

__all__ = ["RulecacheBackend"]


def _path_of(url):
    """The path and query of ``url`` (absolute or a path), as the edge purges it on its own
    host."""
    parts = urlsplit(url)
    path = parts.path or "/"
    return f"{path}?{parts.query}" if parts.query else path


class RulecacheBackend(BaseBackend):
    def __init__(self, params):
        super().__init__(params)
        location = params.get("LOCATION")
        secret = params.get("PURGE_SECRET")
        if not location or not secret:
            raise ValueError("RulecacheBackend needs LOCATION (the site at the edge) and PURGE_SECRET")
        self.soft = bool(params.get("SOFT", False))
        self.client = PurgeClient(
            location,
            secret,
            admin_prefix=params.get("ADMIN_PREFIX", "/_rulecache"),
            timeout=float(params.get("TIMEOUT", 10)),
        )
        self.last_ids = []

    def _send(self, what, **targets):
        try:
            self.last_ids = self.client.purge(soft=self.soft, **targets)
        except (PurgeError, OSError) as e:
            logger.error("rulecache: purge of %s failed: %s", what, e)
            self.last_ids = []
            return
        logger.info("rulecache: purged %s (purge %s)", what, ", ".join(str(i) for i in self.last_ids))

    def purge(self, url):
        self.purge_batch([url])

    def purge_batch(self, urls):
        paths = sorted({_path_of(u) for u in urls})
        if paths:
            self._send(f"{len(paths)} URL(s)", urls=paths)

    def purge_prefixes(self, prefixes):
        """Purges everything under each path prefix (whole path segments)."""
        prefixes = sorted(set(prefixes))
        if prefixes:
            self._send(f"{len(prefixes)} prefix(es)", prefixes=prefixes)

    def purge_tags(self, tags):
        """Purges every response that named one of ``tags`` (``Cache-Tag``, ``Surrogate-Key``,
        ``xkey`` or RFC 9875 ``Cache-Groups``)."""
        tags = sorted(set(tags))
        if tags:
            self._send(f"{len(tags)} tag(s)", tags=tags)

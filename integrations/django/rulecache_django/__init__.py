"""Purge rulecache from Django.

- :class:`PurgeClient`: one signed purge request (HMAC-SHA256, the purge secret) for any number
  of URLs, path prefixes and tags; returns the purge's id (its receipt) for logging.
- :func:`cache_groups`: a view decorator that names the cache groups (RFC 9875 ``Cache-Groups``)
  a response belongs to, so the edge can invalidate it with the group.
- :func:`invalidates_groups` and :class:`CacheGroupInvalidationMiddleware`: the response to an
  edit (an unsafe method) carries ``Cache-Group-Invalidation``, and the edge invalidates those
  groups as it passes the response on, without a purge call.
"""

from .client import PurgeClient, PurgeError, sign_v2
from .groups import (
    CacheGroupInvalidationMiddleware,
    cache_groups,
    invalidate_groups,
    invalidates_groups,
    serialize_groups,
)

__all__ = [
    "PurgeClient",
    "PurgeError",
    "sign_v2",
    "cache_groups",
    "invalidate_groups",
    "invalidates_groups",
    "serialize_groups",
    "CacheGroupInvalidationMiddleware",
]

"""RFC 9875 (HTTP Cache Groups) for Django views.

``Cache-Groups`` (RFC 9875 §2): "a List of Strings (Section 3.1.1 of [STRUCTURED-FIELDS]).
Each member of the List is a value that identifies a group that the response belongs to."

``Cache-Group-Invalidation`` (RFC 9875 §3): on a response to an unsafe request, "a List of
Strings" naming groups whose stored responses the cache invalidates; caches ignore it on
responses to safe methods.
"""

import functools
import threading

_UNSAFE = frozenset({"POST", "PUT", "PATCH", "DELETE"})
_state = threading.local()


def serialize_groups(groups):
    """A Structured Fields List of Strings: each group quoted, ``\\`` and ``"`` escaped; only
    printable ASCII is allowed in an sf-string (RFC 8941 §3.3.3)."""
    out = []
    for g in groups:
        g = str(g)
        if not g or any(not (0x20 <= ord(c) <= 0x7E) for c in g):
            raise ValueError(f"a cache group is printable ASCII, not empty: {g!r}")
        out.append('"' + g.replace("\\", "\\\\").replace('"', '\\"') + '"')
    return ", ".join(out)


def _groups_of(groups, request, args, kwargs):
    return groups(request, *args, **kwargs) if callable(groups) else groups


def cache_groups(groups):
    """Decorates a view: its responses carry ``Cache-Groups`` naming ``groups`` (a list, or a
    callable ``(request, *args, **kwargs) -> list``)."""

    def decorate(view):
        @functools.wraps(view)
        def wrapped(request, *args, **kwargs):
            response = view(request, *args, **kwargs)
            names = list(_groups_of(groups, request, args, kwargs))
            if names:
                response["Cache-Groups"] = serialize_groups(names)
            return response

        return wrapped

    return decorate


def invalidate_groups(*groups):
    """Names groups the current request's edit invalidates (call it in a view or a model's
    ``save``/``post_save`` handler); :class:`CacheGroupInvalidationMiddleware` writes them on
    the response."""
    pending = getattr(_state, "groups", None)
    if pending is None:
        pending = _state.groups = []
    for g in groups:
        if g not in pending:
            pending.append(g)


def invalidates_groups(groups):
    """Decorates a view that edits: a successful response to an unsafe method carries
    ``Cache-Group-Invalidation`` naming ``groups`` (a list, or a callable as for
    :func:`cache_groups`)."""

    def decorate(view):
        @functools.wraps(view)
        def wrapped(request, *args, **kwargs):
            response = view(request, *args, **kwargs)
            if request.method in _UNSAFE and response.status_code < 400:
                names = list(_groups_of(groups, request, args, kwargs))
                if names:
                    response["Cache-Group-Invalidation"] = serialize_groups(names)
            return response

        return wrapped

    return decorate


class CacheGroupInvalidationMiddleware:
    """Writes the groups :func:`invalidate_groups` named during an unsafe request onto its
    successful response as ``Cache-Group-Invalidation``."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        _state.groups = []
        try:
            response = self.get_response(request)
            names = list(_state.groups)
        finally:
            _state.groups = None
        if names and request.method in _UNSAFE and response.status_code < 400:
            existing = response.get("Cache-Group-Invalidation")
            value = serialize_groups(names)
            response["Cache-Group-Invalidation"] = f"{existing}, {value}" if existing else value
        return response

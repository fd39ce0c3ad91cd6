"""A signed purge client for rulecache's purge API (``POST <admin>/api/purge``).

The request is signed as the edge verifies it (``X-Rulecache-Signature: v2=<hex>``):

    "v2" LF METHOD LF host LF path-and-query LF timestamp LF hex(sha256(body))
    LF X-Purge-Tags LF X-Purge-Soft LF Surrogate-Key LF Fastly-Soft-Purge

keyed with the purge secret, which never leaves this process. A signature is accepted once,
within 300 s of its timestamp: each request carries a random `n` query parameter, which the
signature covers, so that the same purge sent twice within one second (two publishes of one
page) is two signatures, not a replay. Standard library only.
"""

import hashlib
import hmac
import json
import secrets
import time
import urllib.error
import urllib.parse
import urllib.request

# The fields that change what a PURGE purges: each signed as one line (empty when absent).
_PURGE_FIELDS = ("x-purge-tags", "x-purge-soft", "surrogate-key", "fastly-soft-purge")

# The most URLs, prefixes and tags one request carries (the edge refuses bigger bodies than
# 1 MiB; batches are split below that).
MAX_TARGETS_PER_REQUEST = 1000


class PurgeError(Exception):
    """The edge did not take the purge: ``status`` and its answer (``errors`` when it lists them)."""

    def __init__(self, status, answer):
        super().__init__(f"purge refused ({status}): {answer}")
        self.status = status
        self.answer = answer


def sign_v2(secret, method, host, path_and_query, timestamp, body, fields=None):
    """The ``X-Rulecache-Signature`` value for a request."""
    fields = {k.lower(): v for k, v in (fields or {}).items()}
    text = "\n".join(
        [
            "v2",
            method.upper(),
            host.strip().lower(),
            path_and_query,
            str(timestamp),
            hashlib.sha256(body).hexdigest(),
        ]
        + [fields.get(name, "").strip() for name in _PURGE_FIELDS]
    )
    digest = hmac.new(secret.strip().encode(), text.encode(), hashlib.sha256).hexdigest()
    return f"v2={digest}"


class PurgeClient:
    """Sends purges to one rulecache deployment.

    ``base_url``: the site's address at the edge (``https://www.example.org``);
    ``secret``: the purge secret (``PURGE_SECRET``); ``admin_prefix``: the worker's
    ``ADMIN_PREFIX``.
    """

    def __init__(self, base_url, secret, admin_prefix="/_rulecache", timeout=10.0):
        if not secret:
            raise ValueError("the purge secret is required")
        parts = urllib.parse.urlsplit(base_url)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ValueError(f"not an http(s) URL: {base_url!r}")
        self._origin = f"{parts.scheme}://{parts.netloc}"
        self._host = parts.netloc
        self._path = admin_prefix.rstrip("/") + "/api/purge"
        self._secret = secret
        self._timeout = timeout

    def purge(self, urls=(), prefixes=(), tags=(), soft=False):
        """Purges every URL (all its query strings), path prefix and tag in one request per
        :data:`MAX_TARGETS_PER_REQUEST` targets. Returns the purge ids (receipts), in order."""
        targets = [("urls", u) for u in urls] + [("prefixes", p) for p in prefixes] + [("tags", t) for t in tags]
        ids = []
        for start in range(0, len(targets), MAX_TARGETS_PER_REQUEST):
            chunk = targets[start : start + MAX_TARGETS_PER_REQUEST]
            body = {"urls": [], "prefixes": [], "tags": [], "soft": bool(soft)}
            for kind, value in chunk:
                body[kind].append(value)
            ids.append(self._send(body))
        return ids

    def _send(self, body):
        data = json.dumps(body, separators=(",", ":")).encode()
        timestamp = int(time.time())
        path = f"{self._path}?n={secrets.token_hex(8)}"
        signature = sign_v2(self._secret, "POST", self._host, path, timestamp, data)
        request = urllib.request.Request(
            self._origin + path,
            data=data,
            method="POST",
            headers={
                "content-type": "application/json",
                "x-rulecache-timestamp": str(timestamp),
                "x-rulecache-signature": signature,
            },
        )
        try:
            with urllib.request.urlopen(request, timeout=self._timeout) as response:
                answer = json.loads(response.read() or b"{}")
        except urllib.error.HTTPError as e:
            text = e.read().decode("utf-8", "replace")
            try:
                answer = json.loads(text)
            except ValueError:
                answer = text
            raise PurgeError(e.code, answer) from None
        return answer.get("id")

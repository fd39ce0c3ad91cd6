"""A probe origin for the adversarial runtime tests: a small HTTP server on loopback that
behaves like a CMS behind the edge, reads cookies the way a chosen origin does, names in every
body the user it rendered the page for, and records what it received.

The first path segment picks the cookie parser: /zope/... (ZPublisher's parse_cookie),
/python/... (http.cookies.SimpleCookie), /node/... (the cookie npm package's parse) or
/lenient/... (split at ';', ',' and whitespace). A login is an `__ac` (or `__ac_*`) cookie
holding a ticket this server signed (see /__probe/ticket), or `Authorization: Basic` with
user:user; anything else is anonymous.

What a path answers (after the parser segment):
  *.css, *.js      a resource (Cache-Control: max-age=60)
  *.pdf            a file, Plone's headers (max-age=0, s-maxage=86400, must-revalidate)
  /page/...        an item view (X-Cache-Ruleset: plone.content.itemView), ETag, 304s
  /expiring/...    honoured by the edge: max-age=2, ETag, 304s
  /@@personal-information/...  the member's page, whatever the extension
  anything else    max-age=60
Query parameters override: status, cc (Cache-Control), ct (Content-Type), vary, hint
(X-Cache-Ruleset), size (bytes of padding in the body). A request with more than 100 header fields is answered 431, as servers do.

A request accepting JSON gets a JSON body (the ETag does not change: this origin does not vary).

Control endpoints: /__probe/cc304?path=P&cc=C (Cache-Control of P's 304s), /__probe/ticket?user=U, /__probe/whoami (who the request is, per parser
segment in ?parser=), /__probe/log?path=P (what reached P), /__probe/fail?path=P&count=N (the
next N requests to P answer 503 with a long max-age), /__probe/bump?path=P (new version).

Run: python3 probe_origin.py --port 0  (prints "listening on http://127.0.0.1:PORT").
"""

import argparse
import base64
import hashlib
import hmac
import json
import re
import socket
import sys
import threading
import urllib.parse
from http.cookies import SimpleCookie, CookieError
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

SECRET = b"probe-ticket-secret"
AUTH_NAME = "__ac"
AUTH_PREFIX = "__ac_"


# --- cookie parsers -------------------------------------------------------------------------

# ZPublisher.HTTPRequest (Zope 5), verbatim.
QPARMRE = re.compile('([\x00- ]*([^\x00- ;,="]+)="([^"]*)"([\x00- ]*[;,])?[\x00- ]*)')
PARMRE = re.compile('([\x00- ]*([^\x00- ;,="]+)=([^;]*)([\x00- ]*[;,])?[\x00- ]*)')
PARAMLESSRE = re.compile('([\x00- ]*([^\x00- ;,="]+)[\x00- ]*[;,][\x00- ]*)')


def parse_zope(text):
    result = {}
    while True:
        mo_q = QPARMRE.match(text)
        if mo_q:
            c_len, name, value = len(mo_q.group(1)), mo_q.group(2), mo_q.group(3)
        else:
            mo_p = PARMRE.match(text)
            if mo_p:
                c_len, name, value = len(mo_p.group(1)), mo_p.group(2), mo_p.group(3)
            else:
                broken = PARAMLESSRE.match(text)
                if not broken:
                    return result
                c_len, name, value = len(broken.group(1)), broken.group(2), ""
        if name not in result:
            result[name] = urllib.parse.unquote(value)
        text = text[c_len:]


def parse_python(text):
    c = SimpleCookie()
    try:
        c.load(text)
    except CookieError:
        pass
    return {k: m.value for k, m in c.items()}


def parse_node(s):
    """The cookie npm package's parse (1.x)."""
    obj = {}
    n = len(s)
    if n < 2:
        return obj
    index = 0
    while True:
        eq = s.find("=", index)
        if eq == -1:
            break
        colon = s.find(";", index)
        end = n if colon == -1 else colon
        if eq > end:
            index = s.rfind(";", 0, eq) + 1
        else:
            ks = index
            while ks < eq and s[ks] in " \t":
                ks += 1
            ke = eq
            while ke > ks and s[ke - 1] in " \t":
                ke -= 1
            key = s[ks:ke]
            if key not in obj:
                vs = eq + 1
                while vs < end and s[vs] in " \t":
                    vs += 1
                ve = end
                while ve > vs and s[ve - 1] in " \t":
                    ve -= 1
                if vs < len(s) and s[vs] == '"' and ve > 0 and s[ve - 1] == '"':
                    vs += 1
                    ve -= 1
                val = s[vs:ve] if vs < ve else ""
                if "%" in val:
                    try:
                        val = urllib.parse.unquote(val, errors="strict")
                    except UnicodeDecodeError:
                        pass
                obj[key] = val
            index = end + 1
        if index >= n:
            break
    return obj


def parse_lenient(text):
    out = {}
    for piece in re.split(r"[;,\s]", text):
        if "=" not in piece:
            continue
        name, value = piece.split("=", 1)
        name = urllib.parse.unquote(name.strip('"')).lower()
        if name:
            out.setdefault(name, value.strip().strip('"'))
    return out


PARSERS = {"zope": parse_zope, "python": parse_python, "node": parse_node, "lenient": parse_lenient}


def ticket(user):
    sig = hmac.new(SECRET, user.encode(), hashlib.sha256).hexdigest()[:16]
    return f"t.{user}.{sig}"


def ticket_user(value):
    parts = value.strip().split(".")
    if len(parts) == 3 and parts[0] == "t" and hmac.compare_digest(ticket(parts[1]), value.strip()):
        return parts[1]
    return None


def who(parser, cookie_fields, authorization):
    """The user a request is for, as this origin reads it (None: anonymous)."""
    # Servers join repeated Cookie fields: WSGI servers with ", ", Node with "; ".
    joined = ("; " if parser == "node" else ", ").join(cookie_fields)
    cookies = PARSERS[parser](joined) if joined else {}
    for name, value in cookies.items():
        if name == AUTH_NAME or name.startswith(AUTH_PREFIX):
            user = ticket_user(value)
            if user:
                return user
    if authorization and authorization.lower().startswith("basic "):
        try:
            user, _, password = base64.b64decode(authorization[6:].strip()).decode().partition(":")
            if user and user == password:
                return user
        except Exception:
            pass
    return None


# --- the server -----------------------------------------------------------------------------

LOCK = threading.Lock()
LOG = {}  # path -> [request records]
FAIL = {}  # path -> remaining 503s
VERSION = {}  # path -> version
CC304 = {}  # path -> Cache-Control sent with its 304s
COUNTER = [0]


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "probe"
    sys_version = ""

    def log_message(self, *args):
        pass

    def send(self, status, headers, body=b""):
        self.send_response(status)
        for k, v in headers:
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD" and status not in (204, 304):
            self.wfile.write(body)

    def control(self, path, q):
        first = lambda k, d="": q.get(k, [d])[0]
        with LOCK:
            if path == "/__probe/ticket":
                out = {"ticket": ticket(first("user"))}
            elif path == "/__probe/whoami":
                parser = first("parser", "zope")
                out = {"user": who(parser, self.headers.get_all("Cookie") or [], self.headers.get("Authorization"))}
            elif path == "/__probe/log":
                out = LOG.get(first("path"), [])
            elif path == "/__probe/fail":
                FAIL[first("path")] = int(first("count", "1"))
                out = {"ok": True}
            elif path == "/__probe/cc304":
                CC304[first("path")] = first("cc")
                out = {"ok": True}
            elif path == "/__probe/bump":
                VERSION[first("path")] = VERSION.get(first("path"), 1) + 1
                out = {"ok": True}
            else:
                out = {"error": "unknown"}
        self.send(200, [("Content-Type", "application/json"), ("Cache-Control", "no-store")], json.dumps(out).encode())

    def handle_one(self):
        if self.headers.get("Content-Length"):
            self.rfile.read(int(self.headers["Content-Length"]))
        url = urllib.parse.urlsplit(self.path)
        path = url.path
        q = urllib.parse.parse_qs(url.query, keep_blank_values=True)
        if path.startswith("/__probe/"):
            return self.control(path, q)
        first = lambda k, d=None: q.get(k, [d])[0]
        segments = path.split("/")
        parser = segments[1] if len(segments) > 1 and segments[1] in PARSERS else "zope"
        cookie_fields = self.headers.get_all("Cookie") or []
        user = who(parser, cookie_fields, self.headers.get("Authorization"))
        with LOCK:
            COUNTER[0] += 1
            n = COUNTER[0]
            version = VERSION.get(path, 1)
            record = {
                "n": n,
                "method": self.command,
                "target": self.path,
                "headers": [[k.lower(), v] for k, v in self.headers.items()],
                "user": user,
                "xAnonymous": self.headers.get("X-Anonymous"),
            }
            LOG.setdefault(path, []).append(record)
            del LOG[path][:-50]
            failing = FAIL.get(path, 0)
            if failing:
                FAIL[path] = failing - 1
        if len(self.headers) > 100:
            return self.send(431, [("Content-Type", "text/plain"), ("Cache-Control", "max-age=86400")], b"Request Header Fields Too Large\n")
        if failing:
            return self.send(503, [("Content-Type", "text/plain"), ("Cache-Control", "max-age=3600")], b"Service Unavailable\n")

        name = user or "anonymous"
        status = int(first("status", "200"))
        headers = []
        if path.endswith(".css"):
            ct, cc = "text/css", "max-age=60"
        elif path.endswith(".js"):
            ct, cc = "application/javascript", "max-age=60"
        elif path.endswith(".pdf"):
            ct, cc = "application/pdf", "max-age=0, s-maxage=86400, must-revalidate"
        elif "/page/" in path:
            ct, cc = "text/html; charset=utf-8", "max-age=0, s-maxage=5, must-revalidate"
            headers.append(("X-Cache-Ruleset", "plone.content.itemView"))
        elif "/expiring/" in path:
            ct, cc = "text/html; charset=utf-8", "max-age=2"
        else:
            ct, cc = "text/html; charset=utf-8", "max-age=60"
        if "/@@personal-information/" in path:
            ct = "text/html; charset=utf-8"
        wants_json = "json" in (self.headers.get("Accept") or "")
        if wants_json:
            ct = "application/json"
        ct = first("ct", ct)
        cc = first("cc", cc)
        if cc:
            headers.append(("Cache-Control", cc))
        if first("vary"):
            headers.append(("Vary", first("vary")))
        if first("hint"):
            headers.append(("X-Cache-Ruleset", first("hint")))
        headers.append(("Content-Type", ct))
        etag = '"%s"' % hashlib.sha256(f"{path}|{name}|{version}".encode()).hexdigest()[:16]
        headers.append(("ETag", etag))
        headers.append(("X-Probe-User", name))
        inm = self.headers.get("If-None-Match")
        if status == 200 and inm and etag in [t.strip() for t in inm.split(",")]:
            with LOCK:
                cc304 = CC304.get(path)
            h304 = [h for h in headers if h[0] != "Content-Type" and (cc304 is None or h[0] != "Cache-Control")]
            if cc304 is not None:
                h304.append(("Cache-Control", cc304))
            return self.send(304, h304)
        if wants_json:
            body = json.dumps({"user": name, "path": path, "version": version, "render": n}).encode()
            return self.send(status, headers, body)
        body = (
            f'<html><body data-user="{name}" data-path="{path}" data-version="{version}">'
            f"page of {name} at {path}, version {version}, render {n}"
            + " " * 200
            + "x" * int(first("size", "0"))
            + "</body></html>\n"
        ).encode()
        self.send(status, headers, body)

    do_GET = do_HEAD = do_POST = do_PUT = do_DELETE = handle_one


class Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def server_bind(self):
        self.socket.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        super().server_bind()

    def get_request(self):
        conn, addr = super().get_request()
        conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return conn, addr


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, default=0)
    args = ap.parse_args()
    server = Server(("127.0.0.1", args.port), Handler)
    print(f"listening on http://127.0.0.1:{server.server_address[1]}", flush=True)
    # Stop when the test that started us goes away.
    threading.Thread(target=lambda: (sys.stdin.read(), server.shutdown()), daemon=True).start()
    server.serve_forever()


if __name__ == "__main__":
    main()

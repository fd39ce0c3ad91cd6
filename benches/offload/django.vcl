# Varnish 7 in front of a Django site, the usual configuration: pass whatever carries a session
# (sessionid) or Authorization, strip every other cookie (csrftoken, analytics, messages) for
# anonymous visitors so their requests are cacheable, PURGE from loopback (the site's save
# handler sends it), grace 10 s while healthy and 1 h while the backend is sick (health probe).
# The backend's address is filled in by the offload benchmark (BACKEND_*).
vcl 4.1;

import std;

probe backend_probe {
    .request = "GET / HTTP/1.1" "Host: 127.0.0.1" "User-Agent: varnish-health-probe" "Connection: close";
    .timeout = 30s;
    .interval = 2s;
    .window = 5;
    .threshold = 3;
    .initial = 3;
}

backend default {
    .host = "BACKEND_HOST";
    .port = "BACKEND_PORT";
    .connect_timeout = 2s;
    .first_byte_timeout = 60s;
    .between_bytes_timeout = 60s;
    .probe = backend_probe;
}

acl list_purge {
    "localhost";
    "127.0.0.1";
}

sub vcl_recv {
    if (std.healthy(req.backend_hint)) {
        set req.grace = 10s;
    }
    if (req.method == "PURGE") {
        if (!client.ip ~ list_purge) {
            return (synth(405, "Not allowed."));
        }
        return (purge);
    }
    if (req.method != "GET" && req.method != "HEAD") {
        return (pass);
    }
    if (req.http.Authorization || req.http.Cookie ~ "(^|;\s*)sessionid=") {
        return (pass);
    }
    if (req.url ~ "^/admin/") {
        return (pass);
    }
    # Anonymous: no cookie reaches the cache or Django.
    unset req.http.Cookie;
    return (hash);
}

sub vcl_hit {
    # Grace: while the backend is healthy, req.grace (vcl_recv) limits a stale object to 10 s
    # past its lifetime (delivered while it is fetched again in the background); while it is
    # sick, the object's full grace (beresp.grace, 1 h) applies. Varnish 7 spells
    # plone.recipe.varnish's vcl_hit this way (return (miss) is gone from vcl_hit).
    return (deliver);
}

sub vcl_backend_response {
    # The request carried no cookie, so Vary: Cookie splits nothing: drop it to keep one copy.
    if (!bereq.http.Cookie && beresp.http.Vary) {
        set beresp.http.Vary = regsuball(beresp.http.Vary, "(?i)(^|,)\s*Cookie\s*(,|$)", "\2");
        set beresp.http.Vary = regsub(beresp.http.Vary, "^[,\s]+|[,\s]+$", "");
        if (beresp.http.Vary == "") {
            unset beresp.http.Vary;
        }
    }
    if (beresp.http.Set-Cookie) {
        set beresp.ttl = 120s;
        set beresp.uncacheable = true;
        return (deliver);
    }
    if (beresp.status >= 500) {
        set beresp.ttl = 0s;
        set beresp.uncacheable = true;
        return (deliver);
    }
    set beresp.grace = 1h;
    return (deliver);
}

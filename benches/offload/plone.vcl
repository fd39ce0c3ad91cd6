# Varnish 7 in front of Plone 6 as plone.recipe.varnish 6.0.18 generates it (its varnish6 template
# with the recipe's defaults: cookie-pass for __ac/auth_token, cookie whitelist statusmessages
# __ac _ZopeId __cp auth_token, PURGE ACL, grace 10 s while healthy and 1 h while sick, a health
# probe, here on Plone's @@ok view with a 30 s timeout: a busy Plone is slow, not sick), plus the split-view annotation plone.app.caching documents: requests without an auth
# cookie or Authorization are marked X-Anonymous (a client-sent one is removed first) and the
# cache is keyed on it. The backend's address is filled in by the offload benchmark (BACKEND_*).
vcl 4.1;

import std;

probe backend_probe {
    .request = "GET /@@ok HTTP/1.1" "Host: 127.0.0.1" "User-Agent: varnish-health-probe" "Connection: close";
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
    # Split view: X-Anonymous is the edge's statement, never the client's.
    unset req.http.X-Anonymous;
    if (!(req.http.Authorization || req.http.Cookie ~ "(^|;\s*)(__ac(|_(name|password|persistent))|auth_token)=")) {
        set req.http.X-Anonymous = "True";
    }

    if (req.method == "PURGE") {
        if (!client.ip ~ list_purge) {
            return (synth(405, "This IP is not allowed to send PURGE requests."));
        }
        return (purge);
    }

    if (req.method != "GET" &&
           req.method != "HEAD" &&
           req.method != "PUT" &&
           req.method != "POST" &&
           req.method != "TRACE" &&
           req.method != "OPTIONS" &&
           req.method != "DELETE") {
        return (pipe);
    }

    if (req.method != "GET" && req.method != "HEAD") {
        return (pass);
    }

    if (req.http.Expect) {
        return (pipe);
    }

    if (req.http.If-None-Match && !req.http.If-Modified-Since) {
        return (pass);
    }

    if (req.http.Authenticate || req.http.Authorization) {
        return (pass);
    }

    /* cookies for pass */
    set req.http.UrlNoQs = regsub(req.url, "\?.*$", "");
    if (req.http.Cookie && req.http.Cookie ~ "auth_token|__ac(|_(name|password|persistent))=") {
        if (req.url !~ "/\+\+resource\+\+zmi/" && req.http.UrlNoQs ~ "\.(js|css|woff|woff2)$") {
            unset req.http.Cookie;
            return (pipe);
        }
        return (pass);
    }

    /* Cookie whitelist, remove all not in there */
    if (req.http.Cookie) {
        set req.http.Cookie = ";" + req.http.Cookie;
        set req.http.Cookie = regsuball(req.http.Cookie, "; +", ";");
        set req.http.Cookie = regsuball(req.http.Cookie, ";(statusmessages|__ac|_ZopeId|__cp|auth_token)=", "; \1=");
        set req.http.Cookie = regsuball(req.http.Cookie, ";[^ ][^;]*", "");
        set req.http.Cookie = regsuball(req.http.Cookie, "^[; ]+|[; ]+$", "");
        if (req.http.Cookie == "") {
            unset req.http.Cookie;
        }
    }

    if (req.url ~ "^[^?]*\.(mp3|mp4|rar|tar|tgz|gz|wav|zip)(\?.*)?$") {
        return (pipe);
    }

    return (hash);
}

sub vcl_pipe {
    return (pipe);
}

sub vcl_pass {
    return (fetch);
}

sub vcl_hash {
    # Split view: anonymous and authenticated copies apart.
    hash_data(req.http.X-Anonymous);
}

sub vcl_purge {
    return (synth(200, "Purged"));
}

sub vcl_hit {
    # Grace: while the backend is healthy, req.grace (vcl_recv) limits a stale object to 10 s
    # past its lifetime (delivered while it is fetched again in the background); while it is
    # sick, the object's full grace (beresp.grace, 1 h) applies. Varnish 7 spells
    # plone.recipe.varnish's vcl_hit this way (return (miss) is gone from vcl_hit).
    return (deliver);
}

sub vcl_miss {
    return (fetch);
}

sub vcl_backend_fetch {
    return (fetch);
}

sub vcl_backend_response {
    if (beresp.http.Set-Cookie) {
        set beresp.http.X-Cacheable = "NO - Set Cookie";
        set beresp.ttl = 0s;
        set beresp.uncacheable = true;
    } elsif (beresp.http.Cache-Control ~ "private") {
        set beresp.http.X-Cacheable = "NO - Cache-Control=private";
        set beresp.uncacheable = true;
        set beresp.ttl = 120s;
    } elsif (beresp.http.Surrogate-control ~ "no-store") {
        set beresp.http.X-Cacheable = "NO - Surrogate-control=no-store";
        set beresp.uncacheable = true;
        set beresp.ttl = 120s;
    } elsif (!beresp.http.Surrogate-Control && beresp.http.Cache-Control ~ "no-cache|no-store") {
        set beresp.http.X-Cacheable = "NO - Cache-Control=no-cache|no-store";
        set beresp.uncacheable = true;
        set beresp.ttl = 120s;
    } elsif (beresp.http.Vary == "*") {
        set beresp.http.X-Cacheable = "NO - Vary=*";
        set beresp.uncacheable = true;
        set beresp.ttl = 120s;
    } elsif (beresp.ttl < 0s) {
        set beresp.http.X-Cacheable = "NO - TTL < 0";
        set beresp.uncacheable = true;
    } elsif (beresp.ttl == 0s) {
        set beresp.http.X-Cacheable = "NO - TTL = 0";
        set beresp.uncacheable = true;
    } else {
        set beresp.http.X-Cacheable = "YES";
    }

    if (beresp.status >= 500 && beresp.status < 600) {
        unset beresp.http.Cache-Control;
        set beresp.http.X-Cache = "NOCACHE";
        set beresp.http.Cache-Control = "no-cache, max-age=0, must-revalidate";
        set beresp.ttl = 0s;
        set beresp.http.Pragma = "no-cache";
        set beresp.uncacheable = true;
        return (deliver);
    }

    if (bereq.url ~ "(createObject|@@captcha)") {
        set beresp.uncacheable = true;
        return (deliver);
    }

    set beresp.grace = 1h;
    return (deliver);
}

sub vcl_deliver {
    set resp.http.grace = req.http.grace;
    if (obj.hits > 0) {
        set resp.http.X-Cache = "HIT";
    } else {
        set resp.http.X-Cache = "MISS";
    }
    if (resp.http.Cache-Control ~ "s-maxage") {
        set resp.http.Cache-Control = regsub(resp.http.Cache-Control, "s-maxage=[0-9]+", "s-maxage=0");
    }
    if (resp.http.Cache-Control ~ ", proxy-revalidate") {
        set resp.http.Cache-Control = regsub(resp.http.Cache-Control, ", proxy-revalidate", "");
    }
}

sub vcl_synth {
    set resp.http.Content-Type = "text/html; charset=utf-8";
    set resp.http.Retry-After = "5";
    synthetic({"<!DOCTYPE html><html><head><title>"} + resp.status + " " + resp.reason + {"</title></head><body><h1>Error "} + resp.status + " " + resp.reason + {"</h1></body></html>"});
    return (deliver);
}

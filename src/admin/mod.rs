//! The admin API and the control panel, under the admin prefix, behind the scoped secrets
//! (each call needs the scope `Scope::of_admin_call` names: the admin secret for policy,
//! profiles and explain, the purge secret or the admin one for purging, the stats secret or
//! the admin one for stats); and `PURGE <url>` requests. Here: the routes, the credential
//! check, policy, stats and explain;
//! `purge`: running a purge (the JSON API's and `PURGE <url>`'s), burst windows included.

use serde::Deserialize;
use serde_json::{json, Value};
use worker::*;

use super::cache;
use super::convert::headers_to_js;
use super::isolate::with_isolate;
use super::{assets, fleet, ledger, policy_store, Config};
use rulecache::flow::engine::Found;
use rulecache::flow::explain::Explain;
use rulecache::http::{Headers, RequestHead, ResponseHead, Time};
use rulecache::purge::auth::{authorize, precheck, AuthError, AuthInput, Credential, Scope};
use rulecache::purge::ledger::SignedNonce;
use rulecache::purge::receipt::DEFAULT_ACTIVE_WINDOW_MS;
use rulecache::purge::request::{PurgeRequest, MAX_BODY_BYTES};
use rulecache::storage::stats::exposition::{self, Format};
use rulecache::storage::stats::Invalidations;

mod purge;

pub use purge::purge_method;
use purge::run_purge;

/// A strict policy for the panel: only its own files, no inline code.
const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
                   connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

/// The header fields of every JSON answer.
fn json_headers() -> Headers {
    Headers::from_pairs([
        ("content-type", "application/json; charset=utf-8"),
        ("cache-control", "no-store"),
        ("x-content-type-options", "nosniff"),
    ])
}

fn json_response(status: u16, value: &Value) -> Result<Response> {
    let body = serde_json::to_vec(value).unwrap_or_default();
    Ok(Response::builder().with_status(status).with_headers(headers_to_js(&json_headers())).fixed(body))
}

fn auth_failure(e: AuthError) -> Result<Response> {
    let mut resp = json_response(e.status(), &json!({ "error": e.message() }))?;
    if e.status() == 401 {
        let _ = resp.headers_mut().set("www-authenticate", "Bearer realm=\"rulecache\"");
    }
    Ok(resp)
}

/// Checks the credential of an admin or purge request for `scope` over its exact body.
fn check(
    config: &Config,
    scope: Scope,
    method: &str,
    url: &rulecache::http::Url,
    headers: &Headers,
    body: &[u8],
    now: Time,
) -> std::result::Result<Credential, AuthError> {
    let path_and_query = match url.query() {
        Some(q) => format!("{}?{}", url.path(), q),
        None => url.path().to_string(),
    };
    // A signature covers the host the worker sees in the URL, whatever the field says.
    let mut headers = headers.clone();
    let host = match (url.host_str(), url.port()) {
        (Some(h), Some(p)) => format!("{h}:{p}"),
        (Some(h), None) => h.to_string(),
        (None, _) => String::new(),
    };
    headers.set("host", host.to_ascii_lowercase());
    let input = AuthInput { method, path_and_query: &path_and_query, headers: &headers, body };
    with_isolate(|i| authorize(&config.secrets, scope, &input, now / 1000 * 1000, &mut i.replay))
}

/// The body of an admin or purge request, read only once its headers could carry a valid
/// credential for `scope` (`precheck`: a request without one, with a wrong Bearer token or
/// Basic password, or with a malformed or expired signature is refused before any body byte
/// is read), and at most [`MAX_BODY_BYTES`] of it (`None`: longer; the rest is never read).
async fn authenticated_body(
    req: &Request,
    config: &Config,
    scope: Scope,
    method: &str,
    headers: &Headers,
    now: Time,
) -> Result<Option<std::result::Result<Vec<u8>, AuthError>>> {
    if let Err(e) = precheck(&config.secrets, scope, method, headers, now / 1000 * 1000) {
        return Ok(Some(Err(e)));
    }
    Ok(super::convert::read_capped(req.inner(), MAX_BODY_BYTES).await?.map(Ok))
}

/// Everything under the admin prefix.
pub async fn handle(req: Request, env: &Env, ctx: &Context, config: &Config, now: Time) -> Result<Response> {
    let url = crate::convert::url_of(&req)?;
    let rest = url.path().strip_prefix(config.admin_prefix.as_str()).unwrap_or("").to_string();
    let method = req.inner().method().to_ascii_uppercase();
    if rest.is_empty() {
        let mut target = url.clone();
        target.set_path(&format!("{}/", config.admin_prefix));
        let headers = worker::Headers::new();
        headers.set("location", target.as_str())?;
        return Ok(Response::empty()?.with_status(301).with_headers(headers));
    }
    if let Some(asset) = assets::find(&rest) {
        if method != "GET" && method != "HEAD" {
            return json_response(405, &json!({ "error": "method not allowed" }));
        }
        let h = Headers::from_pairs([
            ("content-type", asset.content_type),
            ("cache-control", "no-cache"),
            ("content-security-policy", CSP),
            ("x-content-type-options", "nosniff"),
            ("referrer-policy", "no-referrer"),
            ("x-frame-options", "DENY"),
        ]);
        return Ok(asset.response(&headers_to_js(&h).0, method == "HEAD").into());
    }
    // The metrics live beside the API (`<prefix>/metrics`, where scrapers look for them).
    let api = if rest == "/metrics" { Some("metrics") } else { rest.strip_prefix("/api/") };
    let Some(api) = api else {
        return json_response(404, &json!({ "error": "not found" }));
    };
    let headers = super::convert::headers_from_js(req.headers());
    let scope = Scope::of_admin_call(&method, api);
    let Some(body) = authenticated_body(&req, config, scope, &method, &headers, now).await? else {
        return json_response(413, &json!({ "error": "request body too large" }));
    };
    let body = match body {
        Ok(body) => body,
        Err(e) => return auth_failure(e),
    };
    let credential = match check(config, scope, &method, &url, &headers, &body, now) {
        Ok(c) => c,
        Err(e) => return auth_failure(e),
    };
    let nonce = SignedNonce::of(&headers);
    match (method.as_str(), api) {
        ("GET", "policy") => policy_info(env, now).await,
        ("POST", "policy") => {
            let text = String::from_utf8_lossy(&body);
            match policy_store::push(env, &text, now).await? {
                Ok(version) => json_response(200, &json!({ "version": version })),
                Err(errors) => {
                    let list: Vec<Value> =
                        errors.iter().map(|e| json!({ "path": e.path, "message": e.message })).collect();
                    json_response(422, &json!({ "errors": list }))
                }
            }
        }
        ("POST", "policy/rollback") => {
            #[derive(Deserialize)]
            struct Rollback {
                version: u64,
            }
            let Ok(r) = rulecache::http::json_from_bytes::<Rollback>(&body) else {
                return json_response(
                    400,
                    &json!({ "errors": [{ "path": "/", "message": "body must be {\"version\": N}" }] }),
                );
            };
            if policy_store::rollback(env, r.version, now).await? {
                json_response(200, &json!({ "version": r.version }))
            } else {
                json_response(404, &json!({ "error": format!("version {} is not kept", r.version) }))
            }
        }
        ("GET", "profiles") => Ok(assets::profile_list(&headers_to_js(&json_headers()).0).into()),
        ("POST", "purge") => match PurgeRequest::from_json(&body) {
            Ok(purge) => run_purge(env, ctx, purge, credential, &url, nonce, now).await,
            Err(problems) => json_response(400, &json!({ "errors": problems })),
        },
        ("GET", "stats") => stats(),
        ("GET", "stats/fleet") => fleet_stats(env, config, now).await,
        ("GET", "metrics") => metrics(env, &headers, now).await,
        ("GET", p) if p.starts_with("purges/") => {
            receipt(env, p.trim_start_matches("purges/"), &url, now).await
        }
        ("POST", "explain") => explain(env, &body, config, now).await,
        _ => json_response(404, &json!({ "error": "no such admin endpoint" })),
    }
}

async fn policy_info(env: &Env, now: Time) -> Result<Response> {
    let (policy, source) = policy_store::active_with_source(env, now).await;
    let history = policy_store::history(env).await.unwrap_or_default();
    let active_version = policy.version();
    let items: Vec<Value> = history
        .iter()
        .map(|h| {
            json!({ "version": h.version, "name": h.name, "pushedAt": h.pushed_at,
                    "active": source == "kv" && h.version == active_version })
        })
        .collect();
    let bundle: Value = serde_json::from_str(policy.source()).unwrap_or(Value::Null);
    json_response(
        200,
        &json!({
            "active": { "version": active_version, "name": policy.name(), "source": source,
                        "bundle": bundle, "summary": policy.summary_json() },
            "storeError": policy_store::store_error().map(|(at, e)| json!({ "at": at, "error": e })),
            "history": items,
        }),
    )
}

fn stats() -> Result<Response> {
    let (since, rulesets, invalidations, entries, bytes, capacity) = with_isolate(|i| {
        let (since, rulesets, invalidations) = match i.stats.as_ref() {
            Some(s) => (
                s.since,
                serde_json::to_value(&s.figures.rulesets).unwrap_or(Value::Null),
                serde_json::to_value(&s.figures.invalidations).unwrap_or(Value::Null),
            ),
            None => (
                super::now(),
                json!({}),
                serde_json::to_value(Invalidations::default()).unwrap_or(Value::Null),
            ),
        };
        (since, rulesets, invalidations, i.memory.len(), i.memory.bytes(), i.memory.capacity())
    });
    json_response(
        200,
        &json!({
            "scope": "isolate",
            "since": since,
            "rulesets": rulesets,
            "invalidations": invalidations,
            "memory": { "entries": entries, "bytes": bytes, "capacityBytes": capacity },
        }),
    )
}

/// The 503 of a call that needs the fleet roll-up when it cannot be read.
fn fleet_unreadable(e: &Error) -> Result<Response> {
    json_response(503, &json!({ "error": format!("the fleet statistics could not be read: {e}") }))
}

/// The fleet's figures: every location's reports summed (at most two flush intervals behind).
async fn fleet_stats(env: &Env, config: &Config, now: Time) -> Result<Response> {
    let rollup = match fleet::rollup(env).await {
        Ok(r) => r,
        Err(e) => return fleet_unreadable(&e),
    };
    let total = rollup.figures.total();
    let latency = &rollup.figures.origin_latency;
    let quantile = |q: f64| latency.quantile_ms(q).filter(|v| v.is_finite());
    let minutes: Vec<Value> = rollup
        .minutes()
        .map(|(m, c)| {
            let mut v = serde_json::to_value(c).unwrap_or(Value::Null);
            if let Value::Object(map) = &mut v {
                map.insert("at".into(), json!(m * 60_000));
            }
            v
        })
        .collect();
    let locations: serde_json::Map<String, Value> = rollup
        .locations
        .iter()
        .map(|(name, s)| {
            (
                name.clone(),
                json!({ "lastReport": s.last_report, "firstReport": s.first_report, "isolates": s.isolates,
                        "requests": s.totals.requests(), "hits": s.totals.hits,
                        "ledger": s.ledger }),
            )
        })
        .collect();
    json_response(
        200,
        &json!({
            "scope": "fleet",
            "since": rollup.since,
            "now": now,
            "flushIntervalMs": config.stats_flush_ms,
            "totals": total,
            "requests": total.requests(),
            "rulesets": rollup.figures.rulesets,
            "originLatencyMs": { "count": latency.count(), "p50": quantile(0.5), "p95": quantile(0.95), "p99": quantile(0.99) },
            "purges": rollup.figures.purges,
            "minutes": minutes,
            "locations": locations,
        }),
    )
}

/// The fleet's figures for Prometheus (`promtool check metrics` reads the text format;
/// Prometheus asks for OpenMetrics).
async fn metrics(env: &Env, headers: &Headers, now: Time) -> Result<Response> {
    let rollup = match fleet::rollup(env).await {
        Ok(r) => r,
        Err(e) => return fleet_unreadable(&e),
    };
    let format = Format::from_accept(headers.get("accept"));
    let body = exposition::render(&rollup, format, now);
    let h = Headers::from_pairs([("content-type", format.content_type()), ("cache-control", "no-store")]);
    Ok(Response::builder().with_status(200).with_headers(headers_to_js(&h)).fixed(body.into_bytes()))
}

/// A purge's receipt: when it was recorded, and where it has been applied.
async fn receipt(env: &Env, id: &str, url: &rulecache::http::Url, now: Time) -> Result<Response> {
    let recorded = match ledger::recorded(env, id).await {
        Ok(Some(r)) => r,
        Ok(None) => {
            return json_response(404, &json!({ "error": "the purge ledger holds no purge with this id" }))
        }
        Err(e) => {
            return json_response(
                503,
                &json!({ "error": format!("the purge ledger could not be read: {e}") }),
            )
        }
    };
    let window = url
        .query_pairs()
        .find(|(k, _)| k == "activeWithinMs")
        .and_then(|(_, v)| v.parse::<Time>().ok())
        .unwrap_or(DEFAULT_ACTIVE_WINDOW_MS);
    let rollup = match fleet::rollup(env).await {
        Ok(r) => r,
        Err(e) => return fleet_unreadable(&e),
    };
    let receipt = rulecache::purge::receipt::receipt(&recorded, &rollup.locations, window, now);
    json_response(200, &serde_json::to_value(&receipt).unwrap_or(Value::Null))
}

#[derive(Deserialize)]
struct ExplainInput {
    #[serde(default = "get")]
    method: String,
    url: String,
    #[serde(default)]
    cookies: String,
    #[serde(default)]
    headers: serde_json::Map<String, Value>,
}

fn get() -> String {
    "GET".into()
}

async fn explain(env: &Env, body: &[u8], config: &Config, now: Time) -> Result<Response> {
    let input: ExplainInput = match rulecache::http::json_from_bytes(body) {
        Ok(i) => i,
        Err(e) => return json_response(400, &json!({ "errors": [format!("invalid explain request: {e}")] })),
    };
    let mut headers = Headers::new();
    for (n, v) in &input.headers {
        if let Some(v) = v.as_str() {
            headers.append(n, v);
        }
    }
    if !input.cookies.trim().is_empty() {
        headers.set("cookie", input.cookies.trim());
    }
    let Some(request) = RequestHead::parse(&input.method, &input.url, headers) else {
        return json_response(400, &json!({ "errors": ["url must be an absolute http(s) URL"] }));
    };
    let policy = policy_store::active(env, now).await;
    let mut explain = Explain::start(&policy, request, now);
    let mut entry = None;
    while let Some((key, kv)) = explain.lookup().map(|(k, kv)| (k.clone(), kv)) {
        let (found, _) = cache::lookup(env, &key, kv, explain.searches_r2()).await;
        explain.found(&policy, &found, now);
        if let Found::Entry(meta) = found {
            entry = Some(*meta);
        }
    }
    let purged = entry.as_ref().map(|m| ledger::effect(m, now));
    let sample = ResponseHead::new(200, Headers::from_pairs([("content-type", "text/html; charset=utf-8")]));
    let explanation = explain.finish(&policy, entry.as_ref().zip(purged), sample, now);
    let mut body = serde_json::to_value(&explanation).unwrap_or(Value::Null);
    // The URL the origin is sent, in this deployment.
    let origin_url = match &config.origin {
        _ if explanation.named_origin_url.is_some() => explanation.named_origin_url.clone(),
        Some(o) => rulecache::http::join_url(o, &explanation.origin_path).map(|u| u.to_string()),
        None => rulecache::http::parse_url(&input.url)
            .and_then(|u| rulecache::http::join_url(&u, &explanation.origin_path))
            .map(|u| u.to_string()),
    };
    if let (Value::Object(map), Some(url)) = (&mut body, origin_url) {
        map.insert("originUrl".into(), Value::String(url));
    }
    json_response(200, &body)
}

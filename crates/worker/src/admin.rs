//! The admin API and the control panel, under the admin prefix, behind the shared secret; and
//! `PURGE <url>` requests.

use serde::Deserialize;
use serde_json::{json, Value};
use worker::*;

use super::cache::{self, MEMORY, STATS};
use super::convert::headers_to_js;
use super::{assets, ledger, persist, policy_store, Config, REPLAY};
use rulecache::decision::Audience;
use rulecache::engine::Found;
use rulecache::flow::explain::Explain;
use rulecache::http::hex;
use rulecache::http::{Headers, RequestHead, ResponseHead, Time};
use rulecache::key;
use rulecache::policy::Policy;
use rulecache::purge::auth::{
    authorize, authorize_address, precheck, signature_bytes_of, AuthError, AuthInput, Credential, Scheme,
};
use rulecache::purge::burst::{Burst, Offer};
use rulecache::purge::ledger::{
    AppendOrder, Target, Unrecorded, BLOCKING_REFRESH_AFTER_MS, CLOCK_SKEW_MARGIN_MS,
};
use rulecache::purge::request::{PurgeRequest, MAX_BODY_BYTES};

/// A strict policy for the panel: only its own files, no inline code.
const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
                   connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

fn json_response(status: u16, value: &Value) -> Result<Response> {
    let h = Headers::from_pairs([
        ("content-type", "application/json; charset=utf-8"),
        ("cache-control", "no-store"),
        ("x-content-type-options", "nosniff"),
    ]);
    Ok(Response::builder()
        .with_status(status)
        .with_headers(headers_to_js(&h))
        .fixed(serde_json::to_vec(value).unwrap_or_default()))
}

fn auth_failure(e: AuthError) -> Result<Response> {
    let mut resp = json_response(e.status(), &json!({ "error": e.message() }))?;
    if e.status() == 401 {
        let _ = resp.headers_mut().set("www-authenticate", "Bearer realm=\"rulecache\"");
    }
    Ok(resp)
}

/// Checks the credential of an admin or purge request over its exact body.
fn check(
    config: &Config,
    method: &str,
    url: &url::Url,
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
    REPLAY.with(|r| authorize(config.secret.as_deref(), &input, now / 1000 * 1000, &mut r.borrow_mut()))
}

/// The body of an admin or purge request, read only once its headers could carry a valid
/// credential (a request without one, or with a wrong bearer token, is refused unread), and
/// at most [`MAX_BODY_BYTES`] of it (`None`: longer).
async fn authenticated_body(
    req: &Request,
    config: &Config,
    headers: &Headers,
) -> Result<Option<std::result::Result<Vec<u8>, AuthError>>> {
    if let Err(e) = precheck(config.secret.as_deref(), headers) {
        return Ok(Some(Err(e)));
    }
    Ok(super::convert::read_capped(req.inner(), MAX_BODY_BYTES).await?.map(Ok))
}

/// Everything under the admin prefix.
pub async fn handle(req: Request, env: &Env, ctx: &Context, config: &Config, now: Time) -> Result<Response> {
    let url = req.url()?;
    let rest = url.path().strip_prefix(config.admin_prefix.as_str()).unwrap_or("").to_string();
    let method = req.inner().method().to_ascii_uppercase();
    if rest.is_empty() {
        let mut target = url.clone();
        target.set_path(&format!("{}/", config.admin_prefix));
        return Response::redirect_with_status(target, 301);
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
        let body = if method == "HEAD" { Vec::new() } else { asset.body.as_bytes().to_vec() };
        return Ok(Response::builder().with_headers(headers_to_js(&h)).fixed(body));
    }
    let Some(api) = rest.strip_prefix("/api/") else {
        return json_response(404, &json!({ "error": "not found" }));
    };
    let headers = super::convert::headers_from_js(req.headers());
    let Some(body) = authenticated_body(&req, config, &headers).await? else {
        return json_response(413, &json!({ "error": "request body too large" }));
    };
    let body = match body {
        Ok(body) => body,
        Err(e) => return auth_failure(e),
    };
    let credential = match check(config, &method, &url, &headers, &body, now) {
        Ok(c) => c,
        Err(e) => return auth_failure(e),
    };
    let nonce = signature_bytes_of(&headers).map(|b| hex(&b));
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
            let Ok(r) = serde_json::from_slice::<Rollback>(&body) else {
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
        ("GET", "profiles") => {
            let list: Vec<Value> = Policy::profiles()
                .iter()
                .map(|(id, text)| {
                    let bundle: Value = serde_json::from_str(text).unwrap_or(Value::Null);
                    let name = bundle.get("name").cloned().unwrap_or(Value::Null);
                    json!({ "id": id, "name": name, "bundle": bundle })
                })
                .collect();
            json_response(200, &Value::Array(list))
        }
        ("POST", "purge") => match PurgeRequest::from_json(&body) {
            Ok(purge) => run_purge(env, ctx, purge, credential, &url, nonce, now).await,
            Err(problems) => json_response(400, &json!({ "errors": problems })),
        },
        ("GET", "stats") => stats(),
        ("POST", "explain") => explain(env, &body, config, now).await,
        _ => json_response(404, &json!({ "error": "no such admin endpoint" })),
    }
}

/// `PURGE <url>`: the Varnish/Squid/plone.cachepurging convention. Never forwarded. Purges
/// proven by Basic credentials or an allowed address join this isolate's burst window
/// (`rulecache::purge::burst`): one ledger write per burst.
pub async fn purge_method(
    req: Request,
    env: &Env,
    ctx: &Context,
    config: &Config,
    now: Time,
) -> Result<Response> {
    let url = req.url()?;
    let headers = super::convert::headers_from_js(req.headers());
    let policy = policy_store::active(env, now).await;
    let allowed = authorize_address("PURGE", headers.get("cf-connecting-ip"), policy.purge_allow_from());
    // An allowed address needs no credential; any other purge is authenticated on its headers
    // before its body is read (at most MAX_BODY_BYTES of it).
    let body = if allowed.is_some() {
        super::convert::read_capped(req.inner(), MAX_BODY_BYTES).await?
    } else {
        match authenticated_body(&req, config, &headers).await? {
            Some(Ok(body)) => Some(body),
            Some(Err(e)) => return auth_failure(e),
            None => None,
        }
    };
    let Some(body) = body else {
        return json_response(413, &json!({ "error": "request body too large" }));
    };
    let credential =
        match allowed.map(Ok).unwrap_or_else(|| check(config, "PURGE", &url, &headers, &body, now)) {
            Ok(c) => c,
            Err(e) => return auth_failure(e),
        };
    let nonce = signature_bytes_of(&headers).map(|b| hex(&b));
    let purge = PurgeRequest::from_purge_method(url.as_str(), &headers);
    // Bursts come from purgers that send one PURGE per path (Basic credentials of a proxy URL,
    // or an allowed address); Bearer and signed purges are written at once, with their id.
    if !matches!(credential.scheme(), Scheme::Basic | Scheme::Address) {
        return run_purge(env, ctx, purge, credential, &url, nonce, now).await;
    }
    let targets = match purge.targets_with_aliases(
        &credential,
        &url,
        policy.purge_paths(),
        policy.purge_aliases(),
        |u| key::primary_key(u, policy.key_options()),
    ) {
        Ok(t) => t,
        Err(problems) => return json_response(400, &json!({ "errors": problems })),
    };
    let offer = BURST.with(|b| b.borrow_mut().offer(&targets, purge.soft, now));
    match offer {
        Offer::Full => return run_purge(env, ctx, purge, credential, &url, None, now).await,
        Offer::Opened => {
            let (env, soft) = (env.clone(), purge.soft);
            ctx.wait_until(async move { write_window(&env, soft, now).await });
        }
        Offer::Joined => {}
    }
    let removed = if purge.soft { 0 } else { remove_local(env, &targets).await };
    let due = BURST.with(|b| b.borrow().due_at(purge.soft)).unwrap_or(now);
    let mut answer = purge_answer(
        None,
        purge.soft,
        &targets,
        removed,
        due + BLOCKING_REFRESH_AFTER_MS + CLOCK_SKEW_MARGIN_MS,
    );
    if let Value::Object(fields) = &mut answer {
        fields.insert("batched".into(), Value::Bool(true));
    }
    json_response(200, &answer)
}

thread_local! {
    /// This isolate's open burst windows of unsigned PURGE requests.
    static BURST: std::cell::RefCell<Burst> = std::cell::RefCell::new(Burst::new());
}

/// Writes the burst window (hard or `soft`) to the ledger once it is due, in one append; when
/// the ledger fails, the window is applied here and kept for retrying (`ledger::keep_pending`).
/// `opened_at`: when the window's first purge was taken.
async fn write_window(env: &Env, soft: bool, opened_at: Time) {
    loop {
        let now = super::now();
        match BURST.with(|b| b.borrow_mut().take_due(soft, now)) {
            Ok(targets) => {
                let order = AppendOrder { targets, soft, nonce: Some(ledger::retry_key()) };
                match ledger::append(env, &order).await {
                    Ok(answer) => ledger::apply_own(&answer, opened_at),
                    Err(e) => {
                        console_error!("rulecache: the purge ledger did not take a burst ({e}); retrying");
                        ledger::apply_local(&order.targets, soft, now);
                        ledger::keep_pending(order, super::now());
                    }
                }
                return;
            }
            Err(Some(at)) => {
                Delay::from(std::time::Duration::from_millis(at.saturating_sub(now).max(1))).await
            }
            Err(None) => return,
        }
    }
}

async fn run_purge(
    env: &Env,
    ctx: &Context,
    purge: PurgeRequest,
    credential: Credential,
    base: &url::Url,
    nonce: Option<String>,
    now: Time,
) -> Result<Response> {
    let policy = policy_store::active(env, now).await;
    let targets = match purge.targets_with_aliases(
        &credential,
        base,
        policy.purge_paths(),
        policy.purge_aliases(),
        |u| key::primary_key(u, policy.key_options()),
    ) {
        Ok(t) => t,
        Err(problems) => return json_response(400, &json!({ "errors": problems })),
    };
    // Record it globally first. A signed request's signature is its nonce (the ledger applies
    // it once, whichever isolate it reaches); any other purge gets a random one, so that a
    // retry of a write that did land is recognised.
    let signed = nonce.is_some();
    let order = AppendOrder {
        targets: targets.clone(),
        soft: purge.soft,
        nonce: nonce.or_else(|| Some(ledger::retry_key())),
    };
    let id = match ledger::append(env, &order).await {
        Ok(answer) => {
            ledger::apply_own(&answer, now);
            Some(answer.id)
        }
        Err(e) => match e.for_request(signed) {
            Unrecorded::Replayed => {
                return json_response(401, &json!({ "error": AuthError::Replayed.message() }));
            }
            Unrecorded::Refused(why) => {
                return json_response(
                    400,
                    &json!({ "error": format!("the purge ledger refused the purge: {why}") }),
                );
            }
            Unrecorded::AlreadyRecorded | Unrecorded::RetryLater => {
                // The ledger is down: this location still purges, and the write is retried.
                console_error!("rulecache: the purge ledger did not take a purge ({e}); retrying");
                ledger::apply_local(&targets, purge.soft, now);
                ledger::defer_append(env, ctx, order, now);
                None
            }
        },
    };
    // A hard purge also removes this location's copies at once; a soft one keeps them so
    // they can be revalidated conditionally (the ledger marks them stale).
    let removed = if purge.soft { 0 } else { remove_local(env, &targets).await };
    let bound = now + BLOCKING_REFRESH_AFTER_MS + CLOCK_SKEW_MARGIN_MS;
    let mut answer = purge_answer(id.as_deref(), purge.soft, &targets, removed, bound);
    if let Value::Object(fields) = &mut answer {
        fields.insert("recorded".into(), Value::Bool(id.is_some()));
        if id.is_none() {
            fields.remove("honouredEverywhereBy");
            fields.insert(
                "error".into(),
                Value::String(
                    "the purge ledger could not be reached: this location was purged, and recording the purge for the other locations is being retried"
                        .into(),
                ),
            );
            return json_response(202, &answer);
        }
    }
    json_response(200, &answer)
}

/// Removes this location's copies of what `targets` reach; how many were removed.
async fn remove_local(env: &Env, targets: &[Target]) -> usize {
    let mut removed = 0usize;
    for target in targets {
        match target {
            Target::Url(pk) => {
                for audience in [None, Some(Audience::Anonymous), Some(Audience::Authenticated)] {
                    let storage_key = key::storage_key(pk, audience, None);
                    removed += cache::delete_key(&storage_key).await;
                    persist::delete(env, &storage_key).await;
                }
            }
            Target::Prefix(prefix) => {
                removed += MEMORY
                    .with(|m| m.borrow_mut().remove_where(|_, e| e.meta.url.starts_with(prefix.as_str())));
            }
            Target::Tag(tag) => {
                removed +=
                    MEMORY.with(|m| m.borrow_mut().remove_where(|_, e| e.meta.tags.iter().any(|t| t == tag)));
            }
        }
    }
    removed
}

/// The JSON answer of a purge.
fn purge_answer(id: Option<&str>, soft: bool, targets: &[Target], removed: usize, by: Time) -> Value {
    let expanded: Vec<Value> = targets
        .iter()
        .map(|t| match t {
            Target::Url(u) => json!({ "url": u }),
            Target::Prefix(p) => json!({ "prefix": p }),
            Target::Tag(t) => json!({ "tag": t }),
        })
        .collect();
    let urls: Vec<&str> =
        targets.iter().filter_map(|t| if let Target::Url(u) = t { Some(u.as_str()) } else { None }).collect();
    json!({
        "id": id,
        "soft": soft,
        "expanded": urls,
        "targets": expanded,
        "removedLocal": removed,
        "honouredEverywhereBy": by,
    })
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
    let (since, rulesets) = STATS.with(|s| match s.borrow().as_ref() {
        Some(s) => (s.since, serde_json::to_value(&s.rulesets).unwrap_or(Value::Null)),
        None => (super::now(), json!({})),
    });
    let (entries, bytes, capacity) = MEMORY.with(|m| {
        let m = m.borrow();
        (m.len(), m.bytes(), m.capacity())
    });
    json_response(
        200,
        &json!({
            "scope": "isolate",
            "since": since,
            "rulesets": rulesets,
            "memory": { "entries": entries, "bytes": bytes, "capacityBytes": capacity },
        }),
    )
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
    let input: ExplainInput = match serde_json::from_slice(body) {
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
    while let Some((key, kv)) = explain.lookup().map(|(k, kv)| (k.to_string(), kv)) {
        let (found, _) = cache::lookup(&key, kv).await;
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

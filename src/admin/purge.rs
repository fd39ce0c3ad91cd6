//! Running a purge: the JSON API's and `PURGE <url>`'s. The ledger is written first (one
//! write per burst window for purgers that send one `PURGE` per path), this location's copies
//! are removed, and the answer says when every location honours it.

use serde_json::{json, Value};
use worker::*;

use super::{auth_failure, authenticated_body, check, json_response};
use crate::cache;
use crate::isolate::with_isolate;
use crate::{ledger, persist, policy_store, Config};
use rulecache::http::Time;
use rulecache::policy::Policy;
use rulecache::purge::auth::{authorize_address, AuthError, Credential, Scheme, Scope};
use rulecache::purge::burst::Offer;
use rulecache::purge::ledger::{
    credential_label, site_of, AppendOrder, SignedNonce, Target, Unrecorded, BLOCKING_REFRESH_AFTER_MS,
    CLOCK_SKEW_MARGIN_MS,
};
use rulecache::purge::request::{PurgeRequest, MAX_BODY_BYTES};
use rulecache::storage::key::Audience;
use rulecache::storage::key::{self, PrimaryKey};

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
    let url = crate::convert::url_of(&req)?;
    let headers = crate::convert::headers_from_js(req.headers());
    let policy = policy_store::active(env, now).await;
    let allowed = authorize_address("PURGE", headers.get("cf-connecting-ip"), policy.purge_allow_from());
    // An allowed address needs no credential; any other purge is authenticated on its headers
    // before its body is read (at most MAX_BODY_BYTES of it).
    let body = if allowed.is_some() {
        crate::convert::read_capped(req.inner(), MAX_BODY_BYTES).await?
    } else {
        match authenticated_body(&req, config, Scope::Purge, "PURGE", &headers, now).await? {
            Some(Ok(body)) => Some(body),
            Some(Err(e)) => return auth_failure(e),
            None => None,
        }
    };
    let Some(body) = body else {
        return json_response(413, &json!({ "error": "request body too large" }));
    };
    let credential = match allowed
        .map(Ok)
        .unwrap_or_else(|| check(config, Scope::Purge, "PURGE", &url, &headers, &body, now))
    {
        Ok(c) => c,
        Err(e) => return auth_failure(e),
    };
    let nonce = SignedNonce::of(&headers);
    let purge = PurgeRequest::from_purge_method(url.as_str(), &headers);
    // Bursts come from purgers that send one PURGE per path (Basic credentials of a proxy URL,
    // or an allowed address); Bearer and signed purges are written at once, with their id.
    if !matches!(credential.scheme(), Scheme::Basic | Scheme::Address) {
        return run_purge(env, ctx, purge, credential, &url, nonce, now).await;
    }
    let targets = match purge.targets_expanded(
        &credential,
        &url,
        &policy.purge_expansion(),
        |u| policy.public_url(u, &url),
        |u| key::primary_key(u, policy.key_options()),
    ) {
        Ok(t) => t,
        Err(problems) => return json_response(400, &json!({ "errors": problems })),
    };
    with_isolate(|i| i.record_purge(now));
    let offer = with_isolate(|i| i.burst.offer(&targets, purge.soft, now));
    match offer {
        Offer::Full => return run_purge(env, ctx, purge, credential, &url, None, now).await,
        Offer::Opened => {
            let (env, soft) = (env.clone(), purge.soft);
            let (label, site) = (credential_label(credential.scheme()), site_of(url.as_str()));
            ctx.wait_until(async move { write_window(&env, soft, now, label, site).await });
        }
        Offer::Joined => {}
    }
    // Until the window is written, this isolate's copy holds the purge, so that it reaches
    // here at once what only the ledger's targets reach (every query string of a URL, tags,
    // prefixes), not only the entries removed by key.
    ledger::apply_local(&targets, purge.soft, now);
    let removed = if purge.soft { 0 } else { remove_local(env, &policy, &targets).await };
    let due = with_isolate(|i| i.burst.due_at(purge.soft)).unwrap_or(now);
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

/// Writes the burst window (hard or `soft`) to the ledger once it is due, in one append; when
/// the ledger fails, the window is applied here and kept for retrying (`ledger::keep_pending`).
/// `opened_at`: when the window's first purge was taken; `credential` and `site`: the budget
/// and the site of that purge.
async fn write_window(env: &Env, soft: bool, opened_at: Time, credential: &str, site: Option<String>) {
    loop {
        let now = crate::now();
        match with_isolate(|i| i.burst.take_due(soft, now)) {
            Ok(targets) => {
                let order = AppendOrder {
                    targets,
                    soft,
                    nonce: Some(ledger::retry_key()),
                    signed_at: None,
                    credential: Some(credential.to_owned()),
                    site,
                    soft_when_collapsed: false,
                };
                match ledger::append(env, &order).await {
                    Ok(answer) => ledger::apply_own(&answer, opened_at),
                    Err(e) => {
                        console_error!("rulecache: the purge ledger did not take a burst ({e}); retrying");
                        ledger::apply_local(&order.targets, soft, now);
                        ledger::keep_pending(order, crate::now());
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

pub(super) async fn run_purge(
    env: &Env,
    ctx: &Context,
    purge: PurgeRequest,
    credential: Credential,
    base: &rulecache::http::Url,
    signed: Option<SignedNonce>,
    now: Time,
) -> Result<Response> {
    let policy = policy_store::active(env, now).await;
    let targets = match purge.targets_expanded(
        &credential,
        base,
        &policy.purge_expansion(),
        |u| policy.public_url(u, base),
        |u| key::primary_key(u, policy.key_options()),
    ) {
        Ok(t) => t,
        Err(problems) => return json_response(400, &json!({ "errors": problems })),
    };
    // Record it globally first. A signed request's signature is its nonce (the ledger applies
    // it once, whichever isolate it reaches); any other purge gets a random one, so that a
    // retry of a write that did land is recognised.
    // Its signing time goes with a signature: the ledger records it only while it can still
    // tell a replay from the first use. The budget is the credential's; tags collapse into the
    // site the purge was asked for when the budget is spent.
    let signed_at = signed.as_ref().and_then(|s| s.signed_at);
    let nonce = signed.map(|s| s.nonce);
    let signed = nonce.is_some();
    let order = AppendOrder {
        targets: targets.clone(),
        soft: purge.soft,
        nonce: nonce.or_else(|| Some(ledger::retry_key())),
        signed_at,
        credential: Some(credential_label(credential.scheme()).to_owned()),
        site: site_of(base.as_str()),
        soft_when_collapsed: false,
    };
    with_isolate(|i| i.record_purge(now));
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
    let removed = if purge.soft { 0 } else { remove_local(env, &policy, &targets).await };
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
async fn remove_local(env: &Env, policy: &Policy, targets: &[Target]) -> usize {
    let mut removed = 0usize;
    let sources: Vec<Option<&str>> = policy.key_sources().collect();
    for target in targets {
        match target {
            Target::Url(pk) => {
                // A ledger row holds the primary key as `key::primary_key` wrote it.
                let pk = PrimaryKey::from_stored(pk.as_str());
                // Every origin's copies of the URL (see `key::origin_storage_key`).
                for &source in &sources {
                    for audience in [None, Some(Audience::Anonymous), Some(Audience::Authenticated)] {
                        let storage_key = key::origin_storage_key(&pk, source, audience, None);
                        removed += cache::delete_key(&storage_key, Some(env)).await;
                        persist::delete(env, &storage_key).await;
                    }
                }
            }
            Target::Prefix(_) | Target::Tag(_) | Target::Group(_) => {}
        }
        // The memory tier is swept by the core's matching rule (whole path segments for a
        // prefix, every query string for a URL without one).
        removed += with_isolate(|i| i.memory.remove_where(|_, e| target.reaches(&e.meta.url, &e.meta.tags)));
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
            Target::Group(g) => json!({ "group": g }),
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

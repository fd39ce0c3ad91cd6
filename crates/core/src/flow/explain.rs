//! "Explain this URL": what the cache would do with a request, from the same flow that serves
//! it. The admin API (with what this location holds) and the command line (with a sample
//! origin response) both build their answer here.

use serde::Serialize;

use crate::flow::engine::{Flow, Found, Step};

use crate::http::{Headers, RequestHead, ResponseHead, Time};
use crate::policy::{PageAction, Policy};
use crate::rfc::freshness::{self, Stored, Verdict};
use crate::storage::key::StorageKey;
use crate::storage::meta::{Meta, Purged};

/// What the cache holds for the request, as the flow would judge it now.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Cached {
    pub present: bool,
    pub fresh: bool,
    /// Seconds; absent when nothing is held.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub age: Option<u64>,
    /// Seconds of freshness left (negative: stale for that long).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ttl: Option<i64>,
    /// `miss`, `hit`, `stale` or `purged`.
    pub status: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stored_at: Option<Time>,
}

/// The answer of explain.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Explanation {
    /// The page-map entry that answers the path at the edge, when one does.
    #[serde(skip)]
    pub page_map: Option<PageAction>,
    pub ruleset: Option<String>,
    pub rule: Option<String>,
    pub operation: String,
    pub chain: Vec<String>,
    pub bypass: Option<&'static str>,
    pub audience: &'static str,
    pub key: String,
    pub storage_key: String,
    pub variant: String,
    /// The page-map entry that answers the path, as the bundle writes it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub page_map_entry: Option<serde_json::Value>,
    /// The origin that serves the request: a named origin of the policy, or `default` (the
    /// deployment's own).
    pub origin: String,
    /// The URL a named origin is sent (the default origin's depends on the deployment).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub named_origin_url: Option<String>,
    /// The path and query sent to the origin.
    pub origin_path: String,
    #[serde(serialize_with = "fields")]
    pub request_headers_to_origin: Headers,
    /// The head a client would get for the stored response (or the sample one).
    #[serde(serialize_with = "fields")]
    pub response_headers: Headers,
    pub cached: Cached,
    pub policy_version: u64,
}

fn fields<S: serde::Serializer>(h: &Headers, s: S) -> Result<S::Ok, S::Error> {
    use serde::ser::SerializeMap;
    let mut map = s.serialize_map(None)?;
    for (n, v) in h.iter() {
        map.serialize_entry(n, v)?;
    }
    map.end()
}

/// An explain in progress: the flow started for the request, waiting for what the location
/// holds under [`Explain::lookup`].
#[derive(Debug, Clone)]
pub struct Explain {
    flow: Flow,
    lookup: Option<(StorageKey, bool)>,
    /// The lookups search R2 too (the ruleset keeps its entries there).
    r2: bool,
}

impl Explain {
    /// Starts explaining `request` (with debug headers, as the admin secret was proven).
    pub fn start(policy: &Policy, request: RequestHead, now: Time) -> Explain {
        let (flow, step) = Flow::start(policy, request, now, true);
        let (lookup, r2) = match step {
            Step::Lookup { key, kv, r2 } => (Some((key, kv)), r2),
            _ => (None, false),
        };
        Explain { flow, lookup, r2 }
    }

    /// Whether the lookups search R2 after the other tiers (`"globalTier": "r2"`).
    pub fn searches_r2(&self) -> bool {
        self.r2
    }

    /// The key to look up next (and whether KV is searched), if the flow would look.
    pub fn lookup(&self) -> Option<(&StorageKey, bool)> {
        self.lookup.as_ref().map(|(k, kv)| (k, *kv))
    }

    /// What the lookup found. A variant index asks for the variant's key next (see
    /// [`Explain::lookup`]); anything else ends the lookups.
    pub fn found(&mut self, policy: &Policy, found: &Found, now: Time) {
        self.lookup = match found {
            Found::Index(_) => match self.flow.clone().found(policy, found.clone(), Purged::No, now) {
                Step::Lookup { key, kv, .. } => Some((key, kv)),
                _ => None,
            },
            _ => None,
        };
    }

    /// The explanation, given the entry the lookups ended on (with what the purge ledger says
    /// of it), or else the origin response to imagine.
    pub fn finish(
        mut self,
        policy: &Policy,
        entry: Option<(&Meta, Purged)>,
        sample: ResponseHead,
        now: Time,
    ) -> Explanation {
        let head = entry.map_or(&sample, |(meta, _)| &meta.head);
        self.flow.classify_response(policy, head);
        let flow = &self.flow;
        let operation = policy.operation(flow.ruleset());
        let (cached, head) = match entry {
            Some((meta, purged)) => (judge(flow.client(), meta, purged, now), meta.head.clone()),
            None => (
                Cached {
                    present: false,
                    fresh: false,
                    age: None,
                    ttl: None,
                    status: "miss",
                    stored_at: None,
                },
                sample,
            ),
        };
        let upstream = flow.upstream();
        let origin_path = match upstream.url.query() {
            Some(q) => format!("{}?{q}", upstream.url.path()),
            None => upstream.url.path().to_string(),
        };
        let path = flow.client().url.path();
        Explanation {
            page_map_entry: policy.page_action(path).map(|a| a.entry_json(path)),
            origin: flow.origin_name().unwrap_or(crate::policy::origins::DEFAULT_ORIGIN).to_string(),
            named_origin_url: flow.origin_name().map(|_| {
                let mut url = upstream.url.clone();
                url.set_fragment(None);
                url.to_string()
            }),
            page_map: policy.page_action(path).cloned(),
            ruleset: flow.ruleset_name(policy).map(str::to_string),
            rule: flow.rule_id().map(str::to_string),
            operation: operation.name().to_string(),
            chain: operation.chain_names().iter().map(|c| c.to_string()).collect(),
            bypass: flow.bypass().map(|b| b.as_str()),
            audience: flow.audience().as_str(),
            key: flow.primary_key().to_string(),
            storage_key: flow.base_key().into_string(),
            variant: flow
                .variant()
                .map(str::to_string)
                .unwrap_or_else(|| flow.audience().as_str().to_string()),
            origin_path,
            request_headers_to_origin: upstream.headers.clone(),
            response_headers: flow.preview(policy, head, now).headers,
            cached,
            policy_version: policy.version(),
        }
    }
}

/// How the flow would judge `meta` for `client` at `now`, the ledger's word included.
fn judge(client: &RequestHead, meta: &Meta, purged: Purged, now: Time) -> Cached {
    let stored = Stored { stale_from: meta.stale_after(purged), ..meta.freshness_view() };
    let age = freshness::current_age(&meta.head, meta.request_time, meta.response_time, now);
    let (fresh, ttl) = match freshness::evaluate(client, &stored, now) {
        Verdict::Fresh { ttl } => (true, ttl as i64),
        Verdict::Stale { stale_for, .. } => (false, -(stale_for as i64)),
    };
    let hard = purged == Purged::Hard;
    let status = match (hard, fresh) {
        (true, _) => "purged",
        (_, true) => "hit",
        (_, false) => "stale",
    };
    Cached {
        present: !hard,
        fresh: fresh && !hard,
        age: Some(age),
        ttl: Some(ttl),
        status,
        stored_at: Some(meta.stored_at),
    }
}

//! The request flow as data: decisions in, actions out.
//!
//! A [`Flow`] is a small state machine. The driver (the worker shell, or the native test
//! driver in [`crate::store`]) asks it for the next [`Step`], performs that step's I/O, and
//! feeds the result back. The flow never touches a body: it says which body to send
//! ([`BodySource`]) and the driver moves the bytes (or the JavaScript stream) itself.

use std::borrow::Cow;

use crate::cache_status::{CacheStatus, Fwd};
use crate::conditional::{self, Conditional};
use crate::decision::{Audience, Bypass, EdgeStorage, ModifyContext};
use crate::freshness::{self, Stored, Verdict};
use crate::http::{Headers, Method, RequestHead, ResponseHead, Time};
use crate::key::{self, VarySpec};
use crate::meta::{Meta, VaryIndex};
use crate::operations::Operation;
use crate::policy::{PageAction, Policy};
use crate::storable;
use crate::{cache_control, hop, invalidate, range, revalidate};

/// The name this cache uses in `Cache-Status` (RFC 9211 §2: "a token identifying the cache").
pub const CACHE_NAME: &str = "rulecache";

/// Request header fields a client may never set: they are ours. (The split-view header is
/// removed by the policy, whatever its configured name.)
pub const INTERNAL_REQUEST_HEADERS: &[&str] =
    &["x-rulecache-meta", "x-rulecache-index", "x-rulecache-timestamp", "x-rulecache-signature"];

/// What a stored record at a key turned out to be.
#[derive(Debug, Clone)]
pub enum Found {
    Nothing,
    /// A response (its body is held by the driver).
    Entry(Box<Meta>),
    /// The per-URL record that says which request fields select a variant.
    Index(VaryIndex),
}

/// Whether a stored entry was purged through the global ledger.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Purged {
    No,
    /// Hard purge: the entry is a miss.
    Hard,
    /// Soft purge: the entry is stale from `at` and must be revalidated.
    Soft {
        at: Time,
    },
    /// The isolate's copy of the ledger is older than the propagation bound and the entry is
    /// old enough to have been purged meanwhile: revalidate it before use (no
    /// stale-while-revalidate), with `Cache-Status: …; detail=ledger-unverified`.
    Unverified {
        before: Time,
    },
}

/// The `Cache-Status` detail of an entry revalidated because the purge ledger could not be
/// consulted (see [`Purged::Unverified`]).
pub const LEDGER_UNVERIFIED: &str = "ledger-unverified";

/// Which body goes with a response the flow asks the driver to send.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BodySource {
    /// No body (HEAD, 304, 204).
    Empty,
    /// The body of the stored entry found by the last lookup.
    Stored,
    /// The body of the last origin response.
    Origin,
}

/// How a request was answered, for statistics.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Hit,
    StaleServed,
    Miss,
    Revalidated304,
    Revalidated200,
    Bypass,
    Synthetic,
}

/// One thing for the driver to do.
#[derive(Debug, Clone)]
pub enum Step {
    /// Look `key` up (memory tier, then Cache API, then — when `kv` — Workers KV) and call
    /// [`Flow::found`].
    Lookup { key: String, kv: bool },
    /// Send `request` to the origin (with the client's body when `with_body`), then call
    /// [`Flow::origin_response`] or [`Flow::origin_failed`]. `coalesce`: the storage key this
    /// miss will fill; a driver that already has a fetch for it in flight may wait for that
    /// one and call [`Flow::retry_after_collapse`] instead. `deadline_ms`: how long to wait for
    /// the origin before calling [`Flow::origin_failed`] (set only when a stale entry can stand
    /// in for the answer; otherwise the origin is waited for as long as the runtime allows).
    Fetch { request: RequestHead, with_body: bool, coalesce: Option<String>, deadline_ms: Option<u64> },
    /// Answer the client. `store`: keep the origin body under this record too (the driver
    /// tees it). `background`: run this revalidation after answering (stale-while-revalidate).
    Respond(Box<Reply>),
}

/// The final answer of a flow.
#[derive(Debug, Clone)]
pub struct Reply {
    pub head: ResponseHead,
    pub body: BodySource,
    pub store: Option<StoreOrder>,
    /// Storage keys to delete (RFC 9111 §4.4 invalidation).
    pub invalidate: Vec<String>,
    pub background: Option<Box<Flow>>,
    pub outcome: Outcome,
    /// The ruleset (for statistics), `None` when unclassified.
    pub ruleset: Option<String>,
    /// A synthetic body (page map, errors) when `body` is `Empty` and this is set.
    pub text: Option<String>,
    /// Send only bytes `start..=end` of the stored body (a `206` cut from a stored `200`).
    pub range: Option<(u64, u64)>,
}

/// Store a body under `key` with `meta`; write `index` beside it when the response varies.
#[derive(Debug, Clone)]
pub struct StoreOrder {
    pub key: String,
    pub meta: Meta,
    /// The body to store: the origin's, or (after a 304) the stored one, re-stored.
    pub body: BodySource,
    /// Keep a copy in the in-isolate memory tier.
    pub memory: bool,
    pub index: Option<(String, VaryIndex)>,
}

#[derive(Debug, Clone)]
enum State {
    /// Waiting for the base record of the URL.
    Base,
    /// Waiting for a variant record.
    Variant,
    /// Waiting for the origin's answer to a plain forward (no cache involvement).
    Forwarding {
        status: CacheStatus,
    },
    /// Waiting for the origin's answer to a miss.
    Missing {
        status: CacheStatus,
        /// The client's `If-None-Match` went along: a 304 answers the client, unstored.
        client_validators: bool,
    },
    /// Waiting for the origin's answer to a conditional revalidation of `stored`.
    Revalidating {
        stored: Box<Meta>,
        serve_if_error: bool,
        background: bool,
        /// `Stale`, or `Request` when the entry was fresh but the request refused it.
        fwd: Fwd,
        /// The revalidation was sent as a HEAD (the client's own method): its 200 updates the
        /// stored GET response (RFC 9111 §4.3.5) instead of replacing it.
        head: bool,
    },
    Done,
}

/// The state of one request's way through the cache.
#[derive(Debug, Clone)]
pub struct Flow {
    /// The request as the client sent it (internal headers removed).
    client: RequestHead,
    /// The request as the origin will see it (split-view header set, path rewritten). Built
    /// on first use: a request answered from the cache never needs it.
    upstream: Option<RequestHead>,
    /// The lookup stage was reached: a lazily built `upstream` drops the client's
    /// conditionals and uses GET.
    upstream_for_cache: bool,
    audience: Audience,
    primary: String,
    keyed_audience: Option<Audience>,
    ruleset: Option<String>,
    rule_id: Option<String>,
    vary: Option<VarySpec>,
    variant: Option<String>,
    state: State,
    request_time: Time,
    /// The request proved the admin secret: debug headers are sent whatever the policy says.
    debug_proven: bool,
    /// Why the request skips the cache, when it does.
    bypass: Option<Bypass>,
    /// This request waited for another request's fetch of the same entry.
    collapsed: bool,
    /// The length of the stored body found by the last lookup, when known.
    stored_len: Option<u64>,
    /// The entry is revalidated because the purge ledger could not be consulted.
    unverified: bool,
    /// What a request of the cache path forwards differently from what the client sent.
    forward: Option<Box<ForwardEdits>>,
    /// The request's ruleset keeps its entries in KV too: lookups fall back to it.
    persist: bool,
}

/// The edits that make a request of the cache path forward exactly what is keyed: the query
/// of the key, only the cookies the policy names, and the negotiated `Accept-Encoding`.
#[derive(Debug, Clone, PartialEq, Eq)]
struct ForwardEdits {
    /// The `Cookie` field to send (`Some(None)`: none; `None`: the client's, untouched).
    cookie: Option<Option<String>>,
    /// The query to send, when it differs from the client's.
    query: Option<Option<String>>,
    accept_encoding: String,
}

impl ForwardEdits {
    fn apply(&self, u: &mut RequestHead) {
        match &self.cookie {
            Some(Some(c)) => u.headers.set("cookie", c.clone()),
            Some(None) => {
                u.headers.remove("cookie");
            }
            None => {}
        }
        if let Some(q) = &self.query {
            u.url.set_query(q.as_deref());
        }
        u.headers.set("accept-encoding", self.accept_encoding.clone());
    }
}

impl Flow {
    /// Starts the flow for a request at `now`; returns the flow and its first step.
    /// `debug_proven`: the shell verified the admin secret on this request.
    pub fn start(policy: &Policy, mut client: RequestHead, now: Time, debug_proven: bool) -> (Flow, Step) {
        for name in INTERNAL_REQUEST_HEADERS {
            client.headers.remove(name);
        }
        if debug_proven {
            // The admin secret proved debug access; it is no credential for the origin and never
            // leaves the worker.
            client.headers.remove("authorization");
        }
        // Fields that make origins build another host, URL or method than the one keyed are
        // not forwarded unless the policy trusts them (unkeyed-input cache poisoning).
        let trusted = &policy.key_options().trusted_headers;
        for name in key::UNKEYED_REQUEST_HEADERS {
            if !trusted.iter().any(|t| t == name) {
                client.headers.remove(name);
            }
        }
        let audience = policy.audience(&client.headers);
        policy.prepare_origin_headers(&mut client.headers, audience);
        // RFC 9110 §7.6.1: the connection-specific fields of the client's hop are not forwarded.
        // Without any, the origin's request is the client's and is built when first needed.
        let mut upstream = None;
        if client.headers.iter().any(|(n, _)| n == "connection" || hop::is_hop_by_hop(n)) {
            let mut u = client.clone();
            hop::strip_hop_by_hop(&mut u.headers);
            // `Connection` may have named the split-view header: set it again, last, as it is
            // when the hop-by-hop fields are stripped first.
            policy.prepare_origin_headers(&mut u.headers, audience);
            upstream = Some(u);
        }
        let classified = policy.classify_request(&client);
        let ruleset = classified.as_ref().map(|c| c.ruleset.to_string());
        let rule_id = classified.as_ref().and_then(|c| c.rule_id.map(str::to_string));
        let keyed_audience = policy.split_view_header().map(|_| audience);
        let primary = key::primary_key(&client.url, policy.key_options());
        let mut flow = Flow {
            client,
            upstream,
            upstream_for_cache: false,
            audience,
            primary,
            keyed_audience,
            ruleset,
            rule_id,
            vary: None,
            variant: None,
            state: State::Done,
            request_time: now,
            debug_proven,
            bypass: None,
            collapsed: false,
            stored_len: None,
            unverified: false,
            forward: None,
            persist: false,
        };
        flow.persist = policy.operation(flow.ruleset.as_deref()).persist();
        let step = flow.first_step(policy);
        (flow, step)
    }

    /// A background revalidation of `stored` (stale-while-revalidate), run after the client
    /// was answered from the stale entry.
    fn background_revalidation(&self, stored: &Meta) -> Option<Box<Flow>> {
        let cond = revalidate::conditional_headers(&stored.head)?;
        let mut flow = self.clone();
        let upstream = flow.upstream_mut();
        upstream.method = Method::Get;
        strip_conditionals(&mut upstream.headers);
        for (n, v) in cond.iter() {
            upstream.headers.set(n, v);
        }
        flow.state = State::Revalidating {
            stored: Box::new(stored.clone()),
            serve_if_error: false,
            background: true,
            fwd: Fwd::Stale,
            head: false,
        };
        Some(Box::new(flow))
    }

    /// The first step of a background flow.
    pub fn background_step(&self) -> Step {
        self.fetch(self.upstream_request(), false, None)
    }

    /// The origin's request, built from the client's on first use.
    fn upstream_mut(&mut self) -> &mut RequestHead {
        let (client, for_cache, edits) = (&self.client, self.upstream_for_cache, self.forward.as_deref());
        self.upstream.get_or_insert_with(|| build_upstream(client, for_cache, edits))
    }

    /// A copy of the origin's request, to send.
    fn upstream_request(&self) -> RequestHead {
        match &self.upstream {
            Some(u) => u.clone(),
            None => build_upstream(&self.client, self.upstream_for_cache, self.forward.as_deref()),
        }
    }

    fn first_step(&mut self, policy: &Policy) -> Step {
        let mut rewritten = false;
        if let Some(action) = policy.page_action(self.client.url.path()) {
            match action {
                PageAction::Redirect { status, location } => {
                    let mut h = Headers::new();
                    h.set("location", location.clone());
                    h.set("cache-control", "public, max-age=300");
                    return self.synthetic(policy, *status, h, None);
                }
                PageAction::Gone { status } => {
                    let mut h = Headers::new();
                    h.set("content-type", "text/plain; charset=utf-8");
                    h.set("cache-control", "public, max-age=300");
                    let text = if *status == 410 { "Gone\n" } else { "Not Found\n" };
                    return self.synthetic(policy, *status, h, Some(text.into()));
                }
                PageAction::Rewrite { path } => {
                    let (p, q) = match path.split_once('?') {
                        Some((p, q)) => (p.to_string(), Some(q.to_string())),
                        None => (path.clone(), self.upstream_mut().url.query().map(str::to_string)),
                    };
                    let upstream = self.upstream_mut();
                    upstream.url.set_path(&p);
                    upstream.url.set_query(q.as_deref());
                    rewritten = true;
                }
            }
        }
        let operation = policy.operation(self.ruleset.as_deref());
        let bypass = if !policy.caching_enabled() {
            Some(Bypass::CachingDisabled)
        } else if !self.client.is_get_or_head() {
            Some(Bypass::Method)
        } else if policy.cache_stop(&self.client) {
            Some(Bypass::CacheStop)
        } else {
            operation.bypass(self.audience)
        };
        self.bypass = bypass;
        if let Some(reason) = bypass {
            let fwd = if reason == Bypass::Method { Fwd::Method } else { Fwd::Bypass };
            let status =
                CacheStatus { fwd: Some(fwd), detail: Some(reason.as_str().into()), ..Default::default() };
            self.state = State::Forwarding { status };
            return self.fetch(self.upstream_request(), !self.client.is_get_or_head(), None);
        }
        // The client's own conditionals are answered by us, from what we hold or fetch in full.
        self.upstream_for_cache = true;
        let edits = self.forward_edits(policy, rewritten);
        if let Some(upstream) = &mut self.upstream {
            strip_conditionals(&mut upstream.headers);
            upstream.method = Method::Get;
            edits.apply(upstream);
        }
        self.forward = Some(Box::new(edits));
        self.state = State::Base;
        Step::Lookup { key: key::storage_key(&self.primary, self.keyed_audience, None), kv: self.persist }
    }

    /// What a request of the cache path forwards: the key is exactly what is forwarded.
    fn forward_edits(&self, policy: &Policy, rewritten: bool) -> ForwardEdits {
        // Cookies the policy does not name may change the origin's answer without being in
        // the key; plone.recipe.varnish's default configuration drops them the same way.
        // A response to an authenticated request that may not be shared is never stored: its
        // cookies go as they came (the origin must see the login however it spells it).
        let audience = policy.audience_config();
        let keep = |name: &str| {
            audience.is_auth_cookie(name)
                || policy.cache_stop_variables().iter().any(|v| v == name)
                || policy.key_options().keep_cookies.iter().any(|k| k == name)
        };
        let storable =
            self.audience.is_anonymous() || policy.operation(self.ruleset.as_deref()).share_authenticated();
        let cookie = storable.then(|| crate::audience::keep_only(&self.client.headers, keep));
        // Parameters left out of the key are left out of the request too (and a parameter
        // cloaked behind `;` in a dropped one with them).
        let forwarded = self.client.url.query().and_then(|q| key::forwarded_query(q, policy.key_options()));
        let query = (!rewritten && forwarded.as_deref() != self.client.url.query()).then_some(forwarded);
        let accept_encoding = key::negotiate_encoding(&self.client.headers, policy.key_options()).to_string();
        ForwardEdits { cookie, query, accept_encoding }
    }

    fn synthetic(&mut self, policy: &Policy, status: u16, headers: Headers, text: Option<String>) -> Step {
        let cs = CacheStatus { hit: true, detail: Some("page-map".into()), ..Default::default() };
        self.answer_locally(policy, ResponseHead::new(status, headers), &cs, None, text)
    }

    /// A response made here rather than by the origin or the cache (page map, errors).
    fn answer_locally(
        &mut self,
        policy: &Policy,
        mut head: ResponseHead,
        cs: &CacheStatus,
        ruleset: Option<String>,
        text: Option<String>,
    ) -> Step {
        self.decorate(policy, &mut head, cs, None);
        self.state = State::Done;
        Step::Respond(Box::new(Reply {
            head,
            body: BodySource::Empty,
            store: None,
            invalidate: Vec::new(),
            background: None,
            outcome: Outcome::Synthetic,
            ruleset,
            text,
            range: None,
        }))
    }

    /// Another request's fetch of the same entry finished while this one waited (RFC 9111
    /// §4: a cache may collapse requests): look again, and fetch only if it is still a miss.
    pub fn retry_after_collapse(&mut self) -> Step {
        self.collapsed = true;
        self.variant = None;
        self.vary = None;
        self.state = State::Base;
        Step::Lookup { key: self.base_key(), kv: self.persist }
    }

    /// The driver found `record` at the key of the last [`Step::Lookup`]. `purged` is what the
    /// purge ledger says about an entry (ignored for [`Found::Nothing`]).
    pub fn found(&mut self, policy: &Policy, record: Found, purged: Purged, now: Time) -> Step {
        match (std::mem::replace(&mut self.state, State::Done), record) {
            (State::Base, Found::Index(index)) => {
                let spec = VarySpec::Fields(index.vary.clone());
                match key::variant(&spec, &self.client.headers, policy.key_options()) {
                    Some(v) => {
                        let k = key::storage_key(&self.primary, self.keyed_audience, Some(&v));
                        self.vary = Some(spec);
                        self.variant = Some(v);
                        self.state = State::Variant;
                        Step::Lookup { key: k, kv: self.persist }
                    }
                    None => self.miss(policy, Fwd::VaryMiss, None),
                }
            }
            (State::Base, Found::Entry(meta)) | (State::Variant, Found::Entry(meta)) => {
                self.use_stored(policy, *meta, purged, now)
            }
            (State::Variant, _) => self.miss(policy, Fwd::VaryMiss, None),
            _ => self.miss(policy, Fwd::UriMiss, None),
        }
    }

    fn miss(&mut self, policy: &Policy, fwd: Fwd, detail: Option<&str>) -> Step {
        if cache_control::CacheControl::from_headers(&self.client.headers, "cache-control")
            .is_some_and(|cc| cc.only_if_cached)
        {
            // RFC 9111 §5.2.1.7: "If it receives this directive, a cache SHOULD either respond
            // using a stored response ... or respond with a 504 (Gateway Timeout) status code."
            return self.error_reply(policy, 504, "only-if-cached");
        }
        if self.client.headers.contains("range") {
            return self.forward_range_miss(fwd);
        }
        let status = CacheStatus { fwd: Some(fwd), detail: detail.map(str::to_string), ..Default::default() };
        let mut request = self.upstream_request();
        // Nothing stored can answer the client's `If-None-Match`, so it goes to the origin as
        // it came (RFC 9110 §13.2.1: conditionals are forwarded "since the generating client
        // intends that they be evaluated by a server that can provide a current
        // representation"): the origin may answer 304 for the representation the client
        // holds, which the client gets (unstored); a 200 is stored as on any miss and the
        // client's conditionals are answered from it.
        let inm: Vec<String> = self.client.headers.get_all("if-none-match").map(str::to_string).collect();
        let client_validators = !inm.is_empty();
        for v in inm {
            request.headers.append("if-none-match", v);
        }
        self.state = State::Missing { status, client_validators };
        // A second miss after waiting for another request's fetch is not coalesced again.
        let coalesce = (!self.collapsed && !client_validators)
            .then(|| key::storage_key(&self.primary, self.keyed_audience, self.variant.as_deref()));
        self.fetch(request, false, coalesce)
    }

    /// A range request that found nothing to cut its range from is forwarded as the client
    /// sent it (its `Range`, `If-Range` and other preconditions included), and the origin's
    /// partial answer passes through unstored (RFC 9111 §3: a cache must not store a `206`
    /// unless it supports combining partial content, which rulecache does not).
    fn forward_range_miss(&mut self, fwd: Fwd) -> Step {
        let mut request = self.upstream_request();
        request.method = self.client.method.clone();
        for name in RANGE_AND_PRECONDITIONS {
            request.headers.remove(name);
            for v in self.client.headers.get_all(name) {
                request.headers.append(name, v);
            }
        }
        self.bypass = Some(Bypass::Range);
        let status =
            CacheStatus { fwd: Some(fwd), detail: Some(Bypass::Range.as_str().into()), ..Default::default() };
        self.state = State::Forwarding { status };
        self.fetch(request, false, None)
    }

    fn error_reply(&mut self, policy: &Policy, status: u16, detail: &str) -> Step {
        self.error_reply_with(policy, status, detail, None)
    }

    /// An error made here; `fwd_status`: the origin's status that caused it (RFC 9211 §2.3:
    /// "fwd-status: The status code that the next-hop server sent in its response").
    fn error_reply_with(
        &mut self,
        policy: &Policy,
        status: u16,
        detail: &str,
        fwd_status: Option<u16>,
    ) -> Step {
        let mut h = Headers::new();
        h.set("content-type", "text/plain; charset=utf-8");
        h.set("cache-control", "no-store");
        let cs = CacheStatus { detail: Some(detail.into()), fwd_status, ..Default::default() };
        let ruleset = self.ruleset.clone();
        self.answer_locally(
            policy,
            ResponseHead::new(status, h),
            &cs,
            ruleset,
            Some(format!("{status} {detail}\n")),
        )
    }

    fn use_stored(&mut self, policy: &Policy, mut meta: Meta, purged: Purged, now: Time) -> Step {
        // The key holds audience and variant; the record says whom it serves, so even a
        // colliding key can never hand one audience's response to the other.
        if !meta.serves(self.keyed_audience, self.variant.as_deref()) {
            return self.miss(policy, Fwd::VaryMiss, None);
        }
        if let Purged::Unverified { .. } = purged {
            self.unverified = true;
        }
        if purged == Purged::Hard {
            return self.miss(policy, Fwd::Miss, Some("purged"));
        }
        meta.stale_from = meta.stale_after(purged);
        if self.ruleset.is_none() {
            self.ruleset = meta.ruleset.clone();
        }
        self.stored_len =
            if meta.body_len > 0 { Some(meta.body_len) } else { meta.head.headers.content_length() };
        let stored = Stored {
            head: &meta.head,
            request_time: meta.request_time,
            response_time: meta.response_time,
            storage: meta.storage,
            stale_from: meta.stale_from,
        };
        let age = freshness::current_age(&meta.head, meta.request_time, meta.response_time, now);
        match freshness::evaluate(&self.client, &stored, now) {
            Verdict::Fresh { ttl } => {
                let cs = CacheStatus {
                    hit: true,
                    ttl: Some(ttl as i64),
                    collapsed: self.collapsed,
                    ..Default::default()
                };
                self.serve_stored(policy, meta, age, cs, Outcome::Hit, None, now)
            }
            Verdict::Stale { stale_for, serve_while_revalidate: true, .. } if !self.unverified => {
                let cs = CacheStatus {
                    hit: true,
                    ttl: Some(-(stale_for as i64)),
                    detail: Some("stale-while-revalidate".into()),
                    ..Default::default()
                };
                let background = self.background_revalidation(&meta);
                self.serve_stored(policy, meta, age, cs, Outcome::StaleServed, background, now)
            }
            Verdict::Stale { serve_if_error, by_request, .. } => {
                if cache_control::CacheControl::from_headers(&self.client.headers, "cache-control")
                    .is_some_and(|cc| cc.only_if_cached)
                {
                    return self.error_reply(policy, 504, "only-if-cached");
                }
                let mut request = self.upstream_request();
                if let Some(cond) = revalidate::conditional_headers(&meta.head) {
                    for (n, v) in cond.iter() {
                        request.headers.set(n, v);
                    }
                }
                // A HEAD needs no body: the stored GET response is validated with a HEAD, whose
                // 304 or matching 200 updates it (RFC 9111 §4.3.5: "This property of HEAD
                // responses can be used to invalidate or update a cached GET response [...] if
                // transmission of the content is not desired even if it has changed.").
                let head = self.client.method == Method::Head;
                if head {
                    request.method = Method::Head;
                }
                // RFC 9211 §2.2: "request: The cache was able to select a fresh response for
                // the request, but the request's semantics (e.g., Cache-Control request
                // directives) did not allow its use."
                let fwd = if by_request { Fwd::Request } else { Fwd::Stale };
                self.state = State::Revalidating {
                    stored: Box::new(meta),
                    serve_if_error,
                    background: false,
                    fwd,
                    head,
                };
                self.fetch(request, false, None)
            }
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn serve_stored(
        &mut self,
        policy: &Policy,
        meta: Meta,
        age: u64,
        cs: CacheStatus,
        outcome: Outcome,
        background: Option<Box<Flow>>,
        now: Time,
    ) -> Step {
        // The entry is ours: its head is moved into the answer rather than copied.
        let mut head = meta.head;
        // Room for what `reply` adds (age, expires, vary, debug fields, Cache-Status).
        head.headers.reserve(8);
        head.headers.set("age", freshness::age_header_value(age));
        self.reply(policy, head, BodySource::Stored, cs, None, outcome, background, None, now)
    }

    /// The origin answered the last [`Step::Fetch`].
    pub fn origin_response(&mut self, policy: &Policy, mut head: ResponseHead, now: Time) -> Step {
        hop::strip_hop_by_hop(&mut head.headers);
        let response_time = now;
        if let Some(detail) = unusable_status(head.status) {
            return self.origin_error(policy, detail, Some(head.status), now);
        }
        match std::mem::replace(&mut self.state, State::Done) {
            State::Forwarding { mut status } => {
                status.fwd_status = Some(head.status);
                let invalidate =
                    if self.client.is_safe() { Vec::new() } else { self.invalidation(policy, &head) };
                let mut step = self.reply(
                    policy,
                    head,
                    BodySource::Origin,
                    status,
                    None,
                    Outcome::Bypass,
                    None,
                    None,
                    now,
                );
                if let Step::Respond(r) = &mut step {
                    r.invalidate = invalidate;
                }
                step
            }
            State::Missing { mut status, client_validators } => {
                status.fwd_status = Some(head.status);
                if head.status == 304 && client_validators {
                    // The origin's answer to the client's own `If-None-Match`: passed on, not
                    // stored (it has no content to store).
                    return self.reply(
                        policy,
                        head,
                        BodySource::Empty,
                        status,
                        None,
                        Outcome::Revalidated304,
                        None,
                        None,
                        now,
                    );
                }
                self.after_full_response(policy, head, status, Outcome::Miss, response_time, now)
            }
            State::Revalidating { stored, serve_if_error, background, fwd, head: via_head } => {
                let merged = match head.status {
                    304 => revalidate::merge_not_modified(&stored.head, &head),
                    200 if via_head => revalidate::merge_head(&stored.head, &head),
                    _ => None,
                };
                if let Some(merged) = merged {
                    // The updated response is judged again (RFC 9111 §4.3.4: the stored
                    // response is updated with the 304's fields): a 304 that says
                    // `no-store` or `private` now, or a policy that changed, ends the entry.
                    let merged_head = ResponseHead::new(merged.status, merged.headers.clone());
                    let storage = match self.storability(policy, &merged_head) {
                        Ok(storage) => storage,
                        Err(reason) => {
                            let cs = CacheStatus {
                                fwd: Some(fwd),
                                fwd_status: Some(head.status),
                                detail: Some(reason.into()),
                                ..Default::default()
                            };
                            let mut out = merged;
                            out.headers.set("age", "0");
                            let mut step = self.reply(
                                policy,
                                out,
                                BodySource::Stored,
                                cs,
                                None,
                                Outcome::Revalidated304,
                                None,
                                None,
                                now,
                            );
                            if let Step::Respond(r) = &mut step {
                                r.invalidate = vec![self.entry_key()];
                            }
                            return step;
                        }
                    };
                    let mut meta = *stored;
                    meta.storage = storage;
                    meta.head = merged;
                    meta.request_time = self.request_time;
                    meta.response_time = response_time;
                    meta.stored_at = now;
                    meta.stale_from = None;
                    let cs = CacheStatus {
                        fwd: Some(fwd),
                        fwd_status: Some(head.status),
                        stored: true,
                        ttl: Some(self.ttl_of(&meta, now)),
                        detail: self.unverified.then(|| LEDGER_UNVERIFIED.to_owned()),
                        ..Default::default()
                    };
                    let order = StoreOrder {
                        key: key::storage_key(&self.primary, self.keyed_audience, self.variant.as_deref()),
                        memory: self.memory_for(policy, &meta),
                        meta: meta.clone(),
                        body: BodySource::Stored,
                        index: None,
                    };
                    let mut out = meta.head.clone();
                    out.headers.set("age", "0");
                    return self.reply(
                        policy,
                        out,
                        BodySource::Stored,
                        cs,
                        Some(order),
                        Outcome::Revalidated304,
                        None,
                        Some(&meta),
                        now,
                    );
                }
                if head.status >= 500 && serve_if_error && !background {
                    return self.serve_stale_on_error(policy, *stored, Some(head.status), now);
                }
                if via_head {
                    // RFC 9111 §4.3.5: a 200 to the HEAD that does not match the stored response
                    // means "the cache SHOULD consider the stored response to be stale": it is
                    // dropped, and the HEAD's answer passes through (it has no content to store).
                    let cs =
                        CacheStatus { fwd: Some(fwd), fwd_status: Some(head.status), ..Default::default() };
                    let mut step = self.reply(
                        policy,
                        head,
                        BodySource::Empty,
                        cs,
                        None,
                        Outcome::Revalidated200,
                        None,
                        None,
                        now,
                    );
                    if let Step::Respond(r) = &mut step {
                        r.invalidate.push(self.entry_key());
                    }
                    return step;
                }
                if head.status == 304 {
                    // RFC 9111 §4.3.3: the 304 does not select the stored response; fetch it anew.
                    let mut request = self.upstream_request();
                    strip_conditionals(&mut request.headers);
                    let status = CacheStatus { fwd: Some(fwd), ..Default::default() };
                    self.state = State::Missing { status, client_validators: false };
                    return self.fetch(request, false, None);
                }
                let status =
                    CacheStatus { fwd: Some(fwd), fwd_status: Some(head.status), ..Default::default() };
                self.after_full_response(policy, head, status, Outcome::Revalidated200, response_time, now)
            }
            State::Base | State::Variant | State::Done => {
                self.error_reply(policy, 500, "unexpected-origin-response")
            }
        }
    }

    /// The origin could not be reached (connection refused, reset, timed out).
    pub fn origin_failed(&mut self, policy: &Policy, now: Time) -> Step {
        self.origin_error(policy, "origin-unreachable", None, now)
    }

    /// The origin's answer could not be used: the connection failed, or what came back cannot
    /// be passed on (`detail` says why, see [`fetch_failure_detail`] and the statuses of
    /// [`unusable_status`]; `fwd_status` is the status it sent, if any). A stale entry that may
    /// stand in (stale-if-error) is served; otherwise the client gets a 502 (a 501 for a
    /// method the runtime cannot send), and nothing stored is replaced or removed.
    pub fn origin_error(
        &mut self,
        policy: &Policy,
        detail: &str,
        fwd_status: Option<u16>,
        now: Time,
    ) -> Step {
        match std::mem::replace(&mut self.state, State::Done) {
            State::Revalidating { stored, serve_if_error: true, background: false, .. } => {
                self.serve_stale_on_error(policy, *stored, fwd_status, now)
            }
            _ => {
                let status = if detail == METHOD_NOT_FORWARDABLE { 501 } else { 502 };
                self.error_reply_with(policy, status, detail, fwd_status)
            }
        }
    }

    fn serve_stale_on_error(
        &mut self,
        policy: &Policy,
        meta: Meta,
        fwd_status: Option<u16>,
        now: Time,
    ) -> Step {
        let age = freshness::current_age(&meta.head, meta.request_time, meta.response_time, now);
        let cs = CacheStatus {
            hit: true,
            fwd: Some(Fwd::Stale),
            fwd_status,
            ttl: Some(self.ttl_of(&meta, now)),
            detail: Some("stale-if-error".into()),
            ..Default::default()
        };
        self.serve_stored(policy, meta, age, cs, Outcome::StaleServed, None, now)
    }

    fn ttl_of(&self, meta: &Meta, now: Time) -> i64 {
        let life = freshness::lifetime(&meta.head, meta.storage, meta.response_time).secs as i64;
        let age = freshness::current_age(&meta.head, meta.request_time, meta.response_time, now) as i64;
        life - age
    }

    fn after_full_response(
        &mut self,
        policy: &Policy,
        mut head: ResponseHead,
        mut status: CacheStatus,
        outcome: Outcome,
        response_time: Time,
        now: Time,
    ) -> Step {
        self.classify_response(policy, &head);
        let operation = policy.operation(self.ruleset.as_deref());
        if operation.strip_set_cookie() {
            head.headers.remove("set-cookie");
        }
        let store = if outcome == Outcome::Revalidated200 && head.status >= 500 {
            // A server error while revalidating never replaces the stored entry.
            Err("status")
        } else {
            self.store_decision(policy, &head, response_time, now)
        };
        let order = match store {
            Ok(order) => {
                status.stored = true;
                status.ttl = Some(self.ttl_of(&order.meta, now));
                Some(order)
            }
            Err(reason) => {
                status.detail = Some(reason.into());
                None
            }
        };
        // `reply` does not look at the meta; cloning it here only cost allocations.
        self.reply(policy, head, BodySource::Origin, status, order, outcome, None, None, now)
    }

    /// Whether `head`, the answer to this request, may be stored, and how (the operation's
    /// storage, a 404/410's lifetime cut short); else the reason for `Cache-Status`.
    fn storability(&self, policy: &Policy, head: &ResponseHead) -> Result<EdgeStorage, &'static str> {
        // A HEAD that missed was sent to the origin as a GET (the cache path always asks for
        // the whole representation), so the answer is a GET response and is stored as one:
        // the next GET is a hit rather than another miss.
        if !self.client.is_get_or_head() {
            return Err("method");
        }
        let operation = policy.operation(self.ruleset.as_deref());
        if let Some(b) = operation.bypass(self.audience) {
            return Err(b.as_str());
        }
        let mut storage: EdgeStorage = operation.storage();
        // A stored error is a denial of service for everyone who asks next (CPDoS): one
        // request with a header the origin refuses would make its 4xx the page. By policy,
        // only 2xx and 3xx are stored, 404/410 briefly; honouring the origin, RFC 9111 §3 and
        // the origin's own headers decide.
        if let EdgeStorage::Store { ttl, stale_if_error, .. } = storage {
            match head.status {
                200..=399 => {}
                404 | 410 => {
                    storage = EdgeStorage::Store {
                        ttl: ttl.min(policy.not_found_ttl()),
                        stale_while_revalidate: 0,
                        stale_if_error: stale_if_error.min(policy.not_found_ttl()),
                    }
                }
                _ => return Err("status"),
            }
        }
        let authenticated = !self.audience.is_anonymous();
        let relaxed;
        let head = match self.anonymous_private_override(policy, operation, head) {
            Some(h) => {
                relaxed = h;
                &relaxed
            }
            None => head,
        };
        if self.client.headers.contains("range") || self.client.method != Method::Get {
            // The origin was asked for the whole representation with a GET (the upstream
            // request of the cache path carries no `Range`), so its answer is judged as a
            // plain GET's.
            let mut whole = self.client.clone();
            whole.headers.remove("range");
            whole.method = Method::Get;
            storable::check(&whole, authenticated, head, storage).map_err(|e| e.as_str())?;
        } else {
            storable::check(&self.client, authenticated, head, storage).map_err(|e| e.as_str())?;
        }
        if authenticated && matches!(storage, EdgeStorage::HonourOrigin) {
            // RFC 9111 §3.5 would let an explicitly public response to an authenticated
            // request be shared; the edge never shares one user's response with another user
            // unless a policy operation declares the ruleset shared.
            return Err("authenticated");
        }
        if authenticated && self.keyed_audience.is_none() {
            // Without split view the key does not separate audiences: a policy-stored response
            // to an authenticated request would be served to everybody.
            return Err("authenticated");
        }
        if authenticated && !operation.share_authenticated() {
            // "Authenticated" is any auth cookie, never verified: a response one user got is
            // shared with every other logged-in (or junk-cookie) request only when the policy
            // says this ruleset is the same for all of them.
            return Err("authenticated");
        }
        if authenticated || self.client.headers.contains("authorization") {
            // RFC 9111 §3.5: "A shared cache MUST NOT use a cached response to a request with
            // an Authorization header field ... to satisfy any subsequent request unless the
            // response contains a Cache-Control field with a response directive ... that allows
            // it to be stored by a shared cache" (must-revalidate, public, s-maxage). A login
            // cookie is a credential like Authorization; the policy's own lifetime does not
            // stand in for the origin's permission.
            let (cc, _) = cache_control::effective(&head.headers);
            let cc = cc.unwrap_or_default();
            if !(cc.must_revalidate || cc.public || cc.s_maxage.is_some()) {
                return Err("authorization");
            }
        }
        // Web cache deception: a URL classified by its extension must be answered with a
        // body of that kind (as Cloudflare's Cache Deception Armor checks), or a logged-in
        // page requested as `/account/x.css` would be stored as a stylesheet.
        let rule = self.rule_id.as_deref().and_then(|id| policy.rules().iter().find(|r| r.id == id));
        if let Some(ext) = rule.and_then(|r| crate::classify::extension_to_check(r, self.client.url.path())) {
            if !crate::classify::content_type_fits_extension(ext, head.headers.get("content-type")) {
                return Err("content-type");
            }
        }
        Ok(storage)
    }

    /// The fields an entry varies on: the origin's `Vary` and the operation's `vary`
    /// parameter (the split-view header is keyed as the audience already).
    fn vary_spec(&self, policy: &Policy, head: &ResponseHead) -> VarySpec {
        let operation = policy.operation(self.ruleset.as_deref());
        let split = policy.split_view_header();
        let extra =
            operation.vary_names().into_iter().filter(|n| !split.is_some_and(|s| n.eq_ignore_ascii_case(s)));
        VarySpec::from_names(head.headers.list("vary").chain(extra))
    }

    fn store_decision(
        &self,
        policy: &Policy,
        head: &ResponseHead,
        response_time: Time,
        now: Time,
    ) -> Result<StoreOrder, &'static str> {
        let storage = self.storability(policy, head)?;
        let operation = policy.operation(self.ruleset.as_deref());
        let mut stored_head = head.clone();
        let (cc, _) = cache_control::effective(&head.headers);
        hop::prepare_for_storage(&mut stored_head.headers, cc.as_ref());
        let spec = self.vary_spec(policy, head);
        let (variant, index) = match &spec {
            VarySpec::Star => return Err("vary-star"),
            VarySpec::None => (None, None),
            VarySpec::Fields(fields) => {
                let v = key::variant(&spec, &self.client.headers, policy.key_options()).ok_or("vary-star")?;
                let k = key::storage_key(&self.primary, self.keyed_audience, Some(&v));
                let index = VaryIndex {
                    url: self.primary.clone(),
                    vary: fields.clone(),
                    variants: vec![k],
                    stored_at: now,
                };
                (Some(v), Some((key::storage_key(&self.primary, self.keyed_audience, None), index)))
            }
        };
        let meta = Meta {
            url: self.primary.clone(),
            variant: variant.clone(),
            audience: self.keyed_audience,
            request_time: self.request_time,
            response_time,
            stored_at: now,
            tags: crate::meta::tags_from_headers(&head.headers),
            head: stored_head,
            storage,
            ruleset: self.ruleset.clone(),
            operation: operation.name().to_string(),
            policy_version: policy.version(),
            body_len: head.headers.content_length().unwrap_or(0),
            stale_from: None,
        };
        Ok(StoreOrder {
            key: key::storage_key(&self.primary, self.keyed_audience, variant.as_deref()),
            memory: self.memory_for(policy, &meta),
            meta,
            body: BodySource::Origin,
            index,
        })
    }

    /// `storeAnonymousPrivate`: the origin's head without its unqualified `private`, when an
    /// operation that says so keeps a successful answer to an anonymous request under the
    /// anonymous variant (Plone's own weakCaching marks every view `private`, anonymous ones
    /// included). None (the origin's `private` stands) for an authenticated request, without
    /// split view, for a status outside 2xx, and when a CDN-targeted field (RFC 9213) said it:
    /// that one was addressed to this cache. Nor when the request carries any
    /// `Authorization`, or its `Cookie` text names an auth cookie anywhere (`a="1, __ac=…"`
    /// is one cookie to us but a login to Zope, which ends a quoted value at `,`): the
    /// origin may have read a login the edge did not, and its `private` is then the truth.
    fn anonymous_private_override(
        &self,
        policy: &Policy,
        operation: &Operation,
        head: &ResponseHead,
    ) -> Option<ResponseHead> {
        if !operation.stores_anonymous_private()
            || self.keyed_audience != Some(Audience::Anonymous)
            || !self.audience.is_anonymous()
            || !(200..300).contains(&head.status)
            || self.client.headers.contains("authorization")
            || mentions_auth_cookie(policy.audience_config(), &self.client.headers)
        {
            return None;
        }
        let (cc, is_targeted) = cache_control::effective(&head.headers);
        if is_targeted || !cc.is_some_and(|cc| cc.private_all()) {
            return None;
        }
        let mut relaxed = head.clone();
        let kept: Vec<String> = head
            .headers
            .get_all("cache-control")
            .flat_map(split_directives)
            .filter(|d| !d.eq_ignore_ascii_case("private"))
            .map(str::to_string)
            .collect();
        relaxed.headers.remove("cache-control");
        if !kept.is_empty() {
            relaxed.headers.set("cache-control", kept.join(", "));
        }
        Some(relaxed)
    }

    fn memory_for(&self, policy: &Policy, meta: &Meta) -> bool {
        let op = policy.operation(meta.ruleset.as_deref());
        op.ram_cache() || matches!(meta.storage, EdgeStorage::HonourOrigin)
    }

    fn invalidation(&self, policy: &Policy, head: &ResponseHead) -> Vec<String> {
        let mut keys = Vec::new();
        for url in invalidate::targets(&self.client, head) {
            let primary = key::primary_key(&url, policy.key_options());
            for audience in [None, Some(Audience::Anonymous), Some(Audience::Authenticated)] {
                keys.push(key::storage_key(&primary, audience, None));
            }
        }
        keys
    }

    /// Builds the client's answer: the operation's downstream headers, split-view Vary,
    /// debug headers, `Cache-Status`, and the client's own conditionals (→ 304).
    #[allow(clippy::too_many_arguments)]
    fn reply(
        &mut self,
        policy: &Policy,
        mut head: ResponseHead,
        mut body: BodySource,
        cs: CacheStatus,
        store: Option<StoreOrder>,
        outcome: Outcome,
        background: Option<Box<Flow>>,
        _meta: Option<&Meta>,
        now: Time,
    ) -> Step {
        let operation = policy.operation(self.ruleset.as_deref());
        if outcome != Outcome::Bypass || self.client.is_get_or_head() {
            self.modify(policy, operation, &mut head, now);
        }
        self.decorate(policy, &mut head, &cs, Some(operation.name()));
        let mut cut = None;
        if self.client.is_get_or_head() && (200..300).contains(&head.status) {
            // A response from the store (or just stored) is answered as RFC 9111 §4.3.2 says
            // for stored responses; a forwarded one only by its own validators.
            let stored = body == BodySource::Stored || store.is_some();
            let verdict = if stored {
                conditional::evaluate_stored(&self.client, &head)
            } else {
                conditional::evaluate(&self.client, &head)
            };
            match verdict {
                Conditional::NotModified => {
                    // The 304 keeps our own status and debug fields (RFC 9211 applies to
                    // every response), not only the representation fields of RFC 9110.
                    let mut nm = conditional::not_modified(&head);
                    for (n, v) in head.headers.iter() {
                        if n.eq_ignore_ascii_case("cache-status")
                            || n.to_ascii_lowercase().starts_with("x-rulecache-")
                        {
                            nm.headers.append(n, v);
                        }
                    }
                    head = nm;
                    body = BodySource::Empty;
                }
                Conditional::PreconditionFailed => {
                    head = ResponseHead::new(412, Headers::new());
                    self.decorate(policy, &mut head, &cs, Some(operation.name()));
                    body = BodySource::Empty;
                }
                Conditional::None if body == BodySource::Stored && self.client.headers.contains("range") => {
                    let answer = range::answer(&self.client, &head, self.stored_len);
                    range::apply(&mut head, answer);
                    match answer {
                        range::Answer::Partial { start, end, .. } => cut = Some((start, end)),
                        range::Answer::Unsatisfiable { .. } => body = BodySource::Empty,
                        range::Answer::Full => {}
                    }
                }
                Conditional::None => {}
            }
        }
        if self.client.method == Method::Head {
            body = BodySource::Empty;
        }
        self.state = State::Done;
        Step::Respond(Box::new(Reply {
            head,
            body,
            store,
            invalidate: Vec::new(),
            background,
            outcome,
            ruleset: self.ruleset.clone(),
            text: None,
            range: cut,
        }))
    }

    /// Split-view Vary, tag stripping, debug headers and `Cache-Status`.
    fn decorate(&self, policy: &Policy, head: &mut ResponseHead, cs: &CacheStatus, operation: Option<&str>) {
        if let (Some(name), Some(_)) = (policy.split_view_header(), self.keyed_audience) {
            if policy.operation(self.ruleset.as_deref()).advertises_split_view() {
                merge_vary(&mut head.headers, name);
            }
        }
        if !self.audience.is_anonymous() {
            keep_private(&mut head.headers);
        }
        // Rule and operation names with the policy's `debugHeaders` or the admin secret; the
        // origin's cache tags and the cache key only with the secret.
        let debug = policy.debug_headers() || self.debug_proven;
        if !self.debug_proven {
            head.headers.remove("cache-tag");
            head.headers.remove("surrogate-key");
        }
        let mut key = cs.key.as_deref();
        if self.debug_proven {
            key = Some(&self.primary);
        }
        if debug {
            let rule = self.ruleset.as_deref().unwrap_or("(default)");
            head.headers.set("x-rulecache-rule", rule);
            if let Some(op) = operation {
                head.headers.set("x-rulecache-operation", op);
                let chain = policy.operation(self.ruleset.as_deref()).chain_names();
                if !chain.is_empty() {
                    head.headers.set("x-rulecache-chain-operations", chain.join(", "));
                }
            }
            let name = policy.name();
            let mut label = String::with_capacity(name.len() + 22);
            label.push_str(name);
            label.push_str(" v");
            push_u64(&mut label, policy.version());
            head.headers.set("x-rulecache-policy", label);
        }
        head.headers.append("cache-status", cs.to_value_with_key(CACHE_NAME, key));
    }

    /// Whether a stale entry may stand in if the pending fetch fails (stale-if-error): only
    /// then is it worth giving up on a slow origin.
    fn has_stale_fallback(&self) -> bool {
        matches!(self.state, State::Revalidating { serve_if_error: true, background: false, .. })
    }

    /// A fetch step in the current state, with the deadline the state allows.
    fn fetch(&self, request: RequestHead, with_body: bool, coalesce: Option<String>) -> Step {
        let deadline_ms = self.has_stale_fallback().then_some(crate::tiers::ORIGIN_DEADLINE_MS);
        Step::Fetch { request, with_body, coalesce, deadline_ms }
    }

    /// Why this request skips the cache (None when it uses it).
    pub fn bypass(&self) -> Option<Bypass> {
        self.bypass
    }

    /// A request no request-only rule classified takes its ruleset from the origin's response
    /// (a trusted hint header, then `contentType` rules).
    pub fn classify_response(&mut self, policy: &Policy, head: &ResponseHead) {
        if self.ruleset.is_none() {
            if let Some(c) = policy.classify_response(&self.client, head) {
                self.ruleset = Some(c.ruleset.to_string());
                self.rule_id = c.rule_id.map(str::to_string);
            }
        }
    }

    /// The headers a response would be sent downstream with (explain): the operation's
    /// modifications and the debug decoration, without storing anything.
    pub fn preview(&self, policy: &Policy, mut head: ResponseHead, now: Time) -> ResponseHead {
        let operation = policy.operation(self.ruleset.as_deref());
        self.modify(policy, operation, &mut head, now);
        self.decorate(policy, &mut head, &CacheStatus::default(), Some(operation.name()));
        head
    }

    /// The operation's edits of the head sent downstream.
    fn modify(
        &self,
        policy: &Policy,
        operation: &crate::policy::Operation,
        head: &mut ResponseHead,
        now: Time,
    ) {
        let ctx = ModifyContext {
            request: &self.client,
            audience: self.audience,
            policy_version: policy.version(),
            split_view_header: policy.split_view_header(),
            now,
        };
        operation.modify(&ctx, head);
    }

    pub fn audience(&self) -> Audience {
        self.audience
    }

    pub fn ruleset(&self) -> Option<&str> {
        self.ruleset.as_deref()
    }

    pub fn rule_id(&self) -> Option<&str> {
        self.rule_id.as_deref()
    }

    pub fn primary_key(&self) -> &str {
        &self.primary
    }

    pub fn variant(&self) -> Option<&str> {
        self.variant.as_deref()
    }

    pub fn upstream(&self) -> Cow<'_, RequestHead> {
        match &self.upstream {
            Some(u) => Cow::Borrowed(u),
            None => {
                Cow::Owned(build_upstream(&self.client, self.upstream_for_cache, self.forward.as_deref()))
            }
        }
    }

    pub fn client(&self) -> &RequestHead {
        &self.client
    }

    /// The storage key of the entry this request uses (its variant, when it has one).
    pub fn entry_key(&self) -> String {
        key::storage_key(&self.primary, self.keyed_audience, self.variant.as_deref())
    }

    /// The storage key of the base record for this request.
    pub fn base_key(&self) -> String {
        key::storage_key(&self.primary, self.keyed_audience, None)
    }
}

/// Keeps a response to an authenticated request out of every shared cache downstream: `public`,
/// `s-maxage` and `proxy-revalidate` are removed from `Cache-Control` and `private` added
/// (unless it says `no-store` or an unqualified `private` already); the targeted
/// `CDN-Cache-Control` and `Surrogate-Control` are removed. RFC 9111 §3.5 lets a shared cache
/// reuse such a response when it says `public` or `s-maxage`; one user's page must not be.
pub fn keep_private(h: &mut Headers) {
    h.remove("cdn-cache-control");
    h.remove("surrogate-control");
    let joined = h.get_joined("cache-control").map(|v| v.into_owned()).unwrap_or_default();
    let mut kept: Vec<&str> = Vec::new();
    let mut private = false;
    for directive in split_directives(&joined) {
        let name = directive.split('=').next().unwrap_or("").trim().to_ascii_lowercase();
        match name.as_str() {
            "" | "public" | "s-maxage" | "proxy-revalidate" => continue,
            "no-store" => private = true,
            "private" if !directive.contains('=') => private = true,
            _ => {}
        }
        kept.push(directive);
    }
    if !private {
        kept.push("private");
    }
    h.set("cache-control", kept.join(", "));
}

/// Adds `name` to `Vary` unless it is already listed (case-insensitively); never replaces.
pub fn merge_vary(h: &mut Headers, name: &str) {
    if h.list("vary").any(|v| v == "*" || v.eq_ignore_ascii_case(name)) {
        return;
    }
    let pretty = pretty_field_name(name);
    match h.get_joined("vary").map(|v| v.into_owned()) {
        Some(existing) if !existing.trim().is_empty() => h.set("vary", format!("{existing}, {pretty}")),
        _ => h.set("vary", pretty),
    }
}

fn pretty_field_name(name: &str) -> String {
    name.split('-')
        .map(|part| {
            let mut c = part.chars();
            match c.next() {
                Some(f) => f.to_ascii_uppercase().to_string() + &c.as_str().to_ascii_lowercase(),
                None => String::new(),
            }
        })
        .collect::<Vec<_>>()
        .join("-")
}

/// Merges a new variant into the index kept at a URL's base key; returns the index and the
/// storage keys it no longer remembers (the driver deletes them).
pub fn merge_index(existing: Option<VaryIndex>, new: VaryIndex) -> (VaryIndex, Vec<String>) {
    let mut index = match existing {
        Some(old) if old.vary == new.vary => old,
        _ => VaryIndex::new(new.url.clone()),
    };
    let mut forgotten = Vec::new();
    for k in &new.variants {
        forgotten.extend(index.record(k, &new.vary, new.stored_at));
    }
    (index, forgotten)
}

/// The origin's request when the client's needs no hop-by-hop stripping: the client's, with
/// its conditionals dropped and GET once the request goes through the cache.
fn build_upstream(client: &RequestHead, for_cache: bool, edits: Option<&ForwardEdits>) -> RequestHead {
    let mut u = client.clone();
    if for_cache {
        strip_conditionals(&mut u.headers);
        u.method = Method::Get;
    }
    if let Some(e) = edits {
        e.apply(&mut u);
    }
    u
}

/// Appends the decimal digits of `n` (what `write!` does, without the formatting machinery).
fn push_u64(out: &mut String, n: u64) {
    let mut buf = [0u8; 20];
    let mut i = buf.len();
    let mut n = n;
    loop {
        i -= 1;
        if let Some(b) = buf.get_mut(i) {
            *b = b'0' + (n % 10) as u8;
        }
        n /= 10;
        if n == 0 || i == 0 {
            break;
        }
    }
    for &b in buf.get(i..).unwrap_or(&[]) {
        out.push(char::from(b));
    }
}

/// The client's fields that make the origin's answer partial or conditional.
const RANGE_AND_PRECONDITIONS: [&str; 6] =
    ["range", "if-none-match", "if-modified-since", "if-match", "if-unmodified-since", "if-range"];

/// Drops the client's range and preconditions from a request of the cache path: the cache
/// asks the origin for the whole representation (adding its own validators) and answers the
/// client's conditionals and range itself.
fn strip_conditionals(h: &mut Headers) {
    for name in RANGE_AND_PRECONDITIONS {
        h.remove(name);
    }
}

/// The `detail` of a request whose method the runtime cannot send to the origin.
pub const METHOD_NOT_FORWARDABLE: &str = "method-not-forwardable";

/// Why an origin response with this status cannot be passed on, or None when it can.
///
/// RFC 9110 §15: "Values outside the range 100..599 are invalid. Implementations often use
/// three-digit integer values outside of that range (i.e., 600..999) for internal
/// communication of non-HTTP status"; and a 1xx is interim (§15.2: "A client MUST be able to
/// parse one or more 1xx responses received prior to a final response"). The runtime builds
/// responses only with a status from 200 to 599, and its `fetch` hands an interim response
/// over as if it were final (what follows it, the final response, arriving as its content),
/// so neither can reach the client: the answer is a 502 (or the stale entry, under
/// stale-if-error), and nothing stored is replaced.
pub fn unusable_status(status: u16) -> Option<&'static str> {
    match status {
        100..=199 => Some("origin-interim-response"),
        200..=599 => None,
        _ => Some("origin-invalid-status"),
    }
}

/// The `detail` for an origin fetch that failed with the runtime's error `message`: a
/// framing the runtime refuses (`Transfer-Encoding` it does not know, conflicting
/// `Content-Length`), a method it cannot send, or a connection that failed.
pub fn fetch_failure_detail(message: &str) -> &'static str {
    let m = message.to_ascii_lowercase();
    if m.contains("invalid http method") || m.contains("method") && m.contains("unsupported") {
        METHOD_NOT_FORWARDABLE
    } else if m.contains("content-length") {
        "origin-invalid-content-length"
    } else if m.contains("transfer encoding") || m.contains("transfer-encoding") {
        "origin-invalid-transfer-encoding"
    } else if m.contains("internal error") || m.contains("parse") || m.contains("invalid") {
        // The runtime reports most malformed responses (an unknown Transfer-Encoding among
        // them) only as an internal error with a reference number.
        "origin-invalid-response"
    } else {
        "origin-unreachable"
    }
}

/// The answer when the origin's content cannot be read in full while it is read for storage
/// (it ended before its declared `Content-Length`, or the connection failed): a 502 saying so,
/// with nothing stored. The head and its text.
pub fn unreadable_body_reply() -> (ResponseHead, &'static str) {
    let mut h = Headers::new();
    h.set("content-type", "text/plain; charset=utf-8");
    h.set("cache-control", "no-store");
    let cs = CacheStatus { detail: Some("origin-invalid-content".into()), ..Default::default() };
    h.set("cache-status", cs.to_value_with_key(CACHE_NAME, None));
    (ResponseHead::new(502, h), "502 origin-invalid-content\n")
}

/// The directives of one `Cache-Control` field value, trimmed, split at the commas outside
/// quoted strings (RFC 9111 §5.2: `#cache-directive`, arguments may be quoted-strings).
fn split_directives(value: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let (mut start, mut quoted, mut escaped) = (0, false, false);
    for (i, b) in value.bytes().enumerate() {
        if quoted {
            quoted = escaped || b != b'"';
            escaped = !escaped && b == b'\\';
            continue;
        }
        match b {
            b'"' => quoted = true,
            b',' => {
                out.push(value[start..i].trim());
                start = i + 1;
            }
            _ => {}
        }
    }
    out.push(value[start..].trim());
    out.retain(|d| !d.is_empty());
    out
}

/// Whether any `Cookie` field names an auth cookie (`<name>=`) or an auth cookie prefix
/// anywhere in its text, however a server would split it.
fn mentions_auth_cookie(cfg: &crate::audience::AudienceConfig, h: &Headers) -> bool {
    h.get_all("cookie").any(|v| {
        cfg.auth_cookies.iter().any(|name| {
            v.match_indices(name.as_str())
                .any(|(at, _)| v.get(at + name.len()..).is_some_and(|rest| rest.starts_with('=')))
        }) || cfg.auth_cookie_prefixes.iter().any(|p| v.contains(p.as_str()))
    })
}

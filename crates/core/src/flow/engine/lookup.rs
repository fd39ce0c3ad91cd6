//! What the lookup found: variant indexes, misses, collapsed retries, purges and stored
//! entries served, revalidated or refused.

use super::*;

impl Flow {
    /// Another request's fetch of the same entry finished while this one waited (RFC 9111
    /// §4: a cache may collapse requests): look again, and fetch only if it is still a miss.
    pub fn retry_after_collapse(&mut self) -> Step {
        self.collapsed = true;
        self.variant = None;
        self.vary = None;
        self.state = State::Base;
        Step::Lookup { key: self.base_key(), kv: self.persist, r2: self.r2 }
    }

    /// The driver found `record` at the key of the last [`Step::Lookup`]. `purged` is what the
    /// purge ledger says about an entry (ignored for [`Found::Nothing`]).
    pub fn found(&mut self, policy: &Policy, record: Found, purged: Purged, now: Time) -> Step {
        match (std::mem::replace(&mut self.state, State::Done), record) {
            (State::Reloading, record) => self.reloaded(record, purged),
            (State::Base, Found::Index(index)) => {
                let spec = VarySpec::Fields(index.vary.clone());
                match key::variant(&spec, &self.client.headers, policy.key_options()) {
                    Some(v) => {
                        let k = self.key_of(Some(&v));
                        self.variant_room = index.admits(k.as_str(), now);
                        self.vary = Some(spec);
                        self.variant = Some(v);
                        self.forward_varied_fields();
                        self.state = State::Variant;
                        Step::Lookup { key: k, kv: self.persist, r2: self.r2 }
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

    pub(super) fn miss(&mut self, policy: &Policy, fwd: Fwd, detail: Option<Detail>) -> Step {
        if cache_control::CacheControl::from_headers(&self.client.headers, "cache-control")
            .is_some_and(|cc| cc.only_if_cached)
        {
            // RFC 9111 §5.2.1.7: "If it receives this directive, a cache SHOULD either respond
            // using a stored response ... or respond with a 504 (Gateway Timeout) status code."
            return self.error_reply(policy, 504, Detail::OnlyIfCached);
        }
        if self.client.headers.contains("range") {
            return self.forward_range_miss(fwd);
        }
        let status = CacheStatus { fwd: Some(fwd), detail: detail.map(Detail::as_str), ..Default::default() };
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
        let coalesce = (!self.collapsed && !client_validators).then(|| self.key_of(self.variant.as_deref()));
        self.fetch(request, false, coalesce)
    }

    /// A range request that found nothing to cut its range from is forwarded as the client
    /// sent it (its `Range`, `If-Range` and other preconditions included), and the origin's
    /// partial answer passes through unstored (RFC 9111 §3: a cache must not store a `206`
    /// unless it supports combining partial content, which rulecache does not).
    pub(super) fn forward_range_miss(&mut self, fwd: Fwd) -> Step {
        let mut request = self.upstream_request();
        request.method = self.client.method.clone();
        for name in RANGE_AND_PRECONDITIONS {
            request.headers.remove(name);
            for v in self.client.headers.get_all(name) {
                request.headers.append(name, v);
            }
        }
        self.bypass = Some(Bypass::Range);
        let status = CacheStatus {
            fwd: Some(fwd),
            detail: Some(Detail::Bypass(Bypass::Range).as_str()),
            ..Default::default()
        };
        self.state = State::Forwarding { status };
        self.fetch(request, false, None)
    }

    pub(super) fn error_reply(&mut self, policy: &Policy, status: u16, detail: Detail) -> Step {
        self.error_reply_with(policy, status, detail, None)
    }

    /// An error made here; `fwd_status`: the origin's status that caused it (RFC 9211 §2.3:
    /// "fwd-status: The status code that the next-hop server sent in its response").
    pub(super) fn error_reply_with(
        &mut self,
        policy: &Policy,
        status: u16,
        detail: Detail,
        fwd_status: Option<u16>,
    ) -> Step {
        let mut h = Headers::new();
        h.set("content-type", "text/plain; charset=utf-8");
        h.set("cache-control", "no-store");
        let cs = CacheStatus { detail: Some(detail.as_str()), fwd_status, ..Default::default() };
        let ruleset = self.ruleset_name(policy).map(str::to_string);
        self.answer_locally(
            policy,
            ResponseHead::new(status, h),
            &cs,
            ruleset,
            Some(format!("{status} {}\n", detail.as_str())),
        )
    }

    pub(super) fn use_stored(&mut self, policy: &Policy, mut meta: Meta, purged: Purged, now: Time) -> Step {
        // The key holds audience and variant; the record says whom it serves, so even a
        // colliding key can never hand one audience's response to the other.
        if !meta.serves(self.keyed_audience, self.variant.as_deref()) {
            return self.miss(policy, Fwd::VaryMiss, None);
        }
        if let Purged::Unverified { .. } = purged {
            self.unverified = true;
        }
        if purged == Purged::Hard {
            return self.miss(policy, Fwd::Miss, Some(Detail::Purged));
        }
        meta.stale_from = meta.stale_after(purged);
        if self.ruleset.is_none() {
            // The record names its ruleset; a name this policy no longer declares is none.
            self.ruleset = meta.ruleset.as_deref().and_then(|name| policy.ruleset_id(name));
        }
        self.stored_len =
            if meta.body_len > 0 { Some(meta.body_len) } else { meta.head.headers.content_length() };
        let age = freshness::current_age(&meta.head, meta.request_time, meta.response_time, now);
        // A request that waited for another request's fetch or revalidation of this entry takes
        // its result as validated for it too: the origin answered after this request arrived
        // (RFC 9111 §4: collapsed requests; §5.2.1.4 `no-cache` asks for "successful validation
        // on the origin server", which that was).
        if self.collapsed && purged == Purged::No && meta.response_time >= self.request_time {
            let ttl = self.ttl_of(&meta, now);
            let cs = CacheStatus { hit: true, ttl: Some(ttl), collapsed: true, ..Default::default() };
            return self.serve_stored(policy, meta, age, cs, Outcome::Hit, None, now);
        }
        let stored = meta.freshness_view();
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
                    detail: Some(Detail::StaleWhileRevalidate.as_str()),
                    ..Default::default()
                };
                let background = self.background_revalidation(&meta);
                self.serve_stored(policy, meta, age, cs, Outcome::StaleServed, background, now)
            }
            Verdict::Stale { serve_if_error, by_request, .. } => {
                if cache_control::CacheControl::from_headers(&self.client.headers, "cache-control")
                    .is_some_and(|cc| cc.only_if_cached)
                {
                    return self.error_reply(policy, 504, Detail::OnlyIfCached);
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
                // Concurrent revalidations of one entry in an isolate collapse behind one
                // conditional request (a HEAD's is its own: it asks for no content).
                let coalesce = (!self.collapsed && !head).then(|| self.entry_key());
                self.state = State::Revalidating {
                    stored: Box::new(meta),
                    serve_if_error,
                    background: false,
                    fwd,
                    head,
                };
                self.fetch(request, false, coalesce)
            }
        }
    }

    #[allow(clippy::too_many_arguments)]
    pub(super) fn serve_stored(
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
        head.headers.reserve(8, 160);
        head.headers.set("age", freshness::age_header_value(age));
        self.reply(
            policy,
            Answer::new(head, BodySource::Stored, cs, outcome).with_background(background),
            now,
        )
    }
}

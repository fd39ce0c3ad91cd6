//! The start of a flow: classification, the bypass cascade, the page map, what the origin
//! is sent, and answers made at the edge.

use super::*;

impl Flow {
    /// Starts the flow for a request at `now`; returns the flow and its first step.
    /// `debug_proven`: the shell verified the admin secret on this request.
    pub fn start(policy: &Policy, mut client: RequestHead, now: Time, debug_proven: bool) -> (Flow, Step) {
        // One pass over the client's fields drops: the internal fields a client may not send;
        // `Authorization` when the admin secret proved debug access (it is no credential for
        // the origin and never leaves the worker); and the forwarding family, whatever its
        // spelling (`key::is_forwarding_field`): the edge sets what the origin needs of it from
        // the real request (unkeyed-input cache poisoning).
        client.headers.retain(|name, _| {
            !(is_listed(name, INTERNAL_REQUEST_HEADERS)
                || (debug_proven && name == "authorization")
                || key::is_forwarding_field(name))
        });
        for (name, value) in key::edge_forwarding_fields(&client.url) {
            client.headers.set(name, value);
        }
        // One URL for the key, the classification and the origin: the path as the key
        // normalises it (RFC 3986 §6.2.2: escaped unreserved characters decoded, escapes in
        // upper case), so that `/a/%6Eews` is asked for, classified and stored as `/a/news`.
        if let Cow::Owned(path) = key::normalise_component(client.url.path()) {
            client.url.set_path(&path);
        }
        let audience = policy.audience_of(&client);
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
        let ruleset = classified.as_ref().map(|c| c.ruleset_id);
        let rule_id = classified.as_ref().and_then(|c| c.rule_id.map(str::to_string));
        let origin = policy.route(client.url.path(), classified.as_ref()).map(|o| o.name.clone());
        let keyed_audience = policy.split_view_header().map(|_| audience);
        let primary = key::primary_key(&client.url, policy.key_options());
        let base = key::origin_storage_key(&primary, origin.as_deref(), keyed_audience, None);
        let mut flow = Flow {
            client,
            upstream,
            upstream_for_cache: false,
            audience,
            primary,
            keyed_audience,
            base,
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
            r2: false,
            variant_room: true,
            origin,
        };
        flow.persist = policy.operation(flow.ruleset).persist();
        flow.r2 = policy.operation(flow.ruleset).r2();
        // Every path of a request the cache cannot answer itself reaches the origin; a method
        // the runtime cannot send is answered 501 here, from its name, before anything else
        // (RFC 9110 §9.1: "An origin server that receives a request method that is
        // unrecognized or not implemented SHOULD respond with the 501").
        if !is_forwardable_method(flow.client.method.as_str()) {
            let step = flow.error_reply(policy, 501, Detail::MethodNotForwardable);
            return (flow, step);
        }
        let step = flow.first_step(policy);
        (flow, step)
    }

    /// A background revalidation (stale-while-revalidate), run after the client was answered
    /// from a stale entry with validators. It starts by looking the entry up again
    /// ([`Flow::background_step`]), so that the driver holds the body a 304 re-stores.
    pub(super) fn background_revalidation(&self, stored: &Meta) -> Option<Box<Flow>> {
        revalidate::conditional_headers(&stored.head)?;
        let mut flow = self.clone();
        let upstream = flow.upstream_mut();
        upstream.method = Method::Get;
        strip_conditionals(&mut upstream.headers);
        flow.state = State::Reloading;
        Some(Box::new(flow))
    }

    /// The first step of a background flow: look its entry up again in every tier the
    /// request's lookups search (KV too, for a ruleset that persists). The driver keeps the
    /// body it finds, as for any lookup; a 304 re-stores that body, never one it does not hold.
    pub fn background_step(&self) -> Step {
        Step::Lookup { key: self.entry_key(), kv: self.persist, r2: self.r2 }
    }

    /// The entry a background revalidation refreshes, found again (see
    /// [`Flow::background_step`]): revalidated with its own validators. Gone, replaced by one
    /// without validators, or hard-purged meanwhile: there is nothing to refresh.
    pub(super) fn reloaded(&mut self, found: Found, purged: Purged) -> Step {
        let meta = match found {
            Found::Entry(meta) if purged != Purged::Hard => meta,
            _ => return self.background_done(),
        };
        let Some(cond) = revalidate::conditional_headers(&meta.head) else { return self.background_done() };
        let upstream = self.upstream_mut();
        for (n, v) in cond.iter() {
            upstream.headers.set(n, v);
        }
        self.state = State::Revalidating {
            stored: meta,
            serve_if_error: false,
            background: true,
            fwd: Fwd::Stale,
            head: false,
        };
        self.fetch(self.upstream_request(), false, None)
    }

    /// A background flow that ends without asking the origin: no answer, nothing stored.
    fn background_done(&mut self) -> Step {
        self.state = State::Done;
        Step::Respond(Box::new(Reply {
            head: ResponseHead::new(204, Headers::new()),
            body: ReplyBody::Empty,
            store: None,
            invalidate: Vec::new(),
            record: None,
            background: None,
            outcome: Outcome::Synthetic,
            ruleset: None,
            refusal: None,
        }))
    }

    /// The origin's request, built from the client's on first use.
    pub(super) fn upstream_mut(&mut self) -> &mut RequestHead {
        let (client, for_cache, edits) = (&self.client, self.upstream_for_cache, self.forward.as_deref());
        self.upstream.get_or_insert_with(|| build_upstream(client, for_cache, edits))
    }

    /// A copy of the origin's request, to send.
    pub(super) fn upstream_request(&self) -> RequestHead {
        match &self.upstream {
            Some(u) => u.clone(),
            None => build_upstream(&self.client, self.upstream_for_cache, self.forward.as_deref()),
        }
    }

    pub(super) fn first_step(&mut self, policy: &Policy) -> Step {
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
                PageAction::Rewrite { path, .. } => {
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
        // A named origin gets the request at its own URL (its base path before the path).
        if let Some(origin) = self.origin.as_deref().and_then(|name| policy.origin(name)) {
            let upstream = self.upstream_mut();
            upstream.url = origin.target(&upstream.url);
        }
        let operation = policy.operation(self.ruleset);
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
            let status = CacheStatus {
                fwd: Some(fwd),
                detail: Some(Detail::Bypass(reason).as_str()),
                ..Default::default()
            };
            self.state = State::Forwarding { status };
            // The client's address, from the runtime (`CF-Connecting-IP`), for an answer that
            // is never stored; a request of the cache path does not carry it (it is not keyed).
            if let Some(ip) = self.client.headers.get("cf-connecting-ip").map(str::to_string) {
                self.upstream_mut().headers.set("x-forwarded-for", ip);
            }
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
        Step::Lookup { key: self.base_key(), kv: self.persist, r2: self.r2 }
    }

    /// What a request of the cache path forwards: the key is exactly what is forwarded.
    pub(super) fn forward_edits(&self, policy: &Policy, rewritten: bool) -> ForwardEdits {
        // Cookies the policy does not name may change the origin's answer without being in
        // the key; plone.recipe.varnish's default configuration drops them the same way.
        // A response to an authenticated request that may not be shared is never stored: its
        // cookies go as they came (the origin must see the login however it spells it).
        let audience = policy.audience_config();
        let origin = self.origin.as_deref().and_then(|name| policy.origin(name));
        let keep = |name: &str| {
            audience.is_auth_cookie(name)
                || policy.cache_stop_variables().iter().any(|v| v == name)
                || policy.key_options().keep_cookies.iter().any(|k| k == name)
                || origin.is_some_and(|o| o.keep_cookies.iter().any(|k| k == name))
        };
        let storable = self.audience.is_anonymous() || policy.operation(self.ruleset).share_authenticated();
        let cookie = storable.then(|| crate::policy::audience::keep_only(&self.client.headers, keep));
        // Parameters left out of the key are left out of the request too (and a parameter
        // cloaked behind `;` in a dropped one with them).
        let forwarded = self.client.url.query().and_then(|q| key::forwarded_query(q, policy.key_options()));
        let query = (!rewritten && forwarded.as_deref() != self.client.url.query()).then_some(forwarded);
        let accept_encoding = key::negotiate_encoding(&self.client.headers, policy.key_options()).to_string();
        // Fields beyond the keyed ones and the unkeyed-safe list: the policy's and the
        // split-view header.
        let mut also: Vec<String> = policy.key_options().trusted_headers.clone();
        also.extend(origin.iter().flat_map(|o| o.trusted_headers.iter().cloned()));
        also.extend(policy.split_view_header().map(str::to_string));
        ForwardEdits { cookie, query, accept_encoding, also }
    }

    pub(super) fn synthetic(
        &mut self,
        policy: &Policy,
        status: u16,
        headers: Headers,
        text: Option<String>,
    ) -> Step {
        let cs = CacheStatus { hit: true, detail: Some(Detail::PageMap.as_str()), ..Default::default() };
        self.answer_locally(policy, ResponseHead::new(status, headers), &cs, None, text)
    }

    /// A response made here rather than by the origin or the cache (page map, errors).
    pub(super) fn answer_locally(
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
            body: text.map_or(ReplyBody::Empty, ReplyBody::Text),
            store: None,
            invalidate: Vec::new(),
            record: None,
            background: None,
            outcome: Outcome::Synthetic,
            ruleset,
            refusal: None,
        }))
    }
}

//! What of the origin's answer may be stored, and where: storability (RFC 9111 §3, §3.5 and the
//! policy's operation), the variant it is keyed by, and the memory tier.

use super::*;

impl Flow {
    /// Whether `head`, the answer to this request, may be stored, and how (the operation's
    /// storage, a 404/410's lifetime cut short); else the reason for `Cache-Status`.
    pub(super) fn storability(&self, policy: &Policy, head: &ResponseHead) -> Result<EdgeStorage, Refusal> {
        // A HEAD that missed was sent to the origin as a GET (the cache path always asks for
        // the whole representation), so the answer is a GET response and is stored as one:
        // the next GET is a hit rather than another miss.
        if !self.client.is_get_or_head() {
            return Err(Refusal::Method);
        }
        let operation = policy.operation(self.ruleset);
        if let Some(b) = operation.bypass(self.audience) {
            return Err(Refusal::Bypass(b));
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
                _ => return Err(Refusal::Status),
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
            storable::check(&whole, authenticated, head, storage).map_err(Refusal::Rfc)?;
        } else {
            storable::check(&self.client, authenticated, head, storage).map_err(Refusal::Rfc)?;
        }
        if authenticated && matches!(storage, EdgeStorage::HonourOrigin) {
            // RFC 9111 §3.5 would let an explicitly public response to an authenticated
            // request be shared; the edge never shares one user's response with another user
            // unless a policy operation declares the ruleset shared.
            return Err(Refusal::Authenticated);
        }
        if authenticated && self.keyed_audience.is_none() {
            // Without split view the key does not separate audiences: a policy-stored response
            // to an authenticated request would be served to everybody.
            return Err(Refusal::Authenticated);
        }
        if authenticated && !operation.share_authenticated() {
            // "Authenticated" is any auth cookie, never verified: a response one user got is
            // shared with every other logged-in (or junk-cookie) request only when the policy
            // says this ruleset is the same for all of them.
            return Err(Refusal::Authenticated);
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
                return Err(Refusal::Authorization);
            }
        }
        // Web cache deception: a URL classified by its extension must be answered with a
        // body of that kind (as Cloudflare's Cache Deception Armor checks), or a logged-in
        // page requested as `/account/x.css` would be stored as a stylesheet.
        let rule = self.rule_id.as_deref().and_then(|id| policy.rules().iter().find(|r| r.id == id));
        if let Some(ext) =
            rule.and_then(|r| crate::policy::classify::extension_to_check(r, self.client.url.path()))
        {
            if !crate::policy::classify::content_type_fits_extension(ext, head.headers.get("content-type")) {
                return Err(Refusal::ContentType);
            }
        }
        Ok(storage)
    }

    /// The fields an entry varies on: the origin's `Vary` and the operation's `vary`
    /// parameter (the split-view header is keyed as the audience already).
    pub(super) fn vary_spec(&self, policy: &Policy, head: &ResponseHead) -> VarySpec {
        let operation = policy.operation(self.ruleset);
        let split = policy.split_view_header();
        let extra =
            operation.vary_names().into_iter().filter(|n| !split.is_some_and(|s| n.eq_ignore_ascii_case(s)));
        VarySpec::from_names(head.headers.list("vary").chain(extra))
    }

    pub(super) fn store_decision(
        &self,
        policy: &Policy,
        head: &ResponseHead,
        response_time: Time,
        now: Time,
    ) -> Result<StoreOrder, Refusal> {
        let storage = self.storability(policy, head)?;
        let operation = policy.operation(self.ruleset);
        let mut stored_head = head.clone();
        let (cc, _) = cache_control::effective(&head.headers);
        hop::prepare_for_storage(&mut stored_head.headers, cc.as_ref());
        let spec = self.vary_spec(policy, head);
        let (variant, index) = match &spec {
            VarySpec::Star => return Err(Refusal::VaryStar),
            VarySpec::None => (None, None),
            VarySpec::Fields(fields) => {
                // Keyed by what the origin was sent: a field it did not see is absent.
                let v = key::variant(&spec, &self.sent_fields(&spec), policy.key_options())
                    .ok_or(Refusal::VaryStar)?;
                let k = self.key_of(Some(&v));
                if !self.variant_room {
                    // The URL's index is full of fresh variants (see `VaryIndex::admits`).
                    return Err(Refusal::VariantBudget);
                }
                let life = freshness::lifetime(&stored_head, storage, response_time).secs;
                let until = response_time.saturating_add(life.saturating_mul(1000));
                let k = k.into_string();
                let index = VaryIndex {
                    url: self.primary.as_str().to_string(),
                    vary: fields.clone(),
                    fresh_until: [(k.clone(), until)].into_iter().collect(),
                    variants: vec![k],
                    stored_at: now,
                };
                (Some(v), Some((self.base_key(), index)))
            }
        };
        let meta = Meta {
            url: self.primary.as_str().to_string(),
            variant: variant.clone(),
            audience: self.keyed_audience,
            request_time: self.request_time,
            response_time,
            stored_at: now,
            tags: crate::storage::meta::tags_from_headers(&head.headers, policy.tag_sources()),
            head: stored_head,
            storage,
            ruleset: self.ruleset_name(policy).map(str::to_string),
            operation: operation.name().to_string(),
            policy_version: policy.version(),
            body_len: head.headers.content_length().unwrap_or(0),
            stale_from: None,
        };
        Ok(StoreOrder {
            shared: true,
            key: self.key_of(variant.as_deref()),
            ruleset: self.ruleset,
            memory: memory_for(operation, meta.storage),
            meta,
            body: BodySource::Origin,
            index,
        })
    }

    /// The client's fields as far as the origin was sent those `spec` names: on the cache path
    /// a field outside the forwarded set (see `key::forwarded_on_cache_path`) did not reach the
    /// origin, so the answer is keyed as if it were absent. (`Cookie` is keyed from the
    /// client's field, which is never less than what was sent.)
    pub(super) fn sent_fields(&self, spec: &VarySpec) -> Cow<'_, Headers> {
        let (VarySpec::Fields(fields), Some(edits)) = (spec, self.forward.as_deref()) else {
            return Cow::Borrowed(&self.client.headers);
        };
        let unsent = |name: &str| name != "cookie" && !edits.forwards(name);
        if !fields.iter().any(|f| unsent(f) && self.client.headers.contains(f)) {
            return Cow::Borrowed(&self.client.headers);
        }
        let mut sent = self.client.headers.clone();
        sent.retain(|name, _| !(unsent(name) && fields.iter().any(|f| f == name)));
        Cow::Owned(sent)
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
    pub(super) fn anonymous_private_override(
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
            .flat_map(fields::split_directives)
            .filter(|d| !d.eq_ignore_ascii_case("private"))
            .map(str::to_string)
            .collect();
        relaxed.headers.remove("cache-control");
        if !kept.is_empty() {
            relaxed.headers.set("cache-control", kept.join(", "));
        }
        Some(relaxed)
    }
}

/// Whether an entry kept by `operation` with `storage` goes to the memory tier too.
pub(super) fn memory_for(operation: &Operation, storage: EdgeStorage) -> bool {
    operation.ram_cache() || matches!(storage, EdgeStorage::HonourOrigin)
}

//! The client's answer: the operation's headers, split-view Vary, debug headers,
//! Cache-Status, and the client's own conditionals and ranges.

use super::*;

/// What the flow answers with, before the client's own conditionals and range are applied
/// ([`Flow::reply`]).
pub(super) struct Answer {
    pub head: ResponseHead,
    /// Which body goes with it.
    pub body: BodySource,
    /// Its `Cache-Status`.
    pub status: CacheStatus,
    /// What it stores, if anything.
    pub store: Option<StoreOrder>,
    pub outcome: Outcome,
    /// A revalidation to run after answering.
    pub background: Option<Box<Flow>>,
    /// Storage keys to remove (RFC 9111 §4.4 invalidation, an entry a response refuses).
    pub invalidate: Vec<StorageKey>,
    /// What it invalidates everywhere (the purge ledger).
    pub record: Option<Invalidation>,
    /// Why the origin's answer was not stored, when it was not.
    pub refusal: Option<Refusal>,
}

impl Answer {
    pub fn new(head: ResponseHead, body: BodySource, status: CacheStatus, outcome: Outcome) -> Self {
        Answer {
            head,
            body,
            status,
            store: None,
            outcome,
            background: None,
            invalidate: Vec::new(),
            record: None,
            refusal: None,
        }
    }

    pub fn storing(self, order: StoreOrder) -> Self {
        Answer { store: Some(order), ..self }
    }

    pub fn with_store(self, store: Option<StoreOrder>) -> Self {
        Answer { store, ..self }
    }

    pub fn with_background(self, background: Option<Box<Flow>>) -> Self {
        Answer { background, ..self }
    }

    pub fn invalidating(self, keys: Vec<StorageKey>) -> Self {
        Answer { invalidate: keys, ..self }
    }

    pub fn recording(self, record: Option<Invalidation>) -> Self {
        Answer { record, ..self }
    }
}

impl Flow {
    /// Builds the client's answer to `answer`: the operation's downstream headers, split-view
    /// Vary, debug headers, `Cache-Status`, and the client's own conditionals (→ 304).
    pub(super) fn reply(&mut self, policy: &Policy, answer: Answer, now: Time) -> Step {
        let Answer {
            mut head,
            mut body,
            status: cs,
            store,
            outcome,
            background,
            invalidate,
            record,
            refusal,
        } = answer;
        let operation = policy.operation(self.ruleset);
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
        let body = match body {
            BodySource::Empty => ReplyBody::Empty,
            BodySource::Stored => ReplyBody::Stored { range: cut },
            BodySource::Origin => ReplyBody::Origin,
        };
        Step::Respond(Box::new(Reply {
            head,
            body,
            store,
            invalidate,
            record,
            background,
            outcome,
            ruleset: self.ruleset_name(policy).map(str::to_string),
            // A bypass is not stored because the policy sent it past the cache: its reason.
            refusal: match (outcome, refusal) {
                (Outcome::Bypass, None) => self.bypass.map(Refusal::Bypass),
                (_, refusal) => refusal,
            },
        }))
    }

    /// Split-view Vary, tag stripping, debug headers and `Cache-Status`.
    pub(super) fn decorate(
        &self,
        policy: &Policy,
        head: &mut ResponseHead,
        cs: &CacheStatus,
        operation: Option<&str>,
    ) {
        if let (Some(name), Some(_)) = (policy.split_view_header(), self.keyed_audience) {
            if policy.operation(self.ruleset).advertises_split_view() {
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
            for field in crate::storage::meta::TAG_FIELDS {
                head.headers.remove(field);
            }
        }
        let mut key = cs.key.as_deref();
        if self.debug_proven {
            key = Some(self.primary.as_str());
        }
        if debug {
            let rule = self.ruleset_name(policy).unwrap_or(crate::storage::stats::DEFAULT_RULESET);
            head.headers.set("x-rulecache-rule", rule);
            if let Some(op) = operation {
                head.headers.set("x-rulecache-operation", op);
                let chain = policy.operation(self.ruleset).chain_names();
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
    pub(super) fn has_stale_fallback(&self) -> bool {
        matches!(self.state, State::Revalidating { serve_if_error: true, background: false, .. })
    }

    /// A fetch step in the current state, with the deadline the state allows.
    pub(super) fn fetch(&self, request: RequestHead, with_body: bool, coalesce: Option<StorageKey>) -> Step {
        let deadline_ms = self.has_stale_fallback().then_some(crate::storage::tiers::ORIGIN_DEADLINE_MS);
        Step::Fetch { request, with_body, coalesce, deadline_ms }
    }
}

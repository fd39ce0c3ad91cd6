//! The origin's answer: the store order, revalidation merges (§4.3.4), invalidation (§4.4),
//! errors and stale-if-error (what may be stored, and where, is in `store`).

use super::store::memory_for;
use super::*;

impl Flow {
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
                                detail: Some(reason.as_str()),
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
                    let validators_changed = ["etag", "last-modified"]
                        .iter()
                        .any(|n| stored.head.headers.get(n) != merged.headers.get(n));
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
                        detail: self.unverified.then_some(LEDGER_UNVERIFIED),
                        ..Default::default()
                    };
                    // The entry is kept as its own ruleset says (the stored record's name).
                    let ruleset = meta.ruleset.as_deref().and_then(|name| policy.ruleset_id(name));
                    let order = StoreOrder {
                        key: self.entry_key(),
                        ruleset,
                        memory: memory_for(policy.operation(ruleset), meta.storage),
                        shared: shared_copy_gains(&meta, validators_changed, now),
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
            State::Base | State::Variant | State::Reloading | State::Done => {
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
        detail: &'static str,
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

    pub(super) fn serve_stale_on_error(
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
            detail: Some("stale-if-error"),
            ..Default::default()
        };
        self.serve_stored(policy, meta, age, cs, Outcome::StaleServed, None, now)
    }

    pub(super) fn ttl_of(&self, meta: &Meta, now: Time) -> i64 {
        let life = freshness::lifetime(&meta.head, meta.storage, meta.response_time).secs as i64;
        let age = freshness::current_age(&meta.head, meta.request_time, meta.response_time, now) as i64;
        life - age
    }

    pub(super) fn after_full_response(
        &mut self,
        policy: &Policy,
        mut head: ResponseHead,
        mut status: CacheStatus,
        outcome: Outcome,
        response_time: Time,
        now: Time,
    ) -> Step {
        self.classify_response(policy, &head);
        let operation = policy.operation(self.ruleset);
        if operation.strip_set_cookie() {
            head.headers.remove("set-cookie");
        }
        let store = if outcome == Outcome::Revalidated200 && head.status >= 500 {
            // A server error while revalidating never replaces the stored entry.
            Err(Refusal::Status)
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
                status.detail = Some(reason.as_str());
                None
            }
        };
        // `reply` does not look at the meta; cloning it here only cost allocations.
        self.reply(policy, head, BodySource::Origin, status, order, outcome, None, None, now)
    }

    pub(super) fn invalidation(&self, policy: &Policy, head: &ResponseHead) -> Vec<StorageKey> {
        let mut keys = Vec::new();
        for url in invalidate::targets(&self.client, head) {
            let primary = key::primary_key(&url, policy.key_options());
            for audience in [None, Some(Audience::Anonymous), Some(Audience::Authenticated)] {
                keys.push(key::storage_key(&primary, audience, None));
            }
        }
        keys
    }
}

/// Whether re-storing an entry refreshed by a 304 in the location's shared tiers (Cache API,
/// KV) gains anything: RFC 9111 §4.3.4 has the stored response updated with the 304's fields,
/// and the in-isolate copy always is; the shared copy is rewritten (a whole put, body
/// included) unless the refreshed entry is stale on arrival (no freshness lifetime left),
/// keeps its validators and can never be served stale, so that the next request anywhere
/// revalidates it exactly as it would the copy already there. Without this, a response with
/// `max-age=0` costs a Cache API put on every request.
fn shared_copy_gains(meta: &Meta, validators_changed: bool, now: Time) -> bool {
    let stored = meta.freshness_view();
    let life = freshness::lifetime(&meta.head, meta.storage, meta.response_time).secs;
    let age = freshness::current_age(&meta.head, meta.request_time, meta.response_time, now);
    validators_changed || life > age || freshness::may_serve_stale(&stored)
}

//! The origin's answer: the store order, revalidation merges (§4.3.4), invalidation (§4.4),
//! errors and stale-if-error (what may be stored, and where, is in `store`).

use super::store::memory_for;
use super::*;

impl Flow {
    /// The origin answered the last [`Step::Fetch`].
    pub fn origin_response(&mut self, policy: &Policy, mut head: ResponseHead, now: Time) -> Step {
        hop::strip_hop_by_hop(&mut head.headers);
        if let Some(fault) = unusable_status(head.status) {
            return self.origin_error(policy, fault, Some(head.status), now);
        }
        match std::mem::replace(&mut self.state, State::Done) {
            State::Forwarding { status } => self.forwarded(policy, head, status, now),
            State::Missing { status, client_validators } => {
                self.missed(policy, head, status, client_validators, now)
            }
            State::Revalidating { stored, serve_if_error, background, fwd, head: via_head } => {
                let revalidation = Revalidation { stored, serve_if_error, background, fwd, via_head };
                self.revalidated(policy, head, revalidation, now)
            }
            State::Base | State::Variant | State::Reloading | State::Done => {
                self.error_reply(policy, 500, Detail::UnexpectedOriginResponse)
            }
        }
    }

    /// The origin's answer to a request that bypassed the cache: passed on; an unsafe method's
    /// success invalidates what it names (RFC 9111 §4.4) here and, through the purge ledger,
    /// everywhere, with the groups its `Cache-Group-Invalidation` lists (RFC 9875 §3).
    fn forwarded(&mut self, policy: &Policy, head: ResponseHead, mut status: CacheStatus, now: Time) -> Step {
        status.fwd_status = Some(head.status);
        let invalidate = if self.client.is_safe() { Vec::new() } else { self.invalidation(policy, &head) };
        let record = self.recorded_invalidation(policy, &head);
        let answer = Answer::new(head, BodySource::Origin, status, Outcome::Bypass);
        self.reply(policy, answer.invalidating(invalidate).recording(record), now)
    }

    /// The origin's answer to a miss.
    fn missed(
        &mut self,
        policy: &Policy,
        head: ResponseHead,
        mut status: CacheStatus,
        client_validators: bool,
        now: Time,
    ) -> Step {
        status.fwd_status = Some(head.status);
        if head.status == 304 && client_validators {
            // The origin's answer to the client's own `If-None-Match`: passed on, not
            // stored (it has no content to store).
            return self.reply(
                policy,
                Answer::new(head, BodySource::Empty, status, Outcome::Revalidated304),
                now,
            );
        }
        self.after_full_response(policy, head, status, Outcome::Miss, now, now)
    }

    /// The origin's answer to a conditional revalidation of a stored entry.
    fn revalidated(
        &mut self,
        policy: &Policy,
        head: ResponseHead,
        revalidation: Revalidation,
        now: Time,
    ) -> Step {
        let Revalidation { stored, serve_if_error, background, fwd, via_head } = revalidation;
        let comparison = match head.status {
            304 => revalidate::merge_not_modified(&stored.head, &head)
                .map_or(revalidate::HeadComparison::Differs, revalidate::HeadComparison::Matches),
            200 if via_head => revalidate::compare_head(&stored.head, &head),
            _ => revalidate::HeadComparison::Differs,
        };
        if let revalidate::HeadComparison::Matches(merged) = comparison {
            // The updated response is judged again (RFC 9111 §4.3.4: the stored
            // response is updated with the 304's fields). Its fate is decided by the
            // response and the policy only (see `fate_after_revalidation`).
            let merged_head = ResponseHead::new(merged.status, merged.headers.clone());
            let storage = match self.fate_after_revalidation(policy, &stored, &merged_head) {
                Fate::Update(storage) => storage,
                Fate::Keep(reason) => {
                    return self.revalidated_unstored(policy, merged, (fwd, head.status), reason, false, now)
                }
                Fate::Drop(reason) => {
                    return self.revalidated_unstored(policy, merged, (fwd, head.status), reason, true, now)
                }
            };
            let validators_changed =
                ["etag", "last-modified"].iter().any(|n| stored.head.headers.get(n) != merged.headers.get(n));
            let mut meta = *stored;
            meta.storage = storage;
            meta.head = merged;
            meta.request_time = self.request_time;
            meta.response_time = now;
            meta.stored_at = now;
            meta.stale_from = None;
            let cs = CacheStatus {
                fwd: Some(fwd),
                fwd_status: Some(head.status),
                stored: true,
                ttl: Some(self.ttl_of(&meta, now)),
                detail: self.unverified.then_some(Detail::LedgerUnverified.as_str()),
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
                Answer::new(out, BodySource::Stored, cs, Outcome::Revalidated304).storing(order),
                now,
            );
        }
        if head.status >= 500 && serve_if_error && !background {
            return self.serve_stale_on_error(policy, *stored, Some(head.status), now);
        }
        if via_head {
            // RFC 9111 §4.3.5: a 200 to the HEAD that does not match the stored response
            // means "the cache SHOULD consider the stored response to be stale": when a
            // field both have differs it is dropped; when the HEAD response only has a
            // field the stored one lacks, nothing says it changed and it stays. The
            // HEAD's answer passes through (it has no content to store).
            let cs = CacheStatus { fwd: Some(fwd), fwd_status: Some(head.status), ..Default::default() };
            let invalidate = match comparison {
                revalidate::HeadComparison::Differs => vec![self.entry_key()],
                _ => Vec::new(),
            };
            let answer = Answer::new(head, BodySource::Empty, cs, Outcome::Revalidated200);
            return self.reply(policy, answer.invalidating(invalidate), now);
        }
        if head.status == 304 {
            // RFC 9111 §4.3.3: the 304 does not select the stored response; fetch it anew.
            let mut request = self.upstream_request();
            strip_conditionals(&mut request.headers);
            let status = CacheStatus { fwd: Some(fwd), ..Default::default() };
            self.state = State::Missing { status, client_validators: false };
            return self.fetch(request, false, None);
        }
        let status = CacheStatus { fwd: Some(fwd), fwd_status: Some(head.status), ..Default::default() };
        self.after_full_response(policy, head, status, Outcome::Revalidated200, now, now)
    }

    /// The origin fetch failed: no response the runtime could read.
    pub fn fetch_failed(&mut self, policy: &Policy, failure: FetchFailure, now: Time) -> Step {
        self.origin_error(policy, OriginFault::Fetch(failure), None, now)
    }

    /// The origin's answer could not be used: the fetch failed, or what came back cannot be
    /// passed on (`fault` says why; `fwd_status` is the status it sent, if any). A stale entry
    /// that may stand in (stale-if-error) is served; otherwise the client gets a 502, and
    /// nothing stored is replaced or removed.
    pub fn origin_error(
        &mut self,
        policy: &Policy,
        fault: OriginFault,
        fwd_status: Option<u16>,
        now: Time,
    ) -> Step {
        match std::mem::replace(&mut self.state, State::Done) {
            State::Revalidating { stored, serve_if_error: true, background: false, .. } => {
                self.serve_stale_on_error(policy, *stored, fwd_status, now)
            }
            _ => self.error_reply_with(policy, 502, Detail::Fault(fault), fwd_status),
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
            detail: Some(Detail::StaleIfError.as_str()),
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
        let (order, refusal) = match store {
            Ok(order) => {
                status.stored = true;
                status.ttl = Some(self.ttl_of(&order.meta, now));
                (Some(order), None)
            }
            Err(reason) => {
                status.detail = Some(Detail::Refusal(reason).as_str());
                (None, Some(reason))
            }
        };
        let answer = Answer::new(head, BodySource::Origin, status, outcome).with_store(order);
        self.reply(policy, Answer { refusal, ..answer }, now)
    }

    /// What becomes of a stored entry that a revalidation validated, `merged` being the
    /// stored response updated with the origin's fields.
    ///
    /// Shared state changes only by the response and the policy, never by one client's
    /// request: RFC 9111 §5.2.1.5 request `no-store` "indicates that a cache MUST NOT store any
    /// part of either this request or any response to it", not that a stored response is
    /// deleted, and a request's cookies or credentials say who asks, not what the resource is.
    /// So the merged response is judged twice: for this request (when it passes, the entry is
    /// updated), and, when that refuses, for a neutral request to the same entry (a GET with no
    /// directives, cookies or credentials, of the audience the entry is keyed by). A refusal
    /// that the neutral request shares is about the response or the policy (`no-store` or
    /// `private` in the 304, a policy that no longer stores the ruleset): the entry is dropped.
    /// A refusal only this request meets leaves the entry as it was. A 304 whose `Vary`
    /// differs from the stored response's drops the entry: it is keyed by the old fields.
    fn fate_after_revalidation(&self, policy: &Policy, stored: &Meta, merged: &ResponseHead) -> Fate {
        if self.vary_spec(policy, &stored.head) != self.vary_spec(policy, merged) {
            return Fate::Drop(Refusal::VaryChanged);
        }
        match self.storability(policy, merged) {
            Ok(storage) => Fate::Update(storage),
            Err(reason) => match self.neutral().storability(policy, merged) {
                Ok(_) => Fate::Keep(reason),
                Err(reason) => Fate::Drop(reason),
            },
        }
    }

    /// The client's answer from a validated entry that is not updated: `merged` (the stored
    /// response with the origin's fields), with the refusal as `Cache-Status` detail; the
    /// entry is removed when `drop`, else left as it was.
    fn revalidated_unstored(
        &mut self,
        policy: &Policy,
        mut merged: ResponseHead,
        (fwd, fwd_status): (Fwd, u16),
        reason: Refusal,
        drop: bool,
        now: Time,
    ) -> Step {
        let cs = CacheStatus {
            fwd: Some(fwd),
            fwd_status: Some(fwd_status),
            detail: Some(Detail::Refusal(reason).as_str()),
            ..Default::default()
        };
        merged.headers.set("age", "0");
        let invalidate = if drop { vec![self.entry_key()] } else { Vec::new() };
        self.reply(
            policy,
            Answer::new(merged, BodySource::Stored, cs, Outcome::Revalidated304).invalidating(invalidate),
            now,
        )
    }

    /// This flow as a request that says nothing of its own (see `fate_after_revalidation`).
    fn neutral(&self) -> Flow {
        let mut neutral = self.clone();
        neutral.client.method = Method::Get;
        neutral.client.headers.retain(|name, _| {
            !matches!(name, "cookie" | "authorization" | "cache-control" | "pragma" | "range")
        });
        neutral.audience = self.keyed_audience.unwrap_or(Audience::Anonymous);
        neutral
    }

    /// What the response to an unsafe request invalidates at every location (see
    /// [`Invalidation`]); `None` for a safe method or when it invalidates nothing.
    ///
    /// RFC 9111 §4.4 invalidates "the target URI" and lets a cache invalidate "the URI(s) in
    /// the Location and Content-Location response header fields", but "MUST NOT trigger an
    /// invalidation under these conditions if the origin [...] of the URI to be invalidated
    /// differs from that of the target URI" (`rfc::invalidate::targets`). Each is recorded as
    /// the resource (every query string, as a URL purge is). RFC 9875 §2.1 groups responses
    /// only within one "URI origin": a group is recorded on the request's site, and more groups
    /// than `rfc::groups::MAX_INVALIDATED_GROUPS` become the whole site. The client's own
    /// `Cache-Group-Invalidation` is a request field, which RFC 9875 does not define: it is
    /// never read (and not forwarded, see `hop`).
    pub(super) fn recorded_invalidation(&self, policy: &Policy, head: &ResponseHead) -> Option<Invalidation> {
        if self.client.is_safe() {
            return None;
        }
        let site = crate::purge::ledger::site_of(self.primary.as_str())?;
        let mut targets: Vec<Target> = Vec::new();
        let mut urls = 0;
        for mut url in invalidate::targets(&self.client, head) {
            url.set_query(None);
            let target = Target::Url(key::primary_key(&url, policy.key_options()).into_string());
            if !targets.contains(&target) {
                targets.push(target);
                urls += 1;
            }
        }
        let (mut groups, mut whole_site) = (0, false);
        match groups::invalidated(&self.client, head) {
            Invalidated::Nothing => {}
            Invalidated::Groups(listed) => {
                // Named as entries record their tags (`storage::meta::normalise_tag`).
                for group in listed.iter().filter_map(|g| crate::storage::meta::normalise_tag(g)) {
                    let target = Target::group(&site, &group);
                    if !targets.contains(&target) {
                        targets.push(target);
                        groups += 1;
                    }
                }
            }
            Invalidated::TooMany => {
                targets.push(Target::Prefix(site.clone()));
                whole_site = true;
            }
        }
        (!targets.is_empty()).then(|| Invalidation {
            targets,
            soft: policy.invalidation_soft(),
            site,
            urls,
            groups,
            whole_site,
        })
    }

    pub(super) fn invalidation(&self, policy: &Policy, head: &ResponseHead) -> Vec<StorageKey> {
        let mut keys = Vec::new();
        for url in invalidate::targets(&self.client, head) {
            let primary = key::primary_key(&url, policy.key_options());
            // The URL may be served by any origin of the policy: each one's copies go.
            for source in policy.key_sources() {
                for audience in [None, Some(Audience::Anonymous), Some(Audience::Authenticated)] {
                    keys.push(key::origin_storage_key(&primary, source, audience, None));
                }
            }
        }
        keys
    }
}

/// A revalidation the origin answered: the `State::Revalidating` it was sent in.
struct Revalidation {
    stored: Box<Meta>,
    serve_if_error: bool,
    background: bool,
    fwd: Fwd,
    via_head: bool,
}

/// What a revalidation does to the stored entry (see `Flow::fate_after_revalidation`).
enum Fate {
    /// Keep it, updated, with this storage.
    Update(EdgeStorage),
    /// Leave it as it was: only this request refuses the update.
    Keep(Refusal),
    /// Remove it: the response or the policy refuses it.
    Drop(Refusal),
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

//! Caching operations in the manner of plone.app.caching: each says whether the edge cache is
//! bypassed for a request, how the edge stores the response, and which caching headers are
//! sent downstream (`modify`).
//!
//! Downstream headers follow plone.app.caching's `setCacheHeaders` helpers:
//!
//! * `max-age` > 0 (strong, terse): `Cache-Control: max-age=M[, s-maxage=S], proxy-revalidate,
//!   public`, `Expires` M seconds ahead.
//! * else `s-maxage` > 0 (moderate): `Cache-Control: max-age=0, s-maxage=S, must-revalidate`,
//!   `Expires` in the past.
//! * else (weak, or a private response): `Cache-Control: max-age=0, must-revalidate, private`,
//!   `Expires` in the past.
//!
//! `Last-Modified` is kept only with `lastModified`; an ETag is built from the `etags`
//! components, otherwise the origin's passes through. As in plone, a response is private
//! for an authenticated request when its ETag names the user (`userid`, `anonymousOrRandom`
//! — the latter added by `anonOnly`): such a request also bypasses the edge cache.
//! Responses with an error status (400 and above) are left as the origin sent them, except
//! by `noCaching`, which always applies.
//!
//! Here: [`Operation`] and what it decides for the edge (bypass, storage, tiers, split view);
//! `parameters` holds the vocabulary ([`OperationKind`], [`EtagComponent`], [`Parameters`]),
//! `modify` the downstream headers ([`Operation::modify`]).

use std::borrow::Cow;

use crate::policy::audience::AudienceConfig;
use crate::policy::decision::Bypass;
use crate::rfc::freshness::EdgeStorage;
use crate::storage::key::Audience;

mod modify;
mod parameters;

pub use parameters::{EtagComponent, OperationKind, Parameters};

/// A compiled operation: its kind, its parameters and, for a chain, its members.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Operation {
    kind: OperationKind,
    params: Parameters,
    members: Vec<Operation>,
    /// The credential rules, kept only when the `userid` component needs them.
    audience: Option<Box<AudienceConfig>>,
}

impl Operation {
    /// An operation with `kind`'s default parameters and no members.
    pub fn new(kind: OperationKind) -> Operation {
        Operation::with_parameters(kind, Parameters::defaults(kind))
    }

    /// An operation with the given parameters.
    pub fn with_parameters(kind: OperationKind, params: Parameters) -> Operation {
        Operation { kind, params, members: Vec::new(), audience: None }
    }

    /// A chain of `members`, run in order.
    pub fn chain(members: Vec<Operation>) -> Operation {
        Operation { members, ..Operation::new(OperationKind::Chain) }
    }

    /// Gives the `userid` ETag component the policy's credential rules (here and in members).
    pub fn attach_audience(&mut self, cfg: &AudienceConfig) {
        let wants = self.params.etags.as_ref().is_some_and(|e| e.contains(&EtagComponent::UserId));
        if wants {
            self.audience = Some(Box::new(cfg.clone()));
        }
        for m in &mut self.members {
            m.attach_audience(cfg);
        }
    }

    /// What kind of operation this is.
    pub fn kind(&self) -> OperationKind {
        self.kind
    }

    /// The parameters, defaults applied.
    pub fn parameters(&self) -> &Parameters {
        &self.params
    }

    /// The chain's members (empty unless a chain).
    pub fn members(&self) -> &[Operation] {
        &self.members
    }

    /// `strongCaching`, …, `honourOrigin`.
    pub fn name(&self) -> &str {
        self.kind.name()
    }

    /// The members' names, for `X-Rulecache-Chain-Operations`; empty unless a chain.
    pub fn chain_names(&self) -> Vec<&str> {
        self.members.iter().map(Operation::name).collect()
    }

    /// The ETag components in effect: `anonOnly` adds `anonymousOrRandom`, as in plone.
    fn etag_components(&self) -> Option<Cow<'_, [EtagComponent]>> {
        let etags = self.params.etags.as_deref();
        let implied = self.params.anon_only
            && !etags.is_some_and(|list| list.contains(&EtagComponent::AnonymousOrRandom));
        if !implied {
            return etags.map(Cow::Borrowed);
        }
        let mut list = etags.map(<[EtagComponent]>::to_vec).unwrap_or_default();
        list.push(EtagComponent::AnonymousOrRandom);
        Some(Cow::Owned(list))
    }

    /// Whether this operation keeps authenticated responses out of shared caches: it is
    /// `anonOnly`, or its ETag names the user (plone's `public` check).
    fn private_when_authenticated(&self) -> bool {
        self.params.anon_only
            || self.params.etags.as_ref().is_some_and(|e| e.iter().any(|c| c.names_the_user()))
    }

    /// Whether the edge cache is skipped for this request. `noCaching` always bypasses; a
    /// caching operation bypasses authenticated requests when it is `anonOnly` or its ETag
    /// names the user. A chain bypasses when any member does (the first member's reason).
    pub fn bypass(&self, audience: Audience) -> Option<Bypass> {
        match self.kind {
            OperationKind::NoCaching => Some(Bypass::NoCaching),
            OperationKind::Chain => self.members.iter().find_map(|m| m.bypass(audience)),
            OperationKind::HonourOrigin => None,
            _ if audience == Audience::Authenticated && self.private_when_authenticated() => {
                Some(Bypass::AnonOnly)
            }
            _ => None,
        }
    }

    /// How the edge stores the response: strong and terse for `smaxage`, else `maxage`;
    /// moderate for `smaxage`; weak for 0 seconds (revalidated before every use). A chain's
    /// storage is that of its first member not honouring the origin.
    pub fn storage(&self) -> EdgeStorage {
        let p = &self.params;
        let store = |ttl: u64| EdgeStorage::Store {
            ttl,
            stale_while_revalidate: p.stale_while_revalidate,
            stale_if_error: p.stale_if_error,
        };
        match self.kind {
            OperationKind::StrongCaching | OperationKind::TerseCaching => {
                store(p.smaxage.or(p.maxage).unwrap_or(0))
            }
            OperationKind::ModerateCaching => store(p.smaxage.unwrap_or(0)),
            OperationKind::WeakCaching => store(0),
            OperationKind::NoCaching => EdgeStorage::DontStore,
            OperationKind::HonourOrigin => EdgeStorage::HonourOrigin,
            OperationKind::Chain => self
                .members
                .iter()
                .map(Operation::storage)
                .find(|s| *s != EdgeStorage::HonourOrigin)
                .unwrap_or(EdgeStorage::HonourOrigin),
        }
    }

    fn any(&self, f: fn(&Parameters) -> bool) -> bool {
        f(&self.params) || self.members.iter().any(|m| m.any(f))
    }

    /// Whether the in-isolate memory tier may keep the response.
    pub fn ram_cache(&self) -> bool {
        self.any(|p| p.ram_cache)
    }

    /// Whether the response is also kept in the global store.
    pub fn persist(&self) -> bool {
        self.any(|p| p.persist)
    }

    /// Whether the response is also kept in R2, the global tier for large bodies.
    pub fn r2(&self) -> bool {
        self.any(|p| p.r2)
    }

    /// Whether `Set-Cookie` is removed from the origin's response before storing.
    pub fn strip_set_cookie(&self) -> bool {
        self.any(|p| p.strip_set_cookie)
    }

    /// Whether responses to authenticated requests may be shared among authenticated users.
    pub fn share_authenticated(&self) -> bool {
        self.any(|p| p.share_authenticated)
    }

    /// The `vary` parameter's header names, this operation's and its members'.
    pub fn vary_names(&self) -> Vec<&str> {
        let mut out: Vec<&str> = self.params.vary.iter().map(String::as_str).collect();
        for m in &self.members {
            out.extend(m.vary_names());
        }
        out
    }

    /// Whether an origin's `private` answer to an anonymous request may be stored under the
    /// anonymous variant (`storeAnonymousPrivate`). Never for `honourOrigin`, which has no
    /// parameters, nor for an operation that keeps no copy at the edge.
    pub fn stores_anonymous_private(&self) -> bool {
        match self.kind {
            OperationKind::Chain => self.members.iter().any(Operation::stores_anonymous_private),
            OperationKind::StrongCaching | OperationKind::ModerateCaching | OperationKind::TerseCaching => {
                self.params.store_anonymous_private && self.params.anon_only
            }
            _ => false,
        }
    }

    /// Whether split-view caching applies (false when this operation or any member turns it
    /// off).
    pub fn split_view(&self) -> bool {
        self.params.split_view && self.members.iter().all(Operation::split_view)
    }

    /// Whether this operation's responses advertise the split view downstream (the split-view
    /// header merged into `Vary`). `honourOrigin` leaves the origin's response as it is: the
    /// audience stays in the edge's own key, unadvertised, so a response the policy leaves to
    /// the origin reaches the client with the origin's own `Vary` (RFC 9111 §4.1 selection by
    /// clients and downstream caches depends on it).
    pub fn advertises_split_view(&self) -> bool {
        self.split_view()
            && match self.kind {
                OperationKind::HonourOrigin => false,
                OperationKind::Chain => self.members.iter().any(Operation::advertises_split_view),
                _ => true,
            }
    }
}

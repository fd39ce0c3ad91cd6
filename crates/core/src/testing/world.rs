//! The one native test world: a policy, one edge's tiers ([`Edge`]), a scripted origin that
//! records what reached it, the purge ledger's word, and a virtual clock with `advance`. The
//! scenario tests, the conformance suite and the trust and real-origin scenarios all run on it,
//! and it applies exactly the effect list the worker applies.

use std::cell::{Ref, RefCell};

use crate::http::{Headers, RequestHead, ResponseHead, Time};
use crate::policy::Policy;
use crate::storage::meta::{Meta, Purged};
use crate::testing::sim::{Edge, Exchange, OriginResult};

/// The instant every world starts at.
pub const T0: Time = 1_800_000_000_000;

/// A request head; panics on a URL that is not absolute (test input).
pub fn request(method: &str, url: &str, headers: &[(&str, &str)]) -> RequestHead {
    RequestHead::parse(method, url, Headers::from_pairs(headers.iter().copied()))
        .unwrap_or_else(|| panic!("not an absolute URL: {url}"))
}

/// A response head with `headers`.
pub fn head(status: u16, headers: &[(&str, &str)]) -> ResponseHead {
    ResponseHead::new(status, Headers::from_pairs(headers.iter().copied()))
}

/// An origin answer: `status`, `headers` and `body`, with `Content-Length` set unless given.
pub fn response(status: u16, headers: &[(&str, &str)], body: &str) -> OriginResult {
    let mut h = Headers::from_pairs(headers.iter().copied());
    if !h.contains("content-length") {
        h.set("content-length", body.len().to_string());
    }
    Some((ResponseHead::new(status, h), body.as_bytes().to_vec()))
}

/// How a scripted origin numbers the requests it answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Numbering {
    /// Among the requests for the same path.
    PerPath,
    /// Among all requests.
    InOrder,
}

type Answer = Box<dyn Fn(&RequestHead, usize, Time) -> OriginResult>;

/// An origin that answers from a script (the request, its number from 1, the clock) and
/// records every request that reached it.
pub struct ScriptedOrigin {
    seen: RefCell<Vec<RequestHead>>,
    numbering: Numbering,
    answer: Answer,
}

impl ScriptedOrigin {
    /// Requests are numbered among those for the same path.
    pub fn per_path(answer: impl Fn(&RequestHead, usize, Time) -> OriginResult + 'static) -> Self {
        ScriptedOrigin { seen: RefCell::default(), numbering: Numbering::PerPath, answer: Box::new(answer) }
    }

    /// Requests are numbered in the order they arrive.
    pub fn in_order(answer: impl Fn(&RequestHead, usize, Time) -> OriginResult + 'static) -> Self {
        ScriptedOrigin { seen: RefCell::default(), numbering: Numbering::InOrder, answer: Box::new(answer) }
    }

    /// Answers `req` at `now`.
    pub fn call(&self, req: &RequestHead, now: Time) -> OriginResult {
        self.seen.borrow_mut().push(req.clone());
        let n = match self.numbering {
            Numbering::InOrder => self.calls(),
            Numbering::PerPath => self.calls_to(req.url.path()),
        };
        (self.answer)(req, n, now)
    }

    /// How many requests reached the origin.
    pub fn calls(&self) -> usize {
        self.seen.borrow().len()
    }

    /// How many requests for `path` reached the origin.
    pub fn calls_to(&self, path: &str) -> usize {
        self.seen.borrow().iter().filter(|r| r.url.path() == path).count()
    }

    /// Every request that reached the origin, in order.
    pub fn requests(&self) -> Ref<'_, Vec<RequestHead>> {
        self.seen.borrow()
    }

    /// The last request that reached the origin.
    pub fn last(&self) -> Option<RequestHead> {
        self.seen.borrow().last().cloned()
    }
}

/// A policy, one edge, a scripted origin, the ledger's word and a clock.
pub struct World {
    pub policy: Policy,
    pub edge: Edge,
    pub origin: ScriptedOrigin,
    /// What the purge ledger says of a stored entry.
    pub purged: Box<dyn Fn(&Meta) -> Purged>,
    /// The scheme and host requests go to (`https://site.example`).
    pub site: String,
    pub clock: Time,
}

impl World {
    pub fn new(policy: Policy, origin: ScriptedOrigin) -> Self {
        World {
            policy,
            edge: Edge::new(),
            origin,
            purged: Box::new(|_| Purged::No),
            site: "https://site.example".into(),
            clock: T0,
        }
    }

    /// Requests go to `site` (scheme and host).
    pub fn with_site(mut self, site: &str) -> Self {
        self.site = site.to_string();
        self
    }

    /// Sends `method path` with `headers` at the clock's time.
    pub fn send(&mut self, method: &str, path: &str, headers: &[(&str, &str)]) -> Exchange {
        let req = request(method, &format!("{}{path}", self.site), headers);
        let now = self.clock;
        let origin = &self.origin;
        self.edge.run(&self.policy, &mut |r| origin.call(r, now), req, now, &*self.purged)
    }

    /// Sends `method path` at `at` (the clock moves there).
    pub fn send_at(&mut self, method: &str, path: &str, headers: &[(&str, &str)], at: Time) -> Exchange {
        self.clock = at;
        self.send(method, path, headers)
    }

    /// Moves the clock on by `ms`.
    pub fn advance(&mut self, ms: Time) {
        self.clock += ms;
    }
}

//! The one value this isolate keeps between requests: the core's `Isolate` (the memory tier,
//! hit-for-pass marks, fetches in flight, KV budget, statistics, the purge ledger's copy and
//! refresh schedule, kept purges, purge bursts, accepted signatures, the active policy, parsed
//! URLs), whose rules are all the core's. Every module reaches it through [`with_isolate`].

use std::cell::RefCell;
use std::rc::Rc;

use rulecache::flow::isolate::Isolate;
use rulecache::http::Headers;
use rulecache::storage::meta::Meta;

/// A body held by the memory tier.
#[derive(Clone)]
pub struct MemEntry {
    pub meta: Rc<Meta>,
    pub body: Rc<[u8]>,
    /// The head fields of the last response served from this entry, and the same as a
    /// JavaScript `Headers`: the next hit passes that object on again when its fields are the
    /// same (they change with `Age`), else a copy edited where they differ, instead of sending
    /// every field across.
    pub last_head: Rc<RefCell<Option<(Headers, web_sys::Headers)>>>,
}

impl MemEntry {
    pub fn new(meta: Meta, body: Rc<[u8]>) -> Self {
        MemEntry { meta: Rc::new(meta), body, last_head: Rc::default() }
    }
}

thread_local! {
    static ISOLATE: RefCell<Isolate<MemEntry>> = RefCell::new(Isolate::default());
}

/// Runs `f` on this isolate's state. `f` runs in one go (it never awaits) and never calls
/// `with_isolate` itself.
pub fn with_isolate<R>(f: impl FnOnce(&mut Isolate<MemEntry>) -> R) -> R {
    ISOLATE.with(|i| f(&mut i.borrow_mut()))
}

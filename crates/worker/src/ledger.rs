//! The purge ledger: a Durable Object holds the authority (strongly consistent, one for every
//! location); each isolate keeps a copy, refreshed on a bounded interval, and treats an entry
//! stored before a matching record as purged. The rules live in `rulecache::purge::ledger`.

use std::cell::RefCell;

use serde::{Deserialize, Serialize};
use worker::*;

use super::cache::STORAGE_SECS;
use rulecache::engine::Purged;
use rulecache::http::Time;
use rulecache::meta::Meta;
use rulecache::purge::ledger::{Effect, Ledger, LedgerCopy, PurgeRecord, Refresh, Target};

const BINDING: &str = "PURGE_LEDGER";
const OBJECT_NAME: &str = "global";
const STORAGE_KEY: &str = "ledger";
/// Records older than this can affect nothing: every entry leaves storage by then.
const MAX_ENTRY_LIFETIME_MS: Time = STORAGE_SECS * 1000;

thread_local! {
    static COPY: RefCell<LedgerCopy> = RefCell::new(LedgerCopy::new());
}

/// What the ledger says about a stored entry, as the engine wants it.
pub fn effect(meta: &Meta) -> Purged {
    COPY.with(|c| match c.borrow().effect(&meta.url, &meta.tags, meta.stored_at) {
        None => Purged::No,
        Some(Effect::Hard) => Purged::Hard,
        Some(Effect::Soft { at }) => Purged::Soft { at },
    })
}

/// Applies records this isolate already knows (e.g. the answer to its own purge).
pub fn apply(records: &[PurgeRecord], fetched_at: Time) {
    COPY.with(|c| c.borrow_mut().apply(records, fetched_at));
}

/// Refreshes the copy when due: in the background after the soft interval (the current
/// request uses the copy it has), inline after the hard bound.
pub async fn refresh_if_due(env: &Env, ctx: &Context, now: Time) {
    let due = COPY.with(|c| c.borrow().refresh_due(now));
    match due {
        Refresh::No => {}
        Refresh::Background => {
            COPY.with(|c| c.borrow_mut().refresh_started(now));
            let env = env.clone();
            ctx.wait_until(async move {
                let _ = refresh(&env, now).await;
            });
        }
        Refresh::Blocking => {
            COPY.with(|c| c.borrow_mut().refresh_started(now));
            let _ = refresh(env, now).await;
        }
    }
}

async fn refresh(env: &Env, sent_at: Time) -> Result<()> {
    let since = COPY.with(|c| c.borrow().last_seq());
    let stub = env.durable_object(BINDING)?.get_by_name(OBJECT_NAME)?;
    let mut resp = stub.fetch_with_str(&format!("https://ledger/since?seq={since}")).await?;
    let answer: SinceAnswer = resp.json().await?;
    COPY.with(|c| {
        let mut c = c.borrow_mut();
        c.apply(&answer.records, sent_at);
        c.compact(sent_at, MAX_ENTRY_LIFETIME_MS);
    });
    Ok(())
}

/// Records a purge in the ledger; returns the purge id and its records.
pub async fn append(
    env: &Env,
    targets: Vec<Target>,
    soft: bool,
    nonce: Option<String>,
) -> Result<AppendAnswer> {
    let stub = env.durable_object(BINDING)?.get_by_name(OBJECT_NAME)?;
    let body = serde_json::to_string(&AppendOrder { targets, soft, nonce })?;
    let mut init = RequestInit::new();
    init.with_method(Method::Post).with_body(Some(body.into()));
    let req = Request::new_with_init("https://ledger/append", &init)?;
    let mut resp = stub.fetch_with_request(req).await?;
    if resp.status_code() != 200 {
        return Err(Error::RustError(resp.text().await.unwrap_or_default()));
    }
    resp.json().await
}

#[derive(Serialize, Deserialize)]
struct AppendOrder {
    targets: Vec<Target>,
    soft: bool,
    /// A signed request's signature: the ledger refuses to apply it twice (replay across
    /// isolates).
    nonce: Option<String>,
}

#[derive(Serialize, Deserialize)]
pub struct AppendAnswer {
    pub id: String,
    pub records: Vec<PurgeRecord>,
}

#[derive(Serialize, Deserialize)]
struct SinceAnswer {
    records: Vec<PurgeRecord>,
    last_seq: u64,
}

#[derive(Serialize, Deserialize, Default)]
struct Persisted {
    ledger: String,
    nonces: Vec<(String, Time)>,
}

/// Signed requests already applied, with when (replay protection across isolates).
type Nonces = Vec<(String, Time)>;

/// The Durable Object holding the ledger.
#[durable_object]
pub struct PurgeLedger {
    state: State,
    loaded: RefCell<Option<(Ledger, Nonces)>>,
}

impl PurgeLedger {
    async fn load(&self) -> Result<()> {
        if self.loaded.borrow().is_some() {
            return Ok(());
        }
        let persisted: Option<String> = self.state.storage().get(STORAGE_KEY).await.unwrap_or(None);
        let (ledger, nonces) = match persisted.and_then(|s| serde_json::from_str::<Persisted>(&s).ok()) {
            Some(p) => (Ledger::from_json(&p.ledger).unwrap_or_default(), p.nonces),
            None => (Ledger::new(), Vec::new()),
        };
        *self.loaded.borrow_mut() = Some((ledger, nonces));
        Ok(())
    }

    async fn save(&self) -> Result<()> {
        let json = {
            let loaded = self.loaded.borrow();
            let Some((ledger, nonces)) = loaded.as_ref() else { return Ok(()) };
            serde_json::to_string(&Persisted { ledger: ledger.to_json(), nonces: nonces.clone() })?
        };
        self.state.storage().put(STORAGE_KEY, json).await
    }
}

impl DurableObject for PurgeLedger {
    fn new(state: State, _env: Env) -> Self {
        Self { state, loaded: RefCell::new(None) }
    }

    async fn fetch(&self, mut req: Request) -> Result<Response> {
        self.load().await?;
        let now = super::now();
        let url = req.url()?;
        match (req.method(), url.path()) {
            (Method::Get, "/since") => {
                let since = url
                    .query_pairs()
                    .find(|(k, _)| k == "seq")
                    .and_then(|(_, v)| v.parse::<u64>().ok())
                    .unwrap_or(0);
                let loaded = self.loaded.borrow();
                let Some((ledger, _)) = loaded.as_ref() else { return Response::error("not loaded", 500) };
                Response::from_json(&SinceAnswer {
                    records: ledger.since(since).to_vec(),
                    last_seq: ledger.last_seq(),
                })
            }
            (Method::Post, "/append") => {
                let order: AppendOrder = req.json().await?;
                let answer = {
                    let mut loaded = self.loaded.borrow_mut();
                    let Some((ledger, nonces)) = loaded.as_mut() else {
                        return Response::error("not loaded", 500);
                    };
                    let window = rulecache::purge::auth::MAX_CLOCK_SKEW_SECS * 2000;
                    nonces.retain(|(_, at)| now.saturating_sub(*at) <= window);
                    if let Some(n) = &order.nonce {
                        if nonces.iter().any(|(seen, _)| seen == n) {
                            return Response::error("this signed request was already applied", 409);
                        }
                        nonces.push((n.clone(), now));
                    }
                    let (id, records) = ledger.append(now, order.targets, order.soft);
                    ledger.compact(now, MAX_ENTRY_LIFETIME_MS);
                    AppendAnswer { id, records }
                };
                self.save().await?;
                Response::from_json(&answer)
            }
            _ => Response::error("not found", 404),
        }
    }
}

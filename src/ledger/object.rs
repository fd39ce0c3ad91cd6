//! The Durable Object holding the purge ledger: the core's `Ledger` over rows of the object's
//! SQLite storage, answering the isolates' `since` and `append` requests.

use std::cell::{Cell, RefCell};

use serde::Deserialize;
use wasm_bindgen::closure::Closure;
use wasm_bindgen::{JsCast, JsValue};
use worker::*;

use super::{retry_key, MAX_ENTRY_LIFETIME_MS};
use crate::now;
use rulecache::http::{hex, Time};
use rulecache::purge::ledger::{
    AppendOrder, BudgetLimits, Head, Ledger, LedgerError, LedgerRows, PurgeRecord, RowsWrite, Seen, Target,
};
use rulecache::purge::receipt::PurgeRecorded;

const SCHEMA: &[&str] = &[
    "CREATE TABLE IF NOT EXISTS ledger_head (id INTEGER PRIMARY KEY CHECK (id = 1), epoch TEXT NOT NULL, last_seq INTEGER NOT NULL, chain TEXT NOT NULL DEFAULT '')",
    "CREATE TABLE IF NOT EXISTS purge_records (seq INTEGER PRIMARY KEY, purge_id TEXT NOT NULL, at INTEGER NOT NULL, kind TEXT NOT NULL, target TEXT NOT NULL, soft INTEGER NOT NULL, chain TEXT NOT NULL DEFAULT '')",
    "CREATE INDEX IF NOT EXISTS purge_records_at ON purge_records (at)",
    "CREATE INDEX IF NOT EXISTS purge_records_kind ON purge_records (kind, target)",
    "CREATE TABLE IF NOT EXISTS purge_nonces (nonce TEXT PRIMARY KEY, expires INTEGER NOT NULL)",
    "CREATE INDEX IF NOT EXISTS purge_nonces_expires ON purge_nonces (expires)",
];

/// Columns added since the first schema: added to a ledger written before them (an error
/// means the column is there already). Its rows get a chain from the core when it is loaded.
const MIGRATIONS: &[&str] = &[
    "ALTER TABLE ledger_head ADD COLUMN chain TEXT NOT NULL DEFAULT ''",
    "ALTER TABLE purge_records ADD COLUMN chain TEXT NOT NULL DEFAULT ''",
];

/// Whether a table has a column (`PRAGMA table_info`).
fn has_column(sql: &SqlStorage, table: &str, column: &str) -> bool {
    #[derive(Deserialize)]
    struct Column {
        name: String,
    }
    sql.exec(&format!("PRAGMA table_info({table})"), None)
        .and_then(|c| c.to_array::<Column>())
        .is_ok_and(|cols| cols.iter().any(|c| c.name == column))
}

/// The ledger's rows in the object's SQLite storage.
struct SqlRows {
    storage: Storage,
}

#[derive(Deserialize)]
struct HeadRow {
    epoch: String,
    last_seq: f64,
    #[serde(default)]
    chain: String,
}

#[derive(Deserialize)]
struct RecordRow {
    seq: f64,
    purge_id: String,
    at: f64,
    kind: String,
    target: String,
    soft: f64,
    #[serde(default)]
    chain: String,
}

fn int(v: u64) -> SqlStorageValue {
    SqlStorageValue::Integer(i64::try_from(v).unwrap_or(i64::MAX))
}

fn text<E: std::fmt::Display>(e: E) -> String {
    e.to_string()
}

impl LedgerRows for SqlRows {
    fn head(&self) -> std::result::Result<Option<Head>, String> {
        let rows: Vec<HeadRow> = self
            .storage
            .sql()
            .exec("SELECT epoch, last_seq, chain FROM ledger_head WHERE id = 1", None)
            .and_then(|c| c.to_array())
            .map_err(text)?;
        Ok(rows.into_iter().next().map(|r| Head {
            epoch: r.epoch,
            last_seq: r.last_seq as u64,
            chain: r.chain,
        }))
    }

    fn records(
        &self,
        after: u64,
        through: u64,
        limit: usize,
    ) -> std::result::Result<Vec<PurgeRecord>, String> {
        let rows: Vec<RecordRow> = self
            .storage
            .sql()
            .exec(
                "SELECT seq, purge_id, at, kind, target, soft, chain FROM purge_records WHERE seq > ? AND seq <= ? ORDER BY seq LIMIT ?",
                vec![int(after), int(through), int(limit as u64)],
            )
            .and_then(|c| c.to_array())
            .map_err(text)?;
        rows.into_iter()
            .map(|r| {
                let target = Target::from_row(&r.kind, r.target)
                    .ok_or_else(|| format!("record {} has an unknown kind {:?}", r.seq, r.kind))?;
                Ok(PurgeRecord {
                    seq: r.seq as u64,
                    id: r.purge_id,
                    at: r.at as u64,
                    target,
                    soft: r.soft != 0.0,
                    chain: r.chain,
                })
            })
            .collect()
    }

    fn chain_at(&self, seq: u64) -> std::result::Result<Option<String>, String> {
        #[derive(Deserialize)]
        struct Chain {
            chain: String,
        }
        let rows: Vec<Chain> = self
            .storage
            .sql()
            .exec("SELECT chain FROM purge_records WHERE seq = ?", vec![int(seq)])
            .and_then(|c| c.to_array())
            .map_err(text)?;
        Ok(rows.into_iter().next().map(|r| r.chain).filter(|c| !c.is_empty()))
    }

    fn nonce_seen(&self, nonce: &[u8], now: Time) -> std::result::Result<bool, String> {
        #[derive(Deserialize)]
        struct Seen {
            #[allow(dead_code)]
            n: f64,
        }
        let rows: Vec<Seen> = self
            .storage
            .sql()
            .exec(
                "SELECT 1 AS n FROM purge_nonces WHERE nonce = ? AND expires >= ?",
                vec![SqlStorageValue::String(hex(nonce)), int(now)],
            )
            .and_then(|c| c.to_array())
            .map_err(text)?;
        Ok(!rows.is_empty())
    }

    fn commit(&mut self, write: &RowsWrite) -> std::result::Result<(), String> {
        let sql = self.storage.sql();
        let write = write.clone();
        transaction_sync(&self.storage, move || {
            sql.exec(
                "INSERT INTO ledger_head (id, epoch, last_seq, chain) VALUES (1, ?, ?, ?) ON CONFLICT(id) DO UPDATE SET epoch = excluded.epoch, last_seq = excluded.last_seq, chain = excluded.chain",
                vec![
                    SqlStorageValue::String(write.head.epoch.clone()),
                    int(write.head.last_seq),
                    SqlStorageValue::String(write.head.chain.clone()),
                ],
            )?;
            for r in &write.records {
                sql.exec(
                    "INSERT INTO purge_records (seq, purge_id, at, kind, target, soft, chain) VALUES (?, ?, ?, ?, ?, ?, ?)",
                    vec![
                        int(r.seq),
                        SqlStorageValue::String(r.id.clone()),
                        int(r.at),
                        SqlStorageValue::String(r.target.kind().to_owned()),
                        SqlStorageValue::String(r.target.value().to_owned()),
                        SqlStorageValue::Integer(i64::from(r.soft)),
                        SqlStorageValue::String(r.chain.clone()),
                    ],
                )?;
            }
            if let Some(n) = &write.nonce {
                sql.exec(
                    "INSERT INTO purge_nonces (nonce, expires) VALUES (?, ?) ON CONFLICT(nonce) DO UPDATE SET expires = MAX(expires, excluded.expires)",
                    vec![SqlStorageValue::String(hex(&n.nonce)), int(n.expires)],
                )?;
            }
            // The record at the head is kept: its chain is where the next answer starts.
            sql.exec(
                "DELETE FROM purge_records WHERE at < ? AND seq < ?",
                vec![int(write.delete_records_before), int(write.head.last_seq)],
            )?;
            sql.exec("DELETE FROM purge_nonces WHERE expires < ?", vec![int(write.delete_nonces_before)])?;
            Ok(())
        })
        .map_err(text)
    }
}

impl SqlRows {
    /// When purge `id` was recorded and its last record, in the ledger's epoch.
    fn recorded(&self, id: &str) -> std::result::Result<Option<PurgeRecorded>, String> {
        #[derive(Deserialize)]
        struct Row {
            at: Option<f64>,
            seq: Option<f64>,
        }
        let rows: Vec<Row> = self
            .storage
            .sql()
            .exec(
                "SELECT MIN(at) AS at, MAX(seq) AS seq FROM purge_records WHERE purge_id = ?",
                vec![SqlStorageValue::String(id.to_owned())],
            )
            .and_then(|c| c.to_array())
            .map_err(text)?;
        let Some(Row { at: Some(at), seq: Some(seq) }) = rows.into_iter().next() else { return Ok(None) };
        let Some(head) = self.head()? else { return Ok(None) };
        Ok(Some(PurgeRecorded {
            id: id.to_owned(),
            recorded_at: at as u64,
            epoch: head.epoch,
            last_seq: seq as u64,
        }))
    }
}

/// Runs `body` in one SQLite transaction (`storage.transactionSync`): an error rolls every
/// statement of it back.
fn transaction_sync(storage: &Storage, body: impl FnOnce() -> Result<()> + 'static) -> Result<()> {
    let raw: &JsValue = storage.as_raw().as_ref();
    let function: js_sys::Function = js_sys::Reflect::get(raw, &JsValue::from_str("transactionSync"))?
        .dyn_into()
        .map_err(|_| Error::RustError("this runtime has no storage.transactionSync".into()))?;
    let closure = Closure::once(move || -> std::result::Result<JsValue, JsValue> {
        body().map(|()| JsValue::UNDEFINED).map_err(|e| JsValue::from_str(&e.to_string()))
    });
    function.call1(raw, closure.as_ref().unchecked_ref())?;
    Ok(())
}

/// The Durable Object holding the ledger.
#[durable_object]
pub struct PurgeLedger {
    state: State,
    ledger: RefCell<Ledger>,
    schema_ready: Cell<bool>,
}

impl PurgeLedger {
    fn rows(&self) -> Result<SqlRows> {
        let storage = self.state.storage();
        if !self.schema_ready.get() {
            let sql = storage.sql();
            for statement in SCHEMA {
                sql.exec(statement, None)?;
            }
            for (statement, (table, column)) in
                MIGRATIONS.iter().zip([("ledger_head", "chain"), ("purge_records", "chain")])
            {
                if !has_column(&sql, table, column) {
                    sql.exec(statement, None)?;
                }
            }
            self.schema_ready.set(true);
        }
        Ok(SqlRows { storage })
    }
}

fn ledger_error(e: &LedgerError) -> Result<Response> {
    Response::error(e.message(), e.status())
}

impl DurableObject for PurgeLedger {
    fn new(state: State, env: Env) -> Self {
        // `PURGE_BUDGETS` resizes the ledger's budgets (see `BudgetLimits::from_setting`).
        let limits = env
            .var("PURGE_BUDGETS")
            .ok()
            .and_then(|v| BudgetLimits::from_setting(&v.to_string()))
            .unwrap_or_default();
        Self {
            state,
            ledger: RefCell::new(Ledger::with_budgets(MAX_ENTRY_LIFETIME_MS, limits)),
            schema_ready: Cell::new(false),
        }
    }

    async fn fetch(&self, mut req: Request) -> Result<Response> {
        let now = now();
        let url = crate::convert::url_of(&req)?;
        let mut rows = match self.rows() {
            Ok(rows) => rows,
            Err(e) => return ledger_error(&LedgerError::Storage(e.to_string())),
        };
        match (req.method(), url.path()) {
            (Method::Get, "/since") => {
                let param =
                    |name: &str| url.query_pairs().find(|(k, _)| k == name).map(|(_, v)| v.into_owned());
                let since = param("seq").and_then(|v| v.parse::<u64>().ok()).unwrap_or(0);
                // Where the asking copy stands: the ledger compares it with its rows.
                let seen = match (param("epoch"), param("cursor").and_then(|v| v.parse::<u64>().ok())) {
                    (Some(epoch), Some(seq)) => {
                        Some(Seen { epoch, seq, chain: param("chain").unwrap_or_default() })
                    }
                    _ => None,
                };
                let epoch = format!("e-{now}-{}", retry_key());
                let answer = self.ledger.borrow_mut().since_checked(&mut rows, since, seen.as_ref(), &epoch);
                match answer {
                    Ok(a) => Response::from_json(&a),
                    Err(e) => ledger_error(&e),
                }
            }
            (Method::Get, "/purge") => {
                let id = url
                    .query_pairs()
                    .find(|(k, _)| k == "id")
                    .map(|(_, v)| v.into_owned())
                    .unwrap_or_default();
                match rows.recorded(&id) {
                    Ok(Some(r)) => Response::from_json(&r),
                    Ok(None) => Response::error("no such purge", 404),
                    Err(e) => ledger_error(&LedgerError::Storage(e)),
                }
            }
            (Method::Post, "/append") => {
                let order: AppendOrder = match req.json().await {
                    Ok(o) => o,
                    Err(e) => return Response::error(format!("the append order is not valid: {e}"), 400),
                };
                let epoch = format!("e-{now}-{}", retry_key());
                let answer = self.ledger.borrow_mut().append(&mut rows, &order, now, &epoch);
                match answer {
                    Ok(a) => Response::from_json(&a),
                    Err(e) => ledger_error(&e),
                }
            }
            _ => Response::error("not found", 404),
        }
    }
}

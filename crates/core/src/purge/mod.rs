//! Purging: who may purge ([`auth`]), what a purge asks for ([`request`]), which paths a
//! purge of one object reaches ([`expand`]), the rules of the global purge ledger
//! ([`ledger`]) and of keeping each isolate's copy fresh ([`fanout`]), and the burst windows
//! that write a purger's many `PURGE`s at once ([`burst`]).
//!
//! Everything here is pure. The worker shell authenticates a request with
//! [`auth::authorize`], parses it into a [`request::PurgeRequest`], turns that into ledger
//! [`ledger::Target`]s (which needs an [`auth::Credential`] allowing the purge scope, which
//! only a successful authorization yields), appends them to the [`ledger::Ledger`] held by a
//! Durable Object over rows of its storage, and keeps a [`ledger::LedgerCopy`] in every isolate to decide
//! whether a stored entry has been purged, refreshed as [`fanout`] decides. When the ledger
//! does not record a purge, [`refusal`] says why and what the isolate does then; [`receipt`]
//! says where a recorded purge has been applied.

pub mod auth;
pub mod burst;
pub mod expand;
pub mod fanout;
pub mod ledger;
pub mod receipt;
pub mod refusal;
pub mod request;

//! Purging: credentials and secret scopes, purge requests and their expansion, the ledger and
//! its fan-out to every isolate.

mod auth;
mod expand;
mod fanout;
mod ledger;
mod request;
mod secret_scopes;

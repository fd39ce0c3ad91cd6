//! Why the purge ledger did not record a purge ([`LedgerError`]), how that travels from the
//! Durable Object to the isolate that asked (an HTTP status and a message, read back with
//! [`LedgerError::from_answer`]), and what the isolate does then ([`Unrecorded`]): one rule
//! for the admin API, `PURGE` requests and the retries of kept purges, so the shell matches
//! on a type, never on a status number or an error's text.

/// Why the ledger could not do what was asked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LedgerError {
    /// The nonce was applied before (a replayed signed request, or a retried purge).
    Replayed,
    /// The order is malformed (a nonce that is not hex, too many targets).
    BadOrder(String),
    /// Storage could not be read or written: nothing was recorded.
    Storage(String),
    /// The ledger could not be reached, or its answer could not be read: nothing is known to
    /// be recorded.
    Unreachable(String),
}

impl LedgerError {
    /// The HTTP status the Durable Object answers with.
    pub fn status(&self) -> u16 {
        match self {
            LedgerError::Replayed => 409,
            LedgerError::BadOrder(_) => 400,
            LedgerError::Storage(_) | LedgerError::Unreachable(_) => 503,
        }
    }

    pub fn message(&self) -> String {
        match self {
            LedgerError::Replayed => "this signed request was already applied".to_owned(),
            LedgerError::BadOrder(why) => why.clone(),
            LedgerError::Storage(why) => format!("the purge ledger's storage failed: {why}"),
            LedgerError::Unreachable(why) => format!("the purge ledger could not be reached: {why}"),
        }
    }

    /// The error the Durable Object answered with, from its status and body (the inverse of
    /// [`LedgerError::status`] and [`LedgerError::message`]). A status the ledger never
    /// answers with means the answer did not come from it.
    pub fn from_answer(status: u16, body: &str) -> LedgerError {
        match status {
            409 => LedgerError::Replayed,
            400 => LedgerError::BadOrder(body.trim().to_owned()),
            503 => LedgerError::Storage(
                body.trim()
                    .strip_prefix("the purge ledger's storage failed: ")
                    .unwrap_or(body.trim())
                    .to_owned(),
            ),
            other => LedgerError::Unreachable(format!("status {other}: {}", body.trim())),
        }
    }

    /// What a purge request (admin API or `PURGE`) does when its append failed. `signed`: its
    /// nonce is the request's signature (else a random retry key of this isolate's own).
    pub fn for_request(&self, signed: bool) -> Unrecorded {
        match self {
            // A signature is accepted once anywhere: the replay is refused as a bad
            // credential is.
            LedgerError::Replayed if signed => Unrecorded::Replayed,
            LedgerError::BadOrder(why) => Unrecorded::Refused(why.clone()),
            // A random retry key seen before cannot be this request's own: treated as a
            // ledger that did not answer, so this location purges and the retry settles it.
            LedgerError::Replayed | LedgerError::Storage(_) | LedgerError::Unreachable(_) => {
                Unrecorded::RetryLater
            }
        }
    }

    /// What a retry of a kept purge (one the ledger did not take before) does when it failed.
    pub fn for_retry(&self) -> Unrecorded {
        match self {
            // Its retry key was recorded: an earlier attempt landed after all.
            LedgerError::Replayed => Unrecorded::AlreadyRecorded,
            LedgerError::BadOrder(why) => Unrecorded::Refused(why.clone()),
            LedgerError::Storage(_) | LedgerError::Unreachable(_) => Unrecorded::RetryLater,
        }
    }
}

impl std::fmt::Display for LedgerError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message())
    }
}

impl std::error::Error for LedgerError {}

/// What the isolate does with a purge the ledger did not record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Unrecorded {
    /// A replayed signed request: answered 401 as [`super::auth::AuthError::Replayed`],
    /// nothing purged.
    Replayed,
    /// The ledger refused the order: answered 400 with this reason, nothing purged, never
    /// retried.
    Refused(String),
    /// An earlier attempt was recorded: nothing more to do.
    AlreadyRecorded,
    /// Purge this location now and keep the order to write it again later.
    RetryLater,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_error_reads_back_from_the_answer_it_is_sent_as() {
        for e in [
            LedgerError::Replayed,
            LedgerError::BadOrder("the nonce must be hex".into()),
            LedgerError::Storage("disk full".into()),
        ] {
            assert_eq!(LedgerError::from_answer(e.status(), &e.message()), e);
        }
        assert_eq!(
            LedgerError::from_answer(500, "internal error\n"),
            LedgerError::Unreachable("status 500: internal error".into())
        );
        assert_eq!(LedgerError::from_answer(503, "overloaded"), LedgerError::Storage("overloaded".into()));
    }

    #[test]
    fn a_request_is_refused_only_for_a_replayed_signature_or_a_bad_order() {
        assert_eq!(LedgerError::Replayed.for_request(true), Unrecorded::Replayed);
        assert_eq!(LedgerError::Replayed.for_request(false), Unrecorded::RetryLater);
        assert_eq!(
            LedgerError::BadOrder("too many".into()).for_request(true),
            Unrecorded::Refused("too many".into())
        );
        assert_eq!(
            LedgerError::BadOrder("too many".into()).for_request(false),
            Unrecorded::Refused("too many".into())
        );
        for down in [LedgerError::Storage("x".into()), LedgerError::Unreachable("y".into())] {
            assert_eq!(down.for_request(true), Unrecorded::RetryLater);
            assert_eq!(down.for_request(false), Unrecorded::RetryLater);
        }
    }

    #[test]
    fn a_retry_stops_once_recorded_or_refused() {
        assert_eq!(LedgerError::Replayed.for_retry(), Unrecorded::AlreadyRecorded);
        assert_eq!(LedgerError::BadOrder("bad".into()).for_retry(), Unrecorded::Refused("bad".into()));
        assert_eq!(LedgerError::Storage("x".into()).for_retry(), Unrecorded::RetryLater);
        assert_eq!(LedgerError::Unreachable("x".into()).for_retry(), Unrecorded::RetryLater);
    }
}

//! Signed requests: the HMAC-SHA256 signatures (`v2=` over method, host, path, time, body
//! hash and the purge fields; the older `v1=`), how a client makes one, how the edge checks
//! one (in constant time), and the bytes a replay is recognised by.

use super::*;

/// The `X-Rulecache-Signature` value (`v2=<hex>`) for a request, as a client computes it:
/// `headers` are the request's fields (its `host` and the purge fields are read).
pub fn sign_v2(
    secret: &str,
    method: &str,
    path_and_query: &str,
    timestamp: u64,
    body: &[u8],
    headers: &Headers,
) -> String {
    let text = string_to_sign_v2(method, path_and_query, timestamp, body, headers);
    format!("v2={}", hex(&hmac_sha256(secret.trim().as_bytes(), text.as_bytes())))
}

/// The decoded bytes of a request's signature (`v1=`/`v2=` hex, either case), when it has
/// one: what the purge ledger remembers to refuse a replay at any isolate.
pub fn signature_bytes_of(headers: &Headers) -> Option<Vec<u8>> {
    let value = headers.get(SIGNATURE_HEADER)?.trim();
    value.strip_prefix("v2=").or_else(|| value.strip_prefix("v1=")).and_then(unhex)
}

/// The `X-Rulecache-Signature` value (`v1=<hex>`, the older form) for a request.
pub fn sign(secret: &str, method: &str, path_and_query: &str, timestamp: u64, body: &[u8]) -> String {
    format!("v1={}", hex(&signature_bytes(secret.trim(), method, path_and_query, timestamp, body)))
}

pub(super) fn check_signed(
    secrets: &Secrets,
    scope: Scope,
    req: &AuthInput<'_>,
    timestamp: &str,
    signature: &str,
    now: Time,
    replay: &mut ReplayGuard,
) -> Result<Credential, AuthError> {
    let ts: u64 = timestamp.trim().parse().map_err(|_| AuthError::Invalid)?;
    let signature = signature.trim();
    let text = if let Some(v2) = signature.strip_prefix("v2=") {
        (v2, string_to_sign_v2(req.method, req.path_and_query, ts, req.body, req.headers))
    } else if let Some(v1) = signature.strip_prefix("v1=") {
        // The older form covers no header field: refused when one that changes the purge is sent.
        if PURGE_METHOD_HEADERS.iter().any(|h| req.headers.contains(h)) {
            return Err(AuthError::Invalid);
        }
        (v1, string_to_sign(req.method, req.path_and_query, ts, req.body))
    } else {
        return Err(AuthError::Invalid);
    };
    let presented = unhex(text.0).ok_or(AuthError::Invalid)?;
    // RFC 2104 HMAC under every value that proves the scope, each compared in constant time
    // by the `hmac` crate, the answers folded without an early exit.
    let valid =
        secrets.keys(scope).fold(false, |valid, key| valid | mac_matches(key, text.1.as_bytes(), &presented));
    if !valid {
        return Err(AuthError::Invalid);
    }
    let now_secs = secs(now);
    if now_secs.abs_diff(ts) > MAX_CLOCK_SKEW_SECS {
        return Err(AuthError::Expired);
    }
    if !replay.record(&presented, ts, now_secs) {
        return Err(AuthError::Replayed);
    }
    Ok(Credential { scheme: Scheme::Signed, scope })
}

/// The checks of a signed request its headers settle (see [`super::precheck`]): the
/// timestamp a number within [`MAX_CLOCK_SKEW_SECS`] of `now`, the signature `v2=` or `v1=`
/// and the 32 bytes of an HMAC-SHA256 in hex, `v1=` only on a request without the fields it
/// does not cover.
pub(super) fn precheck_signed(
    timestamp: &str,
    signature: &str,
    headers: &Headers,
    now: Time,
) -> Result<(), AuthError> {
    let ts: u64 = timestamp.trim().parse().map_err(|_| AuthError::Invalid)?;
    let signature = signature.trim();
    let hex_part = if let Some(v2) = signature.strip_prefix("v2=") {
        v2
    } else if let Some(v1) = signature.strip_prefix("v1=") {
        if crate::purge::auth::PURGE_METHOD_HEADERS.iter().any(|h| headers.contains(h)) {
            return Err(AuthError::Invalid);
        }
        v1
    } else {
        return Err(AuthError::Invalid);
    };
    if unhex(hex_part).is_none_or(|bytes| bytes.len() != 32) {
        return Err(AuthError::Invalid);
    }
    if secs(now).abs_diff(ts) > MAX_CLOCK_SKEW_SECS {
        return Err(AuthError::Expired);
    }
    Ok(())
}

/// Whether `presented` is the HMAC of `message` under `key`, compared in constant time.
fn mac_matches(key: &str, message: &[u8], presented: &[u8]) -> bool {
    #[cfg(test)]
    counted::MACS_CHECKED.with(|n| n.set(n.get() + 1));
    hmac_of(key.as_bytes(), message).verify_slice(presented).is_ok()
}

/// HMAC-SHA256 (RFC 2104) of `message` under `key`, ready to finalize or verify.
pub(super) fn hmac_of(key: &[u8], message: &[u8]) -> Hmac<Sha256> {
    // Any key length is valid for HMAC: longer keys are hashed, shorter ones padded.
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(key)
        .unwrap_or_else(|_| unreachable!("HMAC takes keys of any length"));
    mac.update(message);
    mac
}

pub(super) fn hmac_sha256(key: &[u8], message: &[u8]) -> [u8; 32] {
    hmac_of(key, message).finalize().into_bytes().into()
}

pub(super) fn string_to_sign(method: &str, path_and_query: &str, timestamp: u64, body: &[u8]) -> String {
    let body_hash = hex(&Sha256::digest(body));
    format!("v1\n{}\n{}\n{}\n{}", method.to_ascii_uppercase(), path_and_query, timestamp, body_hash)
}

pub(super) fn string_to_sign_v2(
    method: &str,
    path_and_query: &str,
    timestamp: u64,
    body: &[u8],
    headers: &Headers,
) -> String {
    let body_hash = hex(&Sha256::digest(body));
    let host = headers.get("host").unwrap_or("").trim().to_ascii_lowercase();
    let mut text = format!(
        "v2\n{}\n{}\n{}\n{}\n{}",
        method.to_ascii_uppercase(),
        host,
        path_and_query,
        timestamp,
        body_hash
    );
    for name in PURGE_METHOD_HEADERS {
        let values: Vec<&str> = headers.get_all(name).map(str::trim).collect();
        text.push('\n');
        text.push_str(&values.join(", "));
    }
    text
}

pub(super) fn signature_bytes(
    secret: &str,
    method: &str,
    path_and_query: &str,
    timestamp: u64,
    body: &[u8],
) -> Vec<u8> {
    hmac_sha256(secret.as_bytes(), string_to_sign(method, path_and_query, timestamp, body).as_bytes())
        .to_vec()
}

/// Constant-time equality of two byte strings of any lengths: compares their SHA-256
/// digests with a fold over all 32 bytes (no early exit, length not observable).
pub fn digests_equal(a: &[u8], b: &[u8]) -> bool {
    #[cfg(test)]
    counted::DIGESTS_COMPARED.with(|n| n.set(n.get() + 1));
    let da = Sha256::digest(a);
    let db = Sha256::digest(b);
    let diff = da.iter().zip(db.iter()).fold(0u8, |acc, (x, y)| acc | (x ^ y));
    diff == 0
}

/// How many constant-time comparisons this thread made, for the tests that check every
/// accepted value is compared, by the constant-time helpers, with no early exit.
#[cfg(test)]
pub(super) mod counted {
    use std::cell::Cell;

    thread_local! {
        /// Calls of [`super::digests_equal`].
        pub static DIGESTS_COMPARED: Cell<usize> = const { Cell::new(0) };
        /// Signatures checked against one key (`mac_matches`).
        pub static MACS_CHECKED: Cell<usize> = const { Cell::new(0) };
    }

    /// (digests compared, MACs checked) by `f`.
    pub fn during(f: impl FnOnce()) -> (usize, usize) {
        let before = (DIGESTS_COMPARED.with(Cell::get), MACS_CHECKED.with(Cell::get));
        f();
        (DIGESTS_COMPARED.with(Cell::get) - before.0, MACS_CHECKED.with(Cell::get) - before.1)
    }
}

#[cfg(test)]
mod hmac_tests {
    use super::*;

    /// RFC 4231 §4.3 (test case 2) and §4.6 (a key longer than the block, test case 6).
    #[test]
    fn hmac_sha256_matches_the_rfc_4231_vectors() {
        assert_eq!(
            hex(&hmac_sha256(b"Jefe", b"what do ya want for nothing?")),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
        assert_eq!(
            hex(&hmac_sha256(&[0xaa; 131], b"Test Using Larger Than Block-Size Key - Hash Key First")),
            "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54"
        );
    }
}

//! Storage keys: the primary key, the split-view audience and the variant folded into one
//! absolute URL usable as a Workers Cache API key, and the key of a URL's variant index.

use super::{split_origin, PrimaryKey, StorageKey, RESERVED_PREFIX};
use crate::storage::key::Audience;

// ---------------------------------------------------------------------------------------------
// Storage keys
// ---------------------------------------------------------------------------------------------

/// FNV-1a, 64-bit (Fowler–Noll–Vo): fast and stable across builds, not collision-resistant.
pub fn fnv1a_64(data: &[u8]) -> u64 {
    fnv1a_64_more(FNV_OFFSET_BASIS, data)
}

const FNV_OFFSET_BASIS: u64 = 0xcbf2_9ce4_8422_2325;

/// FNV-1a-64 carried on from `hash` over `data`: the hash of parts hashed one after another is
/// the hash of the parts joined.
fn fnv1a_64_more(hash: u64, data: &[u8]) -> u64 {
    const PRIME: u64 = 0x0000_0100_0000_01b3;
    data.iter().fold(hash, |hash, &b| (hash ^ u64::from(b)).wrapping_mul(PRIME))
}

/// The Cache API key of one stored variant: `origin/.rulecache/<variant id>/<path>[?query]`.
///
/// The variant id is `base` when there is neither an audience nor a variant; otherwise the
/// audience token (`anon`, `auth`, or `any` when the response is not split by audience) and
/// the hex FNV-1a-64 of audience and variant, e.g. `anon-1f0c…`. The audience is written in
/// clear so that no hash collision can ever hand one audience's entry to the other; the
/// stored [`crate::storage::meta::Meta`] still records the exact variant, to be checked on read.
pub fn storage_key(primary: &PrimaryKey, audience: Option<Audience>, variant: Option<&str>) -> StorageKey {
    origin_storage_key(primary, None, audience, variant)
}

/// The storage key of a variant fetched from the named origin `source` (None: the
/// deployment's own origin, whose keys are [`storage_key`]'s):
/// `origin/.rulecache/@<source>/<variant id>/<path>[?query]`. A variant id never starts with
/// `@`, so the copies of two origins never share a key, whichever of them a URL is routed to.
/// (The primary key, which purges match, stays the public URL: a purge reaches every
/// origin's copies.)
pub fn origin_storage_key(
    primary: &PrimaryKey,
    source: Option<&str>,
    audience: Option<Audience>,
    variant: Option<&str>,
) -> StorageKey {
    let primary = primary.as_str();
    let (origin, target) = split_origin(primary);
    let source_len = source.map_or(0, |s| s.len() + 2);
    let mut out = String::with_capacity(primary.len() + RESERVED_PREFIX.len() + 22 + source_len);
    out.push_str(origin);
    out.push_str(RESERVED_PREFIX);
    if let Some(source) = source {
        out.push('@');
        out.push_str(source);
        out.push('/');
    }
    let variant = variant.unwrap_or("");
    match audience {
        None if variant.is_empty() => out.push_str("base"),
        _ => {
            let token = audience.map_or("any", Audience::as_str);
            // The hash of token, 0xFF, variant: 0xFF never occurs in UTF-8, so the two parts
            // cannot run into each other.
            let hash = fnv1a_64_more(fnv1a_64_more(fnv1a_64(token.as_bytes()), &[0xFF]), variant.as_bytes());
            out.push_str(token);
            out.push('-');
            for shift in (0..16).rev() {
                let nibble = ((hash >> (shift * 4)) & 0xF) as u32;
                out.push(char::from_digit(nibble, 16).unwrap_or('0'));
            }
        }
    }
    push_target(&mut out, target);
    StorageKey(out)
}

/// Appends `/` and the target without its leading slash (so `/a?q` gives `/a?q`, and an
/// empty target gives `/`).
fn push_target(out: &mut String, target: &str) {
    out.push('/');
    out.push_str(target.strip_prefix('/').unwrap_or(target));
}

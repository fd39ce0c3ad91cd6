//! Header fields the flow edits the same way wherever it meets them: keeping an authenticated
//! response private downstream, `Vary`, and the variant index of a URL.

use crate::http::Headers;
use crate::storage::meta::VaryIndex;

/// Keeps a response to an authenticated request out of every shared cache downstream: `public`,
/// `s-maxage` and `proxy-revalidate` are removed from `Cache-Control` and `private` added
/// (unless it says `no-store` or an unqualified `private` already); the targeted
/// `CDN-Cache-Control` and `Surrogate-Control` are removed. RFC 9111 §3.5 lets a shared cache
/// reuse such a response when it says `public` or `s-maxage`; one user's page must not be.
pub fn keep_private(h: &mut Headers) {
    h.remove("cdn-cache-control");
    h.remove("surrogate-control");
    let joined = h.get_joined("cache-control").map(|v| v.into_owned()).unwrap_or_default();
    let mut kept: Vec<&str> = Vec::new();
    let mut private = false;
    for directive in split_directives(&joined) {
        let name = directive.split('=').next().unwrap_or("").trim().to_ascii_lowercase();
        match name.as_str() {
            "" | "public" | "s-maxage" | "proxy-revalidate" => continue,
            "no-store" => private = true,
            "private" if !directive.contains('=') => private = true,
            _ => {}
        }
        kept.push(directive);
    }
    if !private {
        kept.push("private");
    }
    h.set("cache-control", kept.join(", "));
}

/// Adds `name` to `Vary` unless it is already listed (case-insensitively); never replaces.
pub fn merge_vary(h: &mut Headers, name: &str) {
    if h.list("vary").any(|v| v == "*" || v.eq_ignore_ascii_case(name)) {
        return;
    }
    let pretty = pretty_field_name(name);
    match h.get_joined("vary").map(|v| v.into_owned()) {
        Some(existing) if !existing.trim().is_empty() => h.set("vary", format!("{existing}, {pretty}")),
        _ => h.set("vary", pretty),
    }
}

fn pretty_field_name(name: &str) -> String {
    name.split('-')
        .map(|part| {
            let mut c = part.chars();
            match c.next() {
                Some(f) => f.to_ascii_uppercase().to_string() + &c.as_str().to_ascii_lowercase(),
                None => String::new(),
            }
        })
        .collect::<Vec<_>>()
        .join("-")
}

/// Merges a new variant into the index kept at a URL's base key; returns the index and the
/// storage keys it no longer remembers (the driver deletes them).
pub fn merge_index(existing: Option<VaryIndex>, new: VaryIndex) -> (VaryIndex, Vec<String>) {
    let mut index = match existing {
        Some(old) if old.vary == new.vary => old,
        _ => VaryIndex::new(new.url.clone()),
    };
    let mut forgotten = Vec::new();
    for k in &new.variants {
        let until = new.fresh_until.get(k).copied();
        forgotten.extend(index.record_until(k, &new.vary, new.stored_at, until));
    }
    (index, forgotten)
}

/// The directives of one `Cache-Control` field value, trimmed, split at the commas outside
/// quoted strings (RFC 9111 §5.2: `#cache-directive`, arguments may be quoted-strings).
pub(super) fn split_directives(value: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let (mut start, mut quoted, mut escaped) = (0, false, false);
    for (i, b) in value.bytes().enumerate() {
        if quoted {
            quoted = escaped || b != b'"';
            escaped = !escaped && b == b'\\';
            continue;
        }
        match b {
            b'"' => quoted = true,
            b',' => {
                out.push(value[start..i].trim());
                start = i + 1;
            }
            _ => {}
        }
    }
    out.push(value[start..].trim());
    out.retain(|d| !d.is_empty());
    out
}

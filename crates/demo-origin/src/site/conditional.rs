//! Validators and conditional requests: `If-None-Match` (weak comparison), `If-Modified-Since`,
//! the 304 a 200 turns into, and the validators of a content version.

use super::*;

/// One entity-tag of an `If-None-Match` list: (weak, opaque-tag including quotes).
pub(super) fn parse_etag_list(value: &str) -> Option<Vec<(bool, &str)>> {
    let mut tags = Vec::new();
    let mut rest = value.trim();
    while !rest.is_empty() {
        rest = rest.trim_start_matches([',', ' ', '\t']);
        if rest.is_empty() {
            break;
        }
        let (weak, after) = match rest.strip_prefix("W/") {
            Some(r) => (true, r),
            None => (false, rest),
        };
        let inner = after.strip_prefix('"')?;
        let end = inner.find('"')?;
        let tag = after.get(..end + 2)?;
        tags.push((weak, tag));
        rest = after.get(end + 2..)?;
    }
    Some(tags)
}

pub(super) fn opaque(etag: &str) -> &str {
    etag.trim().strip_prefix("W/").unwrap_or(etag.trim())
}

/// RFC 9110 §13.1.2: `If-None-Match` uses the weak comparison function.
pub fn if_none_match_matches(header: &str, current: Option<&str>) -> bool {
    if header.trim() == "*" {
        return current.is_some();
    }
    let Some(current) = current else { return false };
    let current = opaque(current);
    match parse_etag_list(header) {
        Some(tags) => tags.iter().any(|(_, tag)| *tag == current),
        None => false,
    }
}

/// RFC 9110 §13.2.2: evaluate `If-None-Match`, else `If-Modified-Since`, for GET/HEAD.
pub(super) fn not_modified(req: &Request, etag: Option<&str>, last_modified: Option<u64>) -> bool {
    if req.method != "GET" && req.method != "HEAD" {
        return false;
    }
    let inm: Vec<&str> = req.headers_named("if-none-match").collect();
    if !inm.is_empty() {
        return if_none_match_matches(&inm.join(", "), etag);
    }
    match (req.header("if-modified-since").and_then(parse_http_date), last_modified) {
        (Some(since), Some(lm)) => lm <= since,
        _ => false,
    }
}

/// Turn a 200 into the 304 it would be: same header fields, no content.
pub(super) fn into_304(mut resp: Response) -> Response {
    resp.status = 304;
    resp.remove_header("Content-Type");
    resp.body = Body::Empty;
    resp
}

/// Adds the validators of content `version` (ETag, Last-Modified) and answers the request's
/// conditional headers with a 304 when they match.
pub(super) fn versioned(ctx: &Ctx, resp: Response, etag: String, version: u32) -> Response {
    let lm = content_last_modified(version);
    let resp = resp
        .header("ETag", etag.clone())
        .header("Last-Modified", http_date(lm))
        .header("X-Origin-Version", version.to_string());
    if not_modified(ctx.req, Some(&etag), Some(lm)) {
        into_304(resp)
    } else {
        resp
    }
}

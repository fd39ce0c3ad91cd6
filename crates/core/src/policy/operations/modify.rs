//! What an operation does to the response head sent downstream ([`Operation::modify`]):
//! plone.app.caching's `setCacheHeaders` and `doNotCache`, the ETag built from its
//! components, the merged `Vary` (see the parent module's documentation).

use std::borrow::Cow;

use sha2::{Digest, Sha256};

use super::{EtagComponent, Operation, OperationKind};
use crate::http::{Headers, ResponseHead};
use crate::policy::audience;
use crate::policy::decision::ModifyContext;
use crate::storage::key::Audience;

impl Operation {
    /// Edits the response head sent downstream (see the module documentation).
    pub fn modify(&self, ctx: &ModifyContext, head: &mut ResponseHead) {
        match self.kind {
            OperationKind::HonourOrigin => {}
            OperationKind::Chain => self.members.iter().for_each(|m| m.modify(ctx, head)),
            OperationKind::NoCaching => self.do_not_cache(ctx, &mut head.headers),
            _ if head.status >= 400 => {}
            _ => self.set_cache_headers(ctx, &mut head.headers),
        }
    }

    /// plone's `doNotCache`, which also drops the validators (there is nothing to revalidate).
    fn do_not_cache(&self, ctx: &ModifyContext, h: &mut Headers) {
        h.remove("last-modified");
        h.remove("etag");
        h.set("expires", http_date_past(ctx.now));
        let cc = if self.params.no_store { "no-store" } else { "max-age=0, must-revalidate, private" };
        h.set("cache-control", cc);
    }

    /// plone's `BaseCaching.modifyResponse` and `setCacheHeaders`.
    fn set_cache_headers(&self, ctx: &ModifyContext, h: &mut Headers) {
        let p = &self.params;
        let (mut maxage, mut smaxage) = (p.maxage.unwrap_or(0), p.smaxage);
        let proxy_cache = smaxage.unwrap_or(0) > 0 || (maxage > 0 && smaxage.is_none());
        if proxy_cache && ctx.audience == Audience::Authenticated && self.private_when_authenticated() {
            // "This is private so keep it out of both shared and browser caches"
            maxage = 0;
            smaxage = Some(0);
        }
        if let Some(etag) = self.etag_components().and_then(|c| self.compose_etag(ctx, h, &c)) {
            h.set("etag", etag);
        }
        if !p.last_modified {
            h.remove("last-modified");
        }
        self.merge_vary(ctx, h);
        let cc = match smaxage {
            _ if maxage > 0 => {
                h.set("expires", http_date(ctx.now, maxage));
                match smaxage {
                    Some(s) => format!("max-age={maxage}, s-maxage={s}, proxy-revalidate, public"),
                    None => format!("max-age={maxage}, proxy-revalidate, public"),
                }
            }
            Some(s) if s > 0 => {
                h.set("expires", http_date_past(ctx.now));
                format!("max-age=0, s-maxage={s}, must-revalidate")
            }
            _ => {
                h.set("expires", http_date_past(ctx.now));
                "max-age=0, must-revalidate, private".to_string()
            }
        };
        h.set("cache-control", cc);
    }

    /// Merges the `vary` parameter and, for a split-view ruleset, the split-view header into
    /// Vary; never replaces or duplicates (case-insensitively) what is there.
    fn merge_vary(&self, ctx: &ModifyContext, h: &mut Headers) {
        let split = ctx.split_view_header.filter(|_| self.params.split_view);
        let joined = {
            let list: Vec<&str> = h.list("vary").collect();
            if list.contains(&"*") {
                return;
            }
            let mut added: Vec<Cow<'_, str>> = Vec::new();
            let wanted = self.params.vary.iter().map(|v| (v.as_str(), false)).chain(split.map(|s| (s, true)));
            for (name, title) in wanted {
                let listed = |v: &str| v.eq_ignore_ascii_case(name);
                if !list.iter().any(|v| listed(v)) && !added.iter().any(|v| listed(v)) {
                    added.push(if title { Cow::Owned(title_case(name)) } else { Cow::Borrowed(name) });
                }
            }
            if added.is_empty() {
                return;
            }
            let len = list.iter().map(|v| v.len() + 2).sum::<usize>()
                + added.iter().map(|v| v.len() + 2).sum::<usize>();
            let mut joined = String::with_capacity(len);
            for (i, v) in list.iter().copied().chain(added.iter().map(|v| v.as_ref())).enumerate() {
                if i > 0 {
                    joined.push_str(", ");
                }
                joined.push_str(v);
            }
            joined
        };
        h.set("vary", joined);
    }

    /// plone's `getETag`: the components' values joined as `"|a|b|c"`; None when no
    /// component has a value. Weak when the origin's ETag was weak.
    fn compose_etag(&self, ctx: &ModifyContext, h: &Headers, components: &[EtagComponent]) -> Option<String> {
        let weak = h.get("etag").is_some_and(|e| e.trim_start().starts_with("W/"));
        let mut out = String::with_capacity(48);
        out.push_str(if weak { "W/\"" } else { "\"" });
        let mut any = false;
        for c in components {
            if let Some(value) = self.component_value(*c, ctx, h) {
                any = true;
                out.push('|');
                // "commas are bad in etags"; quotes, spaces and controls are not etagc.
                out.extend(
                    value
                        .chars()
                        .map(|ch| if ch == ',' { ';' } else { ch })
                        .filter(|ch| ch.is_ascii_graphic() && *ch != '"'),
                );
            }
        }
        if !any {
            return None;
        }
        out.push('"');
        Some(out)
    }

    fn component_value<'h>(
        &self,
        c: EtagComponent,
        ctx: &ModifyContext<'h>,
        h: &'h Headers,
    ) -> Option<Cow<'h, str>> {
        let req = &ctx.request.headers;
        let authenticated = ctx.audience == Audience::Authenticated;
        match c {
            EtagComponent::Origin => h.get("etag").map(|e| Cow::Borrowed(origin_opaque(e))),
            EtagComponent::UserId => {
                // Only an authenticated request has a credential worth digesting.
                if !authenticated {
                    return None;
                }
                let cfg = self.audience.as_deref()?;
                cfg.credential(req).map(|c| Cow::Owned(digest(c)))
            }
            EtagComponent::Audience => Some(Cow::Borrowed(ctx.audience.as_str())),
            EtagComponent::Language => Some(Cow::Borrowed(req.get("accept-language").unwrap_or(""))),
            EtagComponent::Encoding => {
                Some(Cow::Borrowed(h.get("content-encoding").unwrap_or("identity").trim()))
            }
            EtagComponent::LastModified => h
                .get("last-modified")
                .and_then(crate::rfc::freshness::http_date)
                .map(|secs| Cow::Owned(secs.to_string())),
            EtagComponent::PolicyVersion => Some(Cow::Owned(ctx.policy_version.to_string())),
            EtagComponent::Copy => {
                Some(Cow::Borrowed(if audience::cookie_value(req, "__cp").is_some() { "1" } else { "0" }))
            }
            EtagComponent::AnonymousOrRandom => authenticated.then(|| Cow::Owned(ctx.now.to_string())),
        }
    }
}

/// The opaque part of an entity tag: without `W/` and quotes.
fn origin_opaque(etag: &str) -> &str {
    let e = etag.trim();
    let e = e.strip_prefix("W/").unwrap_or(e);
    e.strip_prefix('"').and_then(|e| e.strip_suffix('"')).unwrap_or(e)
}

/// The first 8 bytes of SHA-256, in hex.
fn digest(credential: &str) -> String {
    let hash = Sha256::digest(credential.as_bytes());
    crate::http::hex(hash.get(..8).unwrap_or_default())
}

/// `x-anonymous` → `X-Anonymous`.
fn title_case(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    let mut upper = true;
    for ch in name.chars() {
        out.push(if upper { ch.to_ascii_uppercase() } else { ch });
        upper = ch == '-';
    }
    out
}

/// An HTTP date `secs` seconds after `now` (milliseconds), clamped to what HTTP dates can show.
fn http_date(now: crate::http::Time, secs: u64) -> String {
    crate::http::date::format(crate::http::secs(now).saturating_add(secs))
}

/// A date ten years before `now`, as plone's `getExpiration(0)`.
fn http_date_past(now: crate::http::Time) -> String {
    crate::http::date::format(
        crate::http::secs(now).min(crate::http::date::LAST_SECOND).saturating_sub(3650 * 86400),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_never_overflow() {
        assert_eq!(http_date(u64::MAX, u64::MAX), "Fri, 31 Dec 9999 23:59:59 GMT");
        assert_eq!(http_date_past(0), "Thu, 01 Jan 1970 00:00:00 GMT");
        assert_eq!(http_date(1_000, 60), "Thu, 01 Jan 1970 00:01:01 GMT");
    }

    #[test]
    fn title_case_capitalises_each_word() {
        assert_eq!(title_case("x-anonymous"), "X-Anonymous");
        assert_eq!(title_case("accept"), "Accept");
    }

    #[test]
    fn origin_opaque_strips_weakness_and_quotes() {
        assert_eq!(origin_opaque(" W/\"abc\""), "abc");
        assert_eq!(origin_opaque("\"abc\""), "abc");
        assert_eq!(origin_opaque("abc"), "abc");
    }
}

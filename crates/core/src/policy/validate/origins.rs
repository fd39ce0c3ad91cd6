//! `/origins` (named origins: where requests go, their forwarding settings, their purge
//! aliases) and the origin a rule, a ruleset or a page-map entry names.

use std::collections::BTreeSet;

use super::*;
use crate::policy::origins::{is_origin_name, Origin, DEFAULT_ORIGIN};

/// The most origins a bundle may declare (each is a key prefix and a purge fan-out).
pub const MAX_ORIGINS: usize = 32;

impl Walker {
    pub(super) fn origins(&mut self, m: &Map<String, Value>) -> Vec<Origin> {
        let mut out = Vec::new();
        let Some(os) = self.free_section(m, "origins", "") else {
            return out;
        };
        if os.len() > MAX_ORIGINS {
            self.err(
                "/origins",
                format!("{} origins are declared; at most {MAX_ORIGINS} are allowed", os.len()),
            );
        }
        for (name, v) in os {
            let p = child("/origins", name);
            if name == DEFAULT_ORIGIN {
                self.err(
                    &p,
                    format!(
                        "\"{DEFAULT_ORIGIN}\" is the deployment's own origin (ORIGIN) and cannot be declared"
                    ),
                );
                continue;
            }
            if !is_origin_name(name) {
                self.err(&p, format!("\"{name}\" is not a valid origin name: use letters, digits, '.', '-' and '_' (at most 64)"));
            }
            let Some(o) = self.object(v, &p, &["url", "description", "purgeAliases", "forward"]) else {
                continue;
            };
            let _ = self.string(o, "description", &p);
            let url = self.required_string(o, "url", &p).and_then(|text| {
                let url = crate::http::parse_url(text.trim());
                let plain = url.as_ref().is_some_and(|u| {
                    u.username().is_empty() && u.password().is_none() && u.query().is_none() && u.fragment().is_none()
                });
                if !plain {
                    self.err(
                        &child(&p, "url"),
                        format!("\"{text}\" is not an origin URL: write an http(s) scheme, a host and at most a base path, as in \"https://cms.example.net/site\" (no credentials, query or fragment)"),
                    );
                    return None;
                }
                url
            });
            let mut purge_aliases = Vec::new();
            let mut seen = BTreeSet::new();
            for (text, ap) in self.string_list(o, "purgeAliases", &p) {
                match crate::purge::expand::origin_of(&text) {
                    Some(origin) if seen.insert(origin.clone()) => purge_aliases.push(origin),
                    Some(origin) => self.err(&ap, format!("\"{origin}\" is listed twice")),
                    None => self.err(
                        &ap,
                        format!("\"{text}\" is not an origin: write scheme and host only, as in \"https://cms.example.net\""),
                    ),
                }
            }
            let (keep_cookies, trusted_headers) = self.origin_forward(o, &p);
            if let (true, Some(url)) = (is_origin_name(name), url) {
                out.push(Origin { name: name.clone(), url, purge_aliases, keep_cookies, trusted_headers });
            }
        }
        // A purge alias names one origin's application: two origins cannot share one.
        let mut owner: BTreeMap<&str, &str> = BTreeMap::new();
        let mut clashes = Vec::new();
        for o in &out {
            for a in &o.purge_aliases {
                if let Some(first) = owner.insert(a.as_str(), o.name.as_str()) {
                    clashes.push((
                        child(&child("/origins", &o.name), "purgeAliases"),
                        a.clone(),
                        first.to_string(),
                    ));
                }
            }
        }
        for (path, alias, first) in clashes {
            self.err(&path, format!("\"{alias}\" is already a purge alias of origin \"{first}\""));
        }
        out.sort_by(|a, b| a.name.cmp(&b.name));
        out
    }

    /// `origins.<name>.forward`: `keepCookies` and `trustedHeaders`, as in `cacheKey`.
    fn origin_forward(&mut self, o: &Map<String, Value>, p: &str) -> (Vec<String>, Vec<String>) {
        let fp = child(p, "forward");
        let Some(f) = self.section(o, "forward", p, &["keepCookies", "trustedHeaders"]) else {
            return (Vec::new(), Vec::new());
        };
        let mut cookies = Vec::new();
        for (name, np) in self.string_list(f, "keepCookies", &fp) {
            if is_token(&name) {
                cookies.push(name);
            } else {
                self.err(&np, format!("\"{name}\" is not a cookie name"));
            }
        }
        let mut headers = Vec::new();
        for (h, hp) in self.string_list(f, "trustedHeaders", &fp) {
            if !self.header_name(&h, &hp) {
                continue;
            }
            let lower = h.to_ascii_lowercase();
            if crate::storage::key::is_forwarding_field(&lower) {
                self.err(&hp, format!("\"{h}\" is a forwarding field the edge sets itself; it is never forwarded from the client"));
                continue;
            }
            headers.push(lower);
        }
        (cookies, headers)
    }

    /// An optional `origin` key of a rule, ruleset or page-map entry: a declared origin, or
    /// `default`.
    pub(super) fn origin_ref(
        &mut self,
        m: &Map<String, Value>,
        p: &str,
        declared: &BTreeSet<String>,
    ) -> Option<String> {
        let name = self.string(m, "origin", p)?;
        if name != DEFAULT_ORIGIN && !declared.contains(name) {
            let known: Vec<&str> = declared.iter().map(String::as_str).collect();
            let known = if known.is_empty() { "none are declared".to_string() } else { known.join(", ") };
            self.err(
                &child(p, "origin"),
                format!("origin \"{name}\" is not declared in /origins (declared: {known}; \"{DEFAULT_ORIGIN}\" is the deployment's own)"),
            );
            return None;
        }
        Some(name.to_string())
    }
}

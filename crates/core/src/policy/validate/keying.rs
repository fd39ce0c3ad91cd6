//! `/splitView` (who counts as authenticated) and `/cacheKey` (what a key is made of).

use super::*;

impl Walker {
    pub(super) fn split_view(&mut self, m: &Map<String, Value>) -> AudienceConfig {
        let mut cfg = AudienceConfig::default();
        let keys = [
            "enabled",
            "header",
            "authCookies",
            "authCookiePrefixes",
            "authorizationHeader",
            "authQueryParams",
        ];
        let Some(s) = self.section(m, "splitView", "", &keys) else {
            return cfg;
        };
        let p = "/splitView";
        cfg.split_view = self.bool(s, "enabled", p).unwrap_or(false);
        let header = self.string(s, "header", p).unwrap_or(DEFAULT_SPLIT_VIEW_HEADER);
        if self.header_name(header, "/splitView/header") {
            cfg.header = header.to_string();
            cfg.header_lower = header.to_ascii_lowercase();
        }
        if s.contains_key("authCookies") {
            cfg.auth_cookies = self.cookie_names(s, "authCookies", p);
        }
        cfg.auth_cookie_prefixes = self.cookie_names(s, "authCookiePrefixes", p);
        cfg.authorization_header = self.bool(s, "authorizationHeader", p).unwrap_or(true);
        if s.contains_key("authQueryParams") {
            cfg.auth_query_params = Vec::new();
            for (name, np) in self.string_list(s, "authQueryParams", p) {
                if name.trim().is_empty() || name.contains(['&', '=', ';', '#']) {
                    self.err(&np, format!("\"{name}\" is not a query parameter name"));
                } else {
                    cfg.auth_query_params.push(name);
                }
            }
        }
        if cfg.split_view
            && cfg.auth_cookies.is_empty()
            && cfg.auth_cookie_prefixes.is_empty()
            && !cfg.authorization_header
        {
            // Nothing would mark a request authenticated: every member would be keyed, and
            // served, as anonymous.
            self.err(
                p,
                "a split view needs a credential source: name authCookies or authCookiePrefixes, \
                 or leave authorizationHeader true; with none, every request counts as anonymous \
                 and a member's page could be stored for and served to anonymous visitors",
            );
        }
        cfg
    }

    pub(super) fn cookie_names(&mut self, m: &Map<String, Value>, key: &str, p: &str) -> Vec<String> {
        let mut out = Vec::new();
        for (name, np) in self.string_list(m, key, p) {
            if is_token(&name) {
                out.push(name);
            } else {
                self.err(&np, format!("\"{name}\" is not a valid cookie name"));
            }
        }
        out
    }

    pub(super) fn cache_key(&mut self, m: &Map<String, Value>) -> KeyOptions {
        let mut k = KeyOptions::default();
        let keys = [
            "dropParams",
            "keepParams",
            "sortQuery",
            "encodings",
            "varyCookies",
            "keepCookies",
            "trustedHeaders",
        ];
        let Some(c) = self.section(m, "cacheKey", "", &keys) else {
            return k;
        };
        let p = "/cacheKey";
        k.drop_params = self.param_patterns(c, "dropParams", p);
        if c.get("keepParams").is_some_and(|v| !v.is_null()) {
            k.keep_params = Some(self.param_patterns(c, "keepParams", p));
        }
        k.sort_query = self.bool(c, "sortQuery", p).unwrap_or(false);
        if c.contains_key("varyCookies") {
            k.vary_cookies = Some(self.param_patterns(c, "varyCookies", p));
        }
        for (coding, cp) in self.string_list(c, "encodings", p) {
            if is_token(&coding) {
                k.encodings.push(coding.to_ascii_lowercase());
            } else {
                self.err(&cp, format!("\"{coding}\" is not a content coding"));
            }
        }
        for (name, np) in self.string_list(c, "keepCookies", p) {
            if is_token(&name) {
                k.keep_cookies.push(name);
            } else {
                self.err(&np, format!("\"{name}\" is not a cookie name"));
            }
        }
        for (name, np) in self.string_list(c, "trustedHeaders", p) {
            if !self.header_name(&name, &np) {
                continue;
            }
            let lower = name.to_ascii_lowercase();
            if crate::storage::key::is_forwarding_field(&lower) {
                self.err(
                    &np,
                    format!(
                        "\"{name}\" is a forwarding field: it is never taken from the client (the edge sets X-Forwarded-Proto and X-Forwarded-Host from the real request)"
                    ),
                );
            } else {
                k.trusted_headers.push(lower);
            }
        }
        k
    }

    pub(super) fn param_patterns(&mut self, m: &Map<String, Value>, key: &str, p: &str) -> Vec<String> {
        let mut out = Vec::new();
        for (pattern, pp) in self.string_list(m, key, p) {
            if pattern.trim_end_matches('*').contains('*') || pattern == "*" {
                self.err(&pp, "\"*\" may only end a parameter name, as in \"utm_*\"");
            } else {
                out.push(pattern);
            }
        }
        out
    }
}

//! Raw bundle → compiled [`Policy`], collecting every error with its JSON pointer.
//!
//! The bundle is parsed into a `serde_json::Value` and walked by hand, so one run reports
//! all problems (unknown keys, wrong types, undeclared rulesets, bad globs, chain cycles…)
//! instead of stopping at the first.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{Map, Value};

use super::glob::Glob;
use super::{Hint, PageAction, Policy, PolicyError, RulesetInfo};
use crate::audience::{AudienceConfig, DEFAULT_SPLIT_VIEW_HEADER};
use crate::classify::{Conditions, HostPattern, Rule, ValueTest};
use crate::key::KeyOptions;
use crate::operations::{EtagComponent, Operation, OperationKind, Parameters};
use crate::purge::auth::AddressRange;

const TOP_KEYS: &[&str] = &[
    "$schema",
    "version",
    "name",
    "description",
    "caching",
    "rulesets",
    "rules",
    "rulesetHint",
    "operations",
    "default",
    "cacheStopRequestVariables",
    "cacheKey",
    "splitView",
    "purge",
    "pageMap",
];
const MATCH_KEYS: &[&str] = &[
    "methods",
    "hosts",
    "path",
    "pathPrefix",
    "glob",
    "extensions",
    "query",
    "header",
    "cookie",
    "contentType",
];
const DEFAULT_HINT_HEADER: &str = "X-Cache-Ruleset";

/// Parses and validates `text`.
pub(super) fn compile(text: &str) -> Result<Policy, Vec<PolicyError>> {
    let value: Value = serde_json::from_str(text).map_err(|e| vec![json_error(&e)])?;
    let mut w = Walker::default();
    let policy = w.bundle(&value, text);
    match policy {
        Some(p) if w.errors.is_empty() => Ok(p),
        _ => Err(w.errors),
    }
}

fn json_error(e: &serde_json::Error) -> PolicyError {
    let text = e.to_string();
    let suffix = format!(" at line {} column {}", e.line(), e.column());
    let what = text.strip_suffix(&suffix).unwrap_or(&text);
    PolicyError {
        path: "/".to_string(),
        message: format!("not valid JSON (line {}, column {}): {what}", e.line(), e.column()),
    }
}

/// The JSON pointer of `key` under `path` (RFC 6901 escaping).
fn child(path: &str, key: &str) -> String {
    format!("{path}/{}", key.replace('~', "~0").replace('/', "~1"))
}

fn index(path: &str, i: usize) -> String {
    format!("{path}/{i}")
}

/// How a value is named in "found …".
fn found(v: &Value) -> String {
    match v {
        Value::Null => "null".to_string(),
        Value::Bool(_) => "a boolean".to_string(),
        Value::Number(n) => n.to_string(),
        Value::String(_) => "a string".to_string(),
        Value::Array(_) => "an array".to_string(),
        Value::Object(_) => "an object".to_string(),
    }
}

fn quoted_list(names: impl IntoIterator<Item = &'static str>) -> String {
    names.into_iter().collect::<Vec<_>>().join(", ")
}

/// RFC 9110 token characters (header names, methods, codings).
fn is_token(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
}

fn is_ruleset_name(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_alphanumeric() || b"._-:".contains(&b))
}

#[derive(Default)]
struct Walker {
    errors: Vec<PolicyError>,
}

/// A parsed operation whose chain members may still name other entries.
struct RawOp {
    kind: OperationKind,
    params: Parameters,
    members: Vec<RawMember>,
}

enum RawMember {
    /// Another entry of `/operations`, and the pointer of the reference.
    Named(String, String),
    Inline(RawOp),
}

impl Walker {
    fn err(&mut self, path: &str, message: impl Into<String>) {
        let path = if path.is_empty() { "/".to_string() } else { path.to_string() };
        self.errors.push(PolicyError { path, message: message.into() });
    }

    fn expected(&mut self, path: &str, what: &str, v: &Value) {
        self.err(path, format!("expected {what}, found {}", found(v)));
    }

    /// `v` as an object with keys of the bundle author's choosing.
    fn map<'v>(&mut self, v: &'v Value, path: &str) -> Option<&'v Map<String, Value>> {
        let map = v.as_object();
        if map.is_none() {
            self.expected(path, "an object", v);
        }
        map
    }

    /// An optional object with keys of the author's choosing.
    fn free_section<'v>(
        &mut self,
        m: &'v Map<String, Value>,
        key: &str,
        path: &str,
    ) -> Option<&'v Map<String, Value>> {
        let v = m.get(key)?;
        self.map(v, &child(path, key))
    }

    /// `v` as an object whose keys are all in `allowed`.
    fn object<'v>(&mut self, v: &'v Value, path: &str, allowed: &[&str]) -> Option<&'v Map<String, Value>> {
        let map = self.map(v, path)?;
        for key in map.keys() {
            if !allowed.contains(&key.as_str()) {
                let hint = allowed
                    .iter()
                    .find(|a| a.eq_ignore_ascii_case(key))
                    .map(|a| format!(" (did you mean \"{a}\"?)"))
                    .unwrap_or_default();
                self.err(&child(path, key), format!("unknown key \"{key}\"{hint}"));
            }
        }
        Some(map)
    }

    /// An optional section: absent is None, present must be an object.
    fn section<'v>(
        &mut self,
        m: &'v Map<String, Value>,
        key: &str,
        path: &str,
        allowed: &[&str],
    ) -> Option<&'v Map<String, Value>> {
        let v = m.get(key)?;
        self.object(v, &child(path, key), allowed)
    }

    fn bool(&mut self, m: &Map<String, Value>, key: &str, path: &str) -> Option<bool> {
        let v = m.get(key)?;
        let b = v.as_bool();
        if b.is_none() {
            self.expected(&child(path, key), "true or false", v);
        }
        b
    }

    fn string<'v>(&mut self, m: &'v Map<String, Value>, key: &str, path: &str) -> Option<&'v str> {
        let v = m.get(key)?;
        let s = v.as_str();
        if s.is_none() {
            self.expected(&child(path, key), "a string", v);
        }
        s
    }

    /// A required, non-empty string.
    fn required_string<'v>(&mut self, m: &'v Map<String, Value>, key: &str, path: &str) -> Option<&'v str> {
        if !m.contains_key(key) {
            self.err(path, format!("missing required key \"{key}\""));
            return None;
        }
        let s = self.string(m, key, path)?;
        if s.trim().is_empty() {
            self.err(&child(path, key), "must not be empty");
            return None;
        }
        Some(s)
    }

    /// Delta-seconds: RFC 9111 §1.2.2 caps them at 2147483648 ("a cache […] ought to
    /// consider it to be 2147483648"); a larger value is most likely a mistake.
    fn seconds(&mut self, m: &Map<String, Value>, key: &str, path: &str) -> Option<u64> {
        const MAX_SECONDS: u64 = 2_147_483_648;
        let v = m.get(key)?;
        let n = v.as_u64();
        match n {
            None => self.expected(&child(path, key), "a whole number of seconds (0 or more)", v),
            Some(n) if n > MAX_SECONDS => {
                self.err(
                    &child(path, key),
                    format!("{n} seconds is more than the largest age, {MAX_SECONDS}"),
                );
                return None;
            }
            Some(_) => {}
        }
        n
    }

    /// A list of strings (a single string counts as a list of one when `single` is set),
    /// each with its pointer. Absent is None; an empty list is an error.
    fn strings(
        &mut self,
        m: &Map<String, Value>,
        key: &str,
        path: &str,
        single: bool,
    ) -> Option<Vec<(String, String)>> {
        let v = m.get(key)?;
        let p = child(path, key);
        if let (true, Some(s)) = (single, v.as_str()) {
            return Some(vec![(s.to_string(), p)]);
        }
        let Some(items) = v.as_array() else {
            let what = if single { "a string or an array of strings" } else { "an array of strings" };
            self.expected(&p, what, v);
            return None;
        };
        let mut out = Vec::with_capacity(items.len());
        for (i, item) in items.iter().enumerate() {
            match item.as_str() {
                Some(s) if !s.is_empty() => out.push((s.to_string(), index(&p, i))),
                Some(_) => self.err(&index(&p, i), "must not be empty"),
                None => self.expected(&index(&p, i), "a string", item),
            }
        }
        Some(out)
    }

    /// A list of strings that may be empty (an empty list is a legitimate setting).
    fn string_list(&mut self, m: &Map<String, Value>, key: &str, path: &str) -> Vec<(String, String)> {
        if m.get(key).and_then(Value::as_array).is_some_and(Vec::is_empty) {
            return Vec::new();
        }
        self.strings(m, key, path, false).unwrap_or_default()
    }

    fn header_name(&mut self, name: &str, path: &str) -> bool {
        let ok = is_token(name);
        if !ok {
            self.err(path, format!("\"{name}\" is not a valid header name"));
        }
        ok
    }

    fn bundle(&mut self, v: &Value, text: &str) -> Option<Policy> {
        let m = self.object(v, "", TOP_KEYS)?;
        if let Some(s) = m.get("$schema").filter(|s| !s.is_string()) {
            self.expected("/$schema", "a string", s);
        }
        let version = self.version(m);
        let name = self.required_string(m, "name", "").unwrap_or_default().to_string();
        let description = self.string(m, "description", "").unwrap_or_default().to_string();
        let (caching_enabled, debug_headers, not_found_ttl) = self.caching(m);
        let rulesets = self.rulesets(m);
        let rules = self.rules(m, &rulesets);
        let hint = self.hint(m);
        let audience = self.split_view(m);
        let (operations, operation_parameters, default_operation) = self.operations(m, &rulesets, &audience);
        let cache_stop =
            self.string_list(m, "cacheStopRequestVariables", "").into_iter().map(|(s, _)| s).collect();
        let key_options = self.cache_key(m);
        let purge_paths = self.purge(m);
        let purge_allow_from = self.purge_allow_from(m);
        let page_map = self.page_map(m);
        Some(Policy {
            source: text.to_string(),
            version: version?,
            name,
            description,
            caching_enabled,
            debug_headers,
            not_found_ttl,
            rulesets,
            rules,
            hint,
            operations,
            operation_parameters,
            default_operation: default_operation?,
            cache_stop,
            key_options,
            audience,
            purge_paths,
            purge_allow_from,
            page_map,
        })
    }

    fn version(&mut self, m: &Map<String, Value>) -> Option<u64> {
        let Some(v) = m.get("version") else {
            self.err("/", "missing required key \"version\"");
            return None;
        };
        let n = v.as_u64().filter(|n| *n > 0);
        if n.is_none() {
            self.expected("/version", "a positive integer", v);
        }
        n
    }

    fn caching(&mut self, m: &Map<String, Value>) -> (bool, bool, u64) {
        let Some(c) = self.section(m, "caching", "", &["enabled", "debugHeaders", "notFoundTtl"]) else {
            return (true, false, super::DEFAULT_NOT_FOUND_TTL);
        };
        let enabled = self.bool(c, "enabled", "/caching").unwrap_or(true);
        let debug = self.bool(c, "debugHeaders", "/caching").unwrap_or(false);
        let not_found = self.seconds(c, "notFoundTtl", "/caching").unwrap_or(super::DEFAULT_NOT_FOUND_TTL);
        (enabled, debug, not_found)
    }

    fn rulesets(&mut self, m: &Map<String, Value>) -> BTreeMap<String, RulesetInfo> {
        let mut out = BTreeMap::new();
        let Some(rs) = self.free_section(m, "rulesets", "") else {
            return out;
        };
        for (name, info) in rs {
            let p = child("/rulesets", name);
            if !is_ruleset_name(name) {
                self.err(
                    &p,
                    format!(
                        "\"{name}\" is not a valid ruleset name: use letters, digits, '.', '-', '_' and ':'"
                    ),
                );
            }
            let Some(info) = self.object(info, &p, &["title", "description"]) else {
                continue;
            };
            let title = self.string(info, "title", &p).unwrap_or(name).to_string();
            let description = self.string(info, "description", &p).unwrap_or_default().to_string();
            out.insert(name.clone(), RulesetInfo { title, description });
        }
        out
    }

    fn declared(&mut self, rulesets: &BTreeMap<String, RulesetInfo>, name: &str, path: &str) -> bool {
        let ok = rulesets.contains_key(name);
        if !ok {
            self.err(path, format!("ruleset \"{name}\" is not declared in /rulesets"));
        }
        ok
    }

    fn rules(&mut self, m: &Map<String, Value>, rulesets: &BTreeMap<String, RulesetInfo>) -> Vec<Rule> {
        let Some(v) = m.get("rules") else {
            return Vec::new();
        };
        let Some(items) = v.as_array() else {
            self.expected("/rules", "an array", v);
            return Vec::new();
        };
        let mut seen: BTreeMap<String, String> = BTreeMap::new();
        let mut rules = Vec::with_capacity(items.len());
        for (i, item) in items.iter().enumerate() {
            let p = index("/rules", i);
            let Some(r) = self.object(item, &p, &["id", "description", "ruleset", "match"]) else {
                continue;
            };
            let id = self.required_string(r, "id", &p);
            if let Some(id) = id {
                if let Some(first) = seen.get(id) {
                    self.err(&child(&p, "id"), format!("duplicate rule id \"{id}\" (first used at {first})"));
                } else {
                    seen.insert(id.to_string(), child(&p, "id"));
                }
            }
            let _ = self.string(r, "description", &p);
            let ruleset = self.required_string(r, "ruleset", &p);
            let ruleset = ruleset.filter(|name| self.declared(rulesets, name, &child(&p, "ruleset")));
            let conditions = match r.get("match") {
                Some(mv) => self.conditions(mv, &child(&p, "match")),
                None => {
                    self.err(&p, "missing required key \"match\"");
                    None
                }
            };
            if let (Some(id), Some(ruleset), Some(conditions)) = (id, ruleset, conditions) {
                rules.push(Rule { id: id.to_string(), ruleset: ruleset.to_string(), conditions });
            }
        }
        rules
    }

    fn conditions(&mut self, v: &Value, p: &str) -> Option<Conditions> {
        let m = self.object(v, p, MATCH_KEYS)?;
        if m.is_empty() {
            self.err(p, "a rule needs at least one condition");
            return None;
        }
        for (key, val) in m {
            if val.as_array().is_some_and(Vec::is_empty) {
                self.err(&child(p, key), "an empty list matches nothing; leave the key out instead");
            }
        }
        let list = |w: &mut Walker, key: &str, single: bool| w.strings(m, key, p, single).unwrap_or_default();
        let mut c = Conditions::default();
        for (s, sp) in list(self, "methods", true) {
            if is_token(&s) {
                c.methods.push(s.to_ascii_uppercase());
            } else {
                self.err(&sp, format!("\"{s}\" is not a valid method name"));
            }
        }
        for (s, sp) in list(self, "hosts", true) {
            if let Some(h) = self.host(&s, &sp) {
                c.hosts.push(h);
            }
        }
        for (key, slot) in [("path", &mut c.paths), ("pathPrefix", &mut c.path_prefixes)] {
            for (s, sp) in list(self, key, true) {
                if s.starts_with('/') {
                    slot.push(s);
                } else {
                    self.err(&sp, "a path must start with /");
                }
            }
        }
        for (s, sp) in list(self, "glob", true) {
            match Glob::new(&s) {
                Ok(g) => c.globs.push(g),
                Err(e) => self.err(&sp, e),
            }
        }
        for (s, sp) in list(self, "extensions", true) {
            let ext = s.strip_prefix('.').unwrap_or(&s);
            if ext.is_empty() || ext.contains(['/', '.']) {
                self.err(&sp, format!("\"{s}\" is not a file extension (write it as \"pdf\")"));
            } else {
                c.extensions.push(ext.to_string());
            }
        }
        for (s, sp) in list(self, "contentType", true) {
            c.content_types.push(s.trim().to_ascii_lowercase());
            if s.trim().is_empty() {
                self.err(&sp, "must not be empty");
            }
        }
        c.query = self.value_tests(m, "query", p, false);
        c.headers = self.value_tests(m, "header", p, true);
        c.cookies = self.cookie_tests(m, p);
        Some(c.with_path_bytes())
    }

    fn host(&mut self, s: &str, p: &str) -> Option<HostPattern> {
        let lower = s.to_ascii_lowercase();
        let (pattern, name) = match lower.strip_prefix("*.") {
            Some(rest) => (HostPattern::Subdomain(format!(".{rest}")), rest.to_string()),
            None => (HostPattern::Exact(lower.clone()), lower.clone()),
        };
        let ok = !name.is_empty() && name.bytes().all(|b| b.is_ascii_alphanumeric() || b"-._".contains(&b));
        if !ok {
            self.err(p, format!("\"{s}\" is not a host name (write \"example.org\" or \"*.example.org\", an internationalised name in punycode)"));
        }
        ok.then_some(pattern)
    }

    /// `{"name": true | false | "value"}` conditions.
    fn value_tests(
        &mut self,
        m: &Map<String, Value>,
        key: &str,
        p: &str,
        header: bool,
    ) -> Vec<(String, ValueTest)> {
        let Some(obj) = self.free_section(m, key, p) else {
            return Vec::new();
        };
        if obj.is_empty() {
            self.err(&child(p, key), "an empty object matches nothing; leave the key out instead");
        }
        let mut out = Vec::new();
        for (name, v) in obj {
            let vp = child(&child(p, key), name);
            if header && !self.header_name(name, &vp) {
                continue;
            }
            let test = match v {
                Value::Bool(true) => ValueTest::Present,
                Value::Bool(false) => ValueTest::Absent,
                Value::String(s) => ValueTest::Equals(s.clone()),
                other => {
                    self.expected(&vp, "true (present), false (absent) or a string (that value)", other);
                    continue;
                }
            };
            let name = if header { name.to_ascii_lowercase() } else { name.clone() };
            out.push((name, test));
        }
        out
    }

    fn cookie_tests(&mut self, m: &Map<String, Value>, p: &str) -> Vec<(String, bool)> {
        let Some(obj) = self.free_section(m, "cookie", p) else {
            return Vec::new();
        };
        let cp = child(p, "cookie");
        if obj.is_empty() {
            self.err(&cp, "an empty object matches nothing; leave the key out instead");
        }
        let mut out = Vec::new();
        for (name, v) in obj {
            match v.as_bool() {
                Some(b) => out.push((name.clone(), b)),
                None => self.expected(&child(&cp, name), "true (present) or false (absent)", v),
            }
        }
        out
    }

    fn hint(&mut self, m: &Map<String, Value>) -> Hint {
        let mut hint = Hint { header: DEFAULT_HINT_HEADER.to_ascii_lowercase(), trust: false };
        let Some(h) = self.section(m, "rulesetHint", "", &["header", "trust"]) else {
            return hint;
        };
        if let Some(name) = self.string(h, "header", "/rulesetHint") {
            if self.header_name(name, "/rulesetHint/header") {
                hint.header = name.to_ascii_lowercase();
            }
        }
        hint.trust = self.bool(h, "trust", "/rulesetHint").unwrap_or(false);
        hint
    }

    fn split_view(&mut self, m: &Map<String, Value>) -> AudienceConfig {
        let mut cfg = AudienceConfig::default();
        let keys = ["enabled", "header", "authCookies", "authCookiePrefixes", "authorizationHeader"];
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
        cfg
    }

    fn cookie_names(&mut self, m: &Map<String, Value>, key: &str, p: &str) -> Vec<String> {
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

    fn cache_key(&mut self, m: &Map<String, Value>) -> KeyOptions {
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
            if self.header_name(&name, &np) {
                k.trusted_headers.push(name.to_ascii_lowercase());
            }
        }
        k
    }

    fn param_patterns(&mut self, m: &Map<String, Value>, key: &str, p: &str) -> Vec<String> {
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

    fn purge_allow_from(&mut self, m: &Map<String, Value>) -> Vec<AddressRange> {
        let Some(s) = m.get("purge").and_then(Value::as_object) else {
            return Vec::new();
        };
        let mut out = Vec::new();
        for (text, tp) in self.string_list(s, "allowFrom", "/purge") {
            match AddressRange::parse(&text) {
                Some(r) => out.push(r),
                None => self.err(
                    &tp,
                    format!("\"{text}\" is not an IP address or network (203.0.113.7, 2001:db8::/32)"),
                ),
            }
        }
        out
    }

    fn purge(&mut self, m: &Map<String, Value>) -> Vec<String> {
        let Some(s) = self.section(m, "purge", "", &["paths", "allowFrom"]) else {
            return vec!["${path}".to_string()];
        };
        let mut out = Vec::new();
        for (t, tp) in self.string_list(s, "paths", "/purge") {
            if t.contains("${path}") {
                out.push(t);
            } else {
                self.err(&tp, "a purge path must contain ${path}");
            }
        }
        out
    }

    fn page_map(&mut self, m: &Map<String, Value>) -> BTreeMap<String, PageAction> {
        let mut out = BTreeMap::new();
        let Some(v) = m.get("pageMap") else {
            return out;
        };
        let Some(items) = v.as_array() else {
            self.expected("/pageMap", "an array", v);
            return out;
        };
        let mut first: BTreeMap<String, String> = BTreeMap::new();
        for (i, item) in items.iter().enumerate() {
            let p = index("/pageMap", i);
            let Some(e) = self.object(item, &p, &["path", "action", "to"]) else {
                continue;
            };
            let path = self.required_string(e, "path", &p).map(str::to_string);
            if let Some(path) = path.as_deref().filter(|s| !s.starts_with('/')) {
                self.err(&child(&p, "path"), format!("\"{path}\" must start with /"));
            }
            let action = self.page_entry(e, &p);
            let (Some(path), Some(action)) = (path, action) else { continue };
            if let Some(at) = first.get(&path) {
                self.err(&child(&p, "path"), format!("duplicate page-map path \"{path}\" (first at {at})"));
                continue;
            }
            first.insert(path.clone(), child(&p, "path"));
            out.insert(path, action);
        }
        out
    }

    fn page_entry(&mut self, e: &Map<String, Value>, p: &str) -> Option<PageAction> {
        let action = self.required_string(e, "action", p)?;
        let to = self.string(e, "to", p);
        let tp = child(p, "to");
        let needs_to = |w: &mut Walker| {
            if to.is_none() && !e.contains_key("to") {
                w.err(p, format!("{action} needs \"to\""));
            }
            to.filter(|t| !t.is_empty())
        };
        match action {
            "redirect301" | "redirect302" => {
                let to = needs_to(self)?;
                let ok = to.starts_with('/') || crate::http::parse_url(to).is_some();
                if !ok {
                    self.err(&tp, format!("\"{to}\" is neither a path starting with / nor an absolute URL"));
                }
                let status = if action == "redirect301" { 301 } else { 302 };
                ok.then(|| PageAction::Redirect { status, location: to.to_string() })
            }
            "gone404" | "gone410" => {
                if e.contains_key("to") {
                    self.err(&tp, format!("\"to\" does not apply to {action}"));
                }
                Some(PageAction::Gone { status: if action == "gone404" { 404 } else { 410 } })
            }
            "rewrite" => {
                let to = needs_to(self)?;
                if !to.starts_with('/') {
                    self.err(&tp, format!("\"{to}\" must be a path starting with /"));
                    return None;
                }
                Some(PageAction::Rewrite { path: to.to_string() })
            }
            other => {
                let known = "redirect301, redirect302, gone404, gone410, rewrite";
                self.err(&child(p, "action"), format!("unknown action \"{other}\"; expected one of {known}"));
                None
            }
        }
    }

    /// `/operations` and `/default`: parsed, references checked, cycles found, compiled.
    #[allow(clippy::type_complexity)]
    fn operations(
        &mut self,
        m: &Map<String, Value>,
        rulesets: &BTreeMap<String, RulesetInfo>,
        audience: &AudienceConfig,
    ) -> (BTreeMap<String, Operation>, BTreeMap<String, Value>, Option<Operation>) {
        let mut raw: BTreeMap<String, RawOp> = BTreeMap::new();
        let mut params_json = BTreeMap::new();
        if let Some(ops) = self.free_section(m, "operations", "") {
            for (name, entry) in ops {
                let p = child("/operations", name);
                self.declared(rulesets, name, &p);
                if let Some(op) = self.raw_op(entry, &p) {
                    let params = entry.get("parameters").cloned().unwrap_or_else(|| serde_json::json!({}));
                    params_json.insert(name.clone(), params);
                    raw.insert(name.clone(), op);
                }
            }
        }
        let default = match m.get("default") {
            None => Some(RawOp::plain(OperationKind::HonourOrigin)),
            Some(Value::String(s)) => self.plain_op(s, "/default"),
            Some(v) => self.raw_op(v, "/default"),
        };
        self.check_references(&raw, default.as_ref());
        let mut compiled = BTreeMap::new();
        if !self.errors.is_empty() {
            return (compiled, params_json, None);
        }
        for (name, op) in &raw {
            let mut op = resolve(op, &raw, 0);
            op.attach_audience(audience);
            compiled.insert(name.clone(), op);
        }
        let default = default.map(|d| {
            let mut op = resolve(&d, &raw, 0);
            op.attach_audience(audience);
            op
        });
        (compiled, params_json, default)
    }

    /// An operation named by a string (the short form of `/default`).
    fn plain_op(&mut self, name: &str, p: &str) -> Option<RawOp> {
        let kind = self.kind(name, p)?;
        if kind == OperationKind::Chain {
            self.err(p, "a chain needs its operations: write {\"operation\": \"chain\", \"parameters\": {\"operations\": […]}}");
            return None;
        }
        Some(RawOp::plain(kind))
    }

    fn kind(&mut self, name: &str, p: &str) -> Option<OperationKind> {
        let kind = OperationKind::from_name(name);
        if kind.is_none() {
            let known = quoted_list(OperationKind::ALL.iter().map(|k| k.name()));
            self.err(p, format!("unknown operation \"{name}\"; expected one of {known}"));
        }
        kind
    }

    fn raw_op(&mut self, v: &Value, p: &str) -> Option<RawOp> {
        let m = self.object(v, p, &["operation", "parameters"])?;
        let name = self.required_string(m, "operation", p)?;
        let kind = self.kind(name, &child(p, "operation"))?;
        let mut op = RawOp::plain(kind);
        let pp = child(p, "parameters");
        let params = match m.get("parameters") {
            Some(v) => self.map(v, &pp)?,
            None if kind == OperationKind::Chain => {
                self.err(p, "a chain needs the parameter \"operations\"");
                return None;
            }
            None => return Some(op),
        };
        for key in params.keys() {
            if kind.parameter_names().contains(&key.as_str()) {
                continue;
            }
            let known = OperationKind::ALL.iter().any(|k| k.parameter_names().contains(&key.as_str()));
            let message = if known {
                format!("the parameter \"{key}\" does not apply to {}", kind.name())
            } else {
                let all = OperationKind::ALL.iter().flat_map(|k| k.parameter_names().iter());
                match all.into_iter().find(|n| n.eq_ignore_ascii_case(key)) {
                    Some(n) => format!("unknown parameter \"{key}\" (did you mean \"{n}\"?)"),
                    None => format!("unknown parameter \"{key}\""),
                }
            };
            self.err(&child(&pp, key), message);
        }
        self.parameters(params, &pp, &mut op);
        if op.params.store_anonymous_private && !op.params.anon_only {
            // Storing a response the origin called private is only safe for the anonymous
            // side; the authenticated side must bypass.
            self.err(
                &child(&pp, "storeAnonymousPrivate"),
                "storeAnonymousPrivate needs \"anonOnly\": true, so that logged-in requests bypass the cache",
            );
        }
        if kind == OperationKind::Chain {
            op.members = self.members(params, &pp)?;
        }
        Some(op)
    }

    fn parameters(&mut self, m: &Map<String, Value>, p: &str, op: &mut RawOp) {
        let params = &mut op.params;
        if let Some(n) = self.seconds(m, "maxage", p) {
            params.maxage = Some(n);
        }
        if let Some(n) = self.seconds(m, "smaxage", p) {
            params.smaxage = Some(n);
        }
        params.stale_while_revalidate = self.seconds(m, "staleWhileRevalidate", p).unwrap_or(0);
        params.stale_if_error = self.seconds(m, "staleIfError", p).unwrap_or(0);
        let flags: [(&str, &mut bool); 9] = [
            ("shareAuthenticated", &mut params.share_authenticated),
            ("lastModified", &mut params.last_modified),
            ("ramCache", &mut params.ram_cache),
            ("anonOnly", &mut params.anon_only),
            ("persist", &mut params.persist),
            ("noStore", &mut params.no_store),
            ("stripSetCookie", &mut params.strip_set_cookie),
            ("splitView", &mut params.split_view),
            ("storeAnonymousPrivate", &mut params.store_anonymous_private),
        ];
        for (key, slot) in flags {
            if let Some(b) = self.bool(m, key, p) {
                *slot = b;
            }
        }
        if m.contains_key("etags") {
            params.etags = Some(self.etags(m, p));
        }
        if let Some(vary) = self.vary(m, p) {
            params.vary = vary;
        }
    }

    fn etags(&mut self, m: &Map<String, Value>, p: &str) -> Vec<EtagComponent> {
        let mut out = Vec::new();
        for (name, np) in self.string_list(m, "etags", p) {
            match EtagComponent::from_name(&name) {
                Some(c) if !out.contains(&c) => out.push(c),
                Some(_) => self.err(&np, format!("the ETag component \"{name}\" is listed twice")),
                None => {
                    let known = quoted_list(EtagComponent::ALL.iter().map(|c| c.name()));
                    self.err(&np, format!("unknown ETag component \"{name}\"; known components are {known}"));
                }
            }
        }
        out
    }

    /// `vary`: an array of header names, or plone's comma-separated string.
    fn vary(&mut self, m: &Map<String, Value>, p: &str) -> Option<Vec<String>> {
        let v = m.get("vary")?;
        let vp = child(p, "vary");
        let names: Vec<(String, String)> = match v {
            Value::String(s) => s.split(',').map(|n| (n.trim().to_string(), vp.clone())).collect(),
            Value::Array(_) => self.string_list(m, "vary", p),
            other => {
                self.expected(&vp, "a string or an array of header names", other);
                return None;
            }
        };
        let mut out = Vec::new();
        for (name, np) in names {
            if name == "*" {
                self.err(&np, "\"Vary: *\" would make every response uncacheable; name the headers instead");
            } else if self.header_name(&name, &np) {
                out.push(name);
            }
        }
        Some(out)
    }

    fn members(&mut self, m: &Map<String, Value>, p: &str) -> Option<Vec<RawMember>> {
        let Some(v) = m.get("operations") else {
            self.err(p, "a chain needs the parameter \"operations\"");
            return None;
        };
        let op = child(p, "operations");
        let Some(items) = v.as_array() else {
            self.expected(&op, "an array of operations", v);
            return None;
        };
        if items.is_empty() {
            self.err(&op, "a chain needs at least one operation");
            return None;
        }
        let mut out = Vec::new();
        for (i, item) in items.iter().enumerate() {
            let ip = index(&op, i);
            match item {
                Value::String(name) => out.push(RawMember::Named(name.clone(), ip)),
                Value::Object(_) => out.extend(self.raw_op(item, &ip).map(RawMember::Inline)),
                other => {
                    self.expected(&ip, "the name of an entry of /operations or an operation object", other)
                }
            }
        }
        Some(out)
    }

    /// Every named chain member must be an entry of `/operations`, and no chain may reach
    /// itself.
    fn check_references(&mut self, raw: &BTreeMap<String, RawOp>, default: Option<&RawOp>) {
        let mut refs_of: BTreeMap<&str, Vec<(&str, &str)>> = BTreeMap::new();
        for (name, op) in raw {
            let mut refs = Vec::new();
            op.references(&mut refs);
            refs_of.insert(name.as_str(), refs);
        }
        let mut dangling = Vec::new();
        if let Some(d) = default {
            d.references(&mut dangling);
        }
        for (target, at) in refs_of.values().flatten().chain(dangling.iter()) {
            if !raw.contains_key(*target) {
                self.err(at, format!("\"{target}\" is not an entry of /operations"));
            }
        }
        let mut done = BTreeSet::new();
        for name in raw.keys() {
            self.find_cycles(name, &refs_of, &mut Vec::new(), &mut done);
        }
    }

    fn find_cycles<'a>(
        &mut self,
        name: &'a str,
        refs_of: &BTreeMap<&'a str, Vec<(&'a str, &'a str)>>,
        stack: &mut Vec<&'a str>,
        done: &mut BTreeSet<&'a str>,
    ) {
        if done.contains(name) {
            return;
        }
        stack.push(name);
        for (target, at) in refs_of.get(name).into_iter().flatten() {
            if *target == name {
                self.err(at, "the chain contains itself");
            } else if let Some(pos) = stack.iter().position(|s| s == target) {
                let mut cycle: Vec<&str> = stack.iter().skip(pos).copied().collect();
                cycle.push(target);
                self.err(at, format!("the chains form a cycle: {}", cycle.join(" → ")));
            } else if refs_of.contains_key(target) {
                self.find_cycles(target, refs_of, stack, done);
            }
        }
        stack.pop();
        done.insert(name);
    }
}

impl RawOp {
    fn plain(kind: OperationKind) -> RawOp {
        RawOp { kind, params: Parameters::defaults(kind), members: Vec::new() }
    }

    /// The named members reachable without passing through another named entry.
    fn references<'a>(&'a self, out: &mut Vec<(&'a str, &'a str)>) {
        for m in &self.members {
            match m {
                RawMember::Named(name, at) => out.push((name, at)),
                RawMember::Inline(op) => op.references(out),
            }
        }
    }
}

/// Builds the compiled operation, inlining named members. Called only once references are
/// known to be acyclic; the depth guard is a second line of defence.
fn resolve(op: &RawOp, raw: &BTreeMap<String, RawOp>, depth: usize) -> Operation {
    if op.kind != OperationKind::Chain || depth > 32 {
        return Operation::with_parameters(op.kind, op.params.clone());
    }
    let members = op
        .members
        .iter()
        .filter_map(|m| match m {
            RawMember::Named(name, _) => raw.get(name).map(|r| resolve(r, raw, depth + 1)),
            RawMember::Inline(r) => Some(resolve(r, raw, depth + 1)),
        })
        .collect();
    Operation::chain(members)
}

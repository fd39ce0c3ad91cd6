//! Raw bundle → compiled [`Policy`], collecting every error with its JSON pointer.
//!
//! The bundle is parsed into a `serde_json::Value` and walked by hand, so one run reports
//! all problems (unknown keys, wrong types, undeclared rulesets, bad globs, chain cycles…)
//! instead of stopping at the first.
//!
//! Here: the walker's readers (objects, strings, ages, lists) and the top-level sections
//! (`version`, `caching`, `rulesets`); each other section has its own validator: [`rules`]
//! (`rules`, `rulesetHint`), [`keying`] (`splitView`, `cacheKey`), [`purge`] (`purge`,
//! `pageMap`) and [`operations`] (`operations`, `default`).

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{Map, Value};

use super::glob::Glob;
use super::{Hint, PageAction, Policy, PolicyError, Ruleset, RulesetId, RulesetInfo};
use crate::policy::audience::{AudienceConfig, DEFAULT_SPLIT_VIEW_HEADER};
use crate::policy::classify::{Conditions, HostPattern, Rule, ValueTest};
use crate::policy::operations::{EtagComponent, Operation, OperationKind, Parameters};
use crate::purge::auth::AddressRange;
use crate::storage::key::KeyOptions;

mod keying;
mod operations;
mod origins;
mod purge;
mod rules;

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
    "origins",
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
        let origins = self.origins(m);
        let declared: BTreeSet<String> = origins.iter().map(|o| o.name.clone()).collect();
        let (rulesets, mut ruleset_origins) = self.rulesets(m, &declared);
        let rules = self.rules(m, &rulesets, &declared);
        let hint = self.hint(m);
        let audience = self.split_view(m);
        let (mut operations, mut parameters, default_operation) = self.operations(m, &rulesets, &audience);
        let rulesets = rulesets
            .into_iter()
            .map(|(name, info)| Ruleset {
                operation: operations.remove(&name),
                parameters: parameters.remove(&name),
                origin: ruleset_origins.remove(&name),
                name,
                info,
            })
            .collect();
        let cache_stop =
            self.string_list(m, "cacheStopRequestVariables", "").into_iter().map(|(s, _)| s).collect();
        let key_options = self.cache_key(m);
        let (purge_paths, purge_aliases) = self.purge(m);
        let purge_allow_from = self.purge_allow_from(m);
        let (tag_sources, invalidation_soft) = self.purge_origin_settings(m);
        let (purge_prefixes, purge_api_traverser) = self.purge_expansion(m);
        let page_map = self.page_map(m, &declared);
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
            default_operation: default_operation?,
            cache_stop,
            key_options,
            audience,
            purge_paths,
            purge_aliases,
            purge_allow_from,
            purge_prefixes,
            purge_api_traverser,
            tag_sources,
            invalidation_soft,
            page_map,
            origins,
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

    /// The declared rulesets, and the origin each names (when it names one).
    fn rulesets(
        &mut self,
        m: &Map<String, Value>,
        origins: &BTreeSet<String>,
    ) -> (BTreeMap<String, RulesetInfo>, BTreeMap<String, String>) {
        let mut out = BTreeMap::new();
        let mut named = BTreeMap::new();
        let Some(rs) = self.free_section(m, "rulesets", "") else {
            return (out, named);
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
            let Some(info) = self.object(info, &p, &["title", "description", "origin"]) else {
                continue;
            };
            if let Some(origin) = self.origin_ref(info, &p, origins) {
                named.insert(name.clone(), origin);
            }
            let title = self.string(info, "title", &p).unwrap_or(name).to_string();
            let description = self.string(info, "description", &p).unwrap_or_default().to_string();
            out.insert(name.clone(), RulesetInfo { title, description });
        }
        if out.len() > RulesetId::MAX_RULESETS {
            self.err(
                "/rulesets",
                format!(
                    "{} rulesets are declared; at most {} are allowed",
                    out.len(),
                    RulesetId::MAX_RULESETS
                ),
            );
        }
        (out, named)
    }

    fn declared(&mut self, rulesets: &BTreeMap<String, RulesetInfo>, name: &str, path: &str) -> bool {
        let ok = rulesets.contains_key(name);
        if !ok {
            self.err(path, format!("ruleset \"{name}\" is not declared in /rulesets"));
        }
        ok
    }
}

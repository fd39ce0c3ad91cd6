//! `/rules` (classification rules and their match conditions) and `/rulesetHint`.

use super::*;

impl Walker {
    pub(super) fn rules(
        &mut self,
        m: &Map<String, Value>,
        rulesets: &BTreeMap<String, RulesetInfo>,
        origins: &BTreeSet<String>,
    ) -> Vec<Rule> {
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
            let Some(r) = self.object(item, &p, &["id", "description", "ruleset", "match", "origin"]) else {
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
            let origin = self.origin_ref(r, &p, origins);
            // The origin is chosen before the request is sent: a rule that needs the response
            // cannot choose it.
            if origin.is_some() && conditions.as_ref().is_some_and(|c| !c.content_types.is_empty()) {
                self.err(
                    &child(&p, "origin"),
                    "a rule with a contentType condition classifies the response: it cannot choose the origin that is asked",
                );
            }
            // Declared rulesets are numbered in name order, as the compiled policy keeps them.
            let ruleset_id = ruleset
                .and_then(|name| rulesets.keys().position(|k| k == name))
                .and_then(RulesetId::from_index);
            if let (Some(id), Some(ruleset), Some(ruleset_id), Some(conditions)) =
                (id, ruleset, ruleset_id, conditions)
            {
                rules.push(Rule {
                    id: id.to_string(),
                    ruleset: ruleset.to_string(),
                    ruleset_id,
                    conditions,
                    origin,
                });
            }
        }
        rules
    }

    pub(super) fn conditions(&mut self, v: &Value, p: &str) -> Option<Conditions> {
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

    pub(super) fn host(&mut self, s: &str, p: &str) -> Option<HostPattern> {
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
    pub(super) fn value_tests(
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

    pub(super) fn cookie_tests(&mut self, m: &Map<String, Value>, p: &str) -> Vec<(String, bool)> {
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

    pub(super) fn hint(&mut self, m: &Map<String, Value>) -> Hint {
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
}

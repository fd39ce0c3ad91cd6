//! `/operations` and `/default`: each operation parsed with its parameters, references
//! between entries checked, cycles found, then compiled with named members inlined.

use super::*;

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
    /// `/operations` and `/default`: parsed, references checked, cycles found, compiled.
    #[allow(clippy::type_complexity)]
    pub(super) fn operations(
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
        match m.get("globalTier") {
            None => {}
            // The global tier a response is kept in besides the location's: KV (as `persist`)
            // for small objects, R2 for large ones (files, images, video).
            Some(Value::String(t)) if t == "kv" => params.persist = true,
            Some(Value::String(t)) if t == "r2" => params.r2 = true,
            Some(Value::String(t)) => self.err(
                &child(p, "globalTier"),
                format!("unknown global tier \"{t}\"; the tiers are \"kv\" (Workers KV, values up to 25 MiB) and \"r2\" (R2, for large bodies)"),
            ),
            Some(other) => self.expected(&child(p, "globalTier"), "\"kv\" or \"r2\"", other),
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

//! `/purge` (purge paths, aliases, addresses allowed to purge, tag sources, how an unsafe
//! request's invalidations are recorded) and `/pageMap`.

use super::*;
use crate::storage::meta::TagSources;

impl Walker {
    pub(super) fn purge_allow_from(&mut self, m: &Map<String, Value>) -> Vec<AddressRange> {
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

    pub(super) fn purge(&mut self, m: &Map<String, Value>) -> (Vec<String>, Vec<Vec<String>>) {
        let keys =
            ["paths", "prefixes", "apiTraverser", "aliases", "allowFrom", "tagSources", "invalidation"];
        let Some(s) = self.section(m, "purge", "", &keys) else {
            return (vec!["${path}".to_string()], Vec::new());
        };
        let mut out = Vec::new();
        for (t, tp) in self.string_list(s, "paths", "/purge") {
            if t.contains("${path}") {
                out.push(t);
            } else {
                self.err(&tp, "a purge path must contain ${path}");
            }
        }
        (out, self.purge_aliases(s))
    }

    /// `purge.prefixes` (templates with `${path}`, each purged as a prefix) and
    /// `purge.apiTraverser` (one path segment, such as `++api++`).
    pub(super) fn purge_expansion(&mut self, m: &Map<String, Value>) -> (Vec<String>, Option<String>) {
        let Some(s) = m.get("purge").and_then(Value::as_object) else {
            return (Vec::new(), None);
        };
        let mut prefixes = Vec::new();
        for (t, tp) in self.string_list(s, "prefixes", "/purge") {
            if !t.contains("${path}") {
                self.err(&tp, "a purge prefix must contain ${path}");
            } else if t.contains('?') || t.contains('#') {
                self.err(&tp, "a purge prefix is a path: no query or fragment");
            } else {
                prefixes.push(t);
            }
        }
        let traverser = match self.string(s, "apiTraverser", "/purge") {
            None => None,
            Some(t)
                if !t.is_empty() && !t.contains(['/', '?', '#', ' ']) && !t.chars().any(char::is_control) =>
            {
                Some(t.to_owned())
            }
            Some(t) => {
                self.err(
                    "/purge/apiTraverser",
                    format!("\"{t}\" is not one path segment (such as \"++api++\")"),
                );
                None
            }
        };
        (prefixes, traverser)
    }

    /// `purge.tagSources` (the response fields tags are read from; all of them when absent)
    /// and `purge.invalidation` (`"hard"`, the default, or `"soft"`: how the invalidations an
    /// unsafe request's response carries are recorded). Returns the sources and whether
    /// invalidations are soft.
    pub(super) fn purge_origin_settings(&mut self, m: &Map<String, Value>) -> (TagSources, bool) {
        let Some(s) = m.get("purge").and_then(Value::as_object) else {
            return (TagSources::ALL, false);
        };
        let mut sources = if s.contains_key("tagSources") { TagSources::NONE } else { TagSources::ALL };
        let mut first: BTreeMap<String, String> = BTreeMap::new();
        for (name, tp) in self.string_list(s, "tagSources", "/purge") {
            let folded = name.to_ascii_lowercase();
            if let Some(at) = first.get(&folded) {
                self.err(&tp, format!("\"{name}\" is already listed at {at}"));
                continue;
            }
            if sources.enable(&name) {
                first.insert(folded, tp);
            } else {
                let known = TagSources::NAMES.join(", ");
                self.err(&tp, format!("unknown tag source \"{name}\"; expected any of {known}"));
            }
        }
        let soft = match self.string(s, "invalidation", "/purge") {
            None | Some("hard") => false,
            Some("soft") => true,
            Some(other) => {
                self.err(
                    "/purge/invalidation",
                    format!("unknown invalidation \"{other}\"; expected \"hard\" or \"soft\""),
                );
                false
            }
        };
        (sources, soft)
    }

    /// `purge.aliases`: groups of origins (`scheme://host[:port]`) that are one site.
    pub(super) fn purge_aliases(&mut self, s: &Map<String, Value>) -> Vec<Vec<String>> {
        let mut groups = Vec::new();
        let Some(v) = s.get("aliases") else { return groups };
        let Some(items) = v.as_array() else {
            self.expected("/purge/aliases", "an array of arrays of origins", v);
            return groups;
        };
        let mut seen: BTreeMap<String, String> = BTreeMap::new();
        for (i, group) in items.iter().enumerate() {
            let gp = index("/purge/aliases", i);
            let Some(list) = group.as_array() else {
                self.expected(&gp, "an array of origins", group);
                continue;
            };
            if list.len() < 2 {
                self.err(&gp, "an alias group names at least two origins");
            }
            let mut origins = Vec::new();
            for (j, item) in list.iter().enumerate() {
                let ip = index(&gp, j);
                let Some(text) = item.as_str() else {
                    self.expected(&ip, "an origin such as \"https://www.example.org\"", item);
                    continue;
                };
                match crate::purge::expand::origin_of(text) {
                    Some(origin) => {
                        if let Some(first) = seen.get(&origin) {
                            self.err(&ip, format!("\"{origin}\" is already listed at {first}"));
                            continue;
                        }
                        seen.insert(origin.clone(), ip.clone());
                        origins.push(origin);
                    }
                    None => self.err(
                        &ip,
                        format!("\"{text}\" is not an origin: write scheme and host only, as in \"https://www.example.org\""),
                    ),
                }
            }
            if origins.len() >= 2 {
                groups.push(origins);
            }
        }
        groups
    }

    pub(super) fn page_map(
        &mut self,
        m: &Map<String, Value>,
        origins: &BTreeSet<String>,
    ) -> BTreeMap<String, PageAction> {
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
            let Some(e) = self.object(item, &p, &["path", "action", "to", "origin"]) else {
                continue;
            };
            let path = self.required_string(e, "path", &p).map(str::to_string);
            if let Some(path) = path.as_deref().filter(|s| !s.starts_with('/')) {
                self.err(&child(&p, "path"), format!("\"{path}\" must start with /"));
            }
            let action = self.page_entry(e, &p, origins);
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

    pub(super) fn page_entry(
        &mut self,
        e: &Map<String, Value>,
        p: &str,
        origins: &BTreeSet<String>,
    ) -> Option<PageAction> {
        let action = self.required_string(e, "action", p)?;
        let origin = self.origin_ref(e, p, origins);
        if e.contains_key("origin") && action != "rewrite" {
            self.err(&child(p, "origin"), format!("\"origin\" does not apply to {action}"));
        }
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
                if e.contains_key("origin") && origin.is_none() {
                    return None;
                }
                Some(PageAction::Rewrite { path: to.to_string(), origin })
            }
            other => {
                let known = "redirect301, redirect302, gone404, gone410, rewrite";
                self.err(&child(p, "action"), format!("unknown action \"{other}\"; expected one of {known}"));
                None
            }
        }
    }
}

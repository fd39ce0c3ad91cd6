//! `/__origin/…`: bump content versions, override answers (status, drop, delay), read and
//! reset the counters.

use super::*;

impl Site {
    pub(super) fn control(&self, req: &Request) -> Response {
        // `+` stays literal here: paths such as `/++resource++demo/style.css` are passed as is.
        let params = Params::parse(&req.query, false);
        let json_resp = |status: u16, v: Value| Response::text(status, JSON, format!("{v}\n"));
        let bad = |msg: &str| json_resp(400, json!({ "error": msg }));
        let post = req.method == "POST";
        match req.path.as_str() {
            "/__origin/hits" => {
                if !is_get_or_head(req) {
                    return method_not_allowed("GET, HEAD");
                }
                let state = self.lock();
                let c = |c: &Counter| (c.hits, c.conditional, c.not_modified);
                if let Some(path) = params.get("path") {
                    let (hits, conditional, not_modified) =
                        state.counters.get(path).map(c).unwrap_or_default();
                    json_resp(
                        200,
                        json!({"path": path, "hits": hits, "conditional": conditional, "not_modified": not_modified}),
                    )
                } else if let Some(prefix) = params.get("prefix") {
                    let (mut hits, mut conditional, mut not_modified) = (0u64, 0u64, 0u64);
                    for counter in
                        state.counters.iter().filter(|(p, _)| p.starts_with(prefix)).map(|(_, v)| v)
                    {
                        hits += counter.hits;
                        conditional += counter.conditional;
                        not_modified += counter.not_modified;
                    }
                    json_resp(
                        200,
                        json!({"prefix": prefix, "hits": hits, "conditional": conditional, "not_modified": not_modified}),
                    )
                } else {
                    let all: serde_json::Map<String, Value> = state
                        .counters
                        .iter()
                        .map(|(p, v)| {
                            (
                                p.clone(),
                                json!({"hits": v.hits, "conditional": v.conditional, "not_modified": v.not_modified}),
                            )
                        })
                        .collect();
                    json_resp(200, json!({ "paths": all }))
                }
            }
            "/__origin/bump" => {
                if !post {
                    return method_not_allowed("POST");
                }
                let Some(path) = params.get("path") else { return bad("path is required") };
                let key = version_key(path);
                let mut state = self.lock();
                let v = state.versions.entry(key.clone()).or_insert(1);
                *v = v.saturating_add(1);
                json_resp(200, json!({"path": key, "version": *v}))
            }
            "/__origin/override" => {
                if !post {
                    return method_not_allowed("POST");
                }
                let Some(path) = params.get("path") else { return bad("path is required") };
                if params.flag("clear") {
                    self.lock().overrides.remove(path);
                    return json_resp(200, json!({"path": path, "override": null}));
                }
                let mut o = Override { drop: params.flag("drop"), ..Override::default() };
                if let Some(s) = params.get("status") {
                    match s.parse::<u16>() {
                        Ok(s) if (200..=599).contains(&s) => o.status = Some(s),
                        _ => return bad("status must be 200..599"),
                    }
                }
                if let Some(d) = params.get("delay_ms") {
                    match d.parse::<u64>() {
                        Ok(d) => o.delay_ms = d.min(MAX_DELAY_MS),
                        Err(_) => return bad("delay_ms must be a number"),
                    }
                }
                if o.status.is_none() && !o.drop && o.delay_ms == 0 {
                    return bad("give status=N, drop=1, delay_ms=N or clear=1");
                }
                self.lock().overrides.insert(path.to_string(), o);
                json_resp(
                    200,
                    json!({"path": path, "override": {"status": o.status, "drop": o.drop, "delay_ms": o.delay_ms}}),
                )
            }
            "/__origin/reset" => {
                if !post {
                    return method_not_allowed("POST");
                }
                *self.lock() = State::default();
                json_resp(200, json!({"reset": true}))
            }
            _ => json_resp(404, json!({"error": "unknown control endpoint"})),
        }
    }
}

//! `rulecache`: check and explain policy bundles, and push or roll back the policy of a
//! deployed worker.
//!
//! ```text
//! rulecache check FILE…
//! rulecache explain FILE METHOD URL [--cookie 'a=b'] [--header 'Name: value']
//! rulecache push URL FILE
//! rulecache rollback URL VERSION
//! rulecache purge URL [--soft] [--wait] [--timeout SECONDS] TARGET…
//! rulecache stats URL [--json]
//! ```
//!
//! `push` and `rollback` authenticate with the admin secret (a value of the worker's
//! `ADMIN_SECRET`) from `RULECACHE_SECRET`; `purge` with the purge secret or the admin one, `stats` with the stats secret or the admin one.

fn main() {
    std::process::exit(cli::run(std::env::args().skip(1).collect()));
}

mod cli {
    use rulecache::flow::explain::Explain;
    use rulecache::http::{Headers, RequestHead, ResponseHead};
    use rulecache::policy::{PageAction, Policy};
    use rulecache::rfc::freshness::EdgeStorage;

    const USAGE: &str = "usage:
  rulecache check FILE…
  rulecache explain FILE METHOD URL [--cookie 'a=b'] [--header 'Name: value']
  rulecache push URL FILE        (admin secret from RULECACHE_SECRET)
  rulecache rollback URL VERSION (admin secret from RULECACHE_SECRET)
  rulecache purge URL [--soft] [--wait] [--timeout SECONDS] TARGET…
                                 (purge secret from RULECACHE_SECRET; TARGET: a path or URL,
                                 tag:NAME or prefix:/PATH; --wait: until every location active
                                 in the last 5 minutes has applied it, 60 s at most)
  rulecache stats URL [--json]   (the fleet's figures; stats secret from RULECACHE_SECRET)";

    /// Runs the command line; returns the exit status.
    pub fn run(args: Vec<String>) -> i32 {
        let words: Vec<&str> = args.iter().map(String::as_str).collect();
        let result = match words.as_slice() {
            ["check", files @ ..] if !files.is_empty() => Ok(check(files)),
            ["explain", rest @ ..] => explain(rest),
            ["push", url, file] => push(url, file),
            ["rollback", url, version] => rollback(url, version),
            ["purge", url, rest @ ..] if !rest.is_empty() => purge(url, rest),
            ["stats", url] => stats(url, false),
            ["stats", url, "--json"] => stats(url, true),
            _ => Err(USAGE.to_string()),
        };
        match result {
            Ok(code) => code,
            Err(message) => {
                eprintln!("{message}");
                2
            }
        }
    }

    fn read(file: &str) -> Result<String, String> {
        std::fs::read_to_string(file).map_err(|e| format!("{file}: cannot read: {e}"))
    }

    /// Validates every file; prints each error as `FILE: /path: message`.
    fn check(files: &[&str]) -> i32 {
        let mut failed = false;
        for file in files {
            let text = match read(file) {
                Ok(t) => t,
                Err(e) => {
                    println!("{e}");
                    failed = true;
                    continue;
                }
            };
            match Policy::from_json(&text) {
                Ok(p) => println!("{file}: ok ({}, version {})", p.name(), p.version()),
                Err(errors) => {
                    failed = true;
                    for e in errors {
                        println!("{file}: {}: {}", e.path, e.message);
                    }
                }
            }
        }
        i32::from(failed)
    }

    fn load(file: &str) -> Result<Policy, String> {
        Policy::from_json(&read(file)?).map_err(|errors| {
            let lines: Vec<String> =
                errors.iter().map(|e| format!("{file}: {}: {}", e.path, e.message)).collect();
            lines.join("\n")
        })
    }

    /// Builds the request of `explain` from its arguments.
    fn request(args: &[&str]) -> Result<RequestHead, String> {
        let (method, url) = match args {
            [m, u, ..] => (m, u),
            _ => return Err(USAGE.to_string()),
        };
        let mut headers = Headers::new();
        let mut rest = args.iter().skip(2).copied();
        while let Some(flag) = rest.next() {
            let value = rest.next().ok_or_else(|| format!("{flag} needs a value"))?;
            match flag {
                "--cookie" => headers.append("cookie", value),
                "--header" => {
                    let (name, v) = value.split_once(':').ok_or("--header takes 'Name: value'")?;
                    headers.append(name.trim(), v.trim());
                }
                other => return Err(format!("unknown option {other}\n{USAGE}")),
            }
        }
        RequestHead::parse(method, url, headers).ok_or_else(|| format!("{url} is not an absolute URL"))
    }

    /// The origin response `explain` imagines: a plain 200 with validators.
    fn sample_response() -> ResponseHead {
        ResponseHead::new(
            200,
            Headers::from_pairs([
                ("content-type", "text/html; charset=utf-8"),
                ("etag", "\"abc123\""),
                ("last-modified", "Thu, 01 Jan 2026 00:00:00 GMT"),
                ("cache-control", "max-age=0"),
            ]),
        )
    }

    fn explain(args: &[&str]) -> Result<i32, String> {
        let file = args.first().ok_or(USAGE)?;
        let policy = load(file)?;
        let req = request(args.get(1..).unwrap_or_default())?;
        println!("policy:        {} (version {})", policy.name(), policy.version());
        println!("request:       {} {}", req.method, req.url);
        // The same explanation the admin API gives, with nothing stored and a sample response.
        let x =
            Explain::start(&policy, req, now_millis()).finish(&policy, None, sample_response(), now_millis());
        if let Some(action) = &x.page_map {
            println!("page map:      {}", describe_page_action(action));
            if !matches!(action, PageAction::Rewrite { .. }) {
                return Ok(0);
            }
        }
        match &x.named_origin_url {
            Some(url) => println!("origin:        {} ({url})", x.origin),
            None => println!("origin:        default (ORIGIN) {}", x.origin_path),
        }
        println!("audience:      {}", if x.audience == "anon" { "anonymous" } else { "authenticated" });
        let split = policy
            .split_view_header()
            .and_then(|h| x.request_headers_to_origin.get(h).map(|v| format!("{h}: {v}")));
        println!("to origin:     {}", split.unwrap_or_else(|| "(no split-view header)".to_string()));
        let rule = match &x.ruleset {
            Some(r) => format!("{r} (rule {})", x.rule.as_deref().unwrap_or("origin hint")),
            None => "(unclassified)".to_string(),
        };
        println!("ruleset:       {rule}");
        let op = policy.operation_named(x.ruleset.as_deref());
        println!("operation:     {}", x.operation);
        if !x.chain.is_empty() {
            println!("chain:         {}", x.chain.join(", "));
        }
        println!("bypass:        {}", x.bypass.unwrap_or("none"));
        println!("edge storage:  {}", describe_storage(op.storage()));
        println!("ram cache:     {}   persist: {}", op.ram_cache(), op.persist());
        println!("downstream (for a 200 with an ETag and Last-Modified):");
        for (name, value) in x.response_headers.iter() {
            if !name.eq_ignore_ascii_case("cache-status") {
                println!("  {name}: {value}");
            }
        }
        Ok(0)
    }

    fn describe_storage(s: EdgeStorage) -> String {
        match s {
            EdgeStorage::HonourOrigin => "honour the origin's headers (RFC 9111 shared cache)".to_string(),
            EdgeStorage::DontStore => "do not store".to_string(),
            EdgeStorage::Store { ttl, stale_while_revalidate, stale_if_error } => format!(
                "store, fresh for {ttl}s (stale-while-revalidate {stale_while_revalidate}s, stale-if-error {stale_if_error}s)"
            ),
        }
    }

    fn describe_page_action(a: &PageAction) -> String {
        match a {
            PageAction::Redirect { status, location } => format!("{status} redirect to {location}"),
            PageAction::Gone { status } => format!("answered with {status}"),
            PageAction::Rewrite { path, origin: None } => format!("rewritten to origin path {path}"),
            PageAction::Rewrite { path, origin: Some(origin) } => {
                format!("served from origin {origin} at {path}")
            }
        }
    }

    #[allow(clippy::disallowed_methods)] // the command line is not the core: it may read the clock
    fn now_millis() -> u64 {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
            .unwrap_or(0)
    }

    fn secret() -> Result<String, String> {
        std::env::var("RULECACHE_SECRET")
            .ok()
            .filter(|s| !s.is_empty())
            .ok_or_else(|| "RULECACHE_SECRET is not set".to_string())
    }

    /// POSTs `body` to the admin API; returns the status and the response body.
    fn post(url: &str, body: &str) -> Result<(u16, String), String> {
        let secret = secret()?;
        let agent: ureq::Agent = ureq::Agent::config_builder().http_status_as_error(false).build().into();
        let mut resp = agent
            .post(url)
            .header("Authorization", &format!("Bearer {secret}"))
            .header("Content-Type", "application/json")
            .send(body)
            .map_err(|e| format!("{url}: {e}"))?;
        let status = resp.status().as_u16();
        let text = resp.body_mut().read_to_string().map_err(|e| format!("{url}: {e}"))?;
        Ok((status, text))
    }

    /// GETs an admin API URL; returns the status and the response body.
    fn get(url: &str) -> Result<(u16, String), String> {
        let secret = secret()?;
        let agent: ureq::Agent = ureq::Agent::config_builder().http_status_as_error(false).build().into();
        let mut resp = agent
            .get(url)
            .header("Authorization", &format!("Bearer {secret}"))
            .call()
            .map_err(|e| format!("{url}: {e}"))?;
        let status = resp.status().as_u16();
        let text = resp.body_mut().read_to_string().map_err(|e| format!("{url}: {e}"))?;
        Ok((status, text))
    }

    /// `purge`: sends the purge; with `--wait`, reads its receipt until every active location
    /// has applied it (exit 0) or the timeout passes (exit 3, naming the locations that have
    /// not).
    fn purge(base: &str, args: &[&str]) -> Result<i32, String> {
        let (mut soft, mut wait, mut timeout_s) = (false, false, 60u64);
        let (mut urls, mut tags, mut prefixes) = (Vec::new(), Vec::new(), Vec::new());
        let mut rest = args.iter();
        while let Some(arg) = rest.next() {
            match *arg {
                "--soft" => soft = true,
                "--wait" => wait = true,
                "--timeout" => {
                    let v = rest.next().ok_or("--timeout needs a number of seconds")?;
                    timeout_s = v.parse().map_err(|_| format!("--timeout {v}: not a number of seconds"))?;
                }
                t if t.starts_with("tag:") => tags.push(t.trim_start_matches("tag:").to_string()),
                t if t.starts_with("prefix:") => prefixes.push(t.trim_start_matches("prefix:").to_string()),
                t if t.starts_with('/') || t.starts_with("http://") || t.starts_with("https://") => {
                    urls.push(t.to_string())
                }
                t => {
                    return Err(format!("{t}: a target is a path or URL, tag:NAME or prefix:/PATH\n{USAGE}"))
                }
            }
        }
        if urls.is_empty() && tags.is_empty() && prefixes.is_empty() {
            return Err(format!("nothing to purge\n{USAGE}"));
        }
        let root = base.trim_end_matches('/');
        let body = serde_json::json!({ "urls": urls, "tags": tags, "prefixes": prefixes, "soft": soft });
        let (status, text) = post(&format!("{root}/_rulecache/api/purge"), &body.to_string())?;
        let answer: serde_json::Value = serde_json::from_str(&text).unwrap_or(serde_json::Value::Null);
        if !(200..300).contains(&status) {
            println!("HTTP {status}: {text}");
            return Ok(1);
        }
        let Some(id) = answer.get("id").and_then(|v| v.as_str()).map(str::to_string) else {
            println!("purged here; not recorded in the ledger yet: {text}");
            return Ok(if wait { 3 } else { 0 });
        };
        println!("purge {id} recorded");
        if !wait {
            return Ok(0);
        }
        let started = now_millis();
        let mut last = serde_json::Value::Null;
        while now_millis().saturating_sub(started) < timeout_s * 1000 {
            let (status, text) = get(&format!("{root}/_rulecache/api/purges/{id}"))?;
            if status == 200 {
                last = serde_json::from_str(&text).unwrap_or(serde_json::Value::Null);
                if last.get("appliedEverywhere").and_then(|v| v.as_bool()) == Some(true) {
                    let n = last.get("locations").and_then(|l| l.as_array()).map_or(0, |l| {
                        l.iter().filter(|x| x.get("active").and_then(|a| a.as_bool()) == Some(true)).count()
                    });
                    println!(
                        "applied everywhere: {n} active location(s), {} ms after it was sent",
                        now_millis() - started
                    );
                    return Ok(0);
                }
            } else if status != 404 && status != 503 {
                println!("HTTP {status}: {text}");
                return Ok(1);
            }
            std::thread::sleep(std::time::Duration::from_millis(500));
        }
        let pending: Vec<String> = last
            .get("pending")
            .and_then(|p| p.as_array())
            .map(|p| p.iter().filter_map(|x| x.as_str().map(str::to_string)).collect())
            .unwrap_or_default();
        if pending.is_empty() {
            println!(
                "not confirmed within {timeout_s} s: no location active in the last 5 minutes has reported"
            );
        } else {
            println!("not applied within {timeout_s} s at: {}", pending.join(", "));
        }
        Ok(3)
    }

    /// `stats`: the fleet's figures, as a table per ruleset (or the endpoint's JSON).
    fn stats(base: &str, json: bool) -> Result<i32, String> {
        let (status, text) = get(&format!("{}/_rulecache/api/stats/fleet", base.trim_end_matches('/')))?;
        if status != 200 {
            println!("HTTP {status}: {text}");
            return Ok(1);
        }
        if json {
            println!("{text}");
            return Ok(0);
        }
        let v: serde_json::Value =
            serde_json::from_str(&text).map_err(|e| format!("not the fleet's figures: {e}"))?;
        print!("{}", stats_table(&v));
        Ok(0)
    }

    /// The fleet's figures as text: one line per ruleset, then the totals, the origin's
    /// latency and the locations.
    pub fn stats_table(v: &serde_json::Value) -> String {
        use std::fmt::Write;
        let n = |x: &serde_json::Value, k: &str| x.get(k).and_then(serde_json::Value::as_u64).unwrap_or(0);
        let mut out = String::new();
        let _ = writeln!(
            out,
            "{:<32} {:>9} {:>9} {:>9} {:>9} {:>9} {:>7}  bypass reasons / not stored",
            "ruleset", "requests", "hits", "stale", "misses", "bypass", "hit %"
        );
        let line = |out: &mut String, name: &str, c: &serde_json::Value| {
            let requests: u64 = [
                "hits",
                "stale",
                "misses",
                "revalidated304",
                "revalidated200",
                "bypass",
                "errors",
                "synthetic",
            ]
            .iter()
            .map(|k| n(c, k))
            .sum();
            let from_cache = n(c, "hits") + n(c, "stale") + n(c, "revalidated304");
            let ratio = if requests == 0 {
                "-".to_string()
            } else {
                format!("{:.1}", 100.0 * from_cache as f64 / requests as f64)
            };
            let reasons = |k: &str| {
                c.get(k)
                    .and_then(serde_json::Value::as_object)
                    .map(|m| {
                        m.iter()
                            .map(|(r, x)| format!("{r} {}", x.as_u64().unwrap_or(0)))
                            .collect::<Vec<_>>()
                            .join(", ")
                    })
                    .unwrap_or_default()
            };
            let _ = writeln!(
                out,
                "{:<32} {:>9} {:>9} {:>9} {:>9} {:>9} {:>7}  {} / {}",
                name,
                requests,
                n(c, "hits"),
                n(c, "stale"),
                n(c, "misses"),
                n(c, "bypass"),
                ratio,
                reasons("bypassReasons"),
                reasons("notStored")
            );
        };
        if let Some(rulesets) = v.get("rulesets").and_then(serde_json::Value::as_object) {
            for (name, c) in rulesets {
                line(&mut out, name, c);
            }
        }
        if let Some(total) = v.get("totals") {
            line(&mut out, "(all)", total);
        }
        if let Some(l) = v.get("originLatencyMs") {
            let q = |k: &str| {
                l.get(k).and_then(serde_json::Value::as_f64).map_or("-".to_string(), |x| format!("{x:.0} ms"))
            };
            let _ = writeln!(
                out,
                "origin latency: p50 {}, p95 {}, p99 {} ({} answers)",
                q("p50"),
                q("p95"),
                q("p99"),
                n(l, "count")
            );
        }
        if let Some(locations) = v.get("locations").and_then(serde_json::Value::as_object) {
            let list: Vec<String> = locations
                .iter()
                .map(|(name, s)| {
                    format!("{name} ({} requests, {} isolates)", n(s, "requests"), n(s, "isolates"))
                })
                .collect();
            let _ = writeln!(out, "locations: {}", list.join(", "));
        }
        out
    }

    fn api(base: &str, tail: &str) -> String {
        format!("{}/_rulecache/api/policy{tail}", base.trim_end_matches('/'))
    }

    /// Prints the server's answer: the version, or its error list.
    fn report(status: u16, body: &str, what: &str) -> i32 {
        let json: serde_json::Value = serde_json::from_str(body).unwrap_or(serde_json::Value::Null);
        if (200..300).contains(&status) {
            match json.get("version") {
                Some(v) => println!("{what}: version {v}"),
                None => println!("{what}: {body}"),
            }
            return 0;
        }
        match json.get("errors").and_then(|e| e.as_array()) {
            Some(errors) => {
                for e in errors {
                    let path = e.get("path").and_then(|p| p.as_str()).unwrap_or("/");
                    let message = e.get("message").and_then(|m| m.as_str()).unwrap_or("");
                    println!("{path}: {message}");
                }
            }
            None => println!("HTTP {status}: {body}"),
        }
        1
    }

    fn push(base: &str, file: &str) -> Result<i32, String> {
        let text = read(file)?;
        let (status, body) = post(&api(base, ""), &text)?;
        Ok(report(status, &body, "pushed"))
    }

    fn rollback(base: &str, version: &str) -> Result<i32, String> {
        let v: u64 = version.parse().map_err(|_| format!("{version} is not a version number"))?;
        let (status, body) = post(&api(base, "/rollback"), &serde_json::json!({ "version": v }).to_string())?;
        Ok(report(status, &body, "rolled back"))
    }
}

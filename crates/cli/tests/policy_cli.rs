//! The `rulecache` command line: check, explain, push and rollback, as a user sees them.
#![allow(clippy::expect_used, clippy::indexing_slicing)] // tests may panic

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::process::{Command, Output};
use std::thread;
use std::time::Duration;

const BIN: &str = env!("CARGO_BIN_EXE_rulecache");
/// The repository root (the CLI is run from there, as an operator would).
const ROOT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../..");

fn run(args: &[&str], secret: Option<&str>) -> Output {
    let mut cmd = Command::new(BIN);
    cmd.args(args).current_dir(ROOT).env_remove("RULECACHE_SECRET");
    for proxy in ["http_proxy", "HTTP_PROXY", "https_proxy", "HTTPS_PROXY", "all_proxy", "ALL_PROXY"] {
        cmd.env_remove(proxy);
    }
    if let Some(s) = secret {
        cmd.env("RULECACHE_SECRET", s);
    }
    cmd.output().expect("run rulecache")
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

#[test]
fn check_reports_ok_or_every_error_with_the_file_name() {
    let o = run(&["check", "policy/with-caching-proxy.json", "policy/without-caching-proxy.json"], None);
    assert_eq!(o.status.code(), Some(0));
    assert_eq!(
        stdout(&o),
        "policy/with-caching-proxy.json: ok (with-caching-proxy, version 1)\n\
         policy/without-caching-proxy.json: ok (without-caching-proxy, version 1)\n"
    );
    let bad = "crates/core/tests/fixtures/policy/invalid/undeclared-rulesets.json";
    let o = run(&["check", "policy/with-caching-proxy.json", bad], None);
    assert_eq!(o.status.code(), Some(1));
    assert_eq!(
        stdout(&o),
        format!(
            "policy/with-caching-proxy.json: ok (with-caching-proxy, version 1)\n\
             {bad}: /rules/0/ruleset: ruleset \"plone.content.feed\" is not declared in /rulesets\n\
             {bad}: /rules/1: missing required key \"ruleset\"\n\
             {bad}: /operations/plone.content.file: ruleset \"plone.content.file\" is not declared in /rulesets\n"
        )
    );
    assert_eq!(run(&["check"], None).status.code(), Some(2), "usage error");
}

#[test]
fn explain_shows_the_decision_for_a_url() {
    let profile = "policy/with-caching-proxy-splitviews.json";
    let o = run(
        &["explain", profile, "GET", "https://example.org/news/item-1", "--header", "X-Anonymous: 1"],
        None,
    );
    assert_eq!(o.status.code(), Some(0));
    let out = stdout(&o);
    for line in [
        "audience:      anonymous",
        "to origin:     x-anonymous: 1",
        "origin:        default (ORIGIN) /news/item-1",
        "ruleset:       plone.content.itemView (rule item-views)",
        "operation:     moderateCaching",
        "bypass:        none",
        "edge storage:  store, fresh for 3600s (stale-while-revalidate 0s, stale-if-error 0s)",
        "  cache-control: max-age=0, s-maxage=3600, must-revalidate",
        "  vary: X-Anonymous",
    ] {
        assert!(out.lines().any(|l| l == line), "missing {line:?} in\n{out}");
    }
    let o = run(&["explain", profile, "GET", "https://example.org/news", "--cookie", "__ac=abc"], None);
    let out = stdout(&o);
    assert!(out.contains("audience:      authenticated\n"), "{out}");
    assert!(out.contains("to origin:     (no split-view header)\n"), "{out}");
    assert!(out.contains("bypass:        anon-only\n"), "{out}");
    let o = run(&["explain", profile, "GET", "https://example.org/t/x?SearchableText=a"], None);
    let out = stdout(&o);
    assert!(
        out.contains("ruleset:       (unclassified)\n") && out.contains("bypass:        cache-stop\n"),
        "{out}"
    );
}

/// A one-request HTTP server answering `status` with `body`; returns its base URL and a
/// handle yielding the request it received.
fn one_shot_server(status: &str, body: &'static str) -> (String, thread::JoinHandle<String>) {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let base = format!("http://{}", listener.local_addr().expect("addr"));
    let status = status.to_string();
    listener.set_nonblocking(true).expect("nonblocking");
    let handle = thread::spawn(move || {
        // Give up after about 20 s rather than hang the suite if the command never calls.
        let mut attempts = 0;
        let stream = loop {
            match listener.accept() {
                Ok((stream, _)) => break stream,
                Err(_) if attempts < 2000 => {
                    attempts += 1;
                    thread::sleep(Duration::from_millis(10));
                }
                Err(e) => panic!("no request arrived: {e}"),
            }
        };
        stream.set_nonblocking(false).expect("blocking");
        let mut reader = BufReader::new(stream.try_clone().expect("clone"));
        let mut head = String::new();
        let mut length = 0usize;
        loop {
            let mut line = String::new();
            reader.read_line(&mut line).expect("read");
            if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                length = v.trim().parse().expect("length");
            }
            head.push_str(&line);
            if line == "\r\n" || line.is_empty() {
                break;
            }
        }
        let mut content = vec![0u8; length];
        reader.read_exact(&mut content).expect("body");
        let mut stream = stream;
        let reply = format!(
            "HTTP/1.1 {status}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        );
        stream.write_all(reply.as_bytes()).expect("reply");
        head + &String::from_utf8_lossy(&content)
    });
    (base, handle)
}

#[test]
fn push_sends_the_bundle_with_the_secret_and_prints_the_new_version() {
    let (base, server) = one_shot_server("200 OK", r#"{"version": 5}"#);
    let o = run(&["push", &base, "policy/with-caching-proxy.json"], Some("s3cret"));
    let request = server.join().expect("server");
    assert_eq!(o.status.code(), Some(0), "{}", String::from_utf8_lossy(&o.stderr));
    assert_eq!(stdout(&o), "pushed: version 5\n");
    assert!(request.starts_with("POST /_rulecache/api/policy HTTP/1.1\r\n"), "{request}");
    assert!(request.to_ascii_lowercase().contains("authorization: bearer s3cret\r\n"), "{request}");
    let bundle = std::fs::read_to_string(format!("{ROOT}/policy/with-caching-proxy.json")).expect("bundle");
    assert!(request.ends_with(&bundle));
    assert!(!stdout(&o).contains("s3cret") && !String::from_utf8_lossy(&o.stderr).contains("s3cret"));
}

#[test]
fn a_refused_push_prints_the_servers_errors() {
    let (base, server) = one_shot_server(
        "422 Unprocessable Entity",
        r#"{"errors": [{"path": "/rules/0/glob", "message": "a glob must start with /"}]}"#,
    );
    let o = run(&["push", &format!("{base}/"), "policy/with-caching-proxy.json"], Some("s3cret"));
    server.join().expect("server");
    assert_eq!(o.status.code(), Some(1));
    assert_eq!(stdout(&o), "/rules/0/glob: a glob must start with /\n");
}

#[test]
fn rollback_posts_the_version() {
    let (base, server) = one_shot_server("200 OK", r#"{"version": 3}"#);
    let o = run(&["rollback", &base, "3"], Some("s3cret"));
    let request = server.join().expect("server");
    assert_eq!(stdout(&o), "rolled back: version 3\n");
    assert!(request.starts_with("POST /_rulecache/api/policy/rollback HTTP/1.1\r\n"), "{request}");
    assert!(request.ends_with(r#"{"version":3}"#), "{request}");
}

#[test]
fn push_without_a_secret_refuses_to_run() {
    let o = run(&["push", "http://127.0.0.1:9", "policy/with-caching-proxy.json"], None);
    assert_eq!(o.status.code(), Some(2));
    assert_eq!(String::from_utf8_lossy(&o.stderr), "RULECACHE_SECRET is not set\n");
    let o = run(&["rollback", "http://127.0.0.1:9", "three"], Some("x"));
    assert_eq!(String::from_utf8_lossy(&o.stderr), "three is not a version number\n");
}

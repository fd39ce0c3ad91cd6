//! The edge reads the audience at least as conservatively as any origin: whenever ZPublisher,
//! Python's `http.cookies`, Node's `cookie` or a lenient parser sees a non-empty auth cookie in
//! a `Cookie` field, the edge sees an authenticated request. Randomised over fields built from
//! the pieces that make parsers disagree (separators, quotes, escapes, look-alike names).

use rulecache::http::Headers;
use rulecache::policy::audience::AudienceConfig;
use rulecache::policy::Policy;
use rulecache::storage::key::Audience;
use rulecache::testing::cookie_parsers::{sees_auth, PARSERS};
use rulecache::testing::XorShift;

const PIECES: &[&str] = &[
    "__ac",
    "__AC",
    "__ac_name",
    "__acx",
    "x__ac",
    "%5F%5Fac",
    "statusmessages",
    "a",
    "b",
    "_ZopeId",
    "path",
    "$Version",
    "=",
    "==",
    ";",
    "; ",
    ",",
    ", ",
    " ",
    "\t",
    "\"",
    "\"\"",
    "\\",
    "tok",
    "1",
    "%20",
    "é",
    ":",
    "(",
    "Wed, 09 Jun 2021 10:18:14 GMT",
];

fn field(rng: &mut XorShift) -> String {
    let n = 1 + rng.below(12);
    (0..n).map(|_| PIECES.get(rng.below(PIECES.len())).copied().unwrap_or("")).collect()
}

fn configs() -> Vec<AudienceConfig> {
    let mut out =
        vec![AudienceConfig { auth_cookie_prefixes: vec!["__ac_".into()], ..AudienceConfig::default() }];
    for (id, _) in Policy::profiles() {
        if let Some(p) = Policy::bundled(id) {
            out.push(p.audience_config().clone());
        }
    }
    out
}

fn check(cfg: &AudienceConfig, header: &str) {
    let h = Headers::from_pairs([("cookie", header)]);
    let edge = cfg.audience(&h);
    for (name, parse) in PARSERS {
        if sees_auth(cfg, &parse(header)) {
            assert_eq!(
                edge,
                Audience::Authenticated,
                "{name} sees an auth cookie in {header:?}, the edge does not"
            );
        }
    }
}

#[test]
fn known_disagreements_between_parsers_are_all_authenticated() {
    let cfg = &configs()[0];
    for header in [
        "a=\"1\", __ac=tok",
        "a=1, __ac=tok",
        "a=1 __ac=tok",
        "a=\"x;__ac=tok\"",
        "x,__ac=tok",
        "a=\"x\"__ac=tok",
        "%5F%5Fac=tok",
        "__ac=\"\"\"",
        "__ac=\"\"x",
        "__ac= , x",
    ] {
        let h = Headers::from_pairs([("cookie", header)]);
        let seen: Vec<&str> =
            PARSERS.iter().filter(|(_, p)| sees_auth(cfg, &p(header))).map(|(n, _)| *n).collect();
        assert!(!seen.is_empty(), "no parser sees a login in {header:?}: the case tests nothing");
        assert_eq!(cfg.audience(&h), Audience::Authenticated, "{header:?} (seen by {seen:?})");
    }
}

#[test]
fn ordinary_cookies_stay_anonymous() {
    let cfg = &configs()[0];
    for header in ["_ga=GA1.2.3; lang=en", "x__ac=1", "__ac=\"\"", "__ac=; statusmessages=", "a=b c=d"] {
        let h = Headers::from_pairs([("cookie", header)]);
        assert_eq!(cfg.audience(&h), Audience::Anonymous, "{header:?}");
    }
}

#[test]
fn the_edge_sees_every_login_any_parser_sees() {
    let mut rng = XorShift(0x5eed_c00c);
    let configs = configs();
    for _ in 0..30_000 {
        let header = field(&mut rng);
        for cfg in &configs {
            check(cfg, &header);
        }
    }
}

#[test]
fn two_cookie_fields_joined_by_the_runtime_are_read_as_any_parser_reads_the_join() {
    let mut rng = XorShift(77);
    let cfg = &configs()[0];
    for _ in 0..8_000 {
        let (a, b) = (field(&mut rng), field(&mut rng));
        let two = Headers::from_pairs([("cookie", a.as_str()), ("cookie", b.as_str())]);
        let joined = format!("{a}, {b}");
        for (name, parse) in PARSERS {
            if sees_auth(cfg, &parse(&joined)) || sees_auth(cfg, &parse(&a)) || sees_auth(cfg, &parse(&b)) {
                assert_eq!(cfg.audience(&two), Audience::Authenticated, "{name}: {a:?} + {b:?}");
            }
        }
    }
}

//! The key module's unit tests.
#![allow(clippy::disallowed_methods)] // the tests check what the parser itself makes of inputs

use super::*;
use crate::http::Headers;
use crate::storage::key::Audience;
use crate::testing::XorShift;

fn key(url: &str) -> String {
    key_with(url, &KeyOptions::default())
}

fn key_with(url: &str, opts: &KeyOptions) -> String {
    let parsed = crate::http::parse_url(url).unwrap_or_else(|| panic!("{url}"));
    primary_key(&parsed, opts).into_string()
}

fn pk(key: &str) -> PrimaryKey {
    PrimaryKey::from_stored(key)
}

fn headers(pairs: &[(&str, &str)]) -> Headers {
    Headers::from_pairs(pairs.iter().copied())
}

fn opts_sorted() -> KeyOptions {
    KeyOptions { sort_query: true, ..KeyOptions::default() }
}

#[test]
fn scheme_and_host_are_lower_cased_default_port_and_fragment_dropped() {
    assert_eq!(key("HTTPS://WWW.Example.COM:443/A/B#frag"), "https://www.example.com/A/B");
    assert_eq!(key("http://example.com:80"), "http://example.com/");
    assert_eq!(key("http://example.com:8080/x"), "http://example.com:8080/x");
    assert_eq!(key("https://user:pw@example.com/x"), "https://example.com/x");
    assert_eq!(key("http://[::1]:81/"), "http://[::1]:81/");
}

#[test]
fn international_domain_names_are_keyed_in_their_ascii_form_only() {
    // The runtime hands the worker hosts in punycode; the wasm carries no Unicode IDNA
    // tables, so a host written in Unicode is refused rather than guessed at.
    assert_eq!(key("https://XN--BCHER-KVA.example/a"), "https://xn--bcher-kva.example/a");
    assert!(crate::http::parse_url("https://bücher.example/a").is_none());
}

#[test]
fn percent_encoding_is_normalised_but_reserved_characters_stay_encoded() {
    assert_eq!(key("http://e.com/%7euser/%41%62c"), "http://e.com/~user/Abc");
    assert_eq!(key("http://e.com/a%2fb%3F%2Fc"), "http://e.com/a%2Fb%3F%2Fc");
    assert_eq!(key("http://e.com/caf%c3%a9"), "http://e.com/caf%C3%A9");
    assert_eq!(key("http://e.com/café"), "http://e.com/caf%C3%A9");
    // Broken escapes are left as they are.
    assert_eq!(key("http://e.com/100%/x%4"), "http://e.com/100%/x%4");
    assert_eq!(key("http://e.com/p?q=%7e%2f%26"), "http://e.com/p?q=~%2F%26");
}

#[test]
fn empty_query_leaves_no_question_mark() {
    assert_eq!(key("http://e.com/p?"), "http://e.com/p");
    assert_eq!(key("http://e.com/p?&&"), "http://e.com/p");
    assert_eq!(key("http://e.com/?a=1&&b"), "http://e.com/?a=1&b");
}

#[test]
fn query_is_sorted_by_name_stably_when_asked() {
    let url = "http://e.com/p?b=2&a=9&c&a=1";
    assert_eq!(key(url), "http://e.com/p?b=2&a=9&c&a=1");
    assert_eq!(key_with(url, &opts_sorted()), "http://e.com/p?a=9&a=1&b=2&c");
    assert_eq!(key_with("http://e.com/?%61=1&a=2", &opts_sorted()), "http://e.com/?a=1&a=2");
}

#[test]
fn dropped_and_kept_params_honour_prefix_patterns() {
    let drop = KeyOptions { drop_params: vec!["utm_*".into(), "fbclid".into()], ..KeyOptions::default() };
    assert_eq!(
        key_with("http://e.com/p?utm_source=x&id=3&fbclid=y&fbclid2=z&utm_=1", &drop),
        "http://e.com/p?id=3&fbclid2=z"
    );
    assert_eq!(key_with("http://e.com/p?utm_source=x", &drop), "http://e.com/p");
    let keep = KeyOptions {
        keep_params: Some(vec!["page".into(), "f_*".into()]),
        drop_params: vec!["f_secret".into()],
        ..KeyOptions::default()
    };
    assert_eq!(
        key_with("http://e.com/p?x=1&page=2&f_a=3&f_secret=4&pages=5", &keep),
        "http://e.com/p?page=2&f_a=3"
    );
    let keep_none = KeyOptions { keep_params: Some(vec![]), ..KeyOptions::default() };
    assert_eq!(key_with("http://e.com/p?x=1", &keep_none), "http://e.com/p");
}

#[test]
fn the_origin_of_a_key_is_recovered() {
    let k = pk("https://e.com:8443/a/b?x=/y");
    assert_eq!(split_origin(k.as_str()).0, "https://e.com:8443");
    assert_eq!(split_origin("https://e.com").0, "https://e.com");
    assert_eq!(split_origin("https://e.com?x").0, "https://e.com");
}

#[test]
fn vary_is_lower_cased_deduplicated_and_sorted() {
    let h = headers(&[("Vary", "Accept-Language, accept-encoding"), ("vary", "ACCEPT-ENCODING, Cookie,")]);
    assert_eq!(
        VarySpec::from_headers(&h),
        VarySpec::Fields(vec!["accept-encoding".into(), "accept-language".into(), "cookie".into()])
    );
    assert_eq!(VarySpec::from_headers(&headers(&[])), VarySpec::None);
    assert_eq!(VarySpec::from_headers(&headers(&[("vary", " , ")])), VarySpec::None);
    assert_eq!(VarySpec::from_headers(&headers(&[("vary", "cookie"), ("vary", "*")])), VarySpec::Star);
    assert_eq!(VarySpec::from_headers(&headers(&[("vary", "a b")])), VarySpec::Star);
}

#[test]
fn star_never_matches_and_no_vary_is_empty() {
    let req = headers(&[("accept-language", "de")]);
    assert_eq!(variant(&VarySpec::Star, &req, &KeyOptions::default()), None);
    assert_eq!(variant(&VarySpec::None, &req, &KeyOptions::default()).as_deref(), Some(""));
}

fn variant_of(vary: &str, req: &[(&str, &str)]) -> Option<String> {
    let spec = VarySpec::from_headers(&headers(&[("vary", vary)]));
    variant(&spec, &headers(req), &KeyOptions::default())
}

#[test]
fn variant_normalises_whitespace_case_and_field_lines() {
    let a = variant_of(
        "Accept-Language, X-Theme",
        &[("accept-language", "DE-de ,  en;q=0.5"), ("x-theme", "Dark")],
    );
    assert_eq!(a.as_deref(), Some("accept-language=de-de,en;q=0.5\nx-theme=Dark"));
    let b = variant_of(
        "x-theme, accept-language",
        &[("x-theme", " Dark "), ("accept-language", "de-DE"), ("accept-language", "EN;q=0.5")],
    );
    assert_eq!(a, b);
    // Case matters for fields not known to be case-insensitive.
    assert_ne!(variant_of("x-theme", &[("x-theme", "dark")]), variant_of("x-theme", &[("x-theme", "Dark")]));
    // Whitespace inside a quoted string is kept.
    assert_eq!(variant_of("x-q", &[("x-q", "a ,  \"b  , c\"  d")]).as_deref(), Some("x-q=a,\"b  , c\" d"));
    // A newline can never forge a second field.
    assert_eq!(variant_of("x-q", &[("x-q", "a\nx-r=b")]).as_deref(), Some("x-q=a x-r=b"));
}

#[test]
fn missing_field_differs_from_empty_field() {
    let missing = variant_of("cookie", &[]);
    let empty = variant_of("cookie", &[("cookie", "")]);
    assert_eq!(missing.as_deref(), Some("cookie"));
    assert_eq!(empty.as_deref(), Some("cookie="));
}

fn encoding(ae: Option<&str>, offered: &[&str]) -> String {
    let req = ae.map_or_else(Headers::new, |v| headers(&[("accept-encoding", v)]));
    let opts =
        KeyOptions { encodings: offered.iter().map(|s| s.to_string()).collect(), ..KeyOptions::default() };
    negotiate_encoding(&req, &opts).to_string()
}

#[test]
fn accept_encoding_collapses_to_the_best_offered_coding() {
    assert_eq!(encoding(Some("gzip, deflate, br, zstd"), &[]), "br");
    assert_eq!(encoding(Some("gzip, deflate"), &[]), "gzip");
    assert_eq!(encoding(Some("GZIP"), &[]), "gzip");
    assert_eq!(encoding(Some("x-gzip"), &[]), "gzip");
    assert_eq!(encoding(Some("deflate"), &[]), "identity");
    assert_eq!(encoding(Some(""), &[]), "identity");
    assert_eq!(encoding(None, &[]), "identity");
    assert_eq!(encoding(Some("br;q=0, gzip"), &[]), "gzip");
    assert_eq!(encoding(Some("br;q=0.0, gzip;q=0.000"), &[]), "identity");
    assert_eq!(encoding(Some("*"), &[]), "br");
    assert_eq!(encoding(Some("br;q=0, *"), &[]), "gzip");
    assert_eq!(encoding(Some("*;q=0"), &[]), "identity");
    assert_eq!(encoding(Some("br;q=0.2, gzip;q=0.8"), &[]), "gzip");
    assert_eq!(encoding(Some("gzip, br"), &["gzip", "br"]), "gzip");
    assert_eq!(encoding(Some("gzip, br"), &["zstd"]), "identity");
    assert_eq!(encoding(Some("br;q=bogus"), &[]), "br");
}

/// The weight as the float reading had it (before the decimal reader), for the inputs both read.
fn float_qvalue(v: &str) -> u16 {
    match v.parse::<f64>() {
        Ok(q) if q.is_finite() => (q.clamp(0.0, 1.0) * 1000.0).round() as u16,
        _ => 1000,
    }
}

#[test]
fn qvalues_are_read_in_thousandths_exactly() {
    use super::variant::parse_qvalue;
    // RFC 9110 §12.4.2's grammar, every value it allows.
    assert_eq!(parse_qvalue("1"), 1000);
    assert_eq!(parse_qvalue("1.000"), 1000);
    assert_eq!(parse_qvalue("0"), 0);
    assert_eq!(parse_qvalue("0."), 0);
    for t in 0..1000u16 {
        for text in [format!("0.{t:03}"), format!("0.{t:03}").trim_end_matches('0').to_string()] {
            assert_eq!(parse_qvalue(&text), t, "{text}");
        }
    }
    // Leniently read: a fourth decimal rounds half up, out-of-range values are clamped.
    assert_eq!(parse_qvalue("0.0005"), 1);
    assert_eq!(parse_qvalue("0.0004999"), 0);
    assert_eq!(parse_qvalue("0.9996"), 1000);
    assert_eq!(parse_qvalue(".5"), 500);
    assert_eq!(parse_qvalue("+0.25"), 250);
    assert_eq!(parse_qvalue("007.5"), 1000);
    assert_eq!(parse_qvalue("-0.5"), 0);
    assert_eq!(parse_qvalue("-0"), 0);
    // Unreadable: weighs as an absent weight.
    for junk in
        ["", ".", "-", "+", "bogus", "0.5x", "1e-1", "0x1", "inf", "NaN", "0..5", "0.5.1", "٠.5", "0,5"]
    {
        assert_eq!(parse_qvalue(junk), 1000, "{junk:?}");
    }
    // The same weights as the float reading this replaced, on generated decimal spellings
    // (ties at the fourth decimal are where the float was inexact; the exponent is no longer read).
    let mut rng = XorShift(0x9e37_79b9);
    for _ in 0..20_000 {
        let sign = ["", "", "+", "-"][rng.below(4)];
        let whole = ["", "0", "00", "1", "2"][rng.below(5)];
        let digits: String = (0..rng.below(7)).map(|_| char::from(b'0' + rng.below(10) as u8)).collect();
        let text = format!("{sign}{whole}.{digits}");
        let at_tie =
            digits.len() >= 4 && digits[3..].starts_with('5') && digits[4..].bytes().all(|b| b == b'0');
        if (whole.is_empty() && digits.is_empty()) || at_tie {
            continue;
        }
        assert_eq!(parse_qvalue(&text), float_qvalue(&text), "{text}");
    }
}

#[test]
fn browsers_share_one_accept_encoding_variant() {
    let chrome = variant_of("Accept-Encoding", &[("accept-encoding", "gzip, deflate, br, zstd")]);
    let firefox = variant_of("Accept-Encoding", &[("accept-encoding", "gzip, deflate, br")]);
    let curl = variant_of("Accept-Encoding", &[]);
    assert_eq!(chrome.as_deref(), Some("accept-encoding=br"));
    assert_eq!(chrome, firefox);
    assert_eq!(curl.as_deref(), Some("accept-encoding=identity"));
}

#[test]
fn fnv1a_matches_reference_vectors() {
    assert_eq!(fnv1a_64(b""), 0xcbf2_9ce4_8422_2325);
    assert_eq!(fnv1a_64(b"a"), 0xaf63_dc4c_8601_ec8c);
    assert_eq!(fnv1a_64(b"foobar"), 0x8594_4171_f739_67e8);
}

#[test]
fn storage_keys_separate_audiences_and_variants() {
    let pk = &pk("https://e.com/a/b?x=1");
    assert_eq!(storage_key(pk, None, None), "https://e.com/.rulecache/base/a/b?x=1");
    assert_eq!(storage_key(pk, None, Some("")), "https://e.com/.rulecache/base/a/b?x=1");
    let anon = storage_key(pk, Some(Audience::Anonymous), None);
    let auth = storage_key(pk, Some(Audience::Authenticated), None);
    assert!(anon.as_str().starts_with("https://e.com/.rulecache/anon-"), "{anon}");
    assert!(auth.as_str().starts_with("https://e.com/.rulecache/auth-"), "{auth}");
    assert!(anon.as_str().ends_with("/a/b?x=1"));
    let v1 = storage_key(pk, None, Some("accept-encoding=br"));
    let v2 = storage_key(pk, None, Some("accept-encoding=gzip"));
    assert!(v1.as_str().starts_with("https://e.com/.rulecache/any-"), "{v1}");
    assert_ne!(v1, v2);
    assert_eq!(v1, storage_key(pk, None, Some("accept-encoding=br")));
    assert_eq!(
        storage_key(&PrimaryKey::from_stored("http://e.com/"), None, None),
        "http://e.com/.rulecache/base/"
    );
    assert!(crate::http::parse_url(anon.as_str()).is_some());
}

#[test]
fn a_variant_id_is_the_hash_of_audience_0xff_variant_so_stored_entries_keep_their_keys() {
    // Entries stored by an earlier deployment are found again only if the id is unchanged.
    let pk = &pk("https://e.com/a");
    let key = storage_key(pk, Some(Audience::Anonymous), Some("accept-encoding=br"));
    let id = format!("anon-{:016x}", fnv1a_64(b"anon\xffaccept-encoding=br"));
    assert_eq!(key, format!("https://e.com/.rulecache/{id}/a").as_str());
    let any = storage_key(pk, None, Some("v"));
    assert_eq!(any, format!("https://e.com/.rulecache/any-{:016x}/a", fnv1a_64(b"any\xffv")).as_str());
}

#[test]
fn storage_keys_lead_back_to_the_primary_key() {
    for text in ["https://e.com/a/b?x=1", "http://e.com:8080/", "http://e.com/.rulecache/base/x"] {
        let key = pk(text);
        let sk = storage_key(&key, Some(Audience::Anonymous), Some("cookie=a"));
        assert_eq!(primary_of_storage_key(&sk), Some(key.clone()));
    }
    assert_eq!(primary_of_storage_key(&StorageKey::from_stored("https://e.com/a/b")), None);
}

#[test]
fn huge_values_are_kept_whole() {
    let big = "x".repeat(100_000);
    let v = variant_of("x-big", &[("x-big", &big)]).unwrap_or_default();
    assert_eq!(v.len(), "x-big=".len() + big.len());
    let long_url = format!("http://e.com/{}?{}", "a/".repeat(10_000), "p=1&".repeat(10_000));
    let k = key_with(&long_url, &opts_sorted());
    assert!(k.ends_with("p=1&p=1"));
}

/// Text for the no-panic tests: mostly characters URLs and headers care about, with the odd
/// random Unicode scalar value.
fn text(rng: &mut XorShift, max: u64) -> String {
    const ALPHABET: &[u8] = b"aZ09%%%fF/?&=;,*. \t\"\\\n\x01q";
    let len = rng.next() % max;
    let mut s = String::new();
    for _ in 0..len {
        let r = rng.next();
        if r.is_multiple_of(7) {
            s.push(char::from_u32((r >> 8) as u32 % 0x11_0000).unwrap_or('\u{e9}'));
        } else {
            let i = (r >> 8) as usize % ALPHABET.len();
            s.push(char::from(ALPHABET.get(i).copied().unwrap_or(b'a')));
        }
    }
    s
}

#[test]
fn random_input_never_panics() {
    let mut rng = XorShift(0x9e37_79b9_7f4a_7c15);
    let opts = KeyOptions {
        drop_params: vec!["a*".into(), "%".into()],
        keep_params: Some(vec!["*".into()]),
        sort_query: true,
        encodings: vec!["br".into(), "identity".into()],
        vary_cookies: Some(vec!["s*".into(), "id".into()]),
        ..KeyOptions::default()
    };
    for _ in 0..3000 {
        let raw = format!("http://e.com/{}", text(&mut rng, 40));
        if let Some(url) = crate::http::parse_url(&raw) {
            let pk = primary_key(&url, &opts);
            // Normalising is idempotent.
            let again = crate::http::parse_url(pk.as_str()).map(|u| primary_key(&u, &opts));
            assert_eq!(again.as_ref(), Some(&pk), "{raw}");
            let _ = split_origin(pk.as_str());
            let sk = storage_key(&pk, Some(Audience::Authenticated), Some(&text(&mut rng, 20)));
            assert_eq!(primary_of_storage_key(&sk).as_ref(), Some(&pk));
        }
        let arbitrary = text(&mut rng, 60);
        let _ = split_origin(arbitrary.as_str());
        let _ = primary_of_storage_key(&StorageKey::from_stored(arbitrary));
        let req = headers(&[("accept-encoding", &text(&mut rng, 30)), ("x-a", &text(&mut rng, 30))]);
        let spec = VarySpec::from_names(["accept-encoding", "x-a", "x-missing"]);
        let v = variant(&spec, &req, &opts).unwrap_or_default();
        assert_eq!(v.matches('\n').count(), 2, "{v:?}");
    }
}

/// The primary key a storage key was made from (each storage key names one); None when
/// `key` is not one.
fn primary_of_storage_key(key: &StorageKey) -> Option<PrimaryKey> {
    let (origin, target) = split_origin(key.as_str());
    let rest = target.strip_prefix(RESERVED_PREFIX)?;
    let (_, original) = rest.split_once('/')?;
    let mut out = String::with_capacity(origin.len() + original.len() + 1);
    out.push_str(origin);
    out.push('/');
    out.push_str(original);
    Some(PrimaryKey(out))
}

//! Untrusted input never panics: mangled bundles, odd cookies, odd paths and headers.
#![allow(clippy::expect_used, clippy::indexing_slicing)] // tests may panic

use rulecache::http::{Headers, RequestHead, ResponseHead};
use rulecache::policy::decision::ModifyContext;
use rulecache::policy::Policy;
use rulecache::testing::XorShift;

const ALPHABET: &[u8] = b"/*.{}[]\\\":,-_ ~+@=;%a0\t\x01";

#[test]
fn mangled_bundles_are_rejected_or_accepted_but_never_panic() {
    let mut rng = XorShift(0x9e37_79b9_7f4a_7c15);
    let (_, profile) = Policy::profiles()[2];
    for _ in 0..1500 {
        let mut bytes = profile.as_bytes().to_vec();
        for _ in 0..1 + rng.below(4) {
            let at = rng.below(bytes.len());
            match rng.below(3) {
                0 => {
                    bytes.remove(at);
                }
                1 => bytes[at] = ALPHABET[rng.below(ALPHABET.len())],
                _ => bytes.insert(at, ALPHABET[rng.below(ALPHABET.len())]),
            }
        }
        let text = String::from_utf8_lossy(&bytes);
        if let Err(errors) = Policy::from_json(&text) {
            assert!(!errors.is_empty());
            assert!(errors.iter().all(|e| e.path.starts_with('/') && !e.message.is_empty()));
        }
    }
}

fn junk(rng: &mut XorShift, len: usize) -> String {
    rng.text_of_len(ALPHABET, len)
}

#[test]
fn odd_requests_and_responses_never_panic() {
    let mut rng = XorShift(42);
    let policies: Vec<Policy> = Policy::profiles().iter().filter_map(|(id, _)| Policy::bundled(id)).collect();
    for _ in 0..1500 {
        let (path_len, cookie_len) = (rng.below(40), rng.below(30));
        let path = format!("/{}", junk(&mut rng, path_len));
        let url = format!("https://example.org{}", path.replace(['\t', '\u{1}', ' '], ""));
        let headers = Headers::from_pairs([
            ("cookie", junk(&mut rng, cookie_len)),
            ("accept-language", junk(&mut rng, 8)),
            ("authorization", junk(&mut rng, 3)),
        ]);
        let Some(req) = RequestHead::parse("GET", &url, headers) else { continue };
        let resp = ResponseHead::new(
            200,
            Headers::from_pairs([
                ("content-type", junk(&mut rng, 10)),
                ("etag", junk(&mut rng, 6)),
                ("last-modified", junk(&mut rng, 6)),
                ("vary", junk(&mut rng, 6)),
                ("x-cache-ruleset", junk(&mut rng, 6)),
            ]),
        );
        for p in &policies {
            let audience = p.audience(&req.headers);
            let _ = p.cache_stop(&req);
            let ruleset =
                p.classify_request(&req).or_else(|| p.classify_response(&req, &resp)).map(|c| c.ruleset_id);
            let op = p.operation(ruleset);
            let ctx = ModifyContext {
                request: &req,
                audience,
                policy_version: u64::MAX,
                split_view_header: p.split_view_header(),
                now: u64::MAX,
            };
            let mut out = resp.clone();
            op.modify(&ctx, &mut out);
            if let Some(etag) = out.headers.get("etag").filter(|e| e.starts_with("\"|")) {
                assert!(etag.ends_with('"') && !etag[1..etag.len() - 1].contains(['"', ',', ' ']), "{etag}");
            }
        }
    }
}

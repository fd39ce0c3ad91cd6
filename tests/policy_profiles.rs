//! The shipped profiles: they validate, and they classify a Plone site (and the demo origin)
//! into the rulesets plone.app.caching would use, with plone's operations and parameters.

use rulecache::http::{Headers, RequestHead, ResponseHead};
use rulecache::policy::Policy;

fn get(path: &str) -> RequestHead {
    RequestHead::parse("GET", &format!("https://example.org{path}"), Headers::new()).expect("test URL")
}

#[test]
fn every_profile_validates() {
    for (id, text) in Policy::profiles() {
        match Policy::from_json(text) {
            Ok(p) => assert_eq!(p.name(), *id),
            Err(errors) => panic!("{id}: {errors:?}"),
        }
    }
    assert_eq!(Policy::profiles().len(), 3);
    assert_eq!(Policy::default_profile().name(), "with-caching-proxy-splitviews");
}

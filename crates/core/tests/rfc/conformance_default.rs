//! The whole conformance scenario set of `conformance.rs`, run again under the shipped
//! default profile (`with-caching-proxy-splitviews`). Its scenarios use URLs no rule of that
//! profile classifies, so the profile leaves them to the origin (`honourOrigin`): the profile
//! must then behave exactly as a plain RFC 9111 shared cache (no `Vary` of its own added, the
//! same reuse, validation and invalidation), its split view kept in its own cache key.

// The same file twice, on purpose: once plain, once under the shipped profile.
#[allow(clippy::duplicate_mod)]
#[path = "conformance.rs"]
mod scenarios;

/// The switch in `conformance.rs` really selects the default profile here.
#[test]
fn the_scenarios_run_under_the_shipped_default_profile() {
    assert!(module_path!().contains("::conformance_default"));
    let profile = rulecache::policy::Policy::default_profile();
    assert_eq!(profile.name(), "with-caching-proxy-splitviews");
    assert!(profile.split_view_header().is_some());
}

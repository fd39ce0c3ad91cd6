//! Every broken bundle under `tests/fixtures/policy/invalid` is rejected with exactly the
//! messages pinned in the `.expected` file beside it (one `path: message` per line).
#![allow(clippy::expect_used, clippy::indexing_slicing)] // tests may panic

use std::path::Path;

use rulecache::policy::Policy;

#[test]
fn every_invalid_fixture_fails_with_its_pinned_messages() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/policy/invalid");
    let mut checked = 0;
    let mut entries: Vec<_> =
        std::fs::read_dir(&dir).expect("fixture dir").flatten().map(|e| e.path()).collect();
    entries.sort();
    for path in entries.iter().filter(|p| p.extension().is_some_and(|e| e == "json")) {
        let text = std::fs::read_to_string(path).expect("fixture");
        let expected = std::fs::read_to_string(path.with_extension("expected"))
            .unwrap_or_else(|_| panic!("{} has no .expected file", path.display()));
        let errors = match Policy::from_json(&text) {
            Ok(_) => panic!("{} was accepted", path.display()),
            Err(errors) => errors,
        };
        let got: Vec<String> = errors.iter().map(ToString::to_string).collect();
        let want: Vec<&str> = expected.lines().filter(|l| !l.is_empty()).collect();
        assert_eq!(got, want, "{}", path.display());
        checked += 1;
    }
    assert!(checked >= 10, "only {checked} fixtures found");
}

#[test]
fn invalid_json_reports_line_and_column() {
    let errors = Policy::from_json("{\n  \"version\": 1\n  \"name\": \"x\"\n}").err().unwrap_or_default();
    let got: Vec<String> = errors.iter().map(ToString::to_string).collect();
    assert_eq!(got, vec!["/: not valid JSON (line 3, column 3): expected `,` or `}`"]);
}

#[test]
fn a_minimal_bundle_is_enough_and_defaults_to_honouring_the_origin() {
    let p = Policy::from_json(r#"{"version": 3, "name": "tiny"}"#).expect("valid");
    assert_eq!((p.name(), p.version()), ("tiny", 3));
    assert!(p.caching_enabled());
    assert!(!p.debug_headers());
    assert_eq!(p.operation(None).name(), "honourOrigin");
    assert_eq!(p.operation_named(Some("anything")).name(), "honourOrigin");
    assert_eq!(p.split_view_header(), None);
    assert_eq!(p.ruleset_hint_header(), None);
    assert_eq!(p.purge_paths(), ["${path}".to_string()]);
    let again = p.clone().with_version(9);
    assert_eq!(again.version(), 9);
    assert_eq!(again.source(), r#"{"version": 3, "name": "tiny"}"#);
}

#[test]
fn missing_version_and_name_are_both_reported() {
    let errors = Policy::from_json("{}").err().unwrap_or_default();
    let got: Vec<String> = errors.iter().map(ToString::to_string).collect();
    assert_eq!(got, vec!["/: missing required key \"version\"", "/: missing required key \"name\""]);
    let errors = Policy::from_json("[]").err().unwrap_or_default();
    assert_eq!(
        errors.iter().map(ToString::to_string).collect::<Vec<_>>(),
        vec!["/: expected an object, found an array"]
    );
}

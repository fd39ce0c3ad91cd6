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

#[test]
fn a_split_view_needs_a_credential_source_and_any_one_will_do() {
    let bundle = |split_view: &str| format!(r#"{{"version": 1, "name": "x", "splitView": {split_view}}}"#);
    let none = r#"{"enabled": true, "authCookies": [], "authorizationHeader": false}"#;
    let errors = Policy::from_json(&bundle(none)).err().unwrap_or_default();
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert_eq!(errors[0].path, "/splitView");
    assert!(errors[0].message.contains("needs a credential source"), "{}", errors[0].message);
    for enough in [
        r#"{"enabled": true}"#,
        r#"{"enabled": true, "authorizationHeader": false}"#,
        r#"{"enabled": true, "authCookies": [], "authorizationHeader": true}"#,
        r#"{"enabled": true, "authCookies": [], "authCookiePrefixes": ["wordpress_logged_in_"], "authorizationHeader": false}"#,
        r#"{"enabled": true, "authCookies": ["sessionid"], "authorizationHeader": false}"#,
        // No split view, nothing keyed on the audience: nothing to refuse.
        r#"{"enabled": false, "authCookies": [], "authorizationHeader": false}"#,
    ] {
        assert!(Policy::from_json(&bundle(enough)).is_ok(), "{enough}");
    }
}

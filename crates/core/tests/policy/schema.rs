//! `policy/schema.json` and the validator describe the same format.
#![allow(clippy::expect_used, clippy::indexing_slicing)] // tests may panic

use rulecache::policy::{EtagComponent, OperationKind, Policy};
use serde_json::Value;

fn schema() -> Value {
    let text = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../policy/schema.json"))
        .expect("schema");
    serde_json::from_str(&text).expect("schema is JSON")
}

fn unknown_key_errors(bundle: &str) -> Vec<String> {
    Policy::from_json(bundle)
        .err()
        .unwrap_or_default()
        .into_iter()
        .filter(|e| e.message.starts_with("unknown key"))
        .map(|e| e.path)
        .collect()
}

#[test]
fn the_schema_declares_draft_2020_12() {
    assert_eq!(schema()["$schema"], "https://json-schema.org/draft/2020-12/schema");
}

#[test]
fn top_level_keys_are_the_same() {
    let s = schema();
    let props = s["properties"].as_object().expect("properties");
    for key in props.keys() {
        // A repeated key overrides the earlier one, so "version" and "name" work too.
        let bundle = format!(r#"{{"version": 1, "name": "x", "{key}": null}}"#);
        assert_eq!(
            unknown_key_errors(&bundle),
            Vec::<String>::new(),
            "schema key {key} is unknown to the validator"
        );
    }
    assert_eq!(unknown_key_errors(r#"{"version": 1, "name": "x", "maxage": 1}"#), vec!["/maxage"]);
    let required: Vec<&str> =
        s["required"].as_array().expect("required").iter().filter_map(Value::as_str).collect();
    assert_eq!(required, vec!["version", "name"]);
}

#[test]
fn operation_names_and_etag_components_are_the_same() {
    let s = schema();
    let ops: Vec<&str> = s["$defs"]["operation"]["properties"]["operation"]["enum"]
        .as_array()
        .expect("operation enum")
        .iter()
        .filter_map(Value::as_str)
        .collect();
    assert_eq!(ops, OperationKind::ALL.iter().map(|k| k.name()).collect::<Vec<_>>());
    let strong = &s["$defs"]["operation"]["allOf"][0]["then"]["properties"]["parameters"]["properties"];
    let etags: Vec<&str> = strong["etags"]["items"]["enum"]
        .as_array()
        .expect("etags enum")
        .iter()
        .filter_map(Value::as_str)
        .collect();
    assert_eq!(etags, EtagComponent::ALL.iter().map(|c| c.name()).collect::<Vec<_>>());
    let params: Vec<&str> = strong.as_object().expect("params").keys().map(String::as_str).collect();
    let mut expected: Vec<&str> = OperationKind::StrongCaching.parameter_names().to_vec();
    expected.sort_unstable();
    let mut params = params;
    params.sort_unstable();
    assert_eq!(params, expected);
}

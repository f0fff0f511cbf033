//! The committed JSON Schema is exactly what the raw types generate.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use microcloud_tests::assert_snapshot;

#[test]
fn committed_schema_matches_the_generated_one() {
    let generated = serde_json::to_string_pretty(config_loader::shape::schema()).unwrap() + "\n";
    assert_snapshot("schemas/preseed.schema.json", &generated);
}

#[test]
fn schema_rejects_unknown_keys_everywhere_and_names_required_keys() {
    let schema = config_loader::shape::schema();
    assert_eq!(schema["additionalProperties"], false);
    assert_eq!(schema["required"], serde_json::json!(["systems"]));
    for (name, def) in schema["$defs"].as_object().unwrap() {
        assert_eq!(def["additionalProperties"], false, "{name}");
    }
    assert_eq!(
        schema["$defs"]["System"]["required"],
        serde_json::json!(["name"])
    );
    assert_eq!(
        schema["$defs"]["DiskFilter"]["required"],
        serde_json::json!(["find"])
    );
}

//! The preseed loader, bytes to diagnostics: `load_bytes` on any input,
//! then both renderings. Nothing may panic, and a document is valid
//! exactly when no diagnostic is an error.
#![no_main]

use config_loader::FakeEnvironment;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let env = FakeEnvironment {
        vars: Vec::new(),
        files: vec![(
            "passphrase.txt".to_owned(),
            "correct horse battery staple\n".to_owned(),
        )],
    };
    let report = config_loader::load_bytes(data, &env);
    let rendered = report.render("fuzz.yaml");
    let json = report.to_json();
    assert_eq!(
        report.is_valid(),
        !report.diagnostics().has_errors(),
        "{rendered}"
    );
    assert_eq!(json["valid"], serde_json::Value::Bool(report.is_valid()));
    if !report.is_valid() {
        assert!(!report.diagnostics().is_empty(), "invalid without a reason");
    }
});

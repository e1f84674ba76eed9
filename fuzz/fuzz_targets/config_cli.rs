//! aws-sso's `config.yaml` parser (`cli::config::parse_file_config`, what
//! `read_file_config` runs). Never panics; accepts no key but the two it knows.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if cli::config::parse_file_config(text).is_err() {
        return;
    }
    // Accepted: blank, or a mapping of known keys only (unknown keys are refused, so a
    // typo never silently falls back to a default store).
    if let Ok(serde_yaml_ng::Value::Mapping(map)) = serde_yaml_ng::from_str(text) {
        for key in map.keys() {
            let key = key.as_str().unwrap_or("<not a string>");
            assert!(
                ["SecureStore", "FileScryptWorkFactor"].contains(&key),
                "accepted unknown key {key:?}"
            );
        }
    }
});

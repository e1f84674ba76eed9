//! aws-sso-certd's `certd.toml`: the TOML parse into `FileConfig` and the checks of
//! `Config::resolve`, as `Config::load` runs them. Never panics; a resolved config obeys
//! the rules resolve promises.
#![no_main]

use std::path::Path;

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(file) = toml::from_str::<certd::config::FileConfig>(text) else {
        return;
    };
    let Ok(cfg) = certd::config::Config::resolve(file, Path::new("/nonexistent/fuzz")) else {
        return;
    };
    assert!(cfg.zone.split('.').count() >= 2, "zone {:?}", cfg.zone);
    assert_eq!(cfg.zone, cfg.zone.to_ascii_lowercase());
    assert!(!cfg.nameservers.is_empty());
    assert!(cfg.acme_directory.0.starts_with("https://"));
    assert!(cfg.public_url.starts_with("https://") || cfg.public_url.starts_with("http://"));
    assert!(
        !cfg.https || cfg.secure_cookies,
        "HTTPS without secure cookies"
    );
    assert!(!(cfg.tls.is_some() && cfg.acme_web_label.is_some()));
});

//! `aws-sso setup ecs cert status [--output json]`: the name and its DNS check, the
//! enrolled device, and the stored certificate's issuer, serial, expiry and renewal window.

use std::fmt::Write as _;
use std::process::ExitCode;

use secrecy::ExposeSecret;
use serde_json::{Value, json};

use super::{cert, cert_fqdn};
use crate::args::OutputMode;
use crate::config::Config;
use crate::items::{
    CERTD_DEVICE_ID, ECS_CERT_FQDN, ECS_CERT_PENDING_KEY, ECS_SSL_CERT, ECS_SSL_KEY,
};
use crate::out;

/// Runs the command.
pub fn run(mode: OutputMode) -> anyhow::Result<ExitCode> {
    let config = Config::load()?;
    let store = config.open_store()?;
    let fqdn = store
        .get(ECS_CERT_FQDN)?
        .map(|f| f.expose_secret().to_owned());
    let services = crate::items::service_urls(store.as_ref())?;
    let device_id = store
        .get(CERTD_DEVICE_ID)?
        .and_then(|i| i.expose_secret().parse::<i64>().ok());
    let pending = store.get(ECS_CERT_PENDING_KEY)?.is_some();
    let dns = fqdn.as_deref().map(dns_check);
    let certificate = certificate(
        store.get(ECS_SSL_CERT)?.as_ref().map(|c| c.expose_secret()),
        store.get(ECS_SSL_KEY)?.as_ref().map(|k| k.expose_secret()),
        fqdn.as_deref(),
    );
    let v = json!({
        "fqdn": fqdn, "dns": dns, "service_url": services.first(), "service_urls": services, "device_id": device_id,
        "certificate": certificate, "pending_key": pending,
    });
    let mut text = String::new();
    let _ = writeln!(
        text,
        "Name:         {}",
        fqdn.as_deref()
            .unwrap_or("(not set: aws-sso setup ecs cert fqdn <name>)")
    );
    match &dns {
        Some(d) if d["ok"] == true => {
            let _ = writeln!(text, "DNS check:    ok (127.0.0.1/::1 only)");
        }
        Some(d) => {
            let _ = writeln!(
                text,
                "DNS check:    FAILED: {}",
                d["problem"].as_str().unwrap_or("")
            );
        }
        None => {}
    }
    let _ = writeln!(text, "Service:      {}", services.join(", then "));
    let _ = writeln!(
        text,
        "Device:       {}",
        device_id.map_or_else(
            || "(not enrolled: aws-sso setup ecs cert api-key <key>)".to_owned(),
            |i| format!("enrolled as {i}")
        )
    );
    match &certificate {
        Value::Null => {
            let _ = writeln!(
                text,
                "Certificate:  (none: aws-sso setup ecs cert sign-csr)"
            );
        }
        c => {
            for (label, key) in [
                ("Certificate", "dns_names"),
                ("Issuer", "issuer"),
                ("Serial", "serial"),
                ("Expires", "not_after"),
                ("Renew from", "renew_from"),
            ] {
                let value = match &c[key] {
                    Value::String(s) => s.clone(),
                    Value::Array(a) => a
                        .iter()
                        .filter_map(Value::as_str)
                        .collect::<Vec<_>>()
                        .join(", "),
                    other => other.to_string(),
                };
                let _ = writeln!(text, "{:<13} {value}", format!("{label}:"));
            }
            let state = if let Some(p) = c["problem"].as_str() {
                format!("UNUSABLE: {p}")
            } else if c["due"] == true {
                "due for renewal: aws-sso setup ecs cert renew".to_owned()
            } else {
                "ok".to_owned()
            };
            let _ = writeln!(text, "State:        {state}");
        }
    }
    if pending {
        let _ = writeln!(
            text,
            "Pending:      a key from export-csr awaits `aws-sso setup ecs cert load`"
        );
    }
    out::value(mode, &v, &text)?;
    Ok(ExitCode::SUCCESS)
}

/// `{"ok", "addresses", "problem"}`: ok when every answer is one the certificate service
/// publishes (127.0.0.1, ::1); the addresses whenever the name resolves at all.
fn dns_check(fqdn: &str) -> Value {
    match cert_fqdn::resolve(fqdn) {
        Ok(addrs) => {
            let list: Vec<String> = addrs.iter().map(ToString::to_string).collect();
            match cert_fqdn::unpublished_answer(fqdn, &addrs) {
                None => json!({"ok": true, "addresses": list}),
                Some(problem) => json!({"ok": false, "addresses": list, "problem": problem}),
            }
        }
        Err(e) => json!({"ok": false, "problem": format!("{e:#}")}),
    }
}

fn certificate(chain: Option<&str>, key: Option<&str>, fqdn: Option<&str>) -> Value {
    let Some(chain) = chain else {
        return Value::Null;
    };
    let info = match pki::parse_cert_chain(chain)
        .map_err(anyhow::Error::from)
        .and_then(|c| {
            Ok(pki::cert_info(
                c.first().ok_or_else(|| anyhow::anyhow!("empty chain"))?,
            )?)
        }) {
        Ok(i) => i,
        Err(e) => return json!({"problem": format!("{e:#}")}),
    };
    let renew_from = cert::renewal_from(&info);
    let now = time::OffsetDateTime::now_utc();
    let problem = match (key, fqdn) {
        (None, _) => Some("no private key is stored".to_owned()),
        (Some(k), Some(f)) => cert::check_chain(chain, k, f)
            .err()
            .map(|e| format!("{e:#}")),
        (Some(k), None) => pki::ServingKey::from_pem(chain, k)
            .err()
            .map(|e| e.to_string()),
    };
    json!({
        "dns_names": info.dns_names, "issuer": info.issuer, "serial": info.serial_hex,
        "not_before": wire::ecs::rfc3339_z(info.not_before),
        "not_after": wire::ecs::rfc3339_z(info.not_after),
        "renew_from": wire::ecs::rfc3339_z(renew_from),
        "due": now >= renew_from, "problem": problem,
    })
}

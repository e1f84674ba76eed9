//! `aws-sso setup ecs cert fqdn <name>`: checks the name (syntax, and that the system
//! resolver maps it to loopback only) and stores it, with the service URL when given.

use std::net::{IpAddr, ToSocketAddrs};
use std::process::ExitCode;

use anyhow::bail;
use secrecy::SecretString;

use crate::args::CertFqdnArgs;
use crate::certd_client;
use crate::config::Config;
use crate::items::{CERTD_SERVICE_URL, ECS_CERT_FQDN};
use crate::out;

/// Runs the command.
pub fn run(args: &CertFqdnArgs) -> anyhow::Result<ExitCode> {
    let fqdn = check_syntax(&args.fqdn)?;
    let service = args
        .service
        .as_deref()
        .map(certd_client::check_service_url)
        .transpose()?;
    check_resolves_to_loopback(&fqdn)?;
    let config = Config::load()?;
    let store = config.open_store()?;
    store.set(ECS_CERT_FQDN, &SecretString::from(fqdn.clone()))?;
    if let Some(url) = &service {
        store.set(CERTD_SERVICE_URL, &SecretString::from(url.clone()))?;
    }
    out::note(&format!(
        "{fqdn} resolves to loopback only; stored it as the ECS server's name{}.",
        service
            .map(|u| format!(" and {u} as the certificate service"))
            .unwrap_or_default()
    ));
    Ok(ExitCode::SUCCESS)
}

/// A DNS hostname: at least two labels of letters, digits and inner hyphens, at most 63
/// characters each and 253 in all; returned in lower case without a trailing dot.
pub fn check_syntax(name: &str) -> anyhow::Result<String> {
    let name = name.strip_suffix('.').unwrap_or(name).to_ascii_lowercase();
    let bad = |why: &str| anyhow::anyhow!("{name:?} is not a valid host name: {why}");
    if name.is_empty() || name.len() > 253 {
        return Err(bad("it must be 1 to 253 characters"));
    }
    let labels: Vec<&str> = name.split('.').collect();
    if labels.len() < 2 {
        return Err(bad("it needs a domain, e.g. mybox.example.org"));
    }
    for l in &labels {
        if l.is_empty() || l.len() > 63 {
            return Err(bad("each label is 1 to 63 characters"));
        }
        if !l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-') {
            return Err(bad("only letters, digits, hyphens and dots are allowed"));
        }
        if l.starts_with('-') || l.ends_with('-') {
            return Err(bad("a label cannot start or end with a hyphen"));
        }
    }
    if labels
        .last()
        .is_some_and(|tld| tld.bytes().all(|b| b.is_ascii_digit()))
    {
        return Err(bad(
            "it looks like an IP address; a certificate needs a name",
        ));
    }
    Ok(name)
}

/// Resolves through the system resolver (resolution only, nothing is sent to the
/// addresses); every answer must be a loopback address.
pub fn check_resolves_to_loopback(fqdn: &str) -> anyhow::Result<Vec<IpAddr>> {
    let addrs: Vec<IpAddr> = match (fqdn, 0).to_socket_addrs() {
        Ok(a) => a.map(|s| s.ip()).collect(),
        Err(e) => bail!(not_resolving(fqdn, &e.to_string())),
    };
    if addrs.is_empty() {
        bail!(not_resolving(fqdn, "no A or AAAA records"));
    }
    let elsewhere: Vec<String> = addrs
        .iter()
        .filter(|a| !a.is_loopback())
        .map(ToString::to_string)
        .collect();
    if !elsewhere.is_empty() {
        bail!(
            "refusing {fqdn}: it resolves to {} and not only to loopback. WARNING: this name must \
             resolve to 127.0.0.1 (or ::1) everywhere; an answer pointing elsewhere means your DNS \
             is misconfigured or poisoned (DNS spoofing), and an SDK would send your AWS \
             credentials to that address. Check /etc/hosts, your resolver and your network \
             before using this name.",
            elsewhere.join(", ")
        );
    }
    Ok(addrs)
}

fn not_resolving(fqdn: &str, why: &str) -> String {
    let zone = fqdn.split_once('.').map_or(fqdn, |(_, z)| z);
    format!(
        "{fqdn} does not resolve ({why}). If the name exists and points to 127.0.0.1, your \
         resolver is probably dropping the answer as DNS-rebinding protection, which filters \
         public names that resolve to private or loopback addresses. To allow this zone: \
         dnsmasq (also Pi-hole, many routers): with --stop-dns-rebind, add \
         `rebind-domain-ok=/{zone}/` (or --rebind-domain-ok=/{zone}/); unbound: for \
         `private-address` filtering, add `private-domain: \"{zone}\"`; home routers (e.g. \
         FRITZ!Box, OpenWrt): add {zone} to the DNS-rebind protection exceptions. Then check \
         with `getent hosts {fqdn}`."
    )
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn cert_fqdn_syntax() {
        assert_eq!(
            check_syntax("MyBox.Example.org.").unwrap(),
            "mybox.example.org"
        );
        for bad in [
            "",
            "box",
            "-a.example.org",
            "a-.example.org",
            "a..b",
            "a_b.example.org",
            "*.example.org",
            "1.2.3.4",
            "a b.example.org",
        ] {
            assert!(check_syntax(bad).is_err(), "{bad}");
        }
        assert!(check_syntax(&format!("{}.org", "a".repeat(64))).is_err());
    }

    #[test]
    fn cert_fqdn_unresolvable_explains_rebinding_filters() {
        let text = not_resolving("box.certs.example", "no answer");
        for part in [
            "rebind-domain-ok=/certs.example/",
            "private-domain: \"certs.example\"",
            "routers",
        ] {
            assert!(text.contains(part), "{part} in {text}");
        }
    }
}

//! `aws-sso setup ecs cert fqdn <name>`: checks the name (syntax, and that the system
//! resolver maps it to loopback only) and stores it, with the service URLs when given
//! (`--service` repeated: tried in that order).

use std::net::{IpAddr, ToSocketAddrs};
use std::process::ExitCode;

use anyhow::{Context, bail};
use secrecy::SecretString;

use crate::args::CertFqdnArgs;
use crate::certd_client;
use crate::config::Config;
use crate::items::{CERTD_SERVICE_URL, ECS_CERT_FQDN, service_urls_value};
use crate::out;

/// Runs the command.
pub fn run(args: &CertFqdnArgs) -> anyhow::Result<ExitCode> {
    let fqdn = check_syntax(&args.fqdn)?;
    let services = args
        .service
        .iter()
        .map(|u| certd_client::check_service_url(u))
        .collect::<anyhow::Result<Vec<_>>>()?;
    check_resolves_to_loopback(&fqdn).with_context(|| format!("not storing {fqdn}"))?;
    let config = Config::load()?;
    let store = config.open_store()?;
    store.set(ECS_CERT_FQDN, &SecretString::from(fqdn.clone()))?;
    if !services.is_empty() {
        store.set(CERTD_SERVICE_URL, &service_urls_value(&services))?;
    }
    out::note(&format!(
        "{fqdn} resolves to 127.0.0.1/::1 only; stored it as the ECS server's name{}.",
        match services.as_slice() {
            [] => String::new(),
            [one] => format!(" and {one} as the certificate service"),
            many => format!(
                " and {} as the certificate services, tried in this order",
                many.join(", ")
            ),
        }
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

/// The addresses the certificate service publishes for every name: A 127.0.0.1 and, when
/// its operator turns AAAA on, ::1 (constants in its DNS code). Any other answer, even
/// another loopback address such as 127.0.0.2, is not what the service said.
pub const PUBLISHED_ADDRESSES: [IpAddr; 2] = [
    IpAddr::V4(std::net::Ipv4Addr::LOCALHOST),
    IpAddr::V6(std::net::Ipv6Addr::LOCALHOST),
];

/// Whether `ip` is one of [`PUBLISHED_ADDRESSES`] (an IPv4-mapped 127.0.0.1 counts).
pub fn is_published(ip: IpAddr) -> bool {
    PUBLISHED_ADDRESSES.contains(&ip.to_canonical())
}

/// Resolves through the system resolver (resolution only, nothing is sent to the
/// addresses); every answer must be 127.0.0.1 or ::1, the only addresses the certificate
/// service publishes. Other loopback addresses are refused too: the ECS server listens on
/// 127.0.0.1, and any local user can listen on 127.0.0.2, so an answer there is a hosts
/// file or a resolver that was changed, not the service.
pub fn check_resolves_to_loopback(fqdn: &str) -> anyhow::Result<Vec<IpAddr>> {
    let addrs = resolve(fqdn)?;
    if let Some(problem) = unpublished_answer(fqdn, &addrs) {
        bail!(problem);
    }
    Ok(addrs)
}

/// The addresses the system resolver gives for `fqdn` (at least one), or why there are none.
pub fn resolve(fqdn: &str) -> anyhow::Result<Vec<IpAddr>> {
    let addrs: Vec<IpAddr> = match (fqdn, 0).to_socket_addrs() {
        Ok(a) => a.map(|s| s.ip()).collect(),
        Err(e) => bail!(not_resolving(fqdn, &e.to_string())),
    };
    if addrs.is_empty() {
        bail!(not_resolving(fqdn, "no A or AAAA records"));
    }
    Ok(addrs)
}

/// The warning for answers other than the published addresses, `None` when all are.
pub fn unpublished_answer(fqdn: &str, addrs: &[IpAddr]) -> Option<String> {
    let mut foreign: Vec<IpAddr> = Vec::new();
    for a in addrs {
        if !is_published(*a) && !foreign.contains(a) {
            foreign.push(*a);
        }
    }
    if foreign.is_empty() {
        return None;
    }
    let list = foreign
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(", ");
    let where_ = if foreign.iter().all(IpAddr::is_loopback) {
        "another loopback address, where any local user can listen"
    } else {
        "not a loopback address: another machine"
    };
    Some(format!(
        "{fqdn} resolves to {list} ({where_}), not 127.0.0.1/::1 which the certificate \
         service publishes: DNS or /etc/hosts may be poisoned (DNS spoofing). An SDK would \
         connect there and offer your bearer token to whoever answers; it refuses only if \
         that listener lacks a certificate for {fqdn}. Check `getent ahosts {fqdn}`, \
         /etc/hosts, your resolver and your network, and do not use this name until it \
         resolves to 127.0.0.1 only."
    ))
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
    fn cert_fqdn_only_the_published_addresses_pass() {
        let ip = |s: &str| s.parse::<IpAddr>().unwrap();
        for ok in ["127.0.0.1", "::1", "::ffff:127.0.0.1"] {
            assert!(is_published(ip(ok)), "{ok}");
        }
        assert_eq!(
            unpublished_answer("box.certs.example", &[ip("127.0.0.1"), ip("::1")]),
            None
        );
        let other_loopback =
            unpublished_answer("box.certs.example", &[ip("127.0.0.1"), ip("127.0.0.2")]).unwrap();
        for part in [
            "box.certs.example resolves to 127.0.0.2 (another loopback address",
            "not 127.0.0.1/::1 which the certificate service publishes",
            "DNS or /etc/hosts may be poisoned",
        ] {
            assert!(other_loopback.contains(part), "{part} in {other_loopback}");
        }
        assert!(!other_loopback.contains("127.0.0.1,"), "{other_loopback}");
        let elsewhere = unpublished_answer(
            "box.certs.example",
            &[ip("10.1.2.3"), ip("10.1.2.3"), ip("::2")],
        )
        .unwrap();
        assert!(
            elsewhere.contains("resolves to 10.1.2.3, ::2 (not a loopback address"),
            "{elsewhere}"
        );
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

//! `ZoneConfig`: the fixed part of the zone (apex, nameservers and their glue, SOA, CAA,
//! whether AAAA `::1` is answered, TTL), validated once into the precomputed records the
//! query handler copies. Nothing here changes after start; the registered names and the
//! ACME TXT values live in [`crate::ZoneState`].

use std::net::{Ipv4Addr, Ipv6Addr};

use hickory_proto::rr::rdata::{A, AAAA, CAA, NS, SOA};
use hickory_proto::rr::{Name, RData, Record};

/// The longest TTL of an ACME challenge TXT record, seconds.
pub const MAX_CHALLENGE_TTL: u32 = 60;

/// The zone's fixed records, as the operator configures them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ZoneConfig {
    /// The zone apex, e.g. `aws-sso-cli.org` (a trailing dot is optional).
    pub apex: String,
    /// The zone's nameservers (NS at the apex); at least one.
    pub nameservers: Vec<NameServer>,
    /// The SOA record at the apex.
    pub soa: Soa,
    /// CAA `issue` records at the apex; none means any CA may issue.
    pub caa: Vec<CaaRecord>,
    /// Whether registered names also answer AAAA `::1` (else AAAA is NODATA).
    pub answer_aaaa: bool,
    /// TTL of the positive answers (SOA, NS, CAA, A, AAAA and glue); challenge TXT
    /// records get min(this, [`MAX_CHALLENGE_TTL`]) so that a new value is seen quickly.
    pub ttl: u32,
}

/// One nameserver of the zone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NameServer {
    /// Its host name, inside the zone (`ns1.<apex>`) or elsewhere (`ns1.example.net`).
    pub name: String,
    /// Glue A address; only for a name inside the zone.
    pub ipv4: Option<Ipv4Addr>,
    /// Glue AAAA address; only for a name inside the zone.
    pub ipv6: Option<Ipv6Addr>,
}

/// The SOA record's fields (RFC 1035 §3.3.13).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Soa {
    /// The primary nameserver's name.
    pub mname: String,
    /// The responsible mailbox in DNS form (`hostmaster.example.org` for
    /// `hostmaster@example.org`).
    pub rname: String,
    /// The zone serial.
    pub serial: u32,
    /// Secondary refresh interval, seconds.
    pub refresh: u32,
    /// Secondary retry interval, seconds.
    pub retry: u32,
    /// Secondary expiry, seconds.
    pub expire: u32,
    /// Negative-caching TTL, seconds (RFC 2308; the negative TTL is min(this, `ttl`)).
    pub minimum: u32,
}

/// One CAA `issue` record (RFC 8659) at the apex.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CaaRecord {
    /// The CA's issuer domain, e.g. `letsencrypt.org`.
    pub issuer: String,
    /// The ACME account allowed to issue (RFC 8657 `accounturi`).
    pub account_uri: Option<String>,
    /// Adds `validationmethods=dns-01` (RFC 8657).
    pub dns01_only: bool,
}

/// Why a [`ZoneConfig`] is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    /// A configured name is not a valid domain name.
    #[error("{field} {value:?} is not a valid domain name")]
    InvalidName {
        /// Which setting.
        field: &'static str,
        /// What was given.
        value: String,
    },
    /// The apex is the root or a single label.
    #[error("the zone apex {apex:?} must have at least two labels")]
    ApexTooShort {
        /// What was given.
        apex: String,
    },
    /// No nameserver is configured.
    #[error("at least one nameserver is required")]
    NoNameservers,
    /// A nameserver outside the zone has glue addresses (they would never be served).
    #[error("nameserver {name:?} is outside the zone; glue addresses are only for names inside it")]
    GlueOutsideZone {
        /// The nameserver's name.
        name: String,
    },
    /// The apex itself is named as a nameserver: the apex answers no A/AAAA.
    #[error("nameserver {name:?} is the apex itself; give it its own name")]
    NameserverAtApex {
        /// The nameserver's name.
        name: String,
    },
    /// A CAA issuer is not a plain domain name.
    #[error("CAA issuer {issuer:?} is not a domain name")]
    InvalidCaaIssuer {
        /// What was given.
        issuer: String,
    },
    /// A CAA `accounturi` holds characters a CAA parameter value cannot hold.
    #[error("CAA accounturi {uri:?} must be non-empty printable ASCII without ';'")]
    InvalidAccountUri {
        /// What was given.
        uri: String,
    },
    /// An SOA timer does not fit the 31-bit field.
    #[error("SOA {field} {value} is larger than {max}", max = i32::MAX)]
    SoaTimerTooLarge {
        /// Which timer.
        field: &'static str,
        /// What was given.
        value: u32,
    },
}

/// A nameserver host inside the zone, with the glue it answers.
#[derive(Debug, Clone)]
pub(crate) struct InZoneHost {
    /// Lowercase, fully qualified.
    pub(crate) name: Name,
    pub(crate) ipv4: Option<Ipv4Addr>,
    pub(crate) ipv6: Option<Ipv6Addr>,
}

/// The configuration turned into the records the handler serves.
#[derive(Debug, Clone)]
pub(crate) struct Compiled {
    /// Lowercase, fully qualified.
    pub(crate) apex: Name,
    pub(crate) apex_labels: u8,
    pub(crate) ttl: u32,
    /// min(ttl, MAX_CHALLENGE_TTL): the TTL of challenge TXT records.
    pub(crate) challenge_ttl: u32,
    /// min(SOA minimum, ttl): the TTL of the SOA in negative answers (RFC 2308 §3).
    pub(crate) negative_ttl: u32,
    pub(crate) answer_aaaa: bool,
    pub(crate) soa: Record,
    pub(crate) ns: Vec<Record>,
    /// A/AAAA of in-zone nameservers, for the additional section of NS answers.
    pub(crate) glue: Vec<Record>,
    pub(crate) caa: Vec<Record>,
    pub(crate) hosts: Vec<InZoneHost>,
}

fn parse_name(field: &'static str, value: &str) -> Result<Name, ConfigError> {
    let invalid = || ConfigError::InvalidName {
        field,
        value: value.to_owned(),
    };
    let trimmed = value.strip_suffix('.').unwrap_or(value);
    if trimmed.is_empty()
        || !trimmed
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.' || b == b'_')
    {
        return Err(invalid());
    }
    let mut name = Name::from_ascii(trimmed).map_err(|_| invalid())?;
    if name.iter().any(<[u8]>::is_empty) {
        return Err(invalid());
    }
    name.set_fqdn(true);
    Ok(name.to_lowercase())
}

fn timer(field: &'static str, value: u32) -> Result<i32, ConfigError> {
    i32::try_from(value).map_err(|_| ConfigError::SoaTimerTooLarge { field, value })
}

fn caa_value(caa: &CaaRecord) -> Result<Vec<u8>, ConfigError> {
    let issuer = caa.issuer.strip_suffix('.').unwrap_or(&caa.issuer);
    let ldh = |l: &str| {
        !l.is_empty()
            && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
            && !l.starts_with('-')
            && !l.ends_with('-')
    };
    if issuer.is_empty() || !issuer.split('.').all(ldh) {
        return Err(ConfigError::InvalidCaaIssuer {
            issuer: caa.issuer.clone(),
        });
    }
    let mut value = issuer.to_ascii_lowercase();
    if let Some(uri) = &caa.account_uri {
        // RFC 8659 parameter-value = *(%x21-3A / %x3C-7E)
        if uri.is_empty() || !uri.bytes().all(|b| (0x21..=0x7e).contains(&b) && b != b';') {
            return Err(ConfigError::InvalidAccountUri { uri: uri.clone() });
        }
        value.push_str("; accounturi=");
        value.push_str(uri);
    }
    if caa.dns01_only {
        value.push_str("; validationmethods=dns-01");
    }
    Ok(value.into_bytes())
}

impl ZoneConfig {
    /// Checks every field and precomputes the records.
    pub(crate) fn compile(&self) -> Result<Compiled, ConfigError> {
        let apex = parse_name("apex", &self.apex)?;
        if apex.num_labels() < 2 {
            return Err(ConfigError::ApexTooShort {
                apex: self.apex.clone(),
            });
        }
        if self.nameservers.is_empty() {
            return Err(ConfigError::NoNameservers);
        }
        let ttl = self.ttl;
        let soa = SOA::new(
            parse_name("soa.mname", &self.soa.mname)?,
            parse_name("soa.rname", &self.soa.rname)?,
            self.soa.serial,
            timer("refresh", self.soa.refresh)?,
            timer("retry", self.soa.retry)?,
            timer("expire", self.soa.expire)?,
            self.soa.minimum,
        );
        let soa = Record::from_rdata(apex.clone(), ttl, RData::SOA(soa));

        let mut ns = Vec::with_capacity(self.nameservers.len());
        let mut glue = Vec::new();
        let mut hosts = Vec::new();
        for server in &self.nameservers {
            let name = parse_name("nameserver", &server.name)?;
            ns.push(Record::from_rdata(
                apex.clone(),
                ttl,
                RData::NS(NS(name.clone())),
            ));
            let has_glue = server.ipv4.is_some() || server.ipv6.is_some();
            if !apex.zone_of(&name) {
                if has_glue {
                    return Err(ConfigError::GlueOutsideZone {
                        name: server.name.clone(),
                    });
                }
                continue;
            }
            if name == apex {
                return Err(ConfigError::NameserverAtApex {
                    name: server.name.clone(),
                });
            }
            if let Some(v4) = server.ipv4 {
                glue.push(Record::from_rdata(name.clone(), ttl, RData::A(A(v4))));
            }
            if let Some(v6) = server.ipv6 {
                glue.push(Record::from_rdata(name.clone(), ttl, RData::AAAA(AAAA(v6))));
            }
            hosts.push(InZoneHost {
                name,
                ipv4: server.ipv4,
                ipv6: server.ipv6,
            });
        }

        let mut caa = Vec::with_capacity(self.caa.len());
        for c in &self.caa {
            let mut rdata = CAA::new_issue(false, None, Vec::new());
            rdata.value = caa_value(c)?;
            caa.push(Record::from_rdata(apex.clone(), ttl, RData::CAA(rdata)));
        }

        Ok(Compiled {
            apex_labels: apex.num_labels(),
            apex,
            ttl,
            challenge_ttl: ttl.min(MAX_CHALLENGE_TTL),
            negative_ttl: self.soa.minimum.min(ttl),
            answer_aaaa: self.answer_aaaa,
            soa,
            ns,
            glue,
            caa,
            hosts,
        })
    }
}

#[cfg(test)]
pub(crate) mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    pub(crate) fn example() -> ZoneConfig {
        ZoneConfig {
            apex: "Example.TEST.".into(),
            nameservers: vec![
                NameServer {
                    name: "ns1.example.test".into(),
                    ipv4: Some(Ipv4Addr::new(192, 0, 2, 53)),
                    ipv6: None,
                },
                NameServer {
                    name: "ns.elsewhere.test".into(),
                    ipv4: None,
                    ipv6: None,
                },
            ],
            soa: Soa {
                mname: "ns1.example.test".into(),
                rname: "hostmaster.example.test".into(),
                serial: 1,
                refresh: 7200,
                retry: 3600,
                expire: 1_209_600,
                minimum: 60,
            },
            caa: vec![CaaRecord {
                issuer: "letsencrypt.org".into(),
                account_uri: Some("https://acme-v02.api.letsencrypt.org/acme/acct/1".into()),
                dns01_only: true,
            }],
            answer_aaaa: false,
            ttl: 300,
        }
    }

    #[test]
    fn example_compiles_with_glue_only_in_zone() {
        let c = example().compile().unwrap();
        assert_eq!(c.apex.to_ascii(), "example.test.");
        assert_eq!(c.ns.len(), 2);
        assert_eq!(c.glue.len(), 1);
        assert_eq!(c.hosts.len(), 1);
        assert_eq!(c.negative_ttl, 60);
        let RData::CAA(caa) = &c.caa[0].data else {
            unreachable!()
        };
        assert_eq!(
            String::from_utf8(caa.value.clone()).unwrap(),
            "letsencrypt.org; accounturi=https://acme-v02.api.letsencrypt.org/acme/acct/1; \
             validationmethods=dns-01"
        );
    }

    #[test]
    fn bad_configs_are_refused() {
        let mut c = example();
        c.nameservers[1].ipv4 = Some(Ipv4Addr::LOCALHOST);
        assert!(matches!(
            c.compile(),
            Err(ConfigError::GlueOutsideZone { .. })
        ));

        let mut c = example();
        c.nameservers.clear();
        assert_eq!(c.compile().unwrap_err(), ConfigError::NoNameservers);

        let mut c = example();
        c.apex = "test".into();
        assert!(matches!(c.compile(), Err(ConfigError::ApexTooShort { .. })));

        let mut c = example();
        c.apex = "exa mple.test".into();
        assert!(matches!(c.compile(), Err(ConfigError::InvalidName { .. })));

        let mut c = example();
        c.apex = "a..test".into();
        assert!(matches!(c.compile(), Err(ConfigError::InvalidName { .. })));

        let mut c = example();
        c.caa[0].account_uri = Some("x; issuewild".into());
        assert!(matches!(
            c.compile(),
            Err(ConfigError::InvalidAccountUri { .. })
        ));

        let mut c = example();
        c.caa[0].issuer = "lets encrypt".into();
        assert!(matches!(
            c.compile(),
            Err(ConfigError::InvalidCaaIssuer { .. })
        ));

        let mut c = example();
        c.soa.expire = u32::MAX;
        assert!(matches!(
            c.compile(),
            Err(ConfigError::SoaTimerTooLarge { .. })
        ));

        let mut c = example();
        c.nameservers[0].name = "example.test".into();
        assert!(matches!(
            c.compile(),
            Err(ConfigError::NameserverAtApex { .. })
        ));
    }
}

//! `ZoneState`: the zone's mutable data, held in memory so that queries never wait on a
//! database. Only two things change: which labels are registered, and the ACME TXT values
//! at `_acme-challenge.<label>` (at most two per name). There is deliberately no way to set
//! an address: A and AAAA answers are constants of the query handler.
//!
//! Concurrency: one `std::sync::RwLock` over two hash tables. Queries take the read lock
//! for one hash lookup (tens of nanoseconds, against microseconds of socket I/O per query;
//! see `bench/dns`), writers (registrations, ACME orders) are rare. A copy-on-write
//! snapshot (arc-swap) would make every registration copy all 100,000 names.

use std::collections::{HashMap, HashSet};
use std::fmt;
use std::sync::{PoisonError, RwLock, RwLockReadGuard, RwLockWriteGuard};

use hickory_proto::rr::Name;

use crate::config::{Compiled, ConfigError, ZoneConfig};
use crate::label::{Label, LabelError, MAX_LABEL_LEN, lower_wire_label};

/// The most TXT values one `_acme-challenge` name holds (an order for the name plus one
/// overlapping renewal).
pub const MAX_CHALLENGES_PER_NAME: usize = 2;

/// The longest TXT challenge value (one DNS character-string).
pub const MAX_CHALLENGE_LEN: usize = 255;

/// The label that carries ACME DNS-01 challenges (RFC 8555 §8.4).
pub(crate) const ACME_CHALLENGE_LABEL: &[u8] = b"_acme-challenge";

/// A refused change to the zone.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ZoneError {
    /// The label is not a valid hostname label.
    #[error("invalid label {label:?}: {source}")]
    InvalidLabel {
        /// The label as given.
        label: String,
        /// What is wrong with it.
        source: LabelError,
    },
    /// The label is taken by one of the zone's own nameserver names.
    #[error("{label:?} is part of a nameserver name of the zone and cannot be registered")]
    ReservedForNameserver {
        /// The label.
        label: String,
    },
    /// A user holds the label the service wants for itself.
    #[error("{label:?} is registered by a user; choose another name for the service")]
    AlreadyRegistered {
        /// The label.
        label: String,
    },
    /// The label is one of the service's own names.
    #[error("{label:?} is a name of the service itself and cannot be registered")]
    ReservedForService {
        /// The label.
        label: String,
    },
    /// A challenge was set for a label that is not registered.
    #[error("{label:?} is not registered; challenges are only published for registered names")]
    NotRegistered {
        /// The label.
        label: String,
    },
    /// The name already holds the most challenge values allowed.
    #[error("_acme-challenge.{label} already holds {MAX_CHALLENGES_PER_NAME} values")]
    TooManyChallenges {
        /// The label.
        label: String,
    },
    /// The challenge value is empty, too long or not printable ASCII.
    #[error(
        "a challenge value must be 1-{MAX_CHALLENGE_LEN} printable ASCII characters without spaces \
         (got {len} bytes)"
    )]
    InvalidChallenge {
        /// Its length in bytes.
        len: usize,
    },
}

/// What a query name is, for the handler.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Node {
    /// Outside the zone.
    OutOfZone,
    /// The apex.
    Apex,
    /// An in-zone nameserver host (index into `Compiled::hosts`).
    Host(usize),
    /// An ancestor of an in-zone nameserver host: exists, holds no records.
    EmptyNonTerminal,
    /// A registered name.
    Registered,
    /// `_acme-challenge.<registered>` with these TXT values (never empty).
    Challenge(Vec<Box<str>>),
    /// Inside the zone, but no such name.
    Missing,
}

#[derive(Debug, Default)]
struct Names {
    /// Lowercase labels.
    registered: HashSet<Box<[u8]>>,
    /// Lowercase label → its TXT values (1 or 2; the entry is removed when empty).
    challenges: HashMap<Box<[u8]>, Vec<Box<str>>>,
    /// Labels of the service's own names (its web host): challenges allowed, never
    /// registrable, no A record.
    service: HashSet<Box<[u8]>>,
}

/// The zone: its fixed configuration and its registered names and ACME challenges.
pub struct ZoneState {
    config: ZoneConfig,
    compiled: Compiled,
    /// Labels directly under the apex taken by a nameserver host.
    reserved: HashSet<Box<[u8]>>,
    names: RwLock<Names>,
}

impl fmt::Debug for ZoneState {
    // Counts, not the (possibly 100,000) labels.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let names = self.read();
        f.debug_struct("ZoneState")
            .field("apex", &self.config.apex)
            .field("registered", &names.registered.len())
            .field("challenge_names", &names.challenges.len())
            .finish_non_exhaustive()
    }
}

fn parse(label: &str) -> Result<Label, ZoneError> {
    Label::parse(label).map_err(|source| ZoneError::InvalidLabel {
        label: label.to_owned(),
        source,
    })
}

fn check_challenge(value: &str) -> Result<(), ZoneError> {
    let ok = !value.is_empty()
        && value.len() <= MAX_CHALLENGE_LEN
        && value.bytes().all(|b| b.is_ascii_graphic());
    if ok {
        Ok(())
    } else {
        Err(ZoneError::InvalidChallenge { len: value.len() })
    }
}

impl ZoneState {
    /// Validates `config` and starts with no registered names.
    pub fn new(config: ZoneConfig) -> Result<ZoneState, ConfigError> {
        let compiled = config.compile()?;
        // The label directly under the apex of each in-zone nameserver host (`ns1` for
        // `ns1.<apex>`, `dns` for `a.dns.<apex>`): registering it would shadow the host.
        let reserved = compiled
            .hosts
            .iter()
            .filter_map(|h| h.name.iter().rev().nth(usize::from(compiled.apex_labels)))
            .map(|l| l.to_ascii_lowercase().into_boxed_slice())
            .collect();
        Ok(ZoneState {
            config,
            compiled,
            reserved,
            names: RwLock::new(Names::default()),
        })
    }

    /// The configuration the zone was built from.
    pub fn config(&self) -> &ZoneConfig {
        &self.config
    }

    /// The apex, lowercase, without the trailing dot.
    pub fn apex(&self) -> String {
        let mut s = self.compiled.apex.to_ascii();
        s.pop();
        s
    }

    pub(crate) fn compiled(&self) -> &Compiled {
        &self.compiled
    }

    // The lock guards plain hash tables that no code path leaves half-updated, so a
    // poisoned lock still holds consistent data.
    fn read(&self) -> RwLockReadGuard<'_, Names> {
        self.names.read().unwrap_or_else(PoisonError::into_inner)
    }

    fn write(&self) -> RwLockWriteGuard<'_, Names> {
        self.names.write().unwrap_or_else(PoisonError::into_inner)
    }

    fn check_not_reserved(&self, label: &Label) -> Result<(), ZoneError> {
        if self.reserved.contains(label.as_str().as_bytes()) {
            return Err(ZoneError::ReservedForNameserver {
                label: label.to_string(),
            });
        }
        if self.read().service.contains(label.as_str().as_bytes()) {
            return Err(ZoneError::ReservedForService {
                label: label.to_string(),
            });
        }
        Ok(())
    }

    /// Makes `label` one of the service's own names: ACME challenges may be published at
    /// `_acme-challenge.<label>.<apex>` (for the service's own certificate), users can
    /// never register it, and it answers no A record. Refused if someone holds it.
    pub fn add_service_label(&self, label: &str) -> Result<(), ZoneError> {
        let label = parse(label)?;
        let mut names = self.write();
        let key = label.as_str().as_bytes();
        if names.registered.contains(key) {
            return Err(ZoneError::AlreadyRegistered {
                label: label.to_string(),
            });
        }
        names.service.insert(key.into());
        Ok(())
    }

    /// Whether `label` is one of the service's own names.
    pub fn is_service_label(&self, label: &str) -> bool {
        Label::parse(label)
            .map(|l| self.read().service.contains(l.as_str().as_bytes()))
            .unwrap_or(false)
    }

    /// Registers `label` so that `<label>.<apex>` answers A 127.0.0.1. Returns false if it
    /// was registered already.
    pub fn register(&self, label: &str) -> Result<bool, ZoneError> {
        let label = parse(label)?;
        self.check_not_reserved(&label)?;
        Ok(self.write().registered.insert(label.into_boxed_bytes()))
    }

    /// Removes `label` and its challenges. Returns false if it was not registered.
    pub fn unregister(&self, label: &str) -> Result<bool, ZoneError> {
        let label = parse(label)?;
        let key = label.as_str().as_bytes();
        let mut names = self.write();
        names.challenges.remove(key);
        Ok(names.registered.remove(key))
    }

    /// Whether `label` is registered (false for an invalid label).
    pub fn is_registered(&self, label: &str) -> bool {
        Label::parse(label)
            .map(|l| self.read().registered.contains(l.as_str().as_bytes()))
            .unwrap_or(false)
    }

    /// How many labels are registered.
    pub fn len(&self) -> usize {
        self.read().registered.len()
    }

    /// Whether no label is registered.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Publishes `value` as TXT at `_acme-challenge.<label>.<apex>`. Setting a value that
    /// is already published is a no-op; a third distinct value is refused.
    pub fn set_challenge(&self, label: &str, value: &str) -> Result<(), ZoneError> {
        let label = parse(label)?;
        check_challenge(value)?;
        let mut names = self.write();
        let key = label.as_str().as_bytes();
        if !names.registered.contains(key) && !names.service.contains(key) {
            return Err(ZoneError::NotRegistered {
                label: label.to_string(),
            });
        }
        let values = names.challenges.entry(key.into()).or_default();
        if values.iter().any(|v| **v == *value) {
            return Ok(());
        }
        if values.len() >= MAX_CHALLENGES_PER_NAME {
            return Err(ZoneError::TooManyChallenges {
                label: label.to_string(),
            });
        }
        values.push(value.into());
        Ok(())
    }

    /// Withdraws one TXT value of `label`. Returns false if it was not published.
    pub fn remove_challenge(&self, label: &str, value: &str) -> Result<bool, ZoneError> {
        let label = parse(label)?;
        let key = label.as_str().as_bytes();
        let mut names = self.write();
        let Some(values) = names.challenges.get_mut(key) else {
            return Ok(false);
        };
        let before = values.len();
        values.retain(|v| **v != *value);
        let removed = values.len() < before;
        if values.is_empty() {
            names.challenges.remove(key);
        }
        Ok(removed)
    }

    /// Withdraws every TXT value of `label`; returns how many there were.
    pub fn clear_challenges(&self, label: &str) -> Result<usize, ZoneError> {
        let label = parse(label)?;
        Ok(self
            .write()
            .challenges
            .remove(label.as_str().as_bytes())
            .map_or(0, |v| v.len()))
    }

    /// The TXT values published for `label`, oldest first.
    pub fn challenges(&self, label: &str) -> Vec<String> {
        let Ok(label) = Label::parse(label) else {
            return Vec::new();
        };
        self.read()
            .challenges
            .get(label.as_str().as_bytes())
            .map(|v| v.iter().map(|s| s.to_string()).collect())
            .unwrap_or_default()
    }

    /// Replaces the registered names with `labels` (loading from storage at start). All or
    /// nothing: one invalid or reserved label refuses the whole set. Challenges of labels
    /// that stay registered are kept; the others are dropped.
    pub fn replace_all<I, S>(&self, labels: I) -> Result<(), ZoneError>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let mut registered = HashSet::new();
        for label in labels {
            let label = parse(label.as_ref())?;
            self.check_not_reserved(&label)?;
            registered.insert(label.into_boxed_bytes());
        }
        registered.shrink_to_fit();
        let mut names = self.write();
        names
            .challenges
            .retain(|label, _| registered.contains(label));
        let old = std::mem::replace(&mut names.registered, registered);
        drop(names);
        drop(old); // freed outside the lock
        Ok(())
    }

    /// Classifies a query name (any case). Allocates only for challenge names.
    pub(crate) fn lookup(&self, qname: &Name) -> Node {
        let c = &self.compiled;
        if !c.apex.zone_of(qname) {
            return Node::OutOfZone;
        }
        let depth = qname.iter().len() - usize::from(c.apex_labels);
        if depth == 0 {
            return Node::Apex;
        }
        for (i, host) in c.hosts.iter().enumerate() {
            if host.name == *qname {
                return Node::Host(i);
            }
            if qname.zone_of(&host.name) {
                return Node::EmptyNonTerminal;
            }
        }
        let mut labels = qname.iter();
        let mut buf = [0; MAX_LABEL_LEN];
        match (depth, labels.next(), labels.next()) {
            (1, Some(first), _) => match lower_wire_label(first, &mut buf) {
                Some(key) if self.read().registered.contains(key) => Node::Registered,
                _ => Node::Missing,
            },
            (2, Some(first), Some(second)) if first.eq_ignore_ascii_case(ACME_CHALLENGE_LABEL) => {
                let Some(key) = lower_wire_label(second, &mut buf) else {
                    return Node::Missing;
                };
                match self.read().challenges.get(key) {
                    Some(values) if !values.is_empty() => Node::Challenge(values.clone()),
                    _ => Node::Missing,
                }
            }
            _ => Node::Missing,
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::config::tests::example;

    fn zone() -> ZoneState {
        ZoneState::new(example()).unwrap()
    }

    fn name(s: &str) -> Name {
        Name::from_ascii(s).unwrap()
    }

    #[test]
    fn register_is_case_insensitive_and_idempotent() {
        let z = zone();
        assert!(z.register("Alice").unwrap());
        assert!(!z.register("alice").unwrap());
        assert!(z.is_registered("ALICE"));
        assert!(!z.is_registered("bob"));
        assert!(!z.is_registered("not valid"));
        assert_eq!(z.len(), 1);
        assert!(z.unregister("aLiCe").unwrap());
        assert!(!z.unregister("alice").unwrap());
        assert!(z.is_empty());
    }

    #[test]
    fn service_labels_take_challenges_but_are_never_registered() {
        let z = zone();
        z.register("alice").unwrap();
        assert_eq!(
            z.add_service_label("alice"),
            Err(ZoneError::AlreadyRegistered {
                label: "alice".into()
            })
        );
        assert_eq!(
            z.set_challenge("certs", "v1"),
            Err(ZoneError::NotRegistered {
                label: "certs".into()
            })
        );
        z.add_service_label("Certs").unwrap();
        assert!(z.is_service_label("certs") && !z.is_service_label("alice"));
        assert_eq!(
            z.register("certs"),
            Err(ZoneError::ReservedForService {
                label: "certs".into()
            })
        );
        z.set_challenge("certs", "v1").unwrap();
        assert_eq!(
            z.lookup(&name("_acme-challenge.certs.example.test.")),
            Node::Challenge(vec!["v1".into()])
        );
        // No A record: the service's web host is not a loopback name.
        assert_eq!(z.lookup(&name("certs.example.test.")), Node::Missing);
    }

    #[test]
    fn invalid_and_reserved_labels_are_refused() {
        let z = zone();
        assert!(matches!(
            z.register("-x"),
            Err(ZoneError::InvalidLabel {
                source: LabelError::LeadingHyphen,
                ..
            })
        ));
        assert_eq!(
            z.register("NS1"),
            Err(ZoneError::ReservedForNameserver {
                label: "ns1".into()
            })
        );
        assert!(z.replace_all(["a", "ns1"]).is_err());
        assert!(z.replace_all(["a", "b c"]).is_err());
        assert!(z.is_empty(), "a refused replace_all changes nothing");
    }

    #[test]
    fn challenges_hold_at_most_two_values_for_registered_names() {
        let z = zone();
        assert_eq!(
            z.set_challenge("alice", "v1"),
            Err(ZoneError::NotRegistered {
                label: "alice".into()
            })
        );
        z.register("alice").unwrap();
        z.set_challenge("alice", "v1").unwrap();
        z.set_challenge("alice", "v1").unwrap();
        z.set_challenge("ALICE", "v2").unwrap();
        assert_eq!(
            z.set_challenge("alice", "v3"),
            Err(ZoneError::TooManyChallenges {
                label: "alice".into()
            })
        );
        assert_eq!(z.challenges("alice"), ["v1", "v2"]);
        assert!(z.remove_challenge("alice", "v1").unwrap());
        assert!(!z.remove_challenge("alice", "v1").unwrap());
        z.set_challenge("alice", "v3").unwrap();
        assert_eq!(z.clear_challenges("alice").unwrap(), 2);
        assert!(z.challenges("alice").is_empty());
        assert_eq!(
            z.set_challenge("alice", ""),
            Err(ZoneError::InvalidChallenge { len: 0 })
        );
        assert_eq!(
            z.set_challenge("alice", "a b"),
            Err(ZoneError::InvalidChallenge { len: 3 })
        );
        assert!(z.set_challenge("alice", &"x".repeat(256)).is_err());
        z.set_challenge("alice", &"x".repeat(255)).unwrap();
        z.unregister("alice").unwrap();
        z.register("alice").unwrap();
        assert!(z.challenges("alice").is_empty(), "unregister drops them");
    }

    #[test]
    fn replace_all_keeps_challenges_of_names_that_stay() {
        let z = zone();
        z.replace_all(["a", "b"]).unwrap();
        z.set_challenge("a", "x").unwrap();
        z.set_challenge("b", "y").unwrap();
        z.replace_all(["A", "c"]).unwrap();
        assert_eq!(z.challenges("a"), ["x"]);
        assert!(z.challenges("b").is_empty());
        assert!(z.is_registered("c") && !z.is_registered("b"));
    }

    #[test]
    fn lookup_classifies_names() {
        let z = zone();
        z.register("alice").unwrap();
        assert_eq!(z.lookup(&name("example.test.")), Node::Apex);
        assert_eq!(z.lookup(&name("EXAMPLE.test.")), Node::Apex);
        assert_eq!(z.lookup(&name("Alice.Example.Test.")), Node::Registered);
        assert_eq!(z.lookup(&name("bob.example.test.")), Node::Missing);
        assert_eq!(z.lookup(&name("x.alice.example.test.")), Node::Missing);
        assert_eq!(z.lookup(&name("ns1.example.test.")), Node::Host(0));
        assert_eq!(z.lookup(&name("example.org.")), Node::OutOfZone);
        assert_eq!(z.lookup(&name("test.")), Node::OutOfZone);
        assert_eq!(
            z.lookup(&name("_acme-challenge.alice.example.test.")),
            Node::Missing
        );
        z.set_challenge("alice", "tok").unwrap();
        assert_eq!(
            z.lookup(&name("_ACME-Challenge.ALICE.example.test.")),
            Node::Challenge(vec!["tok".into()])
        );
        assert_eq!(z.apex(), "example.test");
        let debug = format!("{z:?}");
        assert!(debug.contains("registered: 1"), "{debug}");
        assert!(!debug.contains("alice"), "{debug}");
    }
}

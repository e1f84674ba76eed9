//! The authoritative DNS of aws-sso-certd for its one zone: SOA, NS and CAA at the apex,
//! A `127.0.0.1` (and AAAA `::1` if configured) for every registered name, and TXT at
//! `_acme-challenge.<registered name>` while an ACME order needs it. Everything else inside
//! the zone is NXDOMAIN or NODATA; names outside it are REFUSED; there is no recursion.
//! It owns the in-memory zone ([`ZoneState`], which the rest of certd keeps in step with
//! its store) and the UDP/TCP listeners ([`serve`]); it knows nothing of databases, HTTP
//! or ACME.
//!
//! Security (DESIGN.md §5.1-2): addresses of registered names are constants in the
//! handler ([`LOOPBACK_V4`], [`LOOPBACK_V6`]); no function takes an address for them. The
//! only data that changes at run time are the registered labels and at most
//! [`MAX_CHALLENGES_PER_NAME`] TXT values per challenge name. Nameserver glue comes from
//! the operator's [`ZoneConfig`] and is fixed at start.
//!
//! Why a hand-written handler on hickory-proto rather than hickory-server: hickory-server's
//! `Authority`/catalog machinery serves record sets stored per name, which would mean
//! materialising 100,000 identical A records and mutating record sets for challenges. Here
//! every answer is derived from "is this label registered?", one hash lookup, and the
//! policy (constant addresses, two TXT values at most) is a page of code a reviewer can read.
//!
//! ANY (RFC 8482): answered minimally with one RRset of the name (SOA at the apex, A at a
//! registered name, the TXT values at a challenge name), never everything.

mod config;
mod handler;
mod label;
mod serve;
mod zone;

/// The query handler as a plain function, for the fuzz targets in `fuzz/` (not an API).
#[doc(hidden)]
pub mod fuzzing {
    /// Answers one request received over UDP (`tcp == false`) or TCP, as the server
    /// would: `None` means the server sends nothing (or closes the TCP connection).
    pub fn handle(zone: &crate::ZoneState, request: &[u8], tcp: bool) -> Option<Vec<u8>> {
        let transport = if tcp {
            crate::handler::Transport::Tcp
        } else {
            crate::handler::Transport::Udp
        };
        crate::handler::handle(zone, request, transport).ok()
    }
}

pub use config::{CaaRecord, ConfigError, MAX_CHALLENGE_TTL, NameServer, Soa, ZoneConfig};
pub use handler::{LOOPBACK_V4, LOOPBACK_V6, MAX_UDP_PAYLOAD};
pub use label::{Label, LabelError, MAX_LABEL_LEN};
pub use serve::{ServeOptions, serve};
pub use zone::{MAX_CHALLENGE_LEN, MAX_CHALLENGES_PER_NAME, ZoneError, ZoneState};

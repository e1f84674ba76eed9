//! The query handler: one request's bytes in, at most one response's bytes out. It owns
//! the answering policy (what each name holds, NXDOMAIN/NODATA/REFUSED, EDNS, truncation
//! for UDP); sockets and timeouts live in `serve`.
//!
//! A and AAAA answers for registered names come only from [`LOOPBACK_V4`] and
//! [`LOOPBACK_V6`] below; nothing else in the crate builds an address record for them.

use std::net::{Ipv4Addr, Ipv6Addr};

use hickory_proto::op::{Edns, Header, Message, MessageType, Metadata, OpCode, ResponseCode};
use hickory_proto::rr::rdata::{A, AAAA, TXT};
use hickory_proto::rr::{DNSClass, Name, RData, Record, RecordType};
use hickory_proto::serialize::binary::{BinDecodable, BinDecoder};

use crate::zone::{Node, ZoneState};

/// The only IPv4 address a registered name resolves to.
pub const LOOPBACK_V4: Ipv4Addr = Ipv4Addr::LOCALHOST;

/// The only IPv6 address a registered name resolves to (when AAAA is enabled).
pub const LOOPBACK_V6: Ipv6Addr = Ipv6Addr::LOCALHOST;

/// The EDNS UDP payload size the server advertises and the largest UDP response it sends
/// (the DNS Flag Day 2020 value, safe from IP fragmentation).
pub const MAX_UDP_PAYLOAD: u16 = 1232;

/// The UDP response size for a client without EDNS (RFC 1035).
const CLASSIC_UDP_PAYLOAD: u16 = 512;

/// How the request arrived: UDP answers are bounded by the client's payload size.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Transport {
    Udp,
    Tcp,
}

/// Why a request got no response at all.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Dropped {
    /// Shorter than a header, or not a parseable DNS message.
    Malformed,
    /// QR=1: a response, never answered (no reflection loops).
    Response,
    /// The response could not be encoded (a bug; logged by the caller).
    Encode,
}

/// Answers one request. `Err` means: send nothing (UDP) or close the connection (TCP).
pub(crate) fn handle(
    zone: &ZoneState,
    request: &[u8],
    transport: Transport,
) -> Result<Vec<u8>, Dropped> {
    let header = Header::read(&mut BinDecoder::new(request)).map_err(|_| Dropped::Malformed)?;
    if header.metadata.message_type == MessageType::Response {
        return Err(Dropped::Response);
    }
    let request = Message::from_vec(request).map_err(|_| Dropped::Malformed)?;
    let response = respond(zone, &request);
    let limit = match transport {
        Transport::Tcp => usize::from(u16::MAX),
        Transport::Udp => usize::from(match &request.edns {
            Some(edns) => edns
                .max_payload()
                .clamp(CLASSIC_UDP_PAYLOAD, MAX_UDP_PAYLOAD),
            None => CLASSIC_UDP_PAYLOAD,
        }),
    };
    encode(&response, limit)
}

fn encode(response: &Message, limit: usize) -> Result<Vec<u8>, Dropped> {
    let bytes = response.to_vec().map_err(|_| Dropped::Encode)?;
    if bytes.len() <= limit {
        return Ok(bytes);
    }
    // Too large for this client over UDP: header, question and OPT only, TC=1; the
    // client retries over TCP (RFC 7766).
    response.truncate().to_vec().map_err(|_| Dropped::Encode)
}

fn our_edns() -> Edns {
    let mut edns = Edns::new();
    edns.set_max_payload(MAX_UDP_PAYLOAD);
    edns.set_version(0);
    edns
}

/// The response message for a parsed request.
fn respond(zone: &ZoneState, request: &Message) -> Message {
    let mut response = Message::response(request.metadata.id, request.metadata.op_code);
    // ID, opcode, RD and CD copied; RA=0 (no recursion here, ever); AA set below.
    response.metadata = Metadata::response_from_request(&request.metadata);
    if let Some(edns) = &request.edns {
        response.edns = Some(our_edns());
        if edns.version() > 0 {
            response.metadata.response_code = ResponseCode::BADVERS;
            return response;
        }
    }
    if request.metadata.op_code != OpCode::Query {
        response.metadata.response_code = ResponseCode::NotImp;
        return response;
    }
    let [query] = request.queries.as_slice() else {
        response.metadata.response_code = ResponseCode::FormErr;
        return response;
    };
    // The question as asked, letter case included (0x20 resolvers compare it).
    response.add_query(query.clone());
    let qtype = query.query_type();
    if query.query_class() != DNSClass::IN || matches!(qtype, RecordType::AXFR | RecordType::IXFR) {
        response.metadata.response_code = ResponseCode::Refused;
        return response;
    }

    let node = zone.lookup(query.name());
    let c = zone.compiled();
    match node {
        Node::OutOfZone => {
            response.metadata.response_code = ResponseCode::Refused;
            return response;
        }
        Node::Missing => {
            response.metadata.authoritative = true;
            response.metadata.response_code = ResponseCode::NXDomain;
            response.add_authority(negative_soa(zone));
            return response;
        }
        _ => response.metadata.authoritative = true,
    }

    let owner = query.name();
    let answers = match node {
        Node::Apex => match qtype {
            RecordType::SOA | RecordType::ANY => vec![c.soa.clone()],
            RecordType::NS => {
                response.add_additionals(c.glue.iter().cloned());
                c.ns.clone()
            }
            RecordType::CAA => c.caa.clone(),
            _ => Vec::new(),
        },
        Node::Host(i) => {
            let host = &c.hosts[i];
            let a = host.ipv4.map(|ip| RData::A(A(ip)));
            let aaaa = host.ipv6.map(|ip| RData::AAAA(AAAA(ip)));
            let rdata = match qtype {
                RecordType::A => a,
                RecordType::AAAA => aaaa,
                RecordType::ANY => a.or(aaaa),
                _ => None,
            };
            rdata
                .map(|d| Record::from_rdata(owner.clone(), c.ttl, d))
                .into_iter()
                .collect()
        }
        Node::Registered => match qtype {
            RecordType::A | RecordType::ANY => vec![loopback_a(owner, c.ttl)],
            RecordType::AAAA if c.answer_aaaa => vec![loopback_aaaa(owner, c.ttl)],
            _ => Vec::new(),
        },
        Node::Challenge(values) => match qtype {
            RecordType::TXT | RecordType::ANY => values
                .iter()
                .map(|v| {
                    let txt = TXT::new(vec![v.to_string()]);
                    Record::from_rdata(owner.clone(), c.challenge_ttl, RData::TXT(txt))
                })
                .collect(),
            _ => Vec::new(),
        },
        Node::EmptyNonTerminal | Node::OutOfZone | Node::Missing => Vec::new(),
    };
    if answers.is_empty() {
        // NODATA: NOERROR, empty answer, SOA in authority for negative caching (RFC 2308).
        response.add_authority(negative_soa(zone));
    } else {
        response.insert_answers(
            answers
                .into_iter()
                .map(|mut r| {
                    r.name = owner.clone();
                    r
                })
                .collect(),
        );
    }
    response
}

fn loopback_a(owner: &Name, ttl: u32) -> Record {
    Record::from_rdata(owner.clone(), ttl, RData::A(A(LOOPBACK_V4)))
}

fn loopback_aaaa(owner: &Name, ttl: u32) -> Record {
    Record::from_rdata(owner.clone(), ttl, RData::AAAA(AAAA(LOOPBACK_V6)))
}

fn negative_soa(zone: &ZoneState) -> Record {
    let c = zone.compiled();
    let mut soa = c.soa.clone();
    soa.ttl = c.negative_ttl;
    soa
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::config::tests::example;
    use hickory_proto::op::Query;

    fn ask(zone: &ZoneState, name: &str, qtype: RecordType) -> Message {
        let mut m = Message::query();
        m.add_query(Query::query(Name::from_ascii(name).unwrap(), qtype));
        let bytes = handle(zone, &m.to_vec().unwrap(), Transport::Udp).unwrap();
        Message::from_vec(&bytes).unwrap()
    }

    #[test]
    fn registered_names_answer_loopback_only() {
        let zone = ZoneState::new(example()).unwrap();
        zone.register("alice").unwrap();
        let r = ask(&zone, "Alice.example.test.", RecordType::A);
        assert_eq!(r.metadata.response_code, ResponseCode::NoError);
        assert!(r.metadata.authoritative);
        assert!(!r.metadata.recursion_available);
        assert_eq!(r.answers.len(), 1);
        assert_eq!(r.answers[0].data, RData::A(A(LOOPBACK_V4)));
        assert_eq!(r.answers[0].name.to_ascii(), "Alice.example.test.");
        let r = ask(&zone, "alice.example.test.", RecordType::AAAA);
        assert!(r.answers.is_empty());
        assert_eq!(r.authorities.len(), 1);
        let r = ask(&zone, "bob.example.test.", RecordType::A);
        assert_eq!(r.metadata.response_code, ResponseCode::NXDomain);
        let r = ask(&zone, "example.org.", RecordType::A);
        assert_eq!(r.metadata.response_code, ResponseCode::Refused);
        assert!(!r.metadata.authoritative);
    }

    #[test]
    fn garbage_and_responses_are_dropped() {
        let zone = ZoneState::new(example()).unwrap();
        assert_eq!(
            handle(&zone, &[1, 2, 3], Transport::Udp),
            Err(Dropped::Malformed)
        );
        let mut m = Message::query();
        m.metadata.message_type = MessageType::Response;
        assert_eq!(
            handle(&zone, &m.to_vec().unwrap(), Transport::Udp),
            Err(Dropped::Response)
        );
    }
}

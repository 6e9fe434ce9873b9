//! The DNS wire format, as far as DNS service discovery needs it (RFC
//! 1035, RFC 2782 for SRV, RFC 6891 for the EDNS0 OPT record): one query
//! out, the answer section of the response in.

use std::net::{Ipv4Addr, Ipv6Addr};

/// The record types asked for (and understood in answers).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RecordType {
    /// IPv4 address.
    A,
    /// IPv6 address.
    Aaaa,
    /// Service location.
    Srv,
    /// Mail exchanger.
    Mx,
    /// Name server.
    Ns,
}

impl RecordType {
    fn code(self) -> u16 {
        match self {
            RecordType::A => 1,
            RecordType::Ns => 2,
            RecordType::Mx => 15,
            RecordType::Aaaa => 28,
            RecordType::Srv => 33,
        }
    }

    /// The type named as in `dns_sd_configs.type` (any case).
    pub fn parse(name: &str) -> Option<Self> {
        match name.to_ascii_uppercase().as_str() {
            "A" => Some(RecordType::A),
            "AAAA" => Some(RecordType::Aaaa),
            "SRV" => Some(RecordType::Srv),
            "MX" => Some(RecordType::Mx),
            "NS" => Some(RecordType::Ns),
            _ => None,
        }
    }
}

/// One answer record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Record {
    /// An A record.
    A(Ipv4Addr),
    /// An AAAA record.
    Aaaa(Ipv6Addr),
    /// An SRV record: its target (rooted, with the final dot) and port.
    Srv {
        /// The target host.
        target: String,
        /// The port.
        port: u16,
    },
    /// An MX record's exchange host (rooted).
    Mx(String),
    /// An NS record's host (rooted).
    Ns(String),
    /// A CNAME (skipped, as Prometheus does).
    Cname,
    /// Any other type, by its code (logged and skipped).
    Other(u16),
}

/// The response code.
pub const RCODE_SUCCESS: u8 = 0;
/// NXDOMAIN.
pub const RCODE_NAME_ERROR: u8 = 3;

/// A decoded response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    /// The message id.
    pub id: u16,
    /// The response code (low 4 bits).
    pub rcode: u8,
    /// The TC bit: the answer did not fit (retry over TCP).
    pub truncated: bool,
    /// The answer section.
    pub answers: Vec<Record>,
}

/// The UDP payload size offered with EDNS0 (Go's `dns.DefaultMsgSize`).
pub const EDNS_UDP_SIZE: u16 = 4096;

/// A query for `name` (made fully qualified) of type `record_type`, with
/// recursion desired and, when `edns`, an OPT record.
pub fn encode_query(
    id: u16,
    name: &str,
    record_type: RecordType,
    edns: bool,
) -> Result<Vec<u8>, String> {
    let mut out = Vec::with_capacity(64);
    out.extend_from_slice(&id.to_be_bytes());
    out.extend_from_slice(&0x0100u16.to_be_bytes()); // RD
    out.extend_from_slice(&1u16.to_be_bytes()); // QDCOUNT
    out.extend_from_slice(&0u16.to_be_bytes()); // ANCOUNT
    out.extend_from_slice(&0u16.to_be_bytes()); // NSCOUNT
    out.extend_from_slice(&u16::from(edns).to_be_bytes()); // ARCOUNT
    let trimmed = name.strip_suffix('.').unwrap_or(name);
    if !trimmed.is_empty() {
        for label in trimmed.split('.') {
            if label.is_empty() || label.len() > 63 {
                return Err(format!("invalid DNS name {name:?}"));
            }
            out.push(label.len() as u8);
            out.extend_from_slice(label.as_bytes());
        }
    }
    out.push(0);
    if out.len() > 12 + 255 {
        return Err(format!("DNS name {name:?} is too long"));
    }
    out.extend_from_slice(&record_type.code().to_be_bytes());
    out.extend_from_slice(&1u16.to_be_bytes()); // IN
    if edns {
        out.push(0); // root name
        out.extend_from_slice(&41u16.to_be_bytes()); // OPT
        out.extend_from_slice(&EDNS_UDP_SIZE.to_be_bytes());
        out.extend_from_slice(&0u32.to_be_bytes());
        out.extend_from_slice(&0u16.to_be_bytes());
    }
    Ok(out)
}

struct Reader<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, count: usize) -> Result<&'a [u8], String> {
        let end = self
            .at
            .checked_add(count)
            .filter(|end| *end <= self.bytes.len());
        let Some(end) = end else {
            return Err("truncated DNS message".into());
        };
        let slice = &self.bytes[self.at..end];
        self.at = end;
        Ok(slice)
    }

    fn u16(&mut self) -> Result<u16, String> {
        let bytes = self.take(2)?;
        Ok(u16::from_be_bytes([bytes[0], bytes[1]]))
    }

    fn u32(&mut self) -> Result<u32, String> {
        let bytes = self.take(4)?;
        Ok(u32::from_be_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]))
    }

    /// A possibly compressed name starting here, as `a.b.` (the root as
    /// `.`); the reader moves past it.
    fn name(&mut self) -> Result<String, String> {
        let (name, end) = read_name(self.bytes, self.at)?;
        self.at = end;
        Ok(name)
    }
}

/// Reads the name at `start`; returns it and where the name ends in the
/// message (after the first pointer, if any).
fn read_name(bytes: &[u8], start: usize) -> Result<(String, usize), String> {
    let mut name = String::new();
    let mut at = start;
    let mut end = None;
    let mut jumps = 0;
    loop {
        let Some(&length) = bytes.get(at) else {
            return Err("truncated DNS name".into());
        };
        match length & 0xC0 {
            0x00 => {
                if length == 0 {
                    let end = end.unwrap_or(at + 1);
                    if name.is_empty() {
                        name.push('.');
                    }
                    return Ok((name, end));
                }
                let label = bytes
                    .get(at + 1..at + 1 + length as usize)
                    .ok_or("truncated DNS label")?;
                name.push_str(&String::from_utf8_lossy(label));
                name.push('.');
                if name.len() > 255 {
                    return Err("DNS name longer than 255 bytes".into());
                }
                at += 1 + length as usize;
            }
            0xC0 => {
                let low = *bytes.get(at + 1).ok_or("truncated DNS pointer")?;
                if end.is_none() {
                    end = Some(at + 2);
                }
                jumps += 1;
                if jumps > 64 {
                    return Err("DNS name compression loop".into());
                }
                at = (usize::from(length & 0x3F) << 8) | usize::from(low);
            }
            _ => return Err("unknown DNS label type".into()),
        }
    }
}

/// Decodes a response: its header and answer section.
pub fn decode_response(bytes: &[u8]) -> Result<Response, String> {
    let mut reader = Reader { bytes, at: 0 };
    let id = reader.u16()?;
    let flags = reader.u16()?;
    if flags & 0x8000 == 0 {
        return Err("DNS message is not a response".into());
    }
    let question_count = reader.u16()?;
    let answer_count = reader.u16()?;
    reader.u16()?;
    reader.u16()?;
    for _ in 0..question_count {
        reader.name()?;
        reader.take(4)?;
    }
    let mut answers = Vec::with_capacity(usize::from(answer_count));
    for _ in 0..answer_count {
        reader.name()?;
        let record_type = reader.u16()?;
        reader.u16()?; // class
        reader.u32()?; // ttl
        let length = usize::from(reader.u16()?);
        let data_start = reader.at;
        let data = reader.take(length)?;
        let record = match record_type {
            1 if length == 4 => Record::A(Ipv4Addr::new(data[0], data[1], data[2], data[3])),
            28 if length == 16 => {
                let mut octets = [0u8; 16];
                octets.copy_from_slice(data);
                Record::Aaaa(Ipv6Addr::from(octets))
            }
            33 if length >= 7 => {
                let port = u16::from_be_bytes([data[4], data[5]]);
                Record::Srv {
                    target: read_name(bytes, data_start + 6)?.0,
                    port,
                }
            }
            15 if length >= 3 => Record::Mx(read_name(bytes, data_start + 2)?.0),
            2 => Record::Ns(read_name(bytes, data_start)?.0),
            5 => Record::Cname,
            1 | 28 | 33 | 15 => return Err(format!("malformed DNS record of type {record_type}")),
            other => Record::Other(other),
        };
        answers.push(record);
    }
    Ok(Response {
        id,
        rcode: (flags & 0x000F) as u8,
        truncated: flags & 0x0200 != 0,
        answers,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A response to `query` with `answers` (name, type, rdata), the
    /// answer names compressed as pointers to the question.
    fn response(query: &[u8], rcode: u8, answers: &[(u16, Vec<u8>)]) -> Vec<u8> {
        let mut out = query.to_vec();
        out[2] = 0x81;
        out[3] = 0x80 | rcode;
        out[6..8].copy_from_slice(&(answers.len() as u16).to_be_bytes());
        out[10..12].copy_from_slice(&0u16.to_be_bytes());
        // Drop the OPT record the query carried.
        let question_end = 12 + read_name(query, 12).unwrap().1 - 12 + 4;
        out.truncate(question_end);
        for (record_type, data) in answers {
            out.extend_from_slice(&[0xC0, 12]);
            out.extend_from_slice(&record_type.to_be_bytes());
            out.extend_from_slice(&1u16.to_be_bytes());
            out.extend_from_slice(&60u32.to_be_bytes());
            out.extend_from_slice(&(data.len() as u16).to_be_bytes());
            out.extend_from_slice(data);
        }
        out
    }

    #[test]
    fn answers_of_every_type_decode_with_compressed_names() {
        let query = encode_query(7, "_m._tcp.example.com", RecordType::Srv, true).unwrap();
        assert_eq!(&query[12..20], b"\x02_m\x04_tcp");
        // SRV data: priority, weight, port, then a pointer to the question name.
        let mut srv = vec![0, 1, 0, 2, 0x23, 0x82];
        srv.extend_from_slice(&[3, b'w', b'e', b'b', 0xC0, 20]);
        let mut mx = vec![0, 10];
        mx.extend_from_slice(&[4, b'm', b'a', b'i', b'l', 0]);
        let answers = [
            (33, srv),
            (15, mx),
            (2, vec![2, b'n', b's', 0]),
            (1, vec![10, 0, 0, 1]),
            (28, Ipv6Addr::LOCALHOST.octets().to_vec()),
            (5, vec![0]),
            (16, vec![1, b'x']),
        ];
        let decoded = decode_response(&response(&query, 0, &answers)).unwrap();
        assert_eq!(decoded.id, 7);
        assert_eq!(decoded.rcode, RCODE_SUCCESS);
        assert!(!decoded.truncated);
        assert_eq!(
            decoded.answers,
            vec![
                Record::Srv {
                    target: "web.example.com.".into(),
                    port: 9090
                },
                Record::Mx("mail.".into()),
                Record::Ns("ns.".into()),
                Record::A(Ipv4Addr::new(10, 0, 0, 1)),
                Record::Aaaa(Ipv6Addr::LOCALHOST),
                Record::Cname,
                Record::Other(16),
            ]
        );
    }

    #[test]
    fn hostile_messages_are_errors_not_panics() {
        let query = encode_query(1, "a.example", RecordType::A, false).unwrap();
        let good = response(&query, 0, &[(1, vec![10, 0, 0, 1])]);
        for cut in 0..good.len() {
            let _ = decode_response(&good[..cut]);
        }
        // A pointer to itself.
        let mut looped = response(&query, 0, &[(2, vec![0xC0, 0])]);
        let at = looped.len() - 2;
        looped[at] = 0xC0 | (at >> 8) as u8;
        looped[at + 1] = at as u8;
        assert!(decode_response(&looped).is_err());
        assert!(decode_response(&response(&query, 0, &[(1, vec![1, 2])])).is_err());
        assert!(encode_query(1, &"a".repeat(64), RecordType::A, false).is_err());
        assert!(encode_query(1, "a..b", RecordType::A, false).is_err());
        let nxdomain = decode_response(&response(&query, RCODE_NAME_ERROR, &[])).unwrap();
        assert_eq!(nxdomain.rcode, RCODE_NAME_ERROR);
    }
}

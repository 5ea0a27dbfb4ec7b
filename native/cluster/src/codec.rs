//! Hand-specified byte encodings of what the Raft layer stores: log entries,
//! the vote, a log id (docs/CLUSTER-INTERNALS.md, "Encodings").
//!
//! They are written by us, not derived by serde, so the bytes on disk (and
//! the event-log chain over them) never depend on a crate's format version.
//! All integers are little-endian. Decoders check every length against the
//! bytes left before allocating for it and reject trailing bytes.
//!
//! Entry payload: `term u64 | leader node u64 | kind u8 | body`, where kind
//! is 0 blank (no body), 1 command (body = the command bytes), 2 membership:
//! `configs u32, { ids u32, id u64 ... } ...` then `nodes u32, { id u64,
//! api_addr str, raft_addr str, incarnation u64 } ...`, with `str = len u16 | utf-8`. Configs
//! are sorted id sets and nodes sorted by id, as openraft keeps them, so one
//! membership has one encoding. The entry's index is not stored: it is the
//! frame's sequence number minus one.

use std::collections::{BTreeMap, BTreeSet};

use openraft::{CommittedLeaderId, EntryPayload, LogId, Membership, Vote};

use crate::{Command, Entry, Member, NodeId};

const KIND_BLANK: u8 = 0;
const KIND_COMMAND: u8 = 1;
const KIND_MEMBERSHIP: u8 = 2;

/// Longest address string a member may carry.
pub const MAX_ADDR_BYTES: usize = 255;

/// Why bytes did not decode.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DecodeError(pub String);

impl std::fmt::Display for DecodeError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for DecodeError {}

/// Encodes an entry's payload (its index is the frame's).
pub fn encode_entry(entry: &Entry) -> Result<Vec<u8>, DecodeError> {
    let mut out = Vec::new();
    put_u64(&mut out, entry.log_id.leader_id.term);
    put_u64(&mut out, entry.log_id.leader_id.node_id);
    match &entry.payload {
        EntryPayload::Blank => out.push(KIND_BLANK),
        EntryPayload::Normal(cmd) => {
            out.push(KIND_COMMAND);
            out.extend_from_slice(&cmd.0);
        }
        EntryPayload::Membership(m) => {
            out.push(KIND_MEMBERSHIP);
            encode_membership(&mut out, m)?;
        }
    }
    Ok(out)
}

/// Decodes the payload of the entry with Raft index `index`.
pub fn decode_entry(index: u64, bytes: &[u8]) -> Result<Entry, DecodeError> {
    let mut r = Reader {
        b: bytes,
        what: "log entry",
    };
    let term = r.u64()?;
    let node = r.u64()?;
    let payload = match r.u8()? {
        KIND_BLANK => EntryPayload::Blank,
        KIND_COMMAND => EntryPayload::Normal(Command(r.rest().to_vec())),
        KIND_MEMBERSHIP => EntryPayload::Membership(decode_membership(&mut r)?),
        k => return Err(DecodeError(format!("log entry {index}: unknown kind {k}"))),
    };
    r.end()?;
    Ok(Entry {
        log_id: LogId::new(CommittedLeaderId::new(term, node), index),
        payload,
    })
}

/// The log id of an encoded entry without decoding its body.
pub fn entry_log_id(index: u64, bytes: &[u8]) -> Result<LogId<NodeId>, DecodeError> {
    let mut r = Reader {
        b: bytes,
        what: "log entry",
    };
    let term = r.u64()?;
    let node = r.u64()?;
    Ok(LogId::new(CommittedLeaderId::new(term, node), index))
}

pub fn encode_membership(
    out: &mut Vec<u8>,
    m: &Membership<NodeId, Member>,
) -> Result<(), DecodeError> {
    let configs = m.get_joint_config();
    put_u32(out, configs.len() as u32);
    for config in configs {
        put_u32(out, config.len() as u32);
        for id in config {
            put_u64(out, *id);
        }
    }
    let nodes: Vec<_> = m.nodes().collect();
    put_u32(out, nodes.len() as u32);
    for (id, member) in nodes {
        put_u64(out, *id);
        put_str(out, &member.api_addr)?;
        put_str(out, &member.raft_addr)?;
        put_u64(out, member.incarnation);
    }
    Ok(())
}

pub fn decode_membership(r: &mut Reader<'_>) -> Result<Membership<NodeId, Member>, DecodeError> {
    let n_configs = r.count(4)?;
    let mut configs = Vec::with_capacity(n_configs);
    for _ in 0..n_configs {
        let n = r.count(8)?;
        let mut set = BTreeSet::new();
        for _ in 0..n {
            let id = r.u64()?;
            if !set.insert(id) {
                return Err(r.bad(&format!("node {id} twice in one config")));
            }
        }
        configs.push(set);
    }
    let n_nodes = r.count(8 + 2 + 2 + 8)?;
    let mut nodes = BTreeMap::new();
    for _ in 0..n_nodes {
        let id = r.u64()?;
        let member = Member {
            api_addr: r.str()?,
            raft_addr: r.str()?,
            incarnation: r.u64()?,
        };
        if nodes.insert(id, member).is_some() {
            return Err(r.bad(&format!("node {id} listed twice")));
        }
    }
    for id in configs.iter().flatten() {
        if !nodes.contains_key(id) {
            return Err(r.bad(&format!("voter {id} has no address")));
        }
    }
    Ok(Membership::new(configs, nodes))
}

/// `term u64 | node u64 | committed u8`.
pub fn encode_vote(v: &Vote<NodeId>) -> Vec<u8> {
    let mut out = Vec::with_capacity(17);
    put_u64(&mut out, v.leader_id.term);
    put_u64(&mut out, v.leader_id.node_id);
    out.push(u8::from(v.committed));
    out
}

pub fn decode_vote(bytes: &[u8]) -> Result<Vote<NodeId>, DecodeError> {
    let mut r = Reader {
        b: bytes,
        what: "vote",
    };
    let term = r.u64()?;
    let node = r.u64()?;
    let committed = match r.u8()? {
        0 => false,
        1 => true,
        x => return Err(r.bad(&format!("committed flag {x}"))),
    };
    r.end()?;
    Ok(if committed {
        Vote::new_committed(term, node)
    } else {
        Vote::new(term, node)
    })
}

/// `term u64 | leader node u64 | index u64`.
pub fn encode_log_id(id: &LogId<NodeId>) -> Vec<u8> {
    let mut out = Vec::with_capacity(24);
    put_u64(&mut out, id.leader_id.term);
    put_u64(&mut out, id.leader_id.node_id);
    put_u64(&mut out, id.index);
    out
}

pub fn decode_log_id(bytes: &[u8]) -> Result<LogId<NodeId>, DecodeError> {
    let mut r = Reader {
        b: bytes,
        what: "log id",
    };
    let term = r.u64()?;
    let node = r.u64()?;
    let index = r.u64()?;
    r.end()?;
    Ok(LogId::new(CommittedLeaderId::new(term, node), index))
}

fn put_u32(out: &mut Vec<u8>, v: u32) {
    out.extend_from_slice(&v.to_le_bytes());
}

fn put_u64(out: &mut Vec<u8>, v: u64) {
    out.extend_from_slice(&v.to_le_bytes());
}

/// `len u16 | utf-8`, at most [`MAX_ADDR_BYTES`] bytes.
pub fn put_str(out: &mut Vec<u8>, s: &str) -> Result<(), DecodeError> {
    if s.len() > MAX_ADDR_BYTES {
        return Err(DecodeError(format!(
            "a string of {} bytes (max {MAX_ADDR_BYTES})",
            s.len()
        )));
    }
    out.extend_from_slice(&(s.len() as u16).to_le_bytes());
    out.extend_from_slice(s.as_bytes());
    Ok(())
}

/// A bounds-checked cursor over bytes being decoded.
pub struct Reader<'a> {
    b: &'a [u8],
    what: &'static str,
}

impl<'a> Reader<'a> {
    pub fn new(b: &'a [u8], what: &'static str) -> Self {
        Reader { b, what }
    }

    fn bad(&self, why: &str) -> DecodeError {
        DecodeError(format!("{}: {why}", self.what))
    }

    pub fn take(&mut self, n: usize) -> Result<&'a [u8], DecodeError> {
        if self.b.len() < n {
            return Err(self.bad(&format!("{n} bytes needed, {} left", self.b.len())));
        }
        let (head, tail) = self.b.split_at(n);
        self.b = tail;
        Ok(head)
    }

    pub fn u8(&mut self) -> Result<u8, DecodeError> {
        Ok(self.take(1)?[0])
    }

    pub fn u32(&mut self) -> Result<u32, DecodeError> {
        let b = self.take(4)?;
        Ok(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    }

    pub fn u64(&mut self) -> Result<u64, DecodeError> {
        let b = self.take(8)?;
        let mut a = [0u8; 8];
        a.copy_from_slice(b);
        Ok(u64::from_le_bytes(a))
    }

    /// A count of items each at least `min_item` bytes long, refused when
    /// the bytes left could not hold that many (before anything is sized
    /// from it).
    pub fn count(&mut self, min_item: usize) -> Result<usize, DecodeError> {
        let n = self.u32()? as usize;
        if n.saturating_mul(min_item) > self.b.len() {
            return Err(self.bad(&format!(
                "count {n} exceeds the {} bytes left",
                self.b.len()
            )));
        }
        Ok(n)
    }

    pub fn str(&mut self) -> Result<String, DecodeError> {
        let b = self.take(2)?;
        let n = u16::from_le_bytes([b[0], b[1]]) as usize;
        if n > MAX_ADDR_BYTES {
            return Err(self.bad(&format!("a string of {n} bytes (max {MAX_ADDR_BYTES})")));
        }
        let s = self.take(n)?;
        String::from_utf8(s.to_vec()).map_err(|_| self.bad("a string is not utf-8"))
    }

    pub fn rest(&mut self) -> &'a [u8] {
        std::mem::take(&mut self.b)
    }

    pub fn end(&self) -> Result<(), DecodeError> {
        if self.b.is_empty() {
            Ok(())
        } else {
            Err(self.bad(&format!("{} trailing bytes", self.b.len())))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn samples() -> Vec<Entry> {
        let voters: BTreeSet<u64> = [1, 2].into();
        let nodes: BTreeMap<u64, Member> = [1u64, 2, 7]
            .iter()
            .map(|i| {
                (
                    *i,
                    Member {
                        api_addr: format!("10.0.0.{i}:3000"),
                        raft_addr: format!("10.0.0.{i}:4100"),
                        incarnation: 0xA5A5_0000_0000_0000 + *i,
                    },
                )
            })
            .collect();
        let id = |t, n, i| LogId::new(CommittedLeaderId::new(t, n), i);
        vec![
            Entry {
                log_id: id(3, 2, 9),
                payload: EntryPayload::Blank,
            },
            Entry {
                log_id: id(3, 2, 10),
                payload: EntryPayload::Normal(Command(b"{\"op\":1}".to_vec())),
            },
            Entry {
                log_id: id(u64::MAX, 1, 11),
                payload: EntryPayload::Membership(Membership::new(
                    vec![voters.clone(), [2, 7].into()],
                    nodes,
                )),
            },
        ]
    }

    #[test]
    fn entries_round_trip_and_the_log_id_reads_without_the_body() {
        for e in samples() {
            let bytes = encode_entry(&e).unwrap();
            assert_eq!(decode_entry(e.log_id.index, &bytes).unwrap(), e);
            assert_eq!(entry_log_id(e.log_id.index, &bytes).unwrap(), e.log_id);
        }
        // The layout is ours: term, node, kind, body.
        let blank = encode_entry(&samples()[0]).unwrap();
        assert_eq!(
            blank,
            [3u64.to_le_bytes(), 2u64.to_le_bytes()]
                .concat()
                .into_iter()
                .chain([0])
                .collect::<Vec<_>>()
        );
    }

    #[test]
    fn every_truncation_of_a_non_command_entry_is_refused_without_panicking() {
        for e in samples()
            .into_iter()
            .filter(|e| !matches!(e.payload, EntryPayload::Normal(_)))
        {
            let bytes = encode_entry(&e).unwrap();
            for n in 0..bytes.len() {
                assert!(
                    decode_entry(0, &bytes[..n]).is_err(),
                    "{n} of {}",
                    bytes.len()
                );
            }
            let mut longer = bytes.clone();
            longer.push(0);
            assert!(decode_entry(0, &longer).is_err());
        }
    }

    #[test]
    fn a_huge_declared_count_is_refused_before_allocating() {
        let mut b = Vec::new();
        put_u64(&mut b, 1);
        put_u64(&mut b, 1);
        b.push(KIND_MEMBERSHIP);
        put_u32(&mut b, u32::MAX);
        let err = decode_entry(0, &b).unwrap_err();
        assert!(err.0.contains("count"), "{err}");
        b.truncate(16);
        b.push(9);
        assert!(decode_entry(0, &b)
            .unwrap_err()
            .0
            .contains("unknown kind 9"));
    }

    #[test]
    fn votes_and_log_ids_round_trip_and_bad_flags_are_refused() {
        for v in [
            Vote::new(0, 0),
            Vote::new(5, 2),
            Vote::new_committed(u64::MAX, 9),
        ] {
            assert_eq!(decode_vote(&encode_vote(&v)).unwrap(), v);
        }
        let mut b = encode_vote(&Vote::new(5, 2));
        b[16] = 2;
        assert!(decode_vote(&b).is_err());
        let id = LogId::new(CommittedLeaderId::new(4, 3), 77);
        assert_eq!(decode_log_id(&encode_log_id(&id)).unwrap(), id);
        assert!(decode_log_id(&encode_log_id(&id)[..23]).is_err());
    }

    #[test]
    fn an_overlong_address_is_refused_when_encoding() {
        let m = Membership::new(
            vec![[1u64].into()],
            BTreeMap::from([(
                1u64,
                Member {
                    api_addr: "a".repeat(MAX_ADDR_BYTES + 1),
                    raft_addr: String::new(),
                    incarnation: 1,
                },
            )]),
        );
        let e = Entry {
            log_id: LogId::default(),
            payload: EntryPayload::Membership(m),
        };
        assert!(encode_entry(&e).is_err());
    }
}

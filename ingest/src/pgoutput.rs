//! Decoding of PostgreSQL's `pgoutput` logical replication messages (protocol version 1):
//! what each `XLogData` payload of a replication stream, or each row of
//! `pg_logical_slot_get_binary_changes`, says about the source tables.
//!
//! Values arrive in PostgreSQL's text output format; typing them is the job of the
//! stage that knows the warehouse schema.

use std::fmt;

use crate::Lsn;

/// Why a message could not be decoded. The offset is within the message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    #[error("pgoutput message ends early: {what} expected at byte {offset}")]
    Truncated { what: &'static str, offset: usize },
    #[error("unknown pgoutput message type `{}` (0x{:02x})", char::from(*.0), .0)]
    UnknownMessage(u8),
    #[error("unknown tuple column kind `{}` (0x{:02x}) at byte {offset}", char::from(*.kind), .kind)]
    UnknownColumnKind { kind: u8, offset: usize },
    #[error("unexpected tuple marker `{}` at byte {offset}: expected {expected}", char::from(*.found))]
    UnexpectedMarker { found: u8, expected: &'static str, offset: usize },
    #[error("{what} at byte {offset} is not UTF-8 (the source database must use UTF8 encoding)")]
    NotUtf8 { what: &'static str, offset: usize },
}

/// One decoded message.
#[derive(Debug, Clone, PartialEq)]
pub enum Message {
    /// A transaction starts; `final_lsn` is the LSN of its commit record.
    Begin {
        final_lsn: Lsn,
        commit_time: Timestamp,
        xid: u32,
    },
    /// A transaction ends: its changes are complete up to `end_lsn`.
    Commit {
        commit_lsn: Lsn,
        end_lsn: Lsn,
        commit_time: Timestamp,
    },
    /// The shape of a table, sent before the first change to it in a session and again
    /// after every schema change.
    Relation(Relation),
    /// A user-defined type used by a relation.
    Type {
        id: u32,
        namespace: String,
        name: String,
    },
    Insert {
        relation: u32,
        new: Tuple,
    },
    /// `old` is present when the replica identity columns changed (`key_only`) or with
    /// `REPLICA IDENTITY FULL`.
    Update {
        relation: u32,
        old: Option<OldTuple>,
        new: Tuple,
    },
    Delete {
        relation: u32,
        old: OldTuple,
    },
    Truncate {
        relations: Vec<u32>,
        cascade: bool,
        restart_identity: bool,
    },
    /// Replication origin of the transaction's changes.
    Origin {
        lsn: Lsn,
        name: String,
    },
    /// A `pg_logical_emit_message` payload (sent only when messages are requested).
    LogicalMessage {
        transactional: bool,
        lsn: Lsn,
        prefix: String,
        content: Vec<u8>,
    },
}

/// Microseconds since 2000-01-01 00:00:00 UTC, PostgreSQL's epoch.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Timestamp(pub i64);

impl Timestamp {
    /// Microseconds between the Unix epoch and PostgreSQL's.
    const POSTGRES_EPOCH_UNIX_MICROS: i64 = 946_684_800_000_000;

    pub fn unix_micros(self) -> i64 {
        self.0.saturating_add(Self::POSTGRES_EPOCH_UNIX_MICROS)
    }
}

/// A table as `pgoutput` describes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Relation {
    pub id: u32,
    pub namespace: String,
    pub name: String,
    pub replica_identity: ReplicaIdentity,
    pub columns: Vec<Column>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Column {
    pub name: String,
    /// Part of the replica identity (the primary key unless configured otherwise).
    pub is_key: bool,
    pub type_oid: u32,
    pub type_modifier: i32,
}

/// Which old values PostgreSQL logs for updates and deletes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReplicaIdentity {
    /// The primary key.
    Default,
    Nothing,
    /// Every column.
    Full,
    /// The columns of a chosen unique index.
    Index,
}

/// Column values of one row, in the relation's column order.
pub type Tuple = Vec<Value>;

/// The old row of an update or delete.
#[derive(Debug, Clone, PartialEq)]
pub struct OldTuple {
    /// Only the replica identity columns are meaningful (the others are null).
    pub key_only: bool,
    pub values: Tuple,
}

/// One column value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Value {
    Null,
    /// A TOASTed value the update did not change: PostgreSQL does not resend it, so the
    /// current value must come from the row already held.
    UnchangedToast,
    /// The value in PostgreSQL's text output format.
    Text(String),
}

impl fmt::Display for Value {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::Null => formatter.write_str("NULL"),
            Value::UnchangedToast => formatter.write_str("(unchanged)"),
            Value::Text(text) => write!(formatter, "{text:?}"),
        }
    }
}

/// Decodes one message.
pub fn decode(bytes: &[u8]) -> Result<Message, DecodeError> {
    let mut reader = Reader { bytes, offset: 0 };
    let tag = reader.u8("message type")?;
    let message = match tag {
        b'B' => Message::Begin {
            final_lsn: Lsn(reader.u64("final LSN")?),
            commit_time: Timestamp(reader.i64("commit time")?),
            xid: reader.u32("transaction id")?,
        },
        b'C' => {
            let _flags = reader.u8("commit flags")?;
            Message::Commit {
                commit_lsn: Lsn(reader.u64("commit LSN")?),
                end_lsn: Lsn(reader.u64("end LSN")?),
                commit_time: Timestamp(reader.i64("commit time")?),
            }
        }
        b'O' => Message::Origin { lsn: Lsn(reader.u64("origin LSN")?), name: reader.string("origin name")? },
        b'R' => {
            let id = reader.u32("relation id")?;
            let namespace = reader.string("namespace")?;
            let name = reader.string("relation name")?;
            let replica_identity = match reader.u8("replica identity")? {
                b'd' => ReplicaIdentity::Default,
                b'n' => ReplicaIdentity::Nothing,
                b'f' => ReplicaIdentity::Full,
                _ => ReplicaIdentity::Index,
            };
            let n_columns = reader.u16("column count")?;
            let mut columns = Vec::with_capacity(usize::from(n_columns));
            for _ in 0..n_columns {
                let flags = reader.u8("column flags")?;
                columns.push(Column {
                    is_key: flags & 1 == 1,
                    name: reader.string("column name")?,
                    type_oid: reader.u32("column type")?,
                    type_modifier: reader.i32("type modifier")?,
                });
            }
            Message::Relation(Relation { id, namespace, name, replica_identity, columns })
        }
        b'Y' => Message::Type {
            id: reader.u32("type id")?,
            namespace: reader.string("type namespace")?,
            name: reader.string("type name")?,
        },
        b'I' => {
            let relation = reader.u32("relation id")?;
            reader.expect_marker(b"N", "`N` before the new tuple")?;
            Message::Insert { relation, new: reader.tuple()? }
        }
        b'U' => {
            let relation = reader.u32("relation id")?;
            let marker = reader.expect_marker(b"KON", "`K`, `O` or `N`")?;
            let old = if marker == b'N' {
                None
            } else {
                let old = OldTuple { key_only: marker == b'K', values: reader.tuple()? };
                reader.expect_marker(b"N", "`N` before the new tuple")?;
                Some(old)
            };
            Message::Update { relation, old, new: reader.tuple()? }
        }
        b'D' => {
            let relation = reader.u32("relation id")?;
            let marker = reader.expect_marker(b"KO", "`K` or `O`")?;
            Message::Delete { relation, old: OldTuple { key_only: marker == b'K', values: reader.tuple()? } }
        }
        b'T' => {
            let n_relations = reader.u32("relation count")?;
            let options = reader.u8("truncate options")?;
            let relations = (0..n_relations).map(|_| reader.u32("relation id")).collect::<Result<_, _>>()?;
            Message::Truncate { relations, cascade: options & 1 == 1, restart_identity: options & 2 == 2 }
        }
        b'M' => {
            let transactional = reader.u8("message flags")? & 1 == 1;
            let lsn = Lsn(reader.u64("message LSN")?);
            let prefix = reader.string("message prefix")?;
            let length = reader.u32("message length")? as usize;
            Message::LogicalMessage {
                transactional,
                lsn,
                prefix,
                content: reader.take(length, "message content")?.to_vec(),
            }
        }
        other => return Err(DecodeError::UnknownMessage(other)),
    };
    Ok(message)
}

struct Reader<'a> {
    bytes: &'a [u8],
    offset: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, length: usize, what: &'static str) -> Result<&'a [u8], DecodeError> {
        let end = self.offset.checked_add(length).filter(|end| *end <= self.bytes.len());
        let end = end.ok_or(DecodeError::Truncated { what, offset: self.offset })?;
        let slice = &self.bytes[self.offset..end];
        self.offset = end;
        Ok(slice)
    }

    fn array<const N: usize>(&mut self, what: &'static str) -> Result<[u8; N], DecodeError> {
        let mut array = [0; N];
        array.copy_from_slice(self.take(N, what)?);
        Ok(array)
    }

    fn u8(&mut self, what: &'static str) -> Result<u8, DecodeError> {
        Ok(self.array::<1>(what)?[0])
    }

    fn u16(&mut self, what: &'static str) -> Result<u16, DecodeError> {
        Ok(u16::from_be_bytes(self.array(what)?))
    }

    fn u32(&mut self, what: &'static str) -> Result<u32, DecodeError> {
        Ok(u32::from_be_bytes(self.array(what)?))
    }

    fn i32(&mut self, what: &'static str) -> Result<i32, DecodeError> {
        Ok(i32::from_be_bytes(self.array(what)?))
    }

    fn u64(&mut self, what: &'static str) -> Result<u64, DecodeError> {
        Ok(u64::from_be_bytes(self.array(what)?))
    }

    fn i64(&mut self, what: &'static str) -> Result<i64, DecodeError> {
        Ok(i64::from_be_bytes(self.array(what)?))
    }

    /// A NUL-terminated string.
    fn string(&mut self, what: &'static str) -> Result<String, DecodeError> {
        let start = self.offset;
        let length = self.bytes[start..].iter().position(|byte| *byte == 0);
        let length = length.ok_or(DecodeError::Truncated { what, offset: start })?;
        let text = self.take(length, what)?;
        self.offset += 1;
        String::from_utf8(text.to_vec()).map_err(|_| DecodeError::NotUtf8 { what, offset: start })
    }

    fn expect_marker(&mut self, allowed: &[u8], expected: &'static str) -> Result<u8, DecodeError> {
        let offset = self.offset;
        let found = self.u8("tuple marker")?;
        if allowed.contains(&found) {
            Ok(found)
        } else {
            Err(DecodeError::UnexpectedMarker { found, expected, offset })
        }
    }

    fn tuple(&mut self) -> Result<Tuple, DecodeError> {
        let n_columns = self.u16("tuple column count")?;
        let mut values = Vec::with_capacity(usize::from(n_columns));
        for _ in 0..n_columns {
            let offset = self.offset;
            values.push(match self.u8("column kind")? {
                b'n' => Value::Null,
                b'u' => Value::UnchangedToast,
                b't' => {
                    let length = self.u32("value length")? as usize;
                    let start = self.offset;
                    let bytes = self.take(length, "value")?;
                    let text = std::str::from_utf8(bytes)
                        .map_err(|_| DecodeError::NotUtf8 { what: "value", offset: start })?;
                    Value::Text(text.to_owned())
                }
                kind => return Err(DecodeError::UnknownColumnKind { kind, offset }),
            });
        }
        Ok(values)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn insert_with_null_text_and_unchanged_values() {
        let bytes = [b'I', 0, 0, 0x40, 0x01, b'N', 0, 3, b'n', b't', 0, 0, 0, 2, b'4', b'2', b'u'];
        assert_eq!(
            decode(&bytes),
            Ok(Message::Insert {
                relation: 0x4001,
                new: vec![Value::Null, Value::Text("42".into()), Value::UnchangedToast]
            })
        );
    }

    #[test]
    fn every_truncation_of_a_message_is_an_error_not_a_panic() {
        let update = [b'U', 0, 0, 0, 7, b'K', 0, 1, b't', 0, 0, 0, 1, b'1', b'N', 0, 2, b't', 0, 0, 0, 1, b'2', b'n'];
        assert!(matches!(decode(&update), Ok(Message::Update { old: Some(OldTuple { key_only: true, .. }), .. })));
        for length in 0..update.len() {
            assert!(decode(&update[..length]).is_err(), "a message cut at {length} bytes decoded");
        }
        assert_eq!(decode(b"Z"), Err(DecodeError::UnknownMessage(b'Z')));
        assert_eq!(
            decode(&[b'I', 0, 0, 0, 1, b'X']),
            Err(DecodeError::UnexpectedMarker { found: b'X', expected: "`N` before the new tuple", offset: 5 })
        );
    }

    #[test]
    fn timestamps_convert_to_unix_time() {
        assert_eq!(Timestamp(0).unix_micros(), 946_684_800_000_000);
    }
}

//! [`StateReader`]: reads a state file back record by record, refusing anything damaged
//! with a [`StateError`] that names the record and its byte offset.

use super::{unframe, Body, Owned, Saved, StateError, Unframed, FORMAT_VERSION, MAGIC, MAX_RECORD};
use loginwatch_storage::Names;
use std::io::{self, Read};

/// Reads saved state record by record (see the module docs).
pub struct StateReader<R: Read> {
    input: R,
    buf: Vec<u8>,
    records: u64,
    offset: u64,
    ended: bool,
    /// City and organisation names shared between restored records, as the GeoIP lookups
    /// share them between live ones.
    cities: Names,
}

impl<R: Read> StateReader<R> {
    /// Checks the header of the state file on `input`.
    pub fn new(mut input: R) -> Result<Self, StateError> {
        let mut head = [0u8; 10];
        match input.read_exact(&mut head) {
            Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => return Err(StateError::NotState),
            r => r?,
        }
        if &head[..8] != MAGIC {
            return Err(StateError::NotState);
        }
        let found = u16::from_le_bytes([head[8], head[9]]);
        if found != FORMAT_VERSION {
            return Err(StateError::Format { found });
        }
        Ok(StateReader {
            input,
            buf: Vec::new(),
            records: 0,
            offset: head.len() as u64,
            ended: false,
            cities: Names::default(),
        })
    }

    fn corrupt(&self, reason: impl Into<String>) -> StateError {
        StateError::Corrupt {
            record: self.records + 1,
            offset: self.offset,
            reason: reason.into(),
        }
    }

    /// Fills `buf` with exactly `n` bytes; `Ok(false)` at the end of the input.
    fn fill(&mut self, n: usize) -> Result<bool, StateError> {
        self.buf.resize(n, 0);
        let mut got = 0;
        while got < n {
            match self.input.read(&mut self.buf[got..]) {
                Ok(0) => break,
                Ok(k) => got += k,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e.into()),
            }
        }
        Ok(got == n)
    }

    /// The next record; `None` after the end record.
    pub fn next_record(&mut self) -> Result<Option<Saved>, StateError> {
        if self.ended {
            return match self.fill(1)? {
                false => Ok(None),
                true => Err(self.corrupt("bytes after the end record")),
            };
        }
        let truncated = StateError::Truncated {
            records: self.records,
        };
        if !self.fill(8)? {
            return Err(truncated);
        }
        let len = u32::from_le_bytes([self.buf[0], self.buf[1], self.buf[2], self.buf[3]]);
        let sum = u32::from_le_bytes([self.buf[4], self.buf[5], self.buf[6], self.buf[7]]);
        if len == 0 || len > MAX_RECORD {
            return Err(self.corrupt(format!("impossible length {len}")));
        }
        if !self.fill(len as usize)? {
            return Err(truncated);
        }
        let owned = match unframe(sum, &self.buf) {
            Unframed::Bad(reason) => Err(reason),
            Unframed::Version(found) => {
                return Err(StateError::RecordVersion {
                    record: self.records + 1,
                    offset: self.offset,
                    found,
                })
            }
            Unframed::Body(Body::End { records }) if records == self.records => {
                self.ended = true;
                return self.next_record();
            }
            Unframed::Body(Body::End { records }) => Err(format!(
                "the end record counts {records} records, the file holds {}",
                self.records
            )),
            Unframed::Body(body) => Owned::of(body, &mut self.cities),
        };
        let owned = owned.map_err(|reason| self.corrupt(reason))?;
        self.records += 1;
        self.offset += 8 + u64::from(len);
        Ok(Some(Saved(owned)))
    }
}

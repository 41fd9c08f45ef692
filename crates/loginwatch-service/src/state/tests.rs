//! The state topic's records: keys, values, flush records, a changelog read back.

use super::*;

/// Records restored as the worker's restore sees them.
#[derive(Default)]
struct Log {
    accounts: HashMap<String, Vec<u8>>,
    networks: HashMap<String, Vec<u8>>,
    clocks: Option<Vec<u8>>,
}

impl PartitionState for Log {
    fn restore(&mut self, account: &str, record: Option<&[u8]>) -> Result<(), String> {
        match record {
            Some(b"bad") => Err("damaged".into()),
            Some(r) => {
                self.accounts.insert(account.into(), r.to_vec());
                Ok(())
            }
            None => {
                self.accounts.remove(account);
                Ok(())
            }
        }
    }
    fn restore_clocks(&mut self, record: &[u8]) -> Result<(), String> {
        self.clocks = Some(record.to_vec());
        Ok(())
    }
    fn finish_restore(&mut self) {}
    fn take_changes(
        &mut self,
        _: usize,
        _: &mut dyn FnMut(&str, Option<&[u8]>),
    ) -> Result<bool, String> {
        Ok(true)
    }
    fn clocks(&self) -> Result<Vec<u8>, String> {
        Ok(Vec::new())
    }
    fn restore_network(&mut self, network: &str, record: Option<&[u8]>) -> Result<(), String> {
        match record {
            Some(b"bad") => Err("damaged".into()),
            Some(r) => {
                self.networks.insert(network.into(), r.to_vec());
                Ok(())
            }
            None => {
                self.networks.remove(network);
                Ok(())
            }
        }
    }
}

#[test]
fn the_last_complete_flush_and_the_accounts_ahead_of_it() {
    let (mut out, mut log) = (Restored::default(), Log::default());
    let put = |out: &mut Restored, log: &mut Log, key: &str, v: Option<Vec<u8>>| {
        take(out, log, Named::Account(key.as_bytes()), v.as_deref(), 0)
    };
    put(&mut out, &mut log, "a", Some(value(9, b"a1")));
    put(&mut out, &mut log, "b", Some(value(9, b"b1")));
    let meta = FlushMeta::default();
    put(
        &mut out,
        &mut log,
        FLUSH_ACCOUNT,
        Some(flush_value(9, &meta, b"c9")),
    );
    put(&mut out, &mut log, "gone", Some(value(9, b"g1")));
    put(&mut out, &mut log, "gone", None);
    put(&mut out, &mut log, "a", Some(value(19, b"a2")));
    put(&mut out, &mut log, "b", Some(value(19, b"bad")));
    put(&mut out, &mut log, "short", Some(vec![1, 2]));
    assert_eq!(out.through, Some(9));
    assert!(out.applied("a", 19) && !out.applied("a", 20));
    assert!(!out.applied("b", 12), "a refused record is not ahead");
    assert_eq!(out.refused, 2);
    assert_eq!(log.clocks.as_deref(), Some(&b"c9"[..]));
    assert_eq!(log.accounts.get("a").map(Vec::as_slice), Some(&b"a2"[..]));
    assert!(
        !log.accounts.contains_key("b"),
        "an older record does not stand in"
    );
    assert!(!log.accounts.contains_key("gone"));
    put(
        &mut out,
        &mut log,
        FLUSH_ACCOUNT,
        Some(flush_value(19, &meta, b"c19")),
    );
    assert!(out.ahead.is_empty() && out.through == Some(19));
}

#[test]
fn keys_belong_to_one_group_and_input_topic() {
    let ns = Namespace::new("loginwatch", "logins");
    let key = ns.key("acct-1");
    assert_eq!(ns.name(&key), Some(Named::Account(&b"acct-1"[..])));
    assert_eq!(
        ns.name(&ns.key(FLUSH_ACCOUNT)),
        Some(Named::Account(&b""[..]))
    );
    assert_eq!(
        ns.name(&ns.network_key("8.8.4.0/24")),
        Some(Named::Network(&b"8.8.4.0/24"[..]))
    );
    for other in [
        Namespace::new("loginwatch", "logins-2"),
        Namespace::new("loginwatch-staging", "logins"),
        Namespace::new("loginwatch\0logins", ""),
    ] {
        assert_eq!(other.name(&key), None, "{other:?}");
    }
    assert_eq!(ns.name(b"acct-1"), None);
}

#[test]
fn the_flush_meta_round_trips_and_other_formats_are_refused() {
    let mut meta = FlushMeta::default();
    let (back, rest) = {
        let v = flush_value(7, &meta, b"clocks");
        let (through, record) = split(&v).unwrap();
        assert_eq!(through, 7);
        let (m, r) = FlushMeta::decode(record).unwrap();
        (m, r.to_vec())
    };
    assert_eq!((back, rest.as_slice()), (meta.clone(), &b"clocks"[..]));
    meta.network_through = Some(41);
    meta.seen.insert((b'v', 3), (1200, 0));
    meta.seen.insert((b'm', 0), (40, 5));
    let mut bytes = Vec::new();
    meta.encode(&mut bytes);
    bytes.extend_from_slice(b"c");
    let (m, r) = FlushMeta::decode(&bytes).unwrap();
    assert_eq!((m, r), (meta, &b"c"[..]));
    assert!(FlushMeta::decode(&bytes[..bytes.len() - 6]).is_err());
    assert!(FlushMeta::decode(b"\x10\0\0\0clocks").is_err());
}

#[test]
fn network_records_and_their_flush() {
    let (mut out, mut log) = (Restored::default(), Log::default());
    let meta = FlushMeta {
        network_through: Some(30),
        seen: Seen::new(),
    };
    take(
        &mut out,
        &mut log,
        Named::Network(b"8.8.4.0/24"),
        Some(&value(30, b"n1")),
        0,
    );
    take(
        &mut out,
        &mut log,
        Named::Account(b""),
        Some(&flush_value(9, &meta, b"c9")),
        0,
    );
    take(
        &mut out,
        &mut log,
        Named::Network(b"8.8.4.0/24"),
        Some(&value(35, b"n2")),
        0,
    );
    take(
        &mut out,
        &mut log,
        Named::Network(b"1.2.3.4/32"),
        Some(&value(35, b"bad")),
        0,
    );
    take(
        &mut out,
        &mut log,
        Named::Network(b""),
        Some(&value(35, b"sc")),
        0,
    );
    assert_eq!(out.through, Some(9));
    assert_eq!(out.meta, meta);
    assert!(out.network_applied("8.8.4.0/24", 35) && !out.network_applied("8.8.4.0/24", 36));
    assert!(!out.network_applied("1.2.3.4/32", 1) && !out.network_applied("", 1));
    assert_eq!(out.refused, 1);
    assert_eq!(
        log.networks.get("8.8.4.0/24").map(Vec::as_slice),
        Some(&b"n2"[..])
    );
    assert!(!log.networks.contains_key("1.2.3.4/32"));
    take(&mut out, &mut log, Named::Network(b"8.8.4.0/24"), None, 0);
    assert!(!log.networks.contains_key("8.8.4.0/24"));
    assert!(out.networks_ahead.is_empty());
}

#[test]
fn records_encoded_after_later_messages_stay_ahead_of_their_flush() {
    let (mut out, mut log) = (Restored::default(), Log::default());
    let meta = |network_through| FlushMeta {
        network_through: Some(network_through),
        seen: Seen::new(),
    };
    // A flush taken at offset 9 (network topic: 30), its records encoded while the messages
    // up to 14 (network topic: 33) went on.
    let records: [(Named<'_>, i64, &[u8]); 4] = [
        (Named::Account(b"a"), 9, b"a1"),
        (Named::Account(b"b"), 14, b"b1"),
        (Named::Network(b"8.8.4.0/24"), 33, b"n1"),
        (Named::Network(b"1.2.3.0/24"), 30, b"n2"),
    ];
    for (named, at, record) in records {
        take(&mut out, &mut log, named, Some(&value(at, record)), 0);
    }
    let flush = |at, net| flush_value(at, &meta(net), b"c");
    take(
        &mut out,
        &mut log,
        Named::Account(b""),
        Some(&flush(9, 30)),
        0,
    );
    assert_eq!(out.through, Some(9));
    assert!(!out.applied("a", 10), "as of the flush: nothing to skip");
    assert!(out.applied("b", 14) && !out.applied("b", 15));
    assert!(out.network_applied("8.8.4.0/24", 33) && !out.network_applied("8.8.4.0/24", 34));
    assert!(!out.network_applied("1.2.3.0/24", 31));
    // The next flush covers them.
    take(
        &mut out,
        &mut log,
        Named::Account(b""),
        Some(&flush(20, 40)),
        0,
    );
    assert!(out.ahead.is_empty() && out.networks_ahead.is_empty());
}

//! The index's keys and bounds.

use super::*;
use proptest::prelude::*;

fn visit(index: &SharedIndex, key: NetKey, account: &str, time: i64, cap: usize) -> usize {
    let v = Visit {
        account,
        event_id: "e",
        time,
        host: 1,
        owner: 0,
        total: 1,
    };
    index.visit(key, &v, 1000, cap, |m, _| m.len())
}

fn key(ip: &str, v4: u8, v6: u8) -> NetKey {
    NetKey::of(ip.parse().unwrap(), v4, v6)
}

#[test]
fn keys_group_prefixes_and_print_as_networks() {
    assert_eq!(key("8.8.4.4", 24, 48), key("8.8.4.200", 24, 48));
    assert_ne!(key("8.8.4.4", 32, 64), key("8.8.4.5", 32, 64));
    assert_eq!(key("8.8.4.4", 24, 48).net().to_string(), "8.8.4.0/24");
    assert_eq!(
        key("::ffff:8.8.4.4", 32, 64).net().to_string(),
        "8.8.4.4/32"
    );
    let v6 = key("2001:db8:1:2:3:4:5:6", 32, 64);
    assert_eq!(v6, key("2001:db8:1:2::9", 32, 64));
    assert_eq!(v6.net().to_string(), "2001:db8:1:2::/64");
    assert_eq!(
        key("2001:db8:1:2::9", 24, 48).net().to_string(),
        "2001:db8:1::/48"
    );
    assert_ne!(
        v6.fingerprint(),
        key("2001:db8:1:3::", 32, 64).fingerprint()
    );
}

#[test]
fn members_per_network_are_capped_and_expire() {
    let index = SharedIndex::new(100);
    let k = key("8.8.4.4", 32, 64);
    for i in 0..10 {
        visit(&index, k, &format!("a{i}"), i, 4);
    }
    assert_eq!(visit(&index, k, "a9", 10, 4), 4);
    let s = index.stats();
    assert_eq!((s.networks, s.members, s.member_overflow), (1, 4, 6));
    // 1 000 ms window: a visit at 2 000 leaves only the visitor.
    assert_eq!(visit(&index, k, "b", 2000, 4), 1);
    assert_eq!(index.stats().members, 1);
}

#[test]
fn networks_are_capped_and_expire_behind_the_watermark() {
    let index = SharedIndex::new(64);
    for i in 0..200u32 {
        let ip = std::net::Ipv4Addr::from(0x0808_0000 + i).to_string();
        visit(&index, key(&ip, 32, 64), "a", i64::from(i), 4);
    }
    let s = index.stats();
    assert!(s.networks <= 64 && s.evicted >= 136, "{s:?}");
    // One account each: inline, nothing on the heap.
    assert_eq!(s.approx_bytes, s.networks * NETWORK_BYTES);
    index.maintain(10_000, 1000); // schedules the first sweep
    index.maintain(10_100, 1000);
    let s = index.stats();
    assert_eq!((s.networks, s.members), (0, 0), "{s:?}");
    assert!(s.expired > 0);
}

#[test]
#[allow(clippy::assertions_on_constants)] // the documented numbers, checked where they live
fn documented_sizes_hold() {
    assert!(NETWORK_BYTES <= 130, "{NETWORK_BYTES}");
    assert!(V6_NETWORK_BYTES <= 170, "{V6_NETWORK_BYTES}");
    assert!(MEMBER_BYTES <= 88, "{MEMBER_BYTES}");
    assert!(std::mem::size_of::<crate::detectors::session::SessionFp>() <= 40);
    assert!(std::mem::size_of::<crate::risk::RiskMemory>() <= 80);
}

#[test]
fn several_accounts_spill_to_the_heap_and_come_back_inline() {
    let index = SharedIndex::new(100);
    let (v4, v6) = (key("8.8.4.4", 32, 64), key("2001:db8::1", 32, 64));
    for k in [v4, v6] {
        visit(&index, k, "a", 0, 8);
        visit(&index, k, "b", 1, 8);
        visit(&index, k, "c", 2, 8);
    }
    let s = index.stats();
    let heap = (s.approx_bytes - NETWORK_BYTES - V6_NETWORK_BYTES) / MEMBER_BYTES;
    assert!((s.networks, s.members) == (2, 6) && heap >= 6, "{s:?}");
    // Past the window only the visitor is left, inline again.
    visit(&index, v4, "a", 5000, 8);
    visit(&index, v6, "a", 5000, 8);
    let s = index.stats();
    assert_eq!(s.approx_bytes, NETWORK_BYTES + V6_NETWORK_BYTES, "{s:?}");
}

fn member(i: u8, last: i64) -> Member {
    Member {
        account: InlineStr::new(&i.to_string()),
        first_event: EventId::new("e"),
        first: last,
        last,
        host: 0,
        owner: 0,
        reported: false,
        logins: 1,
        days: 1,
        base: 0,
        total: 1,
    }
}

proptest! {
    /// The inline/heap list keeps the order a `Vec` would (the overflow victim depends on it).
    #[test]
    fn members_keep_vec_order(ops in prop::collection::vec((0u8..3, 0i64..8), 1..60)) {
        let (mut list, mut vec) = (Members::Empty, Vec::new());
        for (n, (op, x)) in ops.into_iter().enumerate() {
            match op {
                0 => {
                    list.push(member(n as u8, x), |len| (len / 2).max(1));
                    vec.push(member(n as u8, x));
                }
                1 => {
                    let gone = list.retain(|m| m.last >= x);
                    let before = vec.len();
                    vec.retain(|m: &Member| m.last >= x);
                    prop_assert_eq!(gone, before - vec.len());
                }
                _ if !vec.is_empty() => {
                    let i = x as usize % vec.len();
                    list.swap_remove(i);
                    vec.swap_remove(i);
                }
                _ => {}
            }
            let names = |m: &[Member]| m.iter().map(|m| m.account.clone()).collect::<Vec<_>>();
            prop_assert_eq!(names(list.as_mut_slice()), names(&vec));
            prop_assert_eq!(list.len(), vec.len());
        }
    }
}

#[test]
fn heap_space_follows_the_accounts() {
    let index = SharedIndex::new(100);
    let k = key("8.8.4.4", 32, 64);
    for i in 0..9 {
        visit(&index, k, &format!("a{i}"), i, 64);
    }
    let grown = index.stats().approx_bytes;
    assert_eq!(grown, NETWORK_BYTES + 9 * MEMBER_BYTES);
    // Five accounts expire: the heap space shrinks to the four left.
    assert_eq!(visit(&index, k, "a8", 1005, 64), 4);
    let s = index.stats();
    assert_eq!(s.approx_bytes, NETWORK_BYTES + 4 * MEMBER_BYTES, "{s:?}");
}

#[test]
fn members_over_all_networks_are_bounded() {
    // A carrier pool: 50 addresses, each seen by 40 accounts. With room for 200 heap member
    // slots, the least recently used networks go until the index fits again.
    let index = SharedIndex::new(1000);
    index.set_limits(1000, 200);
    for round in 0..40i64 {
        for a in 0..50u32 {
            let ip = std::net::Ipv4Addr::from(0x6440_0000 + a).to_string();
            visit(
                &index,
                key(&ip, 32, 64),
                &format!("sub-{round}"),
                round * 50 + i64::from(a),
                64,
            );
            let s = index.stats();
            assert!(
                s.approx_bytes <= 1000 * NETWORK_BYTES + 264 * MEMBER_BYTES,
                "{s:?}"
            );
        }
    }
    let s = index.stats();
    assert!(s.evicted > 0, "{s:?}");
}

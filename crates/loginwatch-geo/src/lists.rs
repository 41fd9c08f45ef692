//! Plain-file lists: networks ([`CidrSet`]) and autonomous systems ([`AsnSet`]), one entry per
//! line, `#` starts a comment, blank lines are skipped. Only the first whitespace-separated
//! token of a line is read, so `AS9009 M247 Europe` and `10.0.0.0/8 office` are accepted.
//! The same parsers take inline lists from configuration (`[exceptions]`), where the "line" is
//! the 1-based position in the list.

use ipnet::IpNet;
use std::fmt;
use std::net::{IpAddr, Ipv4Addr};
use std::path::{Path, PathBuf};

/// One entry that could not be read: `origin:line: reason: "text"`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BadLine {
    /// The file path, or the configuration key of an inline list.
    pub origin: String,
    pub line: usize,
    pub text: String,
    pub reason: &'static str,
}

impl fmt::Display for BadLine {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}:{}: {}: {:?}",
            self.origin, self.line, self.reason, self.text
        )
    }
}

/// Why a list could not be loaded. All bad lines of all files are reported together.
#[derive(Debug, thiserror::Error)]
pub enum ListError {
    #[error("cannot read {}", path.display())]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{} bad entr{}: {}", .0.len(), if .0.len() == 1 { "y" } else { "ies" }, join(.0))]
    BadLines(Vec<BadLine>),
}

fn join(lines: &[BadLine]) -> String {
    lines
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("; ")
}

/// The first token of a line once its `#` comment is cut off, if any.
fn first_token(line: &str) -> Option<&str> {
    line.split('#')
        .next()
        .unwrap_or("")
        .split_whitespace()
        .next()
}

/// The entries of a file with their 1-based line numbers.
fn file_entries(text: &str) -> impl Iterator<Item = (usize, &str)> {
    text.lines()
        .enumerate()
        .filter_map(|(i, line)| first_token(line).map(|tok| (i + 1, tok)))
}

/// The entries of an inline list with their 1-based positions.
fn inline_entries<S: AsRef<str>>(items: &[S]) -> impl Iterator<Item = (usize, &str)> {
    items
        .iter()
        .enumerate()
        .filter_map(|(i, item)| first_token(item.as_ref()).map(|tok| (i + 1, tok)))
}

/// Parses every entry with `parse`, collecting all bad ones.
fn parse_entries<'a, T>(
    entries: impl Iterator<Item = (usize, &'a str)>,
    origin: &str,
    reason: &'static str,
    parse: impl Fn(&str) -> Option<T>,
    out: &mut Vec<T>,
    bad: &mut Vec<BadLine>,
) {
    for (line, tok) in entries {
        match parse(tok) {
            Some(v) => out.push(v),
            None => bad.push(BadLine {
                origin: origin.to_owned(),
                line,
                text: tok.to_owned(),
                reason,
            }),
        }
    }
}

/// Reads and parses every file (all bad lines of all files reported at once).
fn parse_files<T>(
    paths: &[PathBuf],
    reason: &'static str,
    parse: impl Fn(&str) -> Option<T>,
) -> Result<Vec<T>, ListError> {
    let (mut out, mut bad) = (Vec::new(), Vec::new());
    for path in paths {
        let text = std::fs::read_to_string(path).map_err(|source| ListError::Read {
            path: path.clone(),
            source,
        })?;
        let origin = path.display().to_string();
        parse_entries(
            file_entries(&text),
            &origin,
            reason,
            &parse,
            &mut out,
            &mut bad,
        );
    }
    done(out, bad)
}

fn done<T>(out: Vec<T>, bad: Vec<BadLine>) -> Result<Vec<T>, ListError> {
    match bad.is_empty() {
        true => Ok(out),
        false => Err(ListError::BadLines(bad)),
    }
}

/// A set of IPv4 and IPv6 networks with a fast `contains`: merged, sorted address ranges
/// searched by bisection, IPv4 stored as IPv4-mapped IPv6. IPv4-mapped IPv6 addresses and
/// networks (`::ffff:10.0.0.0/104`) mean their IPv4 counterparts.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CidrSet {
    ranges: Vec<(u128, u128)>,
}

const NET_REASON: &str = "not a CIDR network or IP address";
const ASN_REASON: &str = "not an AS number (AS9009 or 9009)";

/// A CIDR (`10.0.0.0/8`, host bits ignored) or a bare address (a /32 or /128).
fn parse_net(tok: &str) -> Option<IpNet> {
    match tok.parse::<IpNet>() {
        Ok(net) => Some(net.trunc()),
        Err(_) => Some(IpNet::from(tok.parse::<IpAddr>().ok()?)),
    }
}

/// The inclusive range of `net` in the IPv6 space, IPv4 mapped into `::ffff:0:0/96`.
fn range(net: IpNet) -> (u128, u128) {
    match net.trunc() {
        IpNet::V4(n) => (mapped(n.network()), mapped(n.broadcast())),
        IpNet::V6(n) => (u128::from(n.network()), u128::from(n.broadcast())),
    }
}

fn mapped(a: Ipv4Addr) -> u128 {
    u128::from(a.to_ipv6_mapped())
}

impl CidrSet {
    /// A set of the given networks.
    pub fn from_nets(nets: impl IntoIterator<Item = IpNet>) -> Self {
        let mut ranges: Vec<(u128, u128)> = nets.into_iter().map(range).collect();
        ranges.sort_unstable();
        let mut merged: Vec<(u128, u128)> = Vec::with_capacity(ranges.len());
        for (start, end) in ranges {
            match merged.last_mut() {
                Some(last) if start <= last.1.saturating_add(1) => last.1 = last.1.max(end),
                _ => merged.push((start, end)),
            }
        }
        CidrSet { ranges: merged }
    }

    /// Parses list text; `origin` names it in error messages.
    pub fn parse(text: &str, origin: &str) -> Result<Self, ListError> {
        let (mut nets, mut bad) = (Vec::new(), Vec::new());
        parse_entries(
            file_entries(text),
            origin,
            NET_REASON,
            parse_net,
            &mut nets,
            &mut bad,
        );
        done(nets, bad).map(Self::from_nets)
    }

    /// Reads several files into one set, reporting every bad line of every file.
    pub fn from_files(paths: &[PathBuf]) -> Result<Self, ListError> {
        parse_files(paths, NET_REASON, parse_net).map(Self::from_nets)
    }

    /// Reads one file.
    pub fn from_file(path: &Path) -> Result<Self, ListError> {
        Self::from_files(&[path.to_path_buf()])
    }

    /// An inline list from configuration, e.g. `origin = "exceptions.trusted_cidrs"`.
    pub fn from_strs<S: AsRef<str>>(origin: &str, items: &[S]) -> Result<Self, ListError> {
        let (mut nets, mut bad) = (Vec::new(), Vec::new());
        let entries = inline_entries(items);
        parse_entries(entries, origin, NET_REASON, parse_net, &mut nets, &mut bad);
        done(nets, bad).map(Self::from_nets)
    }

    /// True when `ip` is in one of the networks.
    pub fn contains(&self, ip: IpAddr) -> bool {
        let x = match ip.to_canonical() {
            IpAddr::V4(a) => mapped(a),
            IpAddr::V6(a) => u128::from(a),
        };
        let i = self.ranges.partition_point(|r| r.0 <= x);
        i > 0 && self.ranges[i - 1].1 >= x
    }

    /// How many low bits of `ip` can change without changing [`CidrSet::contains`]: the
    /// largest aligned block around `ip` lies wholly inside one range or one gap. Counted in
    /// the bits of `ip`'s canonical form (at most 32 for IPv4).
    pub(crate) fn uniform_host_bits(&self, ip: IpAddr) -> u32 {
        let (x, width) = match ip.to_canonical() {
            IpAddr::V4(a) => (mapped(a), 32),
            IpAddr::V6(a) => (u128::from(a), 128),
        };
        let i = self.ranges.partition_point(|r| r.0 <= x);
        let (lo, hi) = match i.checked_sub(1).map(|j| self.ranges[j]) {
            Some((start, end)) if end >= x => (start, end),
            before => (
                before.map_or(0, |(_, end)| end + 1),
                self.ranges.get(i).map_or(u128::MAX, |r| r.0 - 1),
            ),
        };
        // Clearing the low `b` bits of `x` stays at or above `lo` exactly while `b` is at
        // most the highest bit in which `x` differs from `lo - 1`; setting them stays at or
        // below `hi` while `b` is at most the highest bit in which `x` differs from `hi + 1`.
        let highest_difference = |y: u128| 127 - (x ^ y).leading_zeros();
        let from_lo = lo.checked_sub(1).map_or(width, highest_difference);
        let from_hi = hi.checked_add(1).map_or(width, highest_difference);
        width.min(from_lo).min(from_hi)
    }

    /// Number of disjoint address ranges after merging.
    pub fn range_count(&self) -> usize {
        self.ranges.len()
    }

    /// True when the set holds no network.
    pub fn is_empty(&self) -> bool {
        self.ranges.is_empty()
    }
}

/// A set of autonomous system numbers (`AS9009`, `as9009` or `9009`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AsnSet {
    sorted: Vec<u32>,
}

fn parse_asn(tok: &str) -> Option<u32> {
    let digits = match tok.get(..2) {
        Some(p) if p.eq_ignore_ascii_case("as") => &tok[2..],
        _ => tok,
    };
    if !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok()
}

impl AsnSet {
    /// A set of the given numbers.
    pub fn from_asns(asns: impl IntoIterator<Item = u32>) -> Self {
        let mut sorted: Vec<u32> = asns.into_iter().collect();
        sorted.sort_unstable();
        sorted.dedup();
        AsnSet { sorted }
    }

    /// Parses list text; `origin` names it in error messages.
    pub fn parse(text: &str, origin: &str) -> Result<Self, ListError> {
        let (mut asns, mut bad) = (Vec::new(), Vec::new());
        parse_entries(
            file_entries(text),
            origin,
            ASN_REASON,
            parse_asn,
            &mut asns,
            &mut bad,
        );
        done(asns, bad).map(Self::from_asns)
    }

    /// Reads several files into one set, reporting every bad line of every file.
    pub fn from_files(paths: &[PathBuf]) -> Result<Self, ListError> {
        parse_files(paths, ASN_REASON, parse_asn).map(Self::from_asns)
    }

    /// Reads one file.
    pub fn from_file(path: &Path) -> Result<Self, ListError> {
        Self::from_files(&[path.to_path_buf()])
    }

    /// An inline list from configuration, e.g. `origin = "exceptions.trusted_asns"`.
    pub fn from_strs<S: AsRef<str>>(origin: &str, items: &[S]) -> Result<Self, ListError> {
        let (mut asns, mut bad) = (Vec::new(), Vec::new());
        let entries = inline_entries(items);
        parse_entries(entries, origin, ASN_REASON, parse_asn, &mut asns, &mut bad);
        done(asns, bad).map(Self::from_asns)
    }

    /// True when `asn` is in the set.
    pub fn contains(&self, asn: u32) -> bool {
        self.sorted.binary_search(&asn).is_ok()
    }

    /// Number of distinct AS numbers.
    pub fn len(&self) -> usize {
        self.sorted.len()
    }

    /// True when the set is empty.
    pub fn is_empty(&self) -> bool {
        self.sorted.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn cidr_lists_with_comments_bare_ips_and_v6() {
        let text = "# VPN egress\n\n10.0.0.0/8\n  81.2.69.160/27  # office\n8.8.8.8\n\
                    2a02:dd0::/32\n::ffff:1.2.3.0/120\n10.1.0.0/16\n11.0.0.0/8\n";
        let set = CidrSet::parse(text, "vpn.txt").unwrap();
        for yes in [
            "10.2.3.4",
            "11.255.255.255",
            "81.2.69.191",
            "8.8.8.8",
            "::ffff:8.8.8.8",
            "2a02:dd0:ffff::1",
            "1.2.3.77",
        ] {
            assert!(set.contains(ip(yes)), "{yes}");
        }
        for no in [
            "9.255.255.255",
            "12.0.0.0",
            "81.2.69.192",
            "8.8.4.4",
            "2a02:dd1::1",
            "1.2.4.0",
            "::",
        ] {
            assert!(!set.contains(ip(no)), "{no}");
        }
        // 10/8 swallows 10.1/16; 10/8 and 11/8 are adjacent and merge.
        assert_eq!(set.range_count(), 5);
    }

    #[test]
    fn uniform_blocks_stop_at_the_edges_of_ranges() {
        let empty = CidrSet::default();
        assert_eq!(empty.uniform_host_bits(ip("9.1.2.3")), 32);
        assert_eq!(empty.uniform_host_bits(ip("2001:db8::1")), 128);
        let set = CidrSet::parse("10.0.0.0/8\n", "t").unwrap();
        assert_eq!(set.uniform_host_bits(ip("10.1.2.3")), 24, "inside the /8");
        assert_eq!(
            set.uniform_host_bits(ip("11.0.0.1")),
            24,
            "11/8: 10/7 would overlap"
        );
        assert_eq!(set.uniform_host_bits(ip("9.255.255.255")), 25, "8.0.0.0/7");
    }

    proptest::proptest! {
        #[test]
        fn uniform_blocks_are_the_largest_inside_one_range_or_gap(
            nets in proptest::collection::vec((proptest::prelude::any::<u32>(), 0u8..=32), 0..6),
            x in proptest::prelude::any::<u32>(),
        ) {
            let text: String = nets
                .iter()
                .map(|(a, len)| format!("{}/{len}\n", std::net::Ipv4Addr::from(a & u32::MAX.checked_shl(32 - u32::from(*len)).unwrap_or(0))))
                .collect();
            let set = CidrSet::parse(&text, "t").unwrap();
            let ip = IpAddr::from(std::net::Ipv4Addr::from(x));
            // By definition: the largest aligned block around `ip` whose addresses all share
            // `ip`'s membership.
            let uniform = |bits: u32| {
                let base = x & u32::MAX.checked_shl(bits).unwrap_or(0);
                let last = base | !u32::MAX.checked_shl(bits).unwrap_or(0);
                let inside = set.contains(ip);
                // Membership changes only at a range's edges: check them and the block's ends.
                let edges = set.ranges.iter().flat_map(|r| [r.0, r.1, r.1.saturating_add(1), r.0.saturating_sub(1)]);
                let lo = mapped(base.into());
                let hi = mapped(last.into());
                edges
                    .chain([lo, hi])
                    .filter(|e| (lo..=hi).contains(e))
                    .all(|e| {
                        let a = std::net::Ipv6Addr::from(e).to_ipv4_mapped().unwrap();
                        set.contains(IpAddr::from(a)) == inside
                    })
            };
            let want = (0..=32).take_while(|&b| uniform(b)).last().unwrap_or(0);
            proptest::prop_assert_eq!(set.uniform_host_bits(ip), want);
        }
    }

    #[test]
    fn bad_lines_are_all_reported_with_origin_and_line() {
        let err = CidrSet::parse("10.0.0.0/8\nbogus\n# fine\n1.2.3.4/33\n", "f.txt").unwrap_err();
        let ListError::BadLines(bad) = &err else {
            panic!("{err}")
        };
        assert_eq!(bad.iter().map(|b| b.line).collect::<Vec<_>>(), [2, 4]);
        assert_eq!(
            bad[0].to_string(),
            "f.txt:2: not a CIDR network or IP address: \"bogus\""
        );
        assert!(err.to_string().starts_with("2 bad entries: f.txt:2:"));
    }

    #[test]
    fn asn_lists_accept_both_spellings() {
        let set =
            AsnSet::parse("AS9009\n# comment\nas22351 Intelsat\n 16509\n9009\n", "a").unwrap();
        assert_eq!(set.len(), 3);
        assert!(set.contains(9009) && set.contains(22351) && set.contains(16509));
        assert!(!set.contains(15169));
        let err = AsnSet::parse("AS\nASX1\n-5\n99999999999\n+7\n", "a").unwrap_err();
        let ListError::BadLines(bad) = err else {
            panic!()
        };
        assert_eq!(bad.len(), 5);
    }

    #[test]
    fn inline_lists_report_positions() {
        let set = AsnSet::from_strs("exceptions.trusted_asns", &["AS22351", "3356"]).unwrap();
        assert!(set.contains(3356));
        let err = CidrSet::from_strs("exceptions.trusted_cidrs", &["10.0.0.0/8", "", "nope"])
            .unwrap_err();
        let ListError::BadLines(bad) = err else {
            panic!()
        };
        assert_eq!(
            bad[0].to_string(),
            "exceptions.trusted_cidrs:3: not a CIDR network or IP address: \"nope\""
        );
    }

    #[test]
    fn files_are_read_and_missing_files_named() {
        let dir = std::env::temp_dir().join(format!("lw-lists-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let (a, b) = (dir.join("a.txt"), dir.join("b.txt"));
        std::fs::write(&a, "1.0.0.0/24\n").unwrap();
        std::fs::write(&b, "2.0.0.0/24\nx\n").unwrap();
        assert!(CidrSet::from_file(&a).unwrap().contains(ip("1.0.0.9")));
        let err = CidrSet::from_files(&[a.clone(), b.clone()]).unwrap_err();
        assert!(err.to_string().contains("b.txt:2"), "{err}");
        let err = AsnSet::from_file(&dir.join("missing.txt")).unwrap_err();
        assert!(matches!(err, ListError::Read { .. }));
        std::fs::remove_dir_all(&dir).ok();
    }
}

//! `--trusted-proxy ADDR[/LEN]`: an address, or a range of them written as a prefix, parsed by
//! hand: `10.0.0.0/8` (CIDR notation, RFC 4632 §3.1) or `fd00::/8` (RFC 4291 §2.3,
//! "ipv6-address/prefix-length"). A bare address is the prefix of its full length (`/32`,
//! `/128`).
//!
//! The prefix length is decimal digits only, at most 32 for IPv4 and 128 for IPv6; the address
//! must have no bit set past it (`10.0.0.1/8` is refused, naming `10.0.0.0/8`), since such a
//! typo would otherwise trust a range other than the one meant. Matching compares IPv4-mapped
//! IPv6 peers (`::ffff:10.0.0.2`, as a dual-stack socket reports them) as the IPv4 address
//! they are; an IPv6 prefix covers them as mapped addresses (`::/0` is every peer).

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::str::FromStr;

/// An address prefix: the addresses whose first `len` bits are those of `addr`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IpPrefix {
    addr: IpAddr,
    len: u8,
}

impl IpPrefix {
    /// The prefix covering `addr` alone.
    pub fn single(addr: IpAddr) -> Self {
        let len = match addr {
            IpAddr::V4(_) => 32,
            IpAddr::V6(_) => 128,
        };
        Self { addr, len }
    }

    /// The first address of the range.
    pub fn addr(&self) -> IpAddr {
        self.addr
    }

    /// How many leading bits are fixed (RFC 4291 §2.3's "prefix-length").
    pub fn prefix_len(&self) -> u8 {
        self.len
    }

    /// Whether `ip` is in the range; an IPv4-mapped IPv6 `ip` counts as its IPv4 address.
    pub fn contains(&self, ip: IpAddr) -> bool {
        match (self.addr, ip.to_canonical()) {
            (IpAddr::V4(net), IpAddr::V4(ip)) => {
                let mask = mask_v4(self.len);
                u32::from(ip) & mask == u32::from(net)
            }
            (IpAddr::V6(net), IpAddr::V6(ip)) => {
                u128::from(ip) & mask_v6(self.len) == u128::from(net)
            }
            (IpAddr::V6(net), IpAddr::V4(ip)) => {
                u128::from(ip.to_ipv6_mapped()) & mask_v6(self.len) == u128::from(net)
            }
            (IpAddr::V4(_), IpAddr::V6(_)) => false,
        }
    }
}

impl From<IpAddr> for IpPrefix {
    fn from(addr: IpAddr) -> Self {
        Self::single(addr)
    }
}

/// The leading `len` bits set (`len` ≤ 32; `/0` is no bit, never a shift by 32).
fn mask_v4(len: u8) -> u32 {
    u32::MAX
        .checked_shl(32 - u32::from(len.min(32)))
        .unwrap_or(0)
}

/// The leading `len` bits set (`len` ≤ 128).
fn mask_v6(len: u8) -> u128 {
    u128::MAX
        .checked_shl(128 - u32::from(len.min(128)))
        .unwrap_or(0)
}

/// Why a `--trusted-proxy` value is not an address or prefix.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PrefixError {
    /// The part before `/` (or the whole) is not an IP address.
    BadAddress(String),
    /// The part after `/` is not decimal digits (empty, a sign, spaces, more than 3 digits).
    BadLength(String),
    /// The length is more than the address has bits.
    LengthTooLong {
        /// What was given.
        len: u16,
        /// 32 or 128.
        max: u8,
    },
    /// Bits past the prefix are set; `masked` is the prefix probably meant.
    HostBitsSet {
        /// The prefix with those bits cleared.
        masked: IpPrefix,
    },
}

impl fmt::Display for PrefixError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::BadAddress(text) => write!(f, "{text:?} is not an IP address"),
            Self::BadLength(text) => {
                write!(
                    f,
                    "prefix length {text:?} is not a number of bits (0 to 32 or 128)"
                )
            }
            Self::LengthTooLong { len, max } => {
                write!(
                    f,
                    "prefix length {len} is longer than the address's {max} bits"
                )
            }
            Self::HostBitsSet { masked } => write!(
                f,
                "bits past the prefix length are set; the range is written {masked}"
            ),
        }
    }
}

impl std::error::Error for PrefixError {}

impl FromStr for IpPrefix {
    type Err = PrefixError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let (addr_text, len_text) = match text.split_once('/') {
            Some((addr, len)) => (addr, Some(len)),
            None => (text, None),
        };
        let addr: IpAddr = addr_text
            .parse()
            .map_err(|_| PrefixError::BadAddress(addr_text.to_owned()))?;
        let Some(len_text) = len_text else {
            return Ok(Self::single(addr));
        };
        // Digits only: `u8::from_str` would also take "+8".
        if len_text.is_empty()
            || len_text.len() > 3
            || !len_text.bytes().all(|b| b.is_ascii_digit())
        {
            return Err(PrefixError::BadLength(len_text.to_owned()));
        }
        let len: u16 = len_text
            .parse()
            .map_err(|_| PrefixError::BadLength(len_text.to_owned()))?;
        let max = Self::single(addr).len;
        if len > u16::from(max) {
            return Err(PrefixError::LengthTooLong { len, max });
        }
        let len = u8::try_from(len).map_err(|_| PrefixError::LengthTooLong { len, max })?;
        let masked = match addr {
            IpAddr::V4(v4) => IpAddr::V4(Ipv4Addr::from(u32::from(v4) & mask_v4(len))),
            IpAddr::V6(v6) => IpAddr::V6(Ipv6Addr::from(u128::from(v6) & mask_v6(len))),
        };
        let prefix = Self { addr: masked, len };
        if masked != addr {
            return Err(PrefixError::HostBitsSet { masked: prefix });
        }
        Ok(prefix)
    }
}

impl fmt::Display for IpPrefix {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.addr, self.len)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn prefix(text: &str) -> IpPrefix {
        text.parse().unwrap_or_else(|e| panic!("{text}: {e}"))
    }

    fn ip(text: &str) -> IpAddr {
        text.parse().expect("an address")
    }

    #[test]
    fn a_bare_address_is_its_own_full_length_prefix() {
        assert_eq!(prefix("127.0.0.1"), IpPrefix::single(ip("127.0.0.1")));
        assert_eq!(prefix("127.0.0.1").prefix_len(), 32);
        assert_eq!(prefix("::1").prefix_len(), 128);
        assert!(prefix("127.0.0.1").contains(ip("127.0.0.1")));
        assert!(!prefix("127.0.0.1").contains(ip("127.0.0.2")));
    }

    #[test]
    fn ranges_contain_exactly_their_addresses() {
        let cases = [
            ("10.0.0.0/8", "10.0.0.0", true),
            ("10.0.0.0/8", "10.255.255.255", true),
            ("10.0.0.0/8", "11.0.0.0", false),
            ("10.0.0.0/8", "9.255.255.255", false),
            ("192.168.1.128/25", "192.168.1.128", true),
            ("192.168.1.128/25", "192.168.1.127", false),
            ("203.0.113.7/32", "203.0.113.7", true),
            ("203.0.113.7/32", "203.0.113.8", false),
            ("0.0.0.0/0", "255.255.255.255", true),
            ("0.0.0.0/0", "0.0.0.0", true),
            ("fd00::/8", "fd12:3456::1", true),
            ("fd00::/8", "fe80::1", false),
            ("fd00::/8", "fc00::1", false),
            ("2001:db8::1/128", "2001:db8::1", true),
            ("2001:db8::1/128", "2001:db8::2", false),
            ("::/0", "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", true),
            // An IPv4-mapped peer is its IPv4 address ...
            ("10.0.0.0/8", "::ffff:10.1.2.3", true),
            ("10.0.0.0/8", "::ffff:11.1.2.3", false),
            // ... and an IPv6 range covers it as mapped.
            ("::/0", "10.1.2.3", true),
            ("::ffff:0:0/96", "192.0.2.1", true),
            ("fd00::/8", "10.1.2.3", false),
            // An IPv4 range never covers a (non-mapped) IPv6 address.
            ("0.0.0.0/0", "::1", false),
        ];
        for (range, addr, inside) in cases {
            assert_eq!(
                prefix(range).contains(ip(addr)),
                inside,
                "{addr} in {range}"
            );
        }
    }

    #[test]
    fn prefix_lengths_at_the_edges() {
        assert_eq!(prefix("0.0.0.0/0").prefix_len(), 0);
        assert_eq!(prefix("1.2.3.4/32").prefix_len(), 32);
        assert_eq!(prefix("::/0").prefix_len(), 0);
        assert_eq!(prefix("::1/128").prefix_len(), 128);
        assert_eq!(
            "1.2.3.4/33".parse::<IpPrefix>(),
            Err(PrefixError::LengthTooLong { len: 33, max: 32 })
        );
        assert_eq!(
            "::1/129".parse::<IpPrefix>(),
            Err(PrefixError::LengthTooLong { len: 129, max: 128 })
        );
        assert_eq!(mask_v4(0), 0);
        assert_eq!(mask_v4(32), u32::MAX);
        assert_eq!(mask_v6(0), 0);
        assert_eq!(mask_v6(128), u128::MAX);
        assert_eq!(mask_v4(1), 0x8000_0000);
    }

    #[test]
    fn malformed_values_are_refused_with_what_is_wrong() {
        for bad in [
            "10.0.0.0/",
            "10.0.0.0/+8",
            "10.0.0.0/ 8",
            "10.0.0.0/8/8",
            "10.0.0.0/x",
            "::/0128",
            "10.0.0.0/-1",
        ] {
            assert!(
                matches!(bad.parse::<IpPrefix>(), Err(PrefixError::BadLength(_))),
                "{bad}: {:?}",
                bad.parse::<IpPrefix>()
            );
        }
        for bad in [
            "",
            "/8",
            "10.0.0/8",
            "localhost",
            "10.0.0.256",
            "[::1]/128",
            "10.0.0.0 /8",
        ] {
            assert!(
                matches!(bad.parse::<IpPrefix>(), Err(PrefixError::BadAddress(_))),
                "{bad}: {:?}",
                bad.parse::<IpPrefix>()
            );
        }
        let typo = "10.0.0.1/8".parse::<IpPrefix>().unwrap_err();
        assert_eq!(
            typo.to_string(),
            "bits past the prefix length are set; the range is written 10.0.0.0/8"
        );
        assert!("fd00::1/8".parse::<IpPrefix>().is_err());
        assert_eq!(
            prefix("10.0.0.0/08"),
            prefix("10.0.0.0/8"),
            "a leading zero"
        );
    }
}

//! Purgers let in by address (`purge.allowFrom`): the ranges and the check.

use super::*;

/// An address or network of `purge.allowFrom`: `203.0.113.7`, `2001:db8::/32`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AddressRange {
    network: std::net::IpAddr,
    prefix: u8,
}

impl AddressRange {
    /// Parses `addr` or `addr/prefix`; None when malformed or the prefix is too long.
    pub fn parse(text: &str) -> Option<AddressRange> {
        let text = text.trim();
        let (addr, prefix) = match text.split_once('/') {
            Some((a, p)) => (a, Some(p)),
            None => (text, None),
        };
        let network: std::net::IpAddr = addr.parse().ok()?;
        let max = if network.is_ipv4() { 32 } else { 128 };
        let prefix = match prefix {
            Some(p) if !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()) => p.parse().ok()?,
            Some(_) => return None,
            None => max,
        };
        (prefix <= max).then_some(AddressRange { network, prefix })
    }

    /// Whether `addr` lies in this range (an IPv4-mapped IPv6 address counts as IPv4).
    pub fn contains(&self, addr: std::net::IpAddr) -> bool {
        use std::net::IpAddr;
        let addr = match addr {
            IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(addr, IpAddr::V4),
            v4 => v4,
        };
        let (a, n, bits) = match (addr, self.network) {
            (IpAddr::V4(a), IpAddr::V4(n)) => (u128::from(u32::from(a)), u128::from(u32::from(n)), 32),
            (IpAddr::V6(a), IpAddr::V6(n)) => (u128::from(a), u128::from(n), 128),
            _ => return false,
        };
        let shift = bits - u32::from(self.prefix);
        shift >= bits || (a >> shift) == (n >> shift)
    }
}

/// A `PURGE` request from an address the policy allows (`purge.allowFrom`), for purgers that
/// cannot send a credential (Wagtail's front-end cache invalidator, plone.cachepurging
/// without userinfo). `client` is the `CF-Connecting-IP` value, which Cloudflare's edge sets
/// to the connecting address, replacing anything a client sent: the list means nothing where
/// the worker does not run behind that edge. Only `PURGE` qualifies, and the credential it
/// gives proves [`Scope::Purge`] alone; the admin API always needs `ADMIN_SECRET`.
pub fn authorize_address(method: &str, client: Option<&str>, allowed: &[AddressRange]) -> Option<Credential> {
    if allowed.is_empty() || !method.eq_ignore_ascii_case("PURGE") {
        return None;
    }
    let addr: std::net::IpAddr = client?.trim().parse().ok()?;
    allowed
        .iter()
        .any(|r| r.contains(addr))
        .then_some(Credential { scheme: Scheme::Address, scope: Scope::Purge })
}

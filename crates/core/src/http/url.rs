//! Absolute `http` and `https` URLs, parsed and serialised as the WHATWG URL Standard's basic
//! URL parser does (<https://url.spec.whatwg.org/#concept-basic-url-parser>), for the two
//! schemes a cache in front of a web site serves.
//!
//! Every URL the runtime hands the worker is already in this form (the runtime parses request
//! URLs with the same standard), so parsing one again changes nothing; URLs from outside (a
//! purge list, a policy, an origin's `Location`) are normalised the way the runtime would
//! normalise them, so that the keys made from both agree. A native test compares this parser
//! with the `url` crate, input by input.
//!
//! Two limits, both in the README: a URL of any other scheme is refused, and so is one whose
//! authority holds a non-ASCII character or a percent-escape (hosts are written in punycode;
//! there is no IDNA mapping here).

use std::borrow::Cow;
use std::fmt;

/// A parsed absolute `http` or `https` URL: its serialisation and where each part lies in it.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Url {
    text: String,
    /// `http` or `https`: the serialisation starts with the scheme, then `://`.
    scheme_end: u32,
    /// Where the host starts (after `user:password@`, when there is one).
    host_start: u32,
    host_end: u32,
    /// The port, when not the scheme's default.
    port: Option<u16>,
    path_start: u32,
    /// The `?` before the query, when there is a query.
    query_start: Option<u32>,
    /// The `#` before the fragment, when there is a fragment.
    fragment_start: Option<u32>,
}

/// Why a text is not an absolute http(s) URL.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ParseError;

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("not an absolute http(s) URL")
    }
}

/// The parts of a URL on their way to a serialisation, each already percent-encoded.
struct Parts<'a> {
    https: bool,
    username: Cow<'a, str>,
    password: Cow<'a, str>,
    host: Cow<'a, str>,
    port: Option<u16>,
    /// The path's segments (a path of `/` is one empty segment).
    path: Vec<Cow<'a, str>>,
    query: Option<Cow<'a, str>>,
    fragment: Option<Cow<'a, str>>,
}

impl Url {
    /// Parses an absolute URL.
    pub(super) fn parse(input: &str) -> Result<Url, ParseError> {
        parse_with(input, None)
    }

    /// Resolves a reference (absolute, scheme-relative, path-absolute or path-relative, a bare
    /// query or fragment) against this URL.
    pub(super) fn join(&self, input: &str) -> Result<Url, ParseError> {
        parse_with(input, Some(self))
    }

    pub fn as_str(&self) -> &str {
        &self.text
    }

    fn part(&self, start: u32, end: u32) -> &str {
        self.text.get(start as usize..end as usize).unwrap_or("")
    }

    fn len(&self) -> u32 {
        self.text.len() as u32
    }

    pub fn scheme(&self) -> &str {
        self.part(0, self.scheme_end)
    }

    fn is_https(&self) -> bool {
        self.scheme_end == 5
    }

    /// The user name (empty when there is none), percent-encoded.
    pub fn username(&self) -> &str {
        let userinfo = self.userinfo();
        userinfo.split_once(':').map_or(userinfo, |(user, _)| user)
    }

    /// The password, percent-encoded, when there is one.
    pub fn password(&self) -> Option<&str> {
        self.userinfo().split_once(':').map(|(_, password)| password)
    }

    /// `user:password` (without the `@`), or empty.
    fn userinfo(&self) -> &str {
        let start = self.scheme_end + 3;
        if self.host_start > start {
            self.part(start, self.host_start - 1)
        } else {
            ""
        }
    }

    /// The host: a lower-case domain, an IPv4 address or a bracketed IPv6 address.
    pub fn host_str(&self) -> Option<&str> {
        Some(self.part(self.host_start, self.host_end))
    }

    /// The port, when it is not the scheme's default.
    pub fn port(&self) -> Option<u16> {
        self.port
    }

    /// The path, starting with `/`.
    pub fn path(&self) -> &str {
        self.part(self.path_start, self.query_start.or(self.fragment_start).unwrap_or(self.len()))
    }

    pub fn query(&self) -> Option<&str> {
        let start = self.query_start?;
        Some(self.part(start + 1, self.fragment_start.unwrap_or(self.len())))
    }

    pub fn fragment(&self) -> Option<&str> {
        Some(self.part(self.fragment_start? + 1, self.len()))
    }

    /// The serialised origin, `scheme://host[:port]`: two URLs are of the same origin when
    /// these are equal.
    pub fn origin(&self) -> String {
        let mut out = String::with_capacity(self.path_start as usize);
        out.push_str(self.scheme());
        out.push_str("://");
        out.push_str(self.part(self.host_start, self.path_start));
        out
    }

    /// Everything before the path: `scheme://[userinfo@]host[:port]`.
    pub fn before_path(&self) -> &str {
        self.part(0, self.path_start)
    }

    /// The path and the query, `/path[?query]`, as a request line carries them.
    pub fn path_and_query(&self) -> &str {
        self.part(self.path_start, self.fragment_start.unwrap_or(self.len()))
    }

    /// The query's `name=value` pairs, decoded as `application/x-www-form-urlencoded` (`+` is
    /// a space, percent-escapes decoded, invalid UTF-8 replaced).
    pub fn query_pairs(&self) -> impl Iterator<Item = (Cow<'_, str>, Cow<'_, str>)> {
        self.query().unwrap_or("").split('&').filter(|p| !p.is_empty()).map(|pair| {
            let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
            (form_decode(name), form_decode(value))
        })
    }

    fn parts(&self) -> Parts<'_> {
        let path = self.path();
        Parts {
            https: self.is_https(),
            username: Cow::Borrowed(self.username()),
            password: Cow::Borrowed(self.password().unwrap_or("")),
            host: Cow::Borrowed(self.part(self.host_start, self.host_end)),
            port: self.port,
            path: path.strip_prefix('/').unwrap_or(path).split('/').map(Cow::Borrowed).collect(),
            query: self.query().map(Cow::Borrowed),
            fragment: self.fragment().map(Cow::Borrowed),
        }
    }

    /// Replaces the path, parsed as the standard's path setter does (dot segments resolved,
    /// what must be escaped escaped).
    pub fn set_path(&mut self, path: &str) {
        let mut parts = self.parts();
        parts.path.clear();
        parse_path(&mut parts.path, path);
        *self = parts.serialise();
    }

    /// Replaces the query (`None`: no query), escaped as the standard's query setter does.
    pub fn set_query(&mut self, query: Option<&str>) {
        let mut parts = self.parts();
        let query = query.map(strip_tabs_and_newlines);
        parts.query = query.as_deref().map(|q| encode(q, QUERY_SPECIAL));
        *self = parts.serialise();
    }

    /// Replaces the fragment (`None`: no fragment).
    pub fn set_fragment(&mut self, fragment: Option<&str>) {
        let mut parts = self.parts();
        let fragment = fragment.map(strip_tabs_and_newlines);
        parts.fragment = fragment.as_deref().map(|f| encode(f, FRAGMENT));
        *self = parts.serialise();
    }
}

impl From<Url> for String {
    fn from(url: Url) -> String {
        url.text
    }
}

impl fmt::Display for Url {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

impl fmt::Debug for Url {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.text, f)
    }
}

impl Parts<'_> {
    fn serialise(self) -> Url {
        let mut text = String::with_capacity(
            16 + self.host.len()
                + self.path.iter().map(|s| s.len() + 1).sum::<usize>()
                + self.query.as_ref().map_or(0, |q| q.len() + 1)
                + self.fragment.as_ref().map_or(0, |f| f.len() + 1),
        );
        text.push_str(if self.https { "https://" } else { "http://" });
        let scheme_end = if self.https { 5 } else { 4 };
        if !self.username.is_empty() || !self.password.is_empty() {
            text.push_str(&self.username);
            if !self.password.is_empty() {
                text.push(':');
                text.push_str(&self.password);
            }
            text.push('@');
        }
        let host_start = text.len() as u32;
        text.push_str(&self.host);
        let host_end = text.len() as u32;
        if let Some(port) = self.port {
            text.push(':');
            text.push_str(&port.to_string());
        }
        let path_start = text.len() as u32;
        for segment in &self.path {
            text.push('/');
            text.push_str(segment);
        }
        if self.path.is_empty() {
            text.push('/');
        }
        let query_start = self.query.map(|q| {
            let at = text.len() as u32;
            text.push('?');
            text.push_str(&q);
            at
        });
        let fragment_start = self.fragment.map(|f| {
            let at = text.len() as u32;
            text.push('#');
            text.push_str(&f);
            at
        });
        Url {
            text,
            scheme_end,
            host_start,
            host_end,
            port: self.port,
            path_start,
            query_start,
            fragment_start,
        }
    }
}

fn strip_tabs_and_newlines(s: &str) -> Cow<'_, str> {
    if s.contains(['\t', '\n', '\r']) {
        Cow::Owned(s.chars().filter(|c| !matches!(c, '\t' | '\n' | '\r')).collect())
    } else {
        Cow::Borrowed(s)
    }
}

fn is_slash(c: char) -> bool {
    c == '/' || c == '\\'
}

/// The basic URL parser, for special schemes http and https, with an optional base.
fn parse_with<'a>(input: &'a str, base: Option<&'a Url>) -> Result<Url, ParseError> {
    // "Remove any leading and trailing C0 control or space from input", then "remove all ASCII
    // tab or newline from input".
    let input = strip_tabs_and_newlines(input.trim_matches(|c: char| c <= ' '));
    let input: &str = &input;
    let parts = match split_scheme(input) {
        Some((scheme, rest)) => {
            let https = match scheme {
                s if s.eq_ignore_ascii_case("http") => false,
                s if s.eq_ignore_ascii_case("https") => true,
                _ => return Err(ParseError),
            };
            match base {
                // "special relative or authority state": the same scheme as the base's makes
                // the rest a reference to it (`http:foo`, `http:/foo`).
                Some(base) if base.is_https() == https => relative(base, rest)?,
                // "special authority slashes state": any number of slashes, either way round.
                _ => authority(https, rest.trim_start_matches(is_slash))?,
            }
        }
        None => relative(base.ok_or(ParseError)?, input)?,
    };
    Ok(parts.serialise())
}

/// `scheme` and what follows its `:`, when `input` starts with a scheme.
fn split_scheme(input: &str) -> Option<(&str, &str)> {
    if !input.starts_with(|c: char| c.is_ascii_alphabetic()) {
        return None;
    }
    let end = input.find(|c: char| !(c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.')))?;
    let rest = input.get(end..)?.strip_prefix(':')?;
    Some((input.get(..end)?, rest))
}

/// "relative state": `input` resolved against `base`.
fn relative<'a>(base: &'a Url, input: &'a str) -> Result<Parts<'a>, ParseError> {
    let mut parts = base.parts();
    parts.fragment = None;
    match input.chars().next() {
        None => {}
        Some(c) if is_slash(c) => {
            let after = input.get(1..).unwrap_or("");
            if after.starts_with(is_slash) {
                return authority(parts.https, after.trim_start_matches(is_slash));
            }
            parts.query = None;
            parts.path.clear();
            let rest = parse_path(&mut parts.path, input);
            query_and_fragment(&mut parts, rest);
        }
        Some('?') => query_and_fragment(&mut parts, input),
        Some('#') => query_and_fragment(&mut parts, input),
        Some(_) => {
            parts.query = None;
            parts.path.pop();
            let rest = path_segments(&mut parts.path, input);
            query_and_fragment(&mut parts, rest);
        }
    }
    Ok(parts)
}

/// "authority state" onwards: `[userinfo@]host[:port]`, then the path, query and fragment.
fn authority(https: bool, input: &str) -> Result<Parts<'_>, ParseError> {
    let end = input.find(|c: char| is_slash(c) || c == '?' || c == '#').unwrap_or(input.len());
    let (authority, rest) = input.split_at(end);
    // The one limit of this parser: no IDNA, so no non-ASCII host and no escaped one.
    if !authority.is_ascii() || authority.contains('%') {
        return Err(ParseError);
    }
    let (userinfo, host_port) = match authority.rfind('@') {
        Some(at) => (authority.get(..at), authority.get(at + 1..).unwrap_or("")),
        None => (None, authority),
    };
    let (username, password) = match userinfo {
        Some(info) => {
            let (user, password) = info.split_once(':').unwrap_or((info, ""));
            (encode(user, USERINFO), encode(password, USERINFO))
        }
        None => (Cow::Borrowed(""), Cow::Borrowed("")),
    };
    // "host state": the first `:` outside brackets starts the port.
    let mut in_brackets = false;
    let colon = host_port.find(|c: char| {
        match c {
            '[' => in_brackets = true,
            ']' => in_brackets = false,
            ':' if !in_brackets => return true,
            _ => {}
        }
        false
    });
    let (host, port) = match colon {
        Some(i) => (host_port.get(..i).unwrap_or(""), Some(host_port.get(i + 1..).unwrap_or(""))),
        None => (host_port, None),
    };
    if host.is_empty() {
        return Err(ParseError);
    }
    let host = parse_host(host)?;
    let port = match port {
        None | Some("") => None,
        Some(digits) => {
            if !digits.bytes().all(|b| b.is_ascii_digit()) {
                return Err(ParseError);
            }
            let digits = digits.trim_start_matches('0');
            let port: u16 = if digits.is_empty() { 0 } else { digits.parse().map_err(|_| ParseError)? };
            Some(port).filter(|&p| p != if https { 443 } else { 80 })
        }
    };
    let mut parts =
        Parts { https, username, password, host, port, path: Vec::new(), query: None, fragment: None };
    let rest = parse_path(&mut parts.path, rest);
    query_and_fragment(&mut parts, rest);
    Ok(parts)
}

/// "path start state" for a special URL: `input` is empty, or starts with a slash, `?` or `#`.
/// Returns what follows the path.
fn parse_path<'a>(path: &mut Vec<Cow<'a, str>>, input: &'a str) -> &'a str {
    let input = match input.chars().next() {
        Some(c) if is_slash(c) => input.get(1..).unwrap_or(""),
        _ => input,
    };
    path_segments(path, input)
}

/// "path state": segments separated by either slash, up to `?` or `#`, each escaped, with
/// `.` and `..` segments resolved. Returns what follows the path.
fn path_segments<'a>(path: &mut Vec<Cow<'a, str>>, input: &'a str) -> &'a str {
    let end = input.find(['?', '#']).unwrap_or(input.len());
    let (text, rest) = input.split_at(end);
    let mut segments = text.split(is_slash).peekable();
    while let Some(segment) = segments.next() {
        let last = segments.peek().is_none();
        if is_double_dot(segment) {
            path.pop();
            if last {
                path.push(Cow::Borrowed(""));
            }
        } else if is_single_dot(segment) {
            if last {
                path.push(Cow::Borrowed(""));
            }
        } else {
            path.push(encode(segment, PATH));
        }
    }
    rest
}

fn is_single_dot(s: &str) -> bool {
    s == "." || s.eq_ignore_ascii_case("%2e")
}

fn is_double_dot(s: &str) -> bool {
    ["..", ".%2e", "%2e.", "%2e%2e"].iter().any(|d| s.eq_ignore_ascii_case(d))
}

/// `?query` and `#fragment`, either or both, as the rest of the input after the path.
fn query_and_fragment<'a>(parts: &mut Parts<'a>, rest: &'a str) {
    let (before, fragment) = match rest.split_once('#') {
        Some((before, fragment)) => (before, Some(fragment)),
        None => (rest, None),
    };
    if let Some(query) = before.strip_prefix('?') {
        parts.query = Some(encode(query, QUERY_SPECIAL));
    }
    if let Some(fragment) = fragment {
        parts.fragment = Some(encode(fragment, FRAGMENT));
    }
}

/// The host parser, for an ASCII host without percent-escapes.
fn parse_host(host: &str) -> Result<Cow<'_, str>, ParseError> {
    if let Some(inner) = host.strip_prefix('[') {
        let inner = inner.strip_suffix(']').ok_or(ParseError)?;
        return Ok(Cow::Owned(format!("[{}]", ipv6_text(&parse_ipv6(inner)?))));
    }
    // "domain to ASCII" of an ASCII domain lower-cases it; a forbidden domain code point fails.
    let forbidden = |b: u8| {
        b <= 0x20
            || b == 0x7f
            || matches!(
                b,
                b'#' | b'%' | b'/' | b':' | b'<' | b'>' | b'?' | b'@' | b'[' | b'\\' | b']' | b'^' | b'|'
            )
    };
    if host.bytes().any(forbidden) {
        return Err(ParseError);
    }
    let domain = if host.bytes().any(|b| b.is_ascii_uppercase()) {
        Cow::Owned(host.to_ascii_lowercase())
    } else {
        Cow::Borrowed(host)
    };
    // A label `xn--…` must be punycode that decodes (RFC 3492) to a name that needs it: IDNA
    // fails the whole host otherwise (UTS #46 §4.1, step 4).
    if domain.split('.').filter_map(punycode_part).any(|rest| !punycode_decodes(rest)) {
        return Err(ParseError);
    }
    if ends_in_a_number(&domain) {
        let address = parse_ipv4(&domain)?;
        let [a, b, c, d] = address.to_be_bytes();
        return Ok(Cow::Owned(format!("{a}.{b}.{c}.{d}")));
    }
    Ok(domain)
}

/// What follows `xn--` in a label that starts with it.
fn punycode_part(label: &str) -> Option<&str> {
    match label.get(..4) {
        Some(prefix) if prefix.eq_ignore_ascii_case("xn--") => Some(label.get(4..).unwrap_or("")),
        _ => None,
    }
}

/// Whether `label` (after its `xn--`) is punycode that decodes to at least one non-ASCII
/// character (RFC 3492 §6.2), as IDNA requires of an `xn--` label.
fn punycode_decodes(label: &str) -> bool {
    const BASE: u32 = 36;
    if label.is_empty() || label.ends_with('-') || label.len() > 2000 {
        return false;
    }
    let (basic, digits): (&str, &str) = match label.rfind('-') {
        Some(i) => (label.get(..i).unwrap_or(""), label.get(i + 1..).unwrap_or("")),
        None => ("", label),
    };
    let mut length = basic.len() as u32;
    let (mut n, mut i, mut bias) = (128u32, 0u32, 72u32);
    let mut added = false;
    let mut digits = digits.bytes();
    while digits.len() > 0 {
        let (old_i, mut weight, mut k) = (i, 1u32, BASE);
        loop {
            let digit = match digits.next() {
                Some(c @ b'a'..=b'z') => u32::from(c - b'a'),
                Some(c @ b'0'..=b'9') => u32::from(c - b'0') + 26,
                _ => return false,
            };
            let Some(next) = digit.checked_mul(weight).and_then(|d| i.checked_add(d)) else { return false };
            i = next;
            let t = k.saturating_sub(bias).clamp(1, 26);
            if digit < t {
                break;
            }
            let Some(w) = weight.checked_mul(BASE - t) else { return false };
            weight = w;
            k += BASE;
        }
        length += 1;
        // "adapt" (§6.1)
        let mut delta = if old_i == 0 { (i - old_i) / 700 } else { (i - old_i) / 2 };
        delta += delta / length;
        let mut k = 0;
        while delta > ((BASE - 1) * 26) / 2 {
            delta /= BASE - 1;
            k += BASE;
        }
        bias = k + (BASE * delta) / (delta + 38);
        let Some(next) = n.checked_add(i / length) else { return false };
        n = next;
        i %= length;
        if char::from_u32(n).is_none() {
            return false;
        }
        added = true;
        i += 1;
    }
    added
}

/// "ends in a number checker".
fn ends_in_a_number(domain: &str) -> bool {
    let mut labels = domain.rsplit('.');
    let mut last = labels.next().unwrap_or("");
    if last.is_empty() {
        match labels.next() {
            Some(before) => last = before,
            None => return false,
        }
    }
    (!last.is_empty() && last.bytes().all(|b| b.is_ascii_digit())) || ipv4_number(last).is_ok()
}

/// "IPv4 number parser": `Ok(None)` for a valid number too large for 32 bits.
fn ipv4_number(mut input: &str) -> Result<Option<u32>, ParseError> {
    if input.is_empty() {
        return Err(ParseError);
    }
    let mut radix = 10;
    if let Some(hex) = input.strip_prefix("0x").or_else(|| input.strip_prefix("0X")) {
        input = hex;
        radix = 16;
    } else if input.len() >= 2 && input.starts_with('0') {
        input = input.get(1..).unwrap_or("");
        radix = 8;
    }
    if input.is_empty() {
        return Ok(Some(0));
    }
    if !input.chars().all(|c| c.is_digit(radix)) {
        return Err(ParseError);
    }
    Ok(u32::from_str_radix(input, radix).ok())
}

/// "IPv4 parser".
fn parse_ipv4(domain: &str) -> Result<u32, ParseError> {
    let domain = domain.strip_suffix('.').unwrap_or(domain);
    let mut numbers = Vec::with_capacity(4);
    for part in domain.split('.') {
        if numbers.len() == 4 {
            return Err(ParseError);
        }
        numbers.push(ipv4_number(part)?.ok_or(ParseError)?);
    }
    let last = numbers.pop().ok_or(ParseError)?;
    if u64::from(last) >= 1u64 << (8 * (4 - numbers.len() as u64)) || numbers.iter().any(|&n| n > 255) {
        return Err(ParseError);
    }
    let high = numbers.iter().enumerate().fold(0u32, |acc, (i, &n)| acc | n << (8 * (3 - i as u32)));
    Ok(high | last)
}

/// "IPv6 parser".
fn parse_ipv6(input: &str) -> Result<[u16; 8], ParseError> {
    let b = input.as_bytes();
    let at = |i: usize| b.get(i).copied();
    let mut address = [0u16; 8];
    let mut piece = 0usize;
    let mut compress = None;
    let mut i = 0usize;
    if at(0) == Some(b':') {
        if at(1) != Some(b':') {
            return Err(ParseError);
        }
        i = 2;
        piece = 1;
        compress = Some(1);
    }
    while let Some(c) = at(i) {
        if piece == 8 {
            return Err(ParseError);
        }
        if c == b':' {
            if compress.is_some() {
                return Err(ParseError);
            }
            i += 1;
            piece += 1;
            compress = Some(piece);
            continue;
        }
        let start = i;
        let mut value = 0u16;
        while i - start < 4 {
            match at(i).and_then(|c| char::from(c).to_digit(16)) {
                Some(d) => {
                    value = value * 16 + d as u16;
                    i += 1;
                }
                None => break,
            }
        }
        match at(i) {
            Some(b'.') => {
                if i == start || piece > 6 {
                    return Err(ParseError);
                }
                i = start;
                let mut seen = 0;
                while at(i).is_some() {
                    if seen > 0 {
                        if at(i) == Some(b'.') && seen < 4 {
                            i += 1;
                        } else {
                            return Err(ParseError);
                        }
                    }
                    let mut number: Option<u16> = None;
                    while let Some(d) = at(i).filter(u8::is_ascii_digit) {
                        let d = u16::from(d - b'0');
                        number = match number {
                            None => Some(d),
                            Some(0) => return Err(ParseError),
                            Some(n) => Some(n * 10 + d),
                        };
                        if number.is_some_and(|n| n > 255) {
                            return Err(ParseError);
                        }
                        i += 1;
                    }
                    let number = number.ok_or(ParseError)?;
                    let slot = address.get_mut(piece).ok_or(ParseError)?;
                    *slot = *slot * 0x100 + number;
                    seen += 1;
                    if seen == 2 || seen == 4 {
                        piece += 1;
                    }
                }
                if seen != 4 {
                    return Err(ParseError);
                }
                break;
            }
            Some(b':') => {
                i += 1;
                if at(i).is_none() {
                    return Err(ParseError);
                }
            }
            Some(_) => return Err(ParseError),
            None => {}
        }
        *address.get_mut(piece).ok_or(ParseError)? = value;
        piece += 1;
    }
    match compress {
        Some(first) => {
            let moved = piece - first;
            address.copy_within(first..piece, 8 - moved);
            for slot in address.iter_mut().skip(first).take(8 - moved - first) {
                *slot = 0;
            }
        }
        None if piece != 8 => return Err(ParseError),
        None => {}
    }
    Ok(address)
}

/// "IPv6 serializer": lower-case hex, the first longest run of two or more zero pieces as `::`.
fn ipv6_text(address: &[u16; 8]) -> String {
    let (mut best, mut best_len, mut run, mut run_len) = (0, 0, 0, 0);
    for (i, &piece) in address.iter().enumerate() {
        if piece == 0 {
            if run_len == 0 {
                run = i;
            }
            run_len += 1;
            if run_len > best_len {
                best = run;
                best_len = run_len;
            }
        } else {
            run_len = 0;
        }
    }
    let mut out = String::with_capacity(39);
    let mut i = 0;
    while i < 8 {
        if best_len >= 2 && i == best {
            out.push_str(if i == 0 { "::" } else { ":" });
            i += best_len;
            continue;
        }
        out.push_str(&format!("{:x}", address.get(i).copied().unwrap_or(0)));
        if i < 7 {
            out.push(':');
        }
        i += 1;
    }
    out
}

/// A percent-encode set: one bit for each byte below 0x80 that is escaped (every byte above
/// 0x7E is).
type EncodeSet = u128;

/// The C0 control percent-encode set (C0 controls and DEL) and `extra`.
const fn set(mut extra: &[u8]) -> EncodeSet {
    let mut bits: u128 = ((1 << 0x20) - 1) | (1 << 0x7f);
    while let [first, rest @ ..] = extra {
        bits |= 1 << *first;
        extra = rest;
    }
    bits
}

/// The fragment percent-encode set.
const FRAGMENT: EncodeSet = set(b" \"<>`");
/// The path percent-encode set, with `^` as the current standard has it and the runtime
/// encodes it (a request for `/a^b` reaches the worker as `/a%5Eb`; the `url` crate and older
/// parsers leave it).
const PATH: EncodeSet = set(b" \"<>`#?{}^");
/// The special-query percent-encode set.
const QUERY_SPECIAL: EncodeSet = set(b" \"#<>'");
/// The userinfo percent-encode set.
const USERINFO: EncodeSet = set(b" \"<>`#?{}/:;=@[\\]^|");

fn escaped(byte: u8, set: EncodeSet) -> bool {
    byte > 0x7e || set & (1 << byte) != 0
}

/// "UTF-8 percent-encode" `s` with `set` (a `%` already there is kept as it is).
fn encode(s: &str, set: EncodeSet) -> Cow<'_, str> {
    if !s.bytes().any(|b| escaped(b, set)) {
        return Cow::Borrowed(s);
    }
    let hex = |n: u8| char::from_digit(u32::from(n), 16).map_or('0', |c| c.to_ascii_uppercase());
    let mut out = String::with_capacity(s.len() + 8);
    for b in s.bytes() {
        if escaped(b, set) {
            out.push('%');
            out.push(hex(b >> 4));
            out.push(hex(b & 0xf));
        } else {
            out.push(char::from(b));
        }
    }
    Cow::Owned(out)
}

/// `application/x-www-form-urlencoded` decoding of one name or value.
fn form_decode(s: &str) -> Cow<'_, str> {
    if !s.contains(['+', '%']) {
        return Cow::Borrowed(s);
    }
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while let Some(&c) = b.get(i) {
        let hex = |j: usize| b.get(j).and_then(|&h| char::from(h).to_digit(16));
        match c {
            b'+' => out.push(b' '),
            b'%' => match (hex(i + 1), hex(i + 2)) {
                (Some(hi), Some(lo)) => {
                    out.push((hi * 16 + lo) as u8);
                    i += 2;
                }
                _ => out.push(b'%'),
            },
            _ => out.push(c),
        }
        i += 1;
    }
    Cow::Owned(String::from_utf8_lossy(&out).into_owned())
}

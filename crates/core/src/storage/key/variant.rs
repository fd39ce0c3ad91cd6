//! The variant key: the canonical form of the request fields a stored response varies on
//! (RFC 9111 §4.1), and the content coding a request is keyed on.

use super::{param_matches, KeyOptions, DEFAULT_ENCODINGS};
use crate::http::Headers;

// ---------------------------------------------------------------------------------------------
// Vary and variants
// ---------------------------------------------------------------------------------------------

/// The request fields a stored response varies on (RFC 9110 §12.5.5).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum VarySpec {
    /// No `Vary`: every request for the URL shares the entry.
    #[default]
    None,
    /// Lower-case field names, de-duplicated and sorted.
    Fields(Vec<String>),
    /// `Vary: *` (or an unreadable field name): never matches a later request.
    Star,
}

impl VarySpec {
    /// Reads the `Vary` fields of a response.
    pub fn from_headers(h: &Headers) -> Self {
        Self::from_names(h.list("vary"))
    }

    /// Builds a spec from field names, canonicalising them (lower case, sorted, unique).
    ///
    /// RFC 9110 §12.5.5: "A Vary field value containing a member "*" signals that anything
    /// about the request might play a role". A member that is not a field name is treated the
    /// same way: we cannot tell what it would select on, so the response is never reused.
    pub fn from_names<'a>(names: impl IntoIterator<Item = &'a str>) -> Self {
        let mut fields = Vec::new();
        for name in names {
            let name = name.trim();
            if name.is_empty() {
                continue;
            }
            if name == "*" || !is_token(name) {
                return VarySpec::Star;
            }
            fields.push(name.to_ascii_lowercase());
        }
        fields.sort_unstable();
        fields.dedup();
        if fields.is_empty() {
            VarySpec::None
        } else {
            VarySpec::Fields(fields)
        }
    }

    /// The field names (empty for `None` and `Star`).
    pub fn fields(&self) -> &[String] {
        match self {
            VarySpec::Fields(fields) => fields,
            VarySpec::None | VarySpec::Star => &[],
        }
    }

    pub fn is_star(&self) -> bool {
        matches!(self, VarySpec::Star)
    }
}

/// RFC 9110 §5.6.2: `token = 1*tchar`.
fn is_token(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
}

/// The canonical variant of `req` under `vary`: `name=value` lines joined by `\n`, in the
/// spec's (sorted) field order; a missing field is written as the bare name, so it differs
/// from an empty one. `Some("")` when nothing varies; `None` for `Vary: *`.
///
/// RFC 9111 §4.1: "A stored response with a Vary header field value containing a member "*"
/// always fails to match." and "The header fields from two requests are defined to match if
/// and only if those in the first request can be transformed to those in the second request
/// by applying any of the following: … normalizing both header values in a way that is known
/// to have identical semantics, according to the header field's specification".
pub fn variant(vary: &VarySpec, req: &Headers, opts: &KeyOptions) -> Option<String> {
    let fields = match vary {
        VarySpec::Star => return None,
        VarySpec::None => return Some(String::new()),
        VarySpec::Fields(fields) => fields,
    };
    let mut out = String::new();
    for (i, name) in fields.iter().enumerate() {
        if i > 0 {
            out.push('\n');
        }
        out.push_str(name);
        push_field_value(&mut out, name, req, opts);
    }
    Some(out)
}

fn push_field_value(out: &mut String, name: &str, req: &Headers, opts: &KeyOptions) {
    if name == "accept-encoding" {
        out.push('=');
        out.push_str(negotiate_encoding(req, opts));
        return;
    }
    if name == "cookie" {
        if let Some(reduced) = opts.vary_cookies.as_deref().and_then(|listed| reduced_cookies(req, listed)) {
            out.push('=');
            out.push_str(&reduced);
            return;
        }
    }
    if let Some(value) = req.get_joined(name) {
        out.push('=');
        push_normalised_value(out, &value, is_case_insensitive_field(name));
    }
}

/// The `Cookie` of `req` reduced to the `listed` cookies, sorted, as `a=1; b=2` (empty when
/// none is there, as when there is no `Cookie` at all). None — the whole field is keyed, as
/// without `varyCookies` — when a `Cookie` value holds a double quote or a comma: servers
/// split such values differently (Zope ends a quoted value at `,`), and a reduction must
/// never let two requests share what their origin may read as different cookies.
fn reduced_cookies(req: &Headers, listed: &[String]) -> Option<String> {
    if req.get_all("cookie").any(|v| v.contains('"') || v.contains(',')) {
        return None;
    }
    let mut kept: Vec<(&str, &str)> =
        crate::http::cookies(req).filter(|(n, _)| listed.iter().any(|p| param_matches(n, p))).collect();
    kept.sort_unstable();
    let mut out = String::new();
    for (i, (n, v)) in kept.into_iter().enumerate() {
        if i > 0 {
            out.push_str("; ");
        }
        out.extend(n.chars().chain(std::iter::once('=')).chain(v.chars()).filter(|c| !c.is_control()));
    }
    Some(out)
}

/// Fields whose whole value is case-insensitive, parameter names included: language tags
/// (RFC 5646 §2.1.1: "there exist conventions for the capitalization of some of the subtags,
/// but these MUST NOT be taken to carry meaning") and charsets (RFC 9110 §8.3.2: "A charset
/// is identified by a case-insensitive token").
fn is_case_insensitive_field(name: &str) -> bool {
    matches!(name, "accept-language" | "accept-charset")
}

/// Appends `value` with whitespace around commas removed, other whitespace runs collapsed to
/// one space and the ends trimmed (RFC 9110 §5.6.1: list elements are separated by
/// `OWS "," OWS`), quoted strings untouched. Control characters become spaces, so a value
/// never contains the `\n` that separates fields.
fn push_normalised_value(out: &mut String, value: &str, lower_case: bool) {
    let mut in_quotes = false;
    let mut escaped = false;
    let mut pending_space = false;
    let mut element_start = true;
    for c in value.chars() {
        let c = if c.is_control() { ' ' } else { c };
        if in_quotes {
            out.push(c);
            in_quotes = escaped || c != '"';
            escaped = !escaped && c == '\\';
            continue;
        }
        match c {
            ' ' => pending_space = true,
            ',' => {
                out.push(',');
                pending_space = false;
                element_start = true;
            }
            _ => {
                if pending_space && !element_start {
                    out.push(' ');
                }
                pending_space = false;
                element_start = false;
                in_quotes = c == '"';
                out.push(if lower_case { c.to_ascii_lowercase() } else { c });
            }
        }
    }
}

/// The content coding the origin will be asked for: the offered coding (from
/// `opts.encodings`, or [`DEFAULT_ENCODINGS`]) with the client's highest weight, ties going to
/// the earlier offer, or `identity` when none is acceptable or the client sent no
/// `Accept-Encoding`. The shell sends this as the origin request's `Accept-Encoding`.
pub fn negotiate_encoding<'a>(req: &Headers, opts: &'a KeyOptions) -> &'a str {
    if !req.contains("accept-encoding") {
        // RFC 9110 §12.5.3 lets us pick anything here; identity is the one every client reads.
        return "identity";
    }
    // Each element read once, not once per candidate coding.
    let offered: Vec<(&str, u16)> = req.list("accept-encoding").map(parse_weighted).collect();
    let mut best = ("identity", 0u16);
    let mut consider = |coding: &'a str| {
        let weight = coding_weight(&offered, coding);
        if weight > best.1 {
            best = (coding, weight);
        }
    };
    if opts.encodings.is_empty() {
        DEFAULT_ENCODINGS.into_iter().for_each(&mut consider);
    } else {
        opts.encodings.iter().map(String::as_str).for_each(&mut consider);
    }
    best.0
}

/// The client's weight (thousandths) for `coding`; 0 means not acceptable.
///
/// RFC 9110 §12.5.3: "An asterisk "*" symbol in an Accept-Encoding field matches any
/// available content coding not explicitly listed in the field." and "If the representation
/// has no content coding, then it is acceptable by default unless specifically excluded by
/// the Accept-Encoding header field stating either "identity;q=0" or "*;q=0" without a more
/// specific entry for "identity"."
fn coding_weight(offered: &[(&str, u16)], coding: &str) -> u16 {
    let mut explicit = None;
    let mut star = None;
    for &(name, weight) in offered {
        if coding_names_match(name, coding) {
            explicit = Some(explicit.map_or(weight, |w: u16| w.max(weight)));
        } else if name == "*" {
            star = Some(weight);
        }
    }
    let identity_default = if coding.eq_ignore_ascii_case("identity") { 1000 } else { 0 };
    explicit.or(star).unwrap_or(identity_default)
}

/// RFC 9110 §8.4.1.3: "A recipient SHOULD consider "x-gzip" to be equivalent to "gzip"."
fn coding_names_match(name: &str, coding: &str) -> bool {
    canonical_coding(name).eq_ignore_ascii_case(canonical_coding(coding))
}

fn canonical_coding(name: &str) -> &str {
    if name.eq_ignore_ascii_case("x-gzip") {
        "gzip"
    } else {
        name
    }
}

/// Splits `coding;q=0.5` into the coding and its weight in thousandths (1000 when absent or
/// unreadable).
fn parse_weighted(element: &str) -> (&str, u16) {
    let mut parts = element.split(';');
    let name = parts.next().unwrap_or("").trim();
    let weight = parts
        .filter_map(|p| p.split_once('='))
        .find(|(k, _)| k.trim().eq_ignore_ascii_case("q"))
        .map_or(1000, |(_, v)| parse_qvalue(v.trim()));
    (name, weight)
}

/// RFC 9110 §12.4.2: `qvalue = ( "0" [ "." 0*3DIGIT ] ) / ( "1" [ "." 0*3("0") ] )`, in
/// thousandths, read leniently: a sign, any number of digits on either side of the point (a
/// fourth decimal rounds the third, half up) and values outside 0..=1 (clamped) are accepted;
/// anything else (an exponent, other text, no digit) is unreadable and weighs 1000, as an
/// absent weight does. Read as decimal digits, with no floating point: exact, and without the
/// float parser in the module.
pub(super) fn parse_qvalue(v: &str) -> u16 {
    let (negative, digits) = match v.as_bytes().first() {
        Some(b'-') => (true, &v[1..]),
        Some(b'+') => (false, &v[1..]),
        _ => (false, v),
    };
    let (whole, fraction) = digits.split_once('.').unwrap_or((digits, ""));
    let all_digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    if whole.len() + fraction.len() == 0 || !all_digits(whole) || !all_digits(fraction) {
        return 1000;
    }
    let whole_is_zero = whole.bytes().all(|b| b == b'0');
    let fraction = fraction.as_bytes();
    let digit = |i: usize| fraction.get(i).map_or(0, |b| u16::from(b - b'0'));
    let thousandths = if whole_is_zero {
        digit(0) * 100 + digit(1) * 10 + digit(2) + u16::from(digit(3) >= 5)
    } else {
        1000
    };
    if negative && thousandths > 0 {
        0
    } else {
        thousandths.min(1000)
    }
}

//! Query strings and forms (`form_urlencoded`), `%XX` in cookie values, Base64 credentials,
//! the logged-in user of a request, HTML escaping.

use super::*;

/// Base64 as credentials arrive in practice: the standard or the URL-safe alphabet, padded or
/// not, trailing bits ignored.
pub(super) const LENIENT: base64::engine::GeneralPurposeConfig = base64::engine::GeneralPurposeConfig::new()
    .with_decode_padding_mode(base64::engine::DecodePaddingMode::Indifferent)
    .with_decode_allow_trailing_bits(true);
pub(super) const STANDARD_LENIENT: base64::engine::GeneralPurpose =
    base64::engine::GeneralPurpose::new(&base64::alphabet::STANDARD, LENIENT);
pub(super) const URL_SAFE_LENIENT: base64::engine::GeneralPurpose =
    base64::engine::GeneralPurpose::new(&base64::alphabet::URL_SAFE, LENIENT);

pub fn base64_encode(input: &[u8]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(input)
}

pub fn base64_decode(input: &str) -> Option<Vec<u8>> {
    use base64::Engine as _;
    STANDARD_LENIENT.decode(input).or_else(|_| URL_SAFE_LENIENT.decode(input)).ok()
}

/// `%XX` escapes decoded (a `+` stays a `+`), as cookie values carry them.
pub(super) fn percent_decode(s: &str) -> String {
    percent_encoding::percent_decode_str(s).decode_utf8_lossy().into_owned()
}

/// Query (or form body) parameters, in order.
pub struct Params(Vec<(String, String)>);

impl Params {
    /// `application/x-www-form-urlencoded` pairs; with `plus_is_space` false a `+` stays
    /// literal (the control endpoints take paths such as `/++resource++demo/style.css`).
    pub fn parse(query: &str, plus_is_space: bool) -> Self {
        let query: Cow<str> =
            if plus_is_space { Cow::Borrowed(query) } else { Cow::Owned(query.replace('+', "%2B")) };
        Params(
            form_urlencoded::parse(query.as_bytes()).map(|(k, v)| (k.into_owned(), v.into_owned())).collect(),
        )
    }

    pub fn get(&self, name: &str) -> Option<&str> {
        self.0.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
    }

    pub fn all<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.0.iter().filter(move |(k, _)| k == name).map(|(_, v)| v.as_str())
    }

    pub fn flag(&self, name: &str) -> bool {
        self.get(name).is_some_and(|v| matches!(v, "1" | "true" | "yes" | ""))
    }
}

pub(super) fn user_from_credentials(decoded: &[u8]) -> Option<&'static str> {
    let text = std::str::from_utf8(decoded).ok()?;
    let (name, password) = text.split_once(':')?;
    USERS.iter().copied().find(|u| *u == name && *u == password)
}

/// The logged-in user: a valid `__ac` cookie, or HTTP Basic credentials.
pub fn user_of(req: &Request) -> Option<&'static str> {
    for cookies in req.headers_named("cookie") {
        for pair in cookies.split(';') {
            let Some((name, value)) = pair.trim().split_once('=') else { continue };
            if name.trim() != "__ac" {
                continue;
            }
            let value = percent_decode(value.trim().trim_matches('"'));
            if let Some(user) = base64_decode(&value).and_then(|d| user_from_credentials(&d)) {
                return Some(user);
            }
        }
    }
    let auth = req.header("authorization")?;
    let (scheme, creds) = auth.trim().split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    base64_decode(creds.trim()).and_then(|d| user_from_credentials(&d))
}

pub(super) fn html_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

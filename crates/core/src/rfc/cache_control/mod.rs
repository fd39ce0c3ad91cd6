//! Cache-Control directives (RFC 9111 §5.2) and the targeted cache-control fields of RFC 9213
//! (`Cloudflare-CDN-Cache-Control`, `CDN-Cache-Control`).
//!
//! Parsing only: this module says what the directives are, never what they mean for a given
//! response (that is `storable` and `freshness`). The parsers are total: any input, however
//! malformed, gives a value and never panics.
//!
//! The targeted fields are Structured Field dictionaries, read by the small parser in `sf`.
//!
//! Resolution rules for odd input (documented here, pinned in the tests):
//! - Directive names are case-insensitive; values may be tokens or quoted strings
//!   (`max-age=5` and `max-age="5"` are the same, §5.2).
//! - Unknown directives are ignored (§5.2: "A cache MUST ignore unrecognized cache
//!   directives").
//! - `max-age` and `s-maxage`: an invalid value (not `1*DIGIT`: `100a`, `a100`, `3600.0`) or
//!   a missing value makes the directive `Some(0)`, i.e. the response is treated as stale.
//!   Of several occurrences the first is used (§4.2.1: "either the first occurrence should be
//!   used or the response should be considered stale"), in the field's own order; in a
//!   targeted field (a Structured Field dictionary) the last one, as RFC 8941 §4.2.2 says.
//! - `stale-while-revalidate` and `stale-if-error`: invalid values are ignored; of several
//!   valid ones the smallest wins (least stale serving). `min-fresh`: the largest valid value
//!   wins. `max-stale`: a bare directive accepts any staleness, a valid value limits it, an
//!   invalid value is ignored; of several the most restrictive wins.
//! - `no-cache` and `private`: the unqualified form wins over a field-name list; lists of
//!   several occurrences are merged. An empty list (`no-cache=""`) counts as unqualified.

use crate::http::Headers;

mod sf;

/// The value a delta-seconds that overflows is taken to be.
///
/// RFC 9111 §1.2.2: "If a cache receives a delta-seconds value greater than the greatest
/// integer it can represent, or if any of its subsequent calculations overflows, the cache
/// MUST consider the value to be 2147483648 (2^31) or the greatest positive integer it can
/// conveniently represent."
pub const DELTA_SECONDS_MAX: u64 = 2_147_483_648;

/// The targeted fields this cache reads, in target-list order (RFC 9213 §2.2).
pub const TARGETED_FIELDS: [&str; 2] = ["cloudflare-cdn-cache-control", "cdn-cache-control"];

/// What `no-cache` or `private` applies to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FieldScope {
    /// The unqualified directive: the whole response.
    All,
    /// The qualified directive: only these header fields (lower-cased names).
    Fields(Vec<String>),
}

impl FieldScope {
    /// True for the unqualified form.
    pub fn is_all(&self) -> bool {
        matches!(self, FieldScope::All)
    }

    /// The field names of the qualified form (empty for the unqualified form).
    pub fn fields(&self) -> &[String] {
        match self {
            FieldScope::All => &[],
            FieldScope::Fields(f) => f,
        }
    }

    fn from_value(value: Option<&str>) -> Self {
        let names: Vec<String> = value
            .unwrap_or("")
            .split(',')
            .map(|n| n.trim().to_ascii_lowercase())
            .filter(|n| !n.is_empty())
            .collect();
        if names.is_empty() {
            FieldScope::All
        } else {
            FieldScope::Fields(names)
        }
    }

    fn merge(a: Option<FieldScope>, b: FieldScope) -> FieldScope {
        match (a, b) {
            (None, b) => b,
            (Some(FieldScope::All), _) | (_, FieldScope::All) => FieldScope::All,
            (Some(FieldScope::Fields(mut a)), FieldScope::Fields(b)) => {
                for n in b {
                    if !a.contains(&n) {
                        a.push(n);
                    }
                }
                FieldScope::Fields(a)
            }
        }
    }
}

/// The request directive `max-stale` (RFC 9111 §5.2.1.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MaxStale {
    /// "If no value is assigned to max-stale, then the client will accept a stale response of
    /// any age."
    Any,
    /// Stale by at most this many seconds.
    Secs(u64),
}

/// Parsed cache directives, request or response side.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CacheControl {
    /// `max-age` (request §5.2.1.1, response §5.2.2.1).
    pub max_age: Option<u64>,
    /// `s-maxage` (§5.2.2.10), for shared caches only.
    pub s_maxage: Option<u64>,
    /// `no-cache` (request §5.2.1.4, response §5.2.2.4).
    pub no_cache: Option<FieldScope>,
    /// `private` (§5.2.2.7).
    pub private: Option<FieldScope>,
    /// `no-store` (request §5.2.1.5, response §5.2.2.5).
    pub no_store: bool,
    /// `public` (§5.2.2.9).
    pub public: bool,
    /// `must-revalidate` (§5.2.2.2).
    pub must_revalidate: bool,
    /// `proxy-revalidate` (§5.2.2.8).
    pub proxy_revalidate: bool,
    /// `must-understand` (§5.2.2.3).
    pub must_understand: bool,
    /// `immutable` (RFC 8246).
    pub immutable: bool,
    /// `no-transform` (§5.2.1.6, §5.2.2.6).
    pub no_transform: bool,
    /// `stale-while-revalidate` (RFC 5861 §3).
    pub stale_while_revalidate: Option<u64>,
    /// `stale-if-error` (RFC 5861 §4), request or response.
    pub stale_if_error: Option<u64>,
    /// `max-stale` (request, §5.2.1.2).
    pub max_stale: Option<MaxStale>,
    /// `min-fresh` (request, §5.2.1.3).
    pub min_fresh: Option<u64>,
    /// `only-if-cached` (request, §5.2.1.7).
    pub only_if_cached: bool,
}

/// Parses `delta-seconds = 1*DIGIT` (RFC 9111 §1.2.2); values that overflow become
/// [`DELTA_SECONDS_MAX`]. None when the value is not a delta-seconds.
pub fn delta_seconds(value: &str) -> Option<u64> {
    if value.is_empty() || !value.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let mut n: u64 = 0;
    for b in value.bytes() {
        n = n.saturating_mul(10).saturating_add(u64::from(b - b'0'));
        if n >= DELTA_SECONDS_MAX {
            return Some(DELTA_SECONDS_MAX);
        }
    }
    Some(n)
}

/// The first occurrence of each freshness directive (`Some(None)`: present, its argument
/// invalid).
///
/// §4.2.1: "When there is more than one value present for a given directive (e.g., two
/// Expires header field lines or multiple Cache-Control: max-age directives), either the
/// first occurrence should be used or the response should be considered stale." The first
/// occurrence is used (as §5.1 does for a list-valued `Age`); when it is invalid the response
/// is stale.
#[derive(Default)]
struct Occurrences {
    max_age: Option<Option<u64>>,
    s_maxage: Option<Option<u64>>,
}

/// The lifetime a freshness directive's first occurrence gives: 0 (stale) when its argument
/// is invalid, None when the directive is absent.
fn resolve_freshness(first: Option<Option<u64>>) -> Option<u64> {
    first.map(|secs| secs.unwrap_or(0))
}

fn min_opt(a: Option<u64>, b: Option<u64>) -> Option<u64> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

impl CacheControl {
    /// Parses every value of a Cache-Control field (one per field line) as one list.
    pub fn parse<'a>(values: impl IntoIterator<Item = &'a str>) -> CacheControl {
        let mut cc = CacheControl::default();
        let mut occ = Occurrences::default();
        for value in values {
            directives(value, |name, arg| cc.apply(name, arg, &mut occ));
        }
        cc.max_age = resolve_freshness(occ.max_age);
        cc.s_maxage = resolve_freshness(occ.s_maxage);
        cc
    }

    /// Parses the field `field` of `h`; None when the field is absent.
    pub fn from_headers(h: &Headers, field: &str) -> Option<CacheControl> {
        if !h.contains(field) {
            return None;
        }
        Some(Self::parse(h.get_all(field)))
    }

    fn apply(&mut self, name: &str, arg: Option<&str>, occ: &mut Occurrences) {
        let secs = arg.and_then(delta_seconds);
        match name {
            "max-age" => _ = occ.max_age.get_or_insert(secs),
            "s-maxage" => _ = occ.s_maxage.get_or_insert(secs),
            "no-cache" => {
                self.no_cache = Some(FieldScope::merge(self.no_cache.take(), FieldScope::from_value(arg)))
            }
            "private" => {
                self.private = Some(FieldScope::merge(self.private.take(), FieldScope::from_value(arg)))
            }
            "no-store" => self.no_store = true,
            "public" => self.public = true,
            "must-revalidate" => self.must_revalidate = true,
            "proxy-revalidate" => self.proxy_revalidate = true,
            "must-understand" => self.must_understand = true,
            "immutable" => self.immutable = true,
            "no-transform" => self.no_transform = true,
            "only-if-cached" => self.only_if_cached = true,
            "stale-while-revalidate" if secs.is_some() => {
                self.stale_while_revalidate = min_opt(self.stale_while_revalidate, secs)
            }
            "stale-if-error" if secs.is_some() => self.stale_if_error = min_opt(self.stale_if_error, secs),
            "min-fresh" => {
                if let Some(s) = secs {
                    self.min_fresh = Some(self.min_fresh.map_or(s, |m| m.max(s)));
                }
            }
            "max-stale" => self.apply_max_stale(arg, secs),
            _ => {}
        }
    }

    fn apply_max_stale(&mut self, arg: Option<&str>, secs: Option<u64>) {
        let new = match (arg, secs) {
            (None, _) => MaxStale::Any,
            (Some(_), Some(s)) => MaxStale::Secs(s),
            (Some(_), None) => return,
        };
        self.max_stale = Some(match (self.max_stale, new) {
            (Some(MaxStale::Secs(a)), MaxStale::Secs(b)) => MaxStale::Secs(a.min(b)),
            (Some(MaxStale::Secs(a)), MaxStale::Any) => MaxStale::Secs(a),
            (_, new) => new,
        });
    }

    /// True when `no-cache` is present without field names.
    pub fn no_cache_all(&self) -> bool {
        self.no_cache.as_ref().is_some_and(FieldScope::is_all)
    }

    /// True when `private` is present without field names.
    pub fn private_all(&self) -> bool {
        self.private.as_ref().is_some_and(FieldScope::is_all)
    }

    /// Builds directives from an RFC 9213 targeted field parsed as a Structured Field
    /// dictionary. Members with an unexpected type are handled like invalid values above.
    fn from_dictionary(members: Vec<(String, sf::Value)>) -> CacheControl {
        let mut cc = CacheControl::default();
        let mut occ = Occurrences::default();
        for (name, value) in members {
            let arg = match value {
                // A Boolean false member is as if absent.
                sf::Value::Bool(false) => continue,
                sf::Value::Bool(true) => None,
                sf::Value::Integer(i) => Some(if i < 0 { "-".to_string() } else { i.to_string() }),
                // Field-name lists are Strings (RFC 9213 §2.1); a String anywhere else, e.g.
                // `max-age="60"`, is a value of the wrong type and so invalid.
                sf::Value::String(s) | sf::Value::Token(s) if name == "private" || name == "no-cache" => {
                    Some(s)
                }
                sf::Value::String(_) | sf::Value::Token(_) | sf::Value::Other => Some(String::new()),
            };
            cc.apply(&name, arg.as_deref(), &mut occ);
        }
        cc.max_age = resolve_freshness(occ.max_age);
        cc.s_maxage = resolve_freshness(occ.s_maxage);
        cc
    }
}

/// The targeted cache-control directives for this cache (RFC 9213), if any.
///
/// RFC 9213 §2.2: "the cache MUST select the first (in target list order) field with a valid,
/// non-empty value and use its value to determine the caching policy for the response, and it
/// MUST ignore the Cache-Control and Expires header fields in that response, unless no valid,
/// non-empty value is available from the listed header fields."
///
/// RFC 9213 §2.1: "If a targeted field in a given response is empty, or a parsing error is
/// encountered, that field MUST be ignored by the cache".
pub fn targeted(h: &Headers) -> Option<CacheControl> {
    TARGETED_FIELDS.iter().find_map(|field| {
        let joined = h.get_joined(field)?;
        let members = sf::parse_dictionary(&joined)?;
        if members.is_empty() {
            None
        } else {
            Some(CacheControl::from_dictionary(members))
        }
    })
}

/// The directives that govern this (shared) cache's storage and freshness decisions for a
/// response: the targeted field when present and valid, else `Cache-Control` (None when
/// neither is present). The bool is true when the directives come from a targeted field, in
/// which case `Expires` must be ignored too.
pub fn effective(h: &Headers) -> (Option<CacheControl>, bool) {
    match targeted(h) {
        Some(cc) => (Some(cc), true),
        None => (CacheControl::from_headers(h, "cache-control"), false),
    }
}

/// Calls `visit` with each directive of a Cache-Control value, as `(lower-cased name,
/// unquoted argument)`, in order; allocates only for a name with upper-case letters or a
/// quoted argument with escapes.
///
/// `cache-directive = token [ "=" ( token / quoted-string ) ]` (RFC 9111 §5.2), tolerant of
/// stray whitespace, empty list members and garbage after a quoted string.
fn directives(value: &str, mut visit: impl FnMut(&str, Option<&str>)) {
    let mut rest = value;
    loop {
        rest = skip_separators(rest);
        if rest.is_empty() {
            return;
        }
        // Bytes, not chars: both are ASCII, so the index is a char boundary.
        let name_end = rest.bytes().position(|b| b == b'=' || b == b',').unwrap_or(rest.len());
        let raw_name = &rest[..name_end];
        rest = &rest[name_end..];
        let unescaped: String;
        let mut arg = None;
        if let Some(after) = rest.strip_prefix('=') {
            // RFC 9111 §5.2: `cache-directive = token [ "=" ( token / quoted-string ) ]` leaves
            // no room for whitespace around "=": `max-age =60` and `max-age= 60` carry no valid
            // argument. The directive is kept with an invalid (empty) argument, so that a
            // freshness directive makes the response stale and a field list means all fields.
            let blank = |b: Option<&u8>| matches!(b, Some(b' ' | b'\t'));
            let spaced = blank(raw_name.as_bytes().last()) || blank(after.as_bytes().first());
            let after = &after[after.bytes().take_while(|b| matches!(b, b' ' | b'\t')).count()..];
            let v = if let Some(quoted) = after.strip_prefix('"') {
                // The quoted string ends at the first unescaped '"' (or the value's end);
                // anything after it up to the next ',' is garbage, skipped.
                let (v, tail) = match quoted.bytes().position(|b| b == b'"' || b == b'\\') {
                    Some(i) if quoted.as_bytes().get(i) == Some(&b'"') => (&quoted[..i], &quoted[i + 1..]),
                    Some(_) => {
                        let mut out = String::new();
                        let mut chars = quoted.char_indices();
                        let mut tail = "";
                        while let Some((i, c)) = chars.next() {
                            match c {
                                '"' => {
                                    tail = &quoted[i + 1..];
                                    break;
                                }
                                '\\' => out.extend(chars.next().map(|(_, c)| c)),
                                c => out.push(c),
                            }
                        }
                        unescaped = out;
                        (unescaped.as_str(), tail)
                    }
                    None => (quoted, ""),
                };
                rest = tail.find(',').map_or("", |i| &tail[i..]);
                v
            } else {
                let end = after.find(',').unwrap_or(after.len());
                rest = &after[end..];
                trim(&after[..end])
            };
            arg = Some(if spaced { "" } else { v });
        }
        let name = trim(raw_name);
        if name.is_empty() {
            continue;
        }
        if name.bytes().any(|b| b.is_ascii_uppercase()) {
            visit(&name.to_ascii_lowercase(), arg);
        } else {
            visit(name, arg);
        }
    }
}

/// `char::is_whitespace` for an ASCII byte.
fn is_ascii_white(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | 0x0B | 0x0C | b'\r')
}

/// `s.trim_start_matches(|c: char| c == ',' || c.is_whitespace())`, by bytes while they are
/// ASCII (a field value nearly always is).
fn skip_separators(s: &str) -> &str {
    let i = s.bytes().take_while(|&b| b == b',' || is_ascii_white(b)).count();
    let rest = s.get(i..).unwrap_or("");
    if rest.as_bytes().first().is_some_and(|&b| !b.is_ascii()) {
        return rest.trim_start_matches(|c: char| c == ',' || c.is_whitespace());
    }
    rest
}

/// `s.trim()`, by bytes while the ends are ASCII.
fn trim(s: &str) -> &str {
    let t = s.get(s.bytes().take_while(|&b| is_ascii_white(b)).count()..).unwrap_or("");
    let t = t.get(..t.len() - t.bytes().rev().take_while(|&b| is_ascii_white(b)).count()).unwrap_or("");
    let non_ascii_end = |b: Option<&u8>| b.is_some_and(|b| !b.is_ascii());
    if non_ascii_end(t.as_bytes().first()) || non_ascii_end(t.as_bytes().last()) {
        t.trim()
    } else {
        t
    }
}

pub use sf::is_tchar;

#[cfg(test)]
mod tests {
    use super::*;

    fn cc(v: &str) -> CacheControl {
        CacheControl::parse([v])
    }

    /// The byte-level trims stand for the std trims the reader used before (char patterns):
    /// the same result on generated pieces of field values, ASCII and not.
    #[test]
    fn byte_trims_agree_with_the_char_trims_they_replace() {
        let pieces = [
            "max-age", "=", ",", ",", " ", " ", "\t", "\"", "60", "x", "\u{a0}", "\u{85}", "\u{2028}",
            "\u{b}", "\u{c}", "\r\n", "é", "MAX",
        ];
        let mut rng = crate::testing::XorShift(0x5eed_cc01);
        for _ in 0..30_000 {
            let v: String = (0..rng.below(8)).map(|_| pieces[rng.below(pieces.len())]).collect();
            assert_eq!(
                skip_separators(&v),
                v.trim_start_matches(|c: char| c == ',' || c.is_whitespace()),
                "{v:?}"
            );
            assert_eq!(trim(&v), v.trim(), "{v:?}");
        }
    }

    #[test]
    fn parses_the_common_response_directives() {
        let c = cc("public, max-age=60, s-maxage=120, must-revalidate, immutable");
        assert!(c.public && c.must_revalidate && c.immutable);
        assert_eq!((c.max_age, c.s_maxage), (Some(60), Some(120)));
        assert!(!c.no_store && c.no_cache.is_none());
    }

    #[test]
    fn names_are_case_insensitive_and_values_may_be_quoted() {
        let c = cc("MAX-AGE=\"30\" ,  No-Store");
        assert_eq!(c.max_age, Some(30));
        assert!(c.no_store);
    }

    #[test]
    fn several_field_lines_form_one_list() {
        let c = CacheControl::parse(["max-age=5", "no-transform, proxy-revalidate"]);
        assert_eq!(c.max_age, Some(5));
        assert!(c.no_transform && c.proxy_revalidate);
    }

    #[test]
    fn conflicting_or_invalid_max_age_is_treated_as_stale() {
        assert_eq!(cc("max-age=60, max-age=120").max_age, Some(60), "the first occurrence");
        assert_eq!(cc("max-age=abc, max-age=120").max_age, Some(0), "the first occurrence is invalid");
        assert_eq!(cc("max-age=60, max-age=60").max_age, Some(60));
        assert_eq!(cc("max-age=abc").max_age, Some(0));
        assert_eq!(cc("max-age=-1").max_age, Some(0));
        assert_eq!(cc("max-age").max_age, Some(0));
        assert_eq!(cc("s-maxage=1.5").s_maxage, Some(0));
    }

    #[test]
    fn whitespace_around_equals_invalidates_the_argument() {
        assert_eq!(cc("max-age =60").max_age, Some(0));
        assert_eq!(cc("max-age= 60").max_age, Some(0));
        assert_eq!(cc("max-age=\t\"60\", public").max_age, Some(0));
        assert!(cc("max-age =60, public").public);
        assert!(cc("private= \"x-user\"").private_all());
        assert!(cc("no-store =1").no_store);
        assert_eq!(cc("max-age=60 ").max_age, Some(60));
    }

    #[test]
    fn overflowing_delta_seconds_becomes_two_to_the_31() {
        assert_eq!(cc("max-age=99999999999999999999999").max_age, Some(DELTA_SECONDS_MAX));
        assert_eq!(delta_seconds("2147483647"), Some(2_147_483_647));
        assert_eq!(delta_seconds("2147483649"), Some(DELTA_SECONDS_MAX));
        assert_eq!(delta_seconds(""), None);
        assert_eq!(delta_seconds("+5"), None);
    }

    #[test]
    fn qualified_no_cache_and_private_list_field_names() {
        let c = cc("no-cache=\"Set-Cookie, X-Foo\", private=x-user");
        assert_eq!(c.no_cache, Some(FieldScope::Fields(vec!["set-cookie".into(), "x-foo".into()])));
        assert_eq!(c.private, Some(FieldScope::Fields(vec!["x-user".into()])));
        assert!(!c.no_cache_all() && !c.private_all());
    }

    #[test]
    fn unqualified_form_wins_over_a_field_list() {
        assert!(cc("no-cache=\"a\", no-cache").no_cache_all());
        assert!(cc("private, private=\"a\"").private_all());
        assert!(cc("no-cache=\"\"").no_cache_all());
        assert_eq!(
            cc("private=a, private=\"b, a\"").private,
            Some(FieldScope::Fields(vec!["a".into(), "b".into()]))
        );
    }

    #[test]
    fn request_directives() {
        let c = cc("max-stale, min-fresh=10, only-if-cached, stale-if-error=30");
        assert_eq!(c.max_stale, Some(MaxStale::Any));
        assert_eq!(c.min_fresh, Some(10));
        assert_eq!(c.stale_if_error, Some(30));
        assert!(c.only_if_cached);
        assert_eq!(cc("max-stale=5").max_stale, Some(MaxStale::Secs(5)));
        assert_eq!(cc("max-stale, max-stale=7").max_stale, Some(MaxStale::Secs(7)));
        assert_eq!(cc("max-stale=x").max_stale, None);
    }

    #[test]
    fn stale_extensions_ignore_invalid_values_and_take_the_smallest() {
        let c = cc("stale-while-revalidate=x, stale-while-revalidate=30, stale-while-revalidate=10");
        assert_eq!(c.stale_while_revalidate, Some(10));
        assert_eq!(cc("stale-if-error").stale_if_error, None);
    }

    #[test]
    fn unknown_directives_and_garbage_are_ignored() {
        let c = cc(" , ,foo=\"bar, baz\" junk, max-age=10,, =5, \"x\"");
        assert_eq!(c.max_age, Some(10));
        assert_eq!(cc(""), CacheControl::default());
    }

    #[test]
    fn quoted_string_escapes_and_trailing_garbage() {
        let c = cc("private=\"a\\\"b\"garbage, max-age=3");
        assert_eq!(c.private, Some(FieldScope::Fields(vec!["a\"b".into()])));
        assert_eq!(c.max_age, Some(3));
    }

    #[test]
    fn from_headers_is_none_when_the_field_is_absent() {
        let h = Headers::from_pairs([("Cache-Control", "")]);
        assert_eq!(CacheControl::from_headers(&h, "cache-control"), Some(CacheControl::default()));
        assert_eq!(CacheControl::from_headers(&Headers::new(), "cache-control"), None);
    }

    #[test]
    fn targeted_field_uses_structured_field_syntax() {
        let h = Headers::from_pairs([
            ("Cache-Control", "no-store"),
            ("CDN-Cache-Control", "max-age=60, stale-while-revalidate=30, private=\"x-a\""),
        ]);
        let t = targeted(&h).unwrap_or_default();
        assert_eq!(t.max_age, Some(60));
        assert_eq!(t.stale_while_revalidate, Some(30));
        assert_eq!(t.private, Some(FieldScope::Fields(vec!["x-a".into()])));
        assert!(!t.no_store);
    }

    #[test]
    fn cloudflare_field_comes_first_and_invalid_fields_are_skipped() {
        let h = Headers::from_pairs([
            ("CDN-Cache-Control", "max-age=10"),
            ("Cloudflare-CDN-Cache-Control", "max-age=20"),
        ]);
        assert_eq!(targeted(&h).and_then(|t| t.max_age), Some(20));
        // Directive names are case-insensitive (RFC 9111 §5.2), here as in Cache-Control.
        let h = Headers::from_pairs([
            ("CDN-Cache-Control", "max-age=10"),
            ("Cloudflare-CDN-Cache-Control", "Max-Age=20"),
        ]);
        assert_eq!(targeted(&h).and_then(|t| t.max_age), Some(20));
        let h = Headers::from_pairs([
            ("CDN-Cache-Control", "max-age=10"),
            ("Cloudflare-CDN-Cache-Control", "9max-age=20"),
        ]);
        assert_eq!(targeted(&h).and_then(|t| t.max_age), Some(10), "a key starting with a digit is invalid");
        let h = Headers::from_pairs([("CDN-Cache-Control", "max-age=10,")]);
        assert_eq!(targeted(&h), None);
        let h = Headers::from_pairs([("CDN-Cache-Control", "")]);
        assert_eq!(targeted(&h), None);
    }

    #[test]
    fn targeted_values_of_the_wrong_type() {
        let t = |v: &str| targeted(&Headers::from_pairs([("CDN-Cache-Control", v)])).unwrap_or_default();
        assert_eq!(t("max-age=\"60\"").max_age, Some(0));
        assert_eq!(t("max-age=-5").max_age, Some(0));
        assert_eq!(t("max-age=1.5").max_age, Some(0));
        assert!(!t("no-store=?0, public").no_store);
        assert!(t("no-store;foo=1, public").no_store);
        assert!(t("max-age=10, x=(a b);q=1, no-cache").no_cache_all());
        assert_eq!(t("max-age=10, max-age=20").max_age, Some(20));
    }

    #[test]
    fn effective_prefers_the_targeted_field() {
        let h = Headers::from_pairs([("Cache-Control", "max-age=5"), ("CDN-Cache-Control", "max-age=50")]);
        assert_eq!(effective(&h), (targeted(&h), true));
        let h = Headers::from_pairs([("Cache-Control", "max-age=5")]);
        assert_eq!(effective(&h).0.and_then(|c| c.max_age), Some(5));
        assert_eq!(effective(&Headers::new()), (None, false));
    }
}

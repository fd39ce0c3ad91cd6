//! Plain HTTP message heads shared by every part of the core.
//!
//! The core never sees a body and never performs I/O: it works on these heads and on the
//! time, which is always passed in as [`Time`].

pub mod date;
mod method;
pub mod structured;
mod url;

use std::borrow::Cow;

pub use method::Method;
pub use url::{ParseError, Url};

/// Milliseconds since the Unix epoch. The core never reads a clock; callers pass this in.
pub type Time = u64;

/// Whole seconds in a [`Time`] (RFC 9111 works in seconds).
pub const fn secs(t: Time) -> u64 {
    t / 1000
}

/// An ordered list of header fields. Names are stored lower-cased (field names are
/// case-insensitive, RFC 9110 §5.1); values are kept as received.
///
/// Every name and value lives in one string, and the list holds where each field's name and
/// value are in it: a copy of a head is two allocations, not two a field. A field removed or
/// replaced leaves its bytes behind until the list is copied (a copy holds the live fields
/// only) or they outgrow the live ones.
#[derive(Default)]
pub struct Headers {
    text: String,
    fields: Vec<Field>,
    /// Bytes of `text` no field refers to any more.
    dead: usize,
}

/// Where one field's name and value are in [`Headers::text`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Field {
    name: (u32, u32),
    value: (u32, u32),
}

/// The part of `text` at `range` (empty if it is not one: never, for the ranges a list makes).
#[inline]
fn part(text: &str, (start, end): (u32, u32)) -> &str {
    text.get(start as usize..end as usize).unwrap_or("")
}

/// Whether two field names are the same (field names are case-insensitive, RFC 9110 §5.1).
/// Stored names are lower case, and so are the names the core asks for: the lengths and the
/// exact comparison settle almost every case without the case-insensitive one.
#[inline]
pub fn same_field_name(stored: &str, query: &str) -> bool {
    stored.len() == query.len() && (stored == query || stored.eq_ignore_ascii_case(query))
}

/// Whether a stored field name (lower case, as [`Headers`] keeps every name) is one of the
/// lower-case names of `list`: an exact comparison, no case folding.
#[inline]
pub fn is_listed(stored: &str, list: &[&str]) -> bool {
    list.contains(&stored)
}

impl Headers {
    pub fn new() -> Self {
        Self::default()
    }

    /// Builds headers from name/value pairs (names are lower-cased).
    pub fn from_pairs<N: AsRef<str>, V: AsRef<str>>(pairs: impl IntoIterator<Item = (N, V)>) -> Self {
        let mut h = Self::new();
        for (n, v) in pairs {
            h.append(n.as_ref(), v);
        }
        h
    }

    #[inline]
    fn name_of(&self, f: &Field) -> &str {
        part(&self.text, f.name)
    }

    #[inline]
    fn value_of(&self, f: &Field) -> &str {
        part(&self.text, f.value)
    }

    /// Appends `s` to the text; where it lies.
    fn push_text(&mut self, s: &str) -> (u32, u32) {
        let start = self.text.len();
        self.text.push_str(s);
        (start as u32, self.text.len() as u32)
    }

    /// Appends `name` lower-cased to the text; where it lies.
    fn push_name(&mut self, name: &str) -> (u32, u32) {
        let range = self.push_text(name);
        if name.bytes().any(|b| b.is_ascii_uppercase()) {
            if let Some(pushed) = self.text.get_mut(range.0 as usize..) {
                pushed.make_ascii_lowercase();
            }
        }
        range
    }

    /// Counts the bytes of fields no longer referred to, and copies the live ones into a new
    /// text when the dead bytes outnumber them.
    fn forget(&mut self, bytes: usize) {
        self.dead += bytes;
        if self.dead > 256 && self.dead > self.text.len() / 2 {
            *self = self.compacted();
        }
    }

    /// The index of the first field named `name` at or after `from`: one scan of the list,
    /// reading a field's name only when its length is `name`'s. (Written as a loop: the release
    /// build optimises for size and would keep an iterator chain's closures as calls.)
    fn find(&self, name: &str, from: usize) -> Option<usize> {
        let (text, wanted) = (self.text.as_bytes(), name.as_bytes());
        let mut i = from;
        while let Some(f) = self.fields.get(i) {
            if (f.name.1 - f.name.0) as usize == wanted.len() {
                if let Some(stored) = text.get(f.name.0 as usize..f.name.1 as usize) {
                    if stored == wanted || stored.eq_ignore_ascii_case(wanted) {
                        return Some(i);
                    }
                }
            }
            i += 1;
        }
        None
    }

    /// The fields named `name`, in order.
    fn named<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a Field> + 'a {
        let mut next = 0;
        std::iter::from_fn(move || {
            let i = self.find(name, next)?;
            next = i + 1;
            self.fields.get(i)
        })
    }

    fn is_named(text: &str, f: &Field, name: &str) -> bool {
        (f.name.1 - f.name.0) as usize == name.len() && same_field_name(part(text, f.name), name)
    }

    fn field_len(f: &Field) -> usize {
        (f.name.1 - f.name.0 + f.value.1 - f.value.0) as usize
    }

    /// A copy holding the live fields only.
    fn compacted(&self) -> Headers {
        let mut out = Headers {
            text: String::with_capacity(self.text.len() - self.dead + COPY_ROOM_BYTES),
            fields: Vec::with_capacity(self.fields.len() + COPY_ROOM_FIELDS),
            dead: 0,
        };
        for (n, v) in self.iter() {
            let name = out.push_text(n);
            let value = out.push_text(v);
            out.fields.push(Field { name, value });
        }
        out
    }

    /// The first value of `name`.
    pub fn get(&self, name: &str) -> Option<&str> {
        let f = self.fields.get(self.find(name, 0)?)?;
        Some(self.value_of(f))
    }

    /// The message's `Content-Length`, the one reading of it in the crate.
    ///
    /// RFC 9110 §8.6: "Content-Length = 1*DIGIT". "a recipient MAY either reject the message as
    /// invalid or replace that invalid field value with a single instance of the decimal value,
    /// since that indicates the sender has generated a list of identical field values (e.g.,
    /// `Content-Length: 42, 42`)". Members are trimmed of whitespace; any member that is not
    /// digits, or members that differ, make the length unknown (`None`).
    pub fn content_length(&self) -> Option<u64> {
        let mut length = None;
        for member in self.get_all("content-length").flat_map(|v| v.split(',')) {
            let member = member.trim_matches([' ', '\t']);
            if member.is_empty() || !member.bytes().all(|b| b.is_ascii_digit()) {
                return None;
            }
            let n: u64 = member.parse().ok()?;
            if length.is_some_and(|l| l != n) {
                return None;
            }
            length = Some(n);
        }
        length
    }

    /// Every value of `name`, in order.
    pub fn get_all<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.named(name).map(|f| self.value_of(f))
    }

    /// All values of `name` joined with ", " (RFC 9110 §5.3 list combination).
    pub fn get_joined<'a>(&'a self, name: &'a str) -> Option<Cow<'a, str>> {
        let mut it = self.get_all(name);
        let first = it.next()?;
        match it.next() {
            None => Some(Cow::Borrowed(first)),
            Some(second) => {
                let mut s = String::with_capacity(first.len() + second.len() + 2);
                s.push_str(first);
                s.push_str(", ");
                s.push_str(second);
                for v in it {
                    s.push_str(", ");
                    s.push_str(v);
                }
                Some(Cow::Owned(s))
            }
        }
    }

    /// The comma-separated list elements of every `name` field, trimmed, empty ones dropped.
    pub fn list<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.get_all(name).flat_map(|v| v.split(',')).map(str::trim).filter(|s| !s.is_empty())
    }

    pub fn contains(&self, name: &str) -> bool {
        self.find(name, 0).is_some()
    }

    /// Whether a field's name starts with `prefix` (lower case).
    pub fn has_name_starting_with(&self, prefix: &str) -> bool {
        let (text, prefix) = (self.text.as_bytes(), prefix.as_bytes());
        let mut i = 0;
        while let Some(f) = self.fields.get(i) {
            if text.get(f.name.0 as usize..f.name.1 as usize).is_some_and(|n| n.starts_with(prefix)) {
                return true;
            }
            i += 1;
        }
        false
    }

    /// Replaces every `name` field with one holding `value`.
    pub fn set(&mut self, name: &str, value: impl AsRef<str>) {
        let value = value.as_ref();
        match self.find(name, 0) {
            Some(pos) => {
                let range = self.push_text(value);
                let mut freed = 0;
                if let Some(slot) = self.fields.get_mut(pos) {
                    freed += (slot.value.1 - slot.value.0) as usize;
                    slot.value = range;
                }
                if self.find(name, pos + 1).is_some() {
                    let mut i = 0usize;
                    let text = &self.text;
                    self.fields.retain(|f| {
                        let keep = i <= pos || !Self::is_named(text, f, name);
                        if !keep {
                            freed += Self::field_len(f);
                        }
                        i += 1;
                        keep
                    });
                }
                self.forget(freed);
            }
            None => self.append(name, value),
        }
    }

    pub fn append(&mut self, name: &str, value: impl AsRef<str>) {
        let name = self.push_name(name);
        let value = self.push_text(value.as_ref());
        self.fields.push(Field { name, value });
    }

    /// Removes every `name` field; true when something was removed.
    /// Removes every `name` field; whether there was one.
    pub fn remove(&mut self, name: &str) -> bool {
        let (mut from, mut freed, mut removed) = (0, 0, false);
        while let Some(i) = self.find(name, from) {
            freed += Self::field_len(&self.fields.remove(i));
            from = i;
            removed = true;
        }
        if freed > 0 {
            self.forget(freed);
        }
        removed
    }

    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.fields.iter().map(|f| (self.name_of(f), self.value_of(f)))
    }

    pub fn len(&self) -> usize {
        self.fields.len()
    }

    /// Makes room for `additional` more fields (of `bytes` bytes in all) without reallocating.
    pub fn reserve(&mut self, additional: usize, bytes: usize) {
        self.fields.reserve(additional);
        self.text.reserve(bytes);
    }

    pub fn is_empty(&self) -> bool {
        self.fields.is_empty()
    }

    pub fn retain(&mut self, mut keep: impl FnMut(&str, &str) -> bool) {
        let mut freed = 0;
        let text = &self.text;
        self.fields.retain(|f| {
            let kept = keep(part(text, f.name), part(text, f.value));
            if !kept {
                freed += Self::field_len(f);
            }
            kept
        });
        if freed > 0 {
            self.forget(freed);
        }
    }

    /// Approximate size in bytes, for memory accounting.
    pub fn byte_size(&self) -> usize {
        self.iter().map(|(n, v)| n.len() + v.len() + 4).sum()
    }

    /// The bytes this value holds on the heap: its text and its field table, as allocated
    /// (capacities, not lengths).
    pub fn heap_bytes(&self) -> usize {
        self.text.capacity() + self.fields.capacity() * std::mem::size_of::<Field>()
    }
}

/// Room a copy leaves for the fields added to it (a copy is made to be edited: the origin's
/// request, an answer's head), so that the first few additions do not reallocate.
const COPY_ROOM_FIELDS: usize = 4;
const COPY_ROOM_BYTES: usize = 96;

impl Clone for Headers {
    /// A copy of the live fields: two allocations, whatever the number of fields.
    fn clone(&self) -> Self {
        if self.dead != 0 {
            return self.compacted();
        }
        let mut text = String::with_capacity(self.text.len() + COPY_ROOM_BYTES);
        text.push_str(&self.text);
        let mut fields = Vec::with_capacity(self.fields.len() + COPY_ROOM_FIELDS);
        fields.extend_from_slice(&self.fields);
        Headers { text, fields, dead: 0 }
    }
}

impl PartialEq for Headers {
    fn eq(&self, other: &Self) -> bool {
        self.len() == other.len() && self.iter().eq(other.iter())
    }
}

impl Eq for Headers {}

impl std::fmt::Debug for Headers {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries(self.iter()).finish()
    }
}

/// Stored records (`meta`) keep a head's fields as a list of `[name, value]` pairs.
impl serde::Serialize for Headers {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_seq(self.iter())
    }
}

impl<'de> serde::Deserialize<'de> for Headers {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let pairs = <Vec<(String, String)> as serde::Deserialize>::deserialize(deserializer)?;
        Ok(Headers::from_pairs(pairs))
    }
}

/// The shell moves a whole header list across the wasm boundary as one string of lines:
/// name, value, name, value…, each ending in `\n` (a field value never holds a line break).
impl Headers {
    /// Reads lines written by [`Headers::write_lines`] or by the shell's JavaScript side. A
    /// trailing name without a value is ignored.
    pub fn from_lines(text: &str) -> Headers {
        let mut h = Headers::new();
        h.reserve(text.bytes().filter(|&b| b == b'\n').count() / 2, text.len());
        let mut lines = text.split('\n');
        while let (Some(name), Some(value)) = (lines.next(), lines.next()) {
            h.append(name, value);
        }
        h
    }

    /// Appends every field to `out` as lines. A field whose name or value holds a line break
    /// cannot be sent (the runtime refuses it too) and is left out.
    pub fn write_lines(&self, out: &mut String) {
        out.reserve(self.byte_size());
        for (name, value) in self.iter() {
            write_line(out, name, value);
        }
    }

    /// Every field as lines (see [`Headers::write_lines`]).
    pub fn to_lines(&self) -> String {
        let mut out = String::new();
        self.write_lines(&mut out);
        out
    }
}

/// Appends one field to `out` as lines (see [`Headers::write_lines`]); false, and nothing
/// written, when its name or value holds a line break.
pub fn write_line(out: &mut String, name: &str, value: &str) -> bool {
    if name.contains('\n') || value.contains('\n') {
        return false;
    }
    out.push_str(name);
    out.push('\n');
    out.push_str(value);
    out.push('\n');
    true
}

/// One edit that turns one header list into another (see [`Headers::edits_to`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HeaderEdit<'a> {
    /// Remove every field of this name.
    Remove(&'a str),
    /// Replace every field of this name with these values, in order.
    Replace(&'a str, Vec<&'a str>),
}

impl Headers {
    /// The fewest whole-field edits that turn `self` into `target`: what the worker shell
    /// applies to a JavaScript `Headers` object it passes through, instead of copying every
    /// field across the wasm boundary.
    pub fn edits_to<'a>(&'a self, target: &'a Headers) -> Vec<HeaderEdit<'a>> {
        let mut edits = Vec::new();
        if self == target {
            return edits;
        }
        // The fields both lists start with are the same: only names met after them can differ.
        let same = self.iter().zip(target.iter()).take_while(|(a, b)| a == b).count();
        let (before_rest, after_rest) = (self.iter().skip(same), target.iter().skip(same));
        let mut seen: Vec<&str> = Vec::new();
        for (name, _) in before_rest.chain(after_rest) {
            if seen.iter().any(|s| same_field_name(s, name)) {
                continue;
            }
            seen.push(name);
            if self.get_all(name).eq(target.get_all(name)) {
                continue;
            }
            let after: Vec<&str> = target.get_all(name).collect();
            if after.is_empty() {
                edits.push(HeaderEdit::Remove(name));
            } else {
                edits.push(HeaderEdit::Replace(name, after));
            }
        }
        edits
    }
}

/// The head of a request: method, absolute URL and header fields.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestHead {
    pub method: Method,
    pub url: Url,
    pub headers: Headers,
}

/// Every cookie `(name, value)` pair of every `Cookie` header, in order. Pieces without `=` and
/// empty names are skipped; names and values are trimmed of spaces and tabs, and one pair of
/// surrounding double quotes is removed from a value.
pub fn cookies(h: &Headers) -> impl Iterator<Item = (&str, &str)> {
    h.get_all("cookie").flat_map(|v| v.split(';')).filter_map(parse_pair)
}

fn parse_pair(piece: &str) -> Option<(&str, &str)> {
    let (name, value) = piece.split_once('=')?;
    let name = name.trim_matches([' ', '\t']);
    if name.is_empty() {
        return None;
    }
    let value = value.trim_matches([' ', '\t']);
    let value = value.strip_prefix('"').and_then(|v| v.strip_suffix('"')).unwrap_or(value);
    Some((name, value))
}

/// Parses a JSON body (a purge request, an admin call) with the same reader as every other
/// JSON text the worker reads (`serde_json::from_str`): one parser in the module, not one per
/// input type. A body that is not UTF-8 is an error like any other malformed JSON.
pub fn json_from_bytes<T: serde::de::DeserializeOwned>(body: &[u8]) -> Result<T, serde_json::Error> {
    let text = std::str::from_utf8(body)
        .map_err(|e| <serde_json::Error as serde::de::Error>::custom(format_args!("not UTF-8: {e}")))?;
    serde_json::from_str(text)
}

/// Parses an absolute http(s) URL from outside input (a purge list, a policy, an origin's
/// header), normalised as the runtime normalises request URLs (see [`Url`]). `None` when it is
/// not one, and when its authority is not plain ASCII: hosts are written in punycode (see the
/// README's limits).
pub fn parse_url(input: &str) -> Option<Url> {
    Url::parse(input).ok()
}

/// At most this many request URLs are kept parsed by a [`UrlMemo`]; when full, all are
/// forgotten at once.
pub const URL_MEMO_ENTRIES: usize = 256;
/// A request URL longer than this is parsed every time (a memo holds at most 256 × 1 KiB).
pub const URL_MEMO_MAX_LEN: usize = 1024;

/// Request URLs parsed lately, by their text: a cache sees the same URLs again and again, and
/// parsing one costs more than finding it. Bounded by [`URL_MEMO_ENTRIES`] and
/// [`URL_MEMO_MAX_LEN`]; answers exactly as [`parse_url`] does.
#[derive(Debug, Default)]
pub struct UrlMemo {
    parsed: std::collections::HashMap<Box<str>, Url>,
}

impl UrlMemo {
    /// `text` parsed as [`parse_url`] parses it.
    pub fn parse(&mut self, text: &str) -> Option<Url> {
        if text.len() > URL_MEMO_MAX_LEN {
            return parse_url(text);
        }
        if let Some(url) = self.parsed.get(text) {
            return Some(url.clone());
        }
        let url = parse_url(text)?;
        if self.parsed.len() >= URL_MEMO_ENTRIES {
            self.parsed.clear();
        }
        self.parsed.insert(text.into(), url.clone());
        Some(url)
    }

    /// How many URLs are kept.
    pub fn len(&self) -> usize {
        self.parsed.len()
    }

    /// Whether none is kept.
    pub fn is_empty(&self) -> bool {
        self.parsed.is_empty()
    }
}

/// Resolves the reference `input` (absolute, scheme- or path-relative) against `base`, with
/// the same rules as [`parse_url`].
pub fn join_url(base: &Url, input: &str) -> Option<Url> {
    base.join(input).ok()
}

impl RequestHead {
    pub fn new(method: &str, url: Url, headers: Headers) -> Self {
        Self { method: Method::parse(method), url, headers }
    }

    /// Parses `url`; None when it is not an absolute URL.
    pub fn parse(method: &str, url: &str, headers: Headers) -> Option<Self> {
        parse_url(url).map(|u| Self::new(method, u, headers))
    }

    pub fn is_get_or_head(&self) -> bool {
        self.method.is_get_or_head()
    }

    /// RFC 9110 §9.2.1: GET, HEAD, OPTIONS and TRACE are safe.
    pub fn is_safe(&self) -> bool {
        self.method.is_safe()
    }
}

/// The head of a response: status code and header fields.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ResponseHead {
    pub status: u16,
    pub headers: Headers,
}

impl ResponseHead {
    pub fn new(status: u16, headers: Headers) -> Self {
        Self { status, headers }
    }

    /// A runtime response's head as it crosses the wasm boundary: the status line, then the
    /// fields as lines (see [`Headers::from_lines`]). A status that is not a number in `u16`
    /// becomes 0, which no stage passes on (see `engine::unusable_status`).
    pub fn from_lines(text: &str) -> Self {
        let (status, lines) = text.split_once('\n').unwrap_or((text, ""));
        ResponseHead::new(status.trim().parse().unwrap_or(0), Headers::from_lines(lines))
    }
}

/// Whether the path of the serialised absolute URL `url` is `prefix` or lies under it
/// (`/_rulecache`, `/_rulecache/api/…`, but not `/_rulecachex`). Read from the string, with no
/// URL parsing: it routes every request.
pub fn url_path_is_under(url: &str, prefix: &str) -> bool {
    let after_scheme = url.split_once("://").map_or(url, |(_, rest)| rest);
    let path = after_scheme.find('/').and_then(|i| after_scheme.get(i..)).unwrap_or("/");
    let path = path.split(['?', '#']).next().unwrap_or(path);
    has_path_prefix(path, prefix)
}

/// The URL a request for `request` is sent to at `origin`: the origin's scheme, host and port
/// with the request's path and query (the origin's own path, and any fragment, are not
/// sent). Both are already-parsed URLs, so this slices them: nothing is parsed again.
pub fn origin_url(origin: &Url, request: &Url) -> String {
    let authority = origin.before_path();
    let target = request.path_and_query();
    let mut out = String::with_capacity(authority.len() + target.len());
    out.push_str(authority);
    out.push_str(target);
    out
}

/// Lower-case hex of `bytes` (digests, signatures).
pub fn hex(bytes: &[u8]) -> String {
    let digit = |n: u8| char::from_digit(u32::from(n), 16).unwrap_or('0');
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push(digit(b >> 4));
        s.push(digit(b & 0x0f));
    }
    s
}

/// Decodes hex (either case); `None` when malformed.
pub fn unhex(s: &str) -> Option<Vec<u8>> {
    if !s.len().is_multiple_of(2) {
        return None;
    }
    s.as_bytes()
        .chunks(2)
        .map(|pair| match pair {
            [hi, lo] => Some((hex_digit(*hi)? << 4) | hex_digit(*lo)?),
            _ => None,
        })
        .collect()
}

/// The value of one hex digit (either case), as in percent-encoding (RFC 3986 §2.1).
pub fn hex_digit(b: u8) -> Option<u8> {
    char::from(b).to_digit(16).and_then(|d| u8::try_from(d).ok())
}

/// What "prefix" means everywhere in rulecache (policy `pathPrefix`, the admin routes, purge
/// prefixes): whole path segments. `/news` covers `/news` and `/news/…` (and `/news?…`), not
/// `/newsletter`; a prefix ending in `/` covers what starts with it.
pub fn has_path_prefix(path: &str, prefix: &str) -> bool {
    match path.strip_prefix(prefix) {
        Some(rest) => rest.is_empty() || prefix.ends_with('/') || rest.starts_with(['/', '?', '#']),
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_url_memo_answers_as_parse_url_within_its_bounds() {
        let mut memo = UrlMemo::default();
        for text in
            ["https://a.example/x?y=1", "https://a.example/%7Ex", "not a url", "https://a.example/x?y=1"]
        {
            assert_eq!(memo.parse(text), parse_url(text), "{text}");
        }
        assert_eq!(memo.len(), 2, "each URL kept once; what does not parse is not kept");
        for n in 0..URL_MEMO_ENTRIES + 10 {
            memo.parse(&format!("https://a.example/{n}"));
            assert!(memo.len() <= URL_MEMO_ENTRIES);
        }
        let long = format!("https://a.example/{}", "x".repeat(URL_MEMO_MAX_LEN));
        let before = memo.len();
        assert_eq!(memo.parse(&long), parse_url(&long));
        assert_eq!(memo.len(), before, "a long URL is parsed, never kept");
    }

    fn pairs(h: &Headers) -> Vec<(String, String)> {
        h.iter().map(|(n, v)| (n.to_string(), v.to_string())).collect()
    }

    #[test]
    fn fields_keep_their_order_names_lower_cased_values_as_received() {
        let mut h = Headers::new();
        h.append("Content-Type", "text/HTML; charset=utf-8");
        h.append("X-Naïve", "café, ünïcode");
        h.append("set-cookie", "a=1");
        h.append("SET-COOKIE", "b=2");
        assert_eq!(h.get("x-naïve"), Some("café, ünïcode"));
        assert_eq!(h.get_all("Set-Cookie").collect::<Vec<_>>(), ["a=1", "b=2"]);
        assert_eq!(
            pairs(&h),
            [
                ("content-type", "text/HTML; charset=utf-8"),
                ("x-naïve", "café, ünïcode"),
                ("set-cookie", "a=1"),
                ("set-cookie", "b=2"),
            ]
            .map(|(n, v)| (n.to_string(), v.to_string()))
        );
    }

    #[test]
    fn set_replaces_the_first_field_in_place_and_drops_the_others() {
        let mut h = Headers::from_pairs([("a", "1"), ("vary", "x"), ("b", "2"), ("Vary", "y")]);
        h.set("VARY", "Accept-Encoding");
        assert_eq!(pairs(&h).len(), 3);
        assert_eq!(h.iter().collect::<Vec<_>>(), [("a", "1"), ("vary", "Accept-Encoding"), ("b", "2")]);
        h.set("new", "z");
        assert_eq!(h.iter().last(), Some(("new", "z")));
    }

    #[test]
    fn many_edits_leave_only_the_live_fields_and_copies_hold_no_dead_bytes() {
        // Each set and removal leaves the old bytes behind; once they outnumber the live ones
        // the list starts a new text, and every read sees the live fields alone.
        let mut h = Headers::from_pairs([("keep", "k"), ("age", "0")]);
        for i in 0..2_000 {
            h.set("age", i.to_string());
            h.append("x-tmp", "v".repeat(50));
            assert!(h.remove("x-tmp"));
        }
        assert_eq!(h.iter().collect::<Vec<_>>(), [("keep", "k"), ("age", "1999")]);
        assert!(h.text.len() < 2_000, "dead bytes were kept: {} bytes of text", h.text.len());
        h.append("x-last", "1");
        h.retain(|n, _| n != "keep");
        let copy = h.clone();
        assert_eq!(copy, h);
        assert_eq!(copy.text, "age1999x-last1", "a copy holds the live fields only");
        assert_eq!(copy.byte_size(), h.byte_size());
    }

    #[test]
    fn equality_is_by_fields_whatever_the_text_holds() {
        let mut a = Headers::from_pairs([("a", "1"), ("b", "2")]);
        a.set("b", "3");
        a.set("b", "2");
        let b = Headers::from_pairs([("a", "1"), ("b", "2")]);
        assert_eq!(a, b);
        assert_ne!(a, Headers::from_pairs([("b", "2"), ("a", "1")]));
        assert!(a.edits_to(&b).is_empty());
    }

    #[test]
    fn a_head_is_stored_as_name_value_pairs() {
        // The record format of stored entries (meta): a list of [name, value] pairs.
        let mut h = Headers::from_pairs([("ETag", "\"a b\""), ("x", "1")]);
        h.set("x", "2");
        let json = serde_json::to_string(&h).unwrap_or_default();
        assert_eq!(json, r#"[["etag","\"a b\""],["x","2"]]"#);
        let back: Headers = serde_json::from_str(r#"[["ETag","\"a b\""],["x","2"]]"#).unwrap_or_default();
        assert_eq!(back, Headers::from_pairs([("etag", "\"a b\""), ("x", "2")]));
        assert!(serde_json::from_str::<Headers>(r#"[["a"]]"#).is_err());
    }

    #[test]
    fn a_prefix_covers_whole_segments() {
        assert!(has_path_prefix("/news", "/news"));
        assert!(has_path_prefix("/news/item-1", "/news"));
        assert!(has_path_prefix("/news?page=2", "/news"));
        assert!(!has_path_prefix("/newsletter", "/news"));
        assert!(!has_path_prefix("/new", "/news"));
        assert!(has_path_prefix("/news/", "/news/"));
        assert!(has_path_prefix("/news/x", "/news/"));
        assert!(!has_path_prefix("/news", "/news/"));
        assert!(has_path_prefix("/anything", "/"));
        assert!(url_path_is_under("https://e.org/_rulecache/api", "/_rulecache"));
        assert!(!url_path_is_under("https://e.org/_rulecachex", "/_rulecache"));
    }

    #[test]
    fn content_length_is_digits_or_a_list_of_the_same_digits() {
        let cl = |values: &[&str]| {
            Headers::from_pairs(values.iter().map(|v| ("content-length", *v))).content_length()
        };
        assert_eq!(cl(&["42"]), Some(42));
        assert_eq!(cl(&[" 42\t"]), Some(42));
        assert_eq!(cl(&["42, 42"]), Some(42));
        assert_eq!(cl(&["42", "42"]), Some(42));
        assert_eq!(cl(&[]), None);
        for bad in ["", "-1", "+42", "4 2", "42, 43", "0x10", "42;", "99999999999999999999999"] {
            assert_eq!(cl(&[bad]), None, "{bad:?}");
        }
        assert_eq!(cl(&["42", "43"]), None);
    }

    #[test]
    fn urls_with_a_non_ascii_host_are_refused_before_the_parser_sees_them() {
        for bad in [
            "https://B\u{fc}cher.example/a",
            "https://&V\u{51e}",
            "https:B\u{fc}cher.example",
            "  https:\\\\B\u{fc}cher.example/",
            "http://user@\u{e9}.example",
            "https:1888R%88988%8888",
            "https://B%C3%BCcher.example/",
        ] {
            assert!(parse_url(bad).is_none(), "{bad}");
        }
        let base = parse_url("https://origin.example/a/b").unwrap_or_else(|| unreachable!());
        for bad in ["//B\u{fc}cher.example/x", "https://&V\u{51e}/y", "\\\\B\u{fc}cher.example"] {
            assert!(join_url(&base, bad).is_none(), "{bad}");
        }
        // Non-ASCII outside the host is left to the parser, which percent-encodes it.
        let u = parse_url("https://example.org/caf\u{e9}?q=\u{e9}#\u{e9}");
        assert_eq!(u.map(|u| u.path().to_string()), Some("/caf%C3%A9".to_string()));
        assert_eq!(
            join_url(&base, "caf\u{e9}").map(|u| u.to_string()),
            Some("https://origin.example/a/caf%C3%A9".to_string())
        );
        assert_eq!(join_url(&base, "/x?y").map(|u| u.to_string()), Some("https://origin.example/x?y".into()));
        assert!(parse_url("https://EXAMPLE.org/").is_some_and(|u| u.host_str() == Some("example.org")));
    }

    #[test]
    fn a_url_path_is_under_a_prefix_only_at_a_segment_boundary() {
        let under = |u: &str| url_path_is_under(u, "/_rulecache");
        assert!(under("https://e.org/_rulecache"));
        assert!(under("https://e.org/_rulecache/api/policy?x=1"));
        assert!(under("http://127.0.0.1:8787/_rulecache?tab=stats"));
        assert!(!under("https://e.org/_rulecachex"));
        assert!(!under("https://e.org/news/_rulecache"));
        assert!(!under("https://e.org/?/_rulecache"));
        assert!(!under("https://e.org"));
    }

    #[test]
    fn header_lines_round_trip_and_skip_what_cannot_be_sent() {
        let h =
            Headers::from_pairs([("A", "1"), ("set-cookie", "x=1"), ("set-cookie", "y=2"), ("empty", "")]);
        let lines = h.to_lines();
        assert_eq!(lines, "a\n1\nset-cookie\nx=1\nset-cookie\ny=2\nempty\n\n");
        assert_eq!(Headers::from_lines(&lines), h);
        assert!(Headers::from_lines("").is_empty());
        assert_eq!(Headers::from_lines("X-Odd\n1\ndangling"), Headers::from_pairs([("x-odd", "1")]));
        let bad = Headers::from_pairs([("a", "1\nb"), ("c\nd", "2"), ("e", "3")]);
        assert_eq!(bad.to_lines(), "e\n3\n");
    }

    #[test]
    fn edits_change_only_what_differs() {
        let before =
            Headers::from_pairs([("a", "1"), ("set-cookie", "x=1"), ("set-cookie", "y=2"), ("b", "2")]);
        let mut after = before.clone();
        assert!(before.edits_to(&after).is_empty());
        after.remove("a");
        after.set("b", "3");
        after.append("cache-status", "rulecache; hit");
        let edits = before.edits_to(&after);
        assert_eq!(
            edits,
            vec![
                HeaderEdit::Remove("a"),
                HeaderEdit::Replace("b", vec!["3"]),
                HeaderEdit::Replace("cache-status", vec!["rulecache; hit"])
            ]
        );
        let mut one_cookie = before.clone();
        one_cookie.remove("set-cookie");
        one_cookie.append("set-cookie", "y=2");
        assert_eq!(before.edits_to(&one_cookie), vec![HeaderEdit::Replace("set-cookie", vec!["y=2"])]);
    }

    #[test]
    fn a_request_goes_to_the_origin_with_its_path_and_query() {
        let url = |u: &str| parse_url(u).unwrap_or_else(|| panic!("{u}"));
        let origin = url("http://127.0.0.1:8080/ignored/?x=1");
        assert_eq!(
            origin_url(&origin, &url("https://www.example.org/a/b?c=d&e#frag")),
            "http://127.0.0.1:8080/a/b?c=d&e"
        );
        assert_eq!(origin_url(&origin, &url("https://www.example.org")), "http://127.0.0.1:8080/");
        assert_eq!(
            origin_url(&url("https://origin.example"), &url("http://x/%7Efoo?")),
            "https://origin.example/%7Efoo?"
        );
    }

    /// `before` with `edits` applied, as the worker shell applies them to a JavaScript object.
    fn applied(before: &Headers, edits: &[HeaderEdit]) -> Headers {
        let mut h = before.clone();
        for edit in edits {
            match edit {
                HeaderEdit::Remove(name) => {
                    h.remove(name);
                }
                HeaderEdit::Replace(name, values) => {
                    h.remove(name);
                    for v in values {
                        h.append(name, *v);
                    }
                }
            }
        }
        h
    }

    #[test]
    fn applying_the_edits_gives_every_field_of_the_target() {
        let lists: Vec<Vec<(&str, &str)>> = vec![
            vec![],
            vec![("a", "1"), ("b", "2")],
            vec![("a", "1"), ("b", "2"), ("a", "3")],
            vec![("b", "2"), ("a", "1")],
            vec![("a", "1"), ("c", "4"), ("b", "2"), ("c", "5")],
            vec![("a", "1")],
            vec![("c", "4")],
        ];
        for from in &lists {
            for to in &lists {
                let (from, to) = (Headers::from_pairs(from.clone()), Headers::from_pairs(to.clone()));
                let result = applied(&from, &from.edits_to(&to));
                for name in ["a", "b", "c"] {
                    assert!(result.get_all(name).eq(to.get_all(name)), "{from:?} -> {to:?}: {name}");
                }
            }
        }
    }

    #[test]
    fn names_are_case_insensitive_and_lists_combine() {
        let mut h = Headers::from_pairs([
            ("Cache-Control", "max-age=1"),
            ("X-A", "a"),
            ("cache-control", "public, ,"),
        ]);
        assert_eq!(h.get("CACHE-CONTROL"), Some("max-age=1"));
        assert_eq!(h.get_joined("cache-control").as_deref(), Some("max-age=1, public, ,"));
        assert_eq!(h.list("cache-control").collect::<Vec<_>>(), vec!["max-age=1", "public"]);
        h.set("Cache-Control", "no-store");
        assert_eq!(h.get_all("cache-control").collect::<Vec<_>>(), vec!["no-store"]);
        assert_eq!(h.iter().next(), Some(("cache-control", "no-store")));
        assert!(h.remove("x-a"));
        assert!(!h.contains("x-a"));
    }

    #[test]
    fn remove_takes_every_field_of_the_name_in_any_case_and_keeps_the_order_of_the_rest() {
        let mut h = Headers::from_pairs([
            ("a", "1"),
            ("Set-Cookie", "x=1"),
            ("b", "2"),
            ("set-cookie", "y=2"),
            ("c", "3"),
        ]);
        assert!(h.remove("SET-COOKIE"));
        assert_eq!(
            pairs(&h),
            [("a", "1"), ("b", "2"), ("c", "3")].map(|(n, v)| (n.to_string(), v.to_string()))
        );
        assert!(!h.remove("set-cookie"), "nothing left to remove");
        assert!(h.remove("c") && h.remove("a"));
        assert_eq!(pairs(&h), [("b".to_string(), "2".to_string())]);
    }
}

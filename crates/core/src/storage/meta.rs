//! The versioned record stored beside each body, and the per-URL index of stored variants.
//!
//! Both are encoded to one header-safe string (visible ASCII only) so the shell can keep
//! them in a header of the Cache API entry or as a KV value: a kind-and-version tag, a `:`,
//! then compact JSON in which every byte outside visible ASCII, and `%` itself, is
//! percent-encoded. A record in a format this build does not know reads as
//! [`MetaError::UnknownVersion`], which the caller treats as a miss.

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};

use crate::storage::key::Audience;

use crate::http::{Headers, ResponseHead, Time};
use crate::rfc::freshness::EdgeStorage;

/// The longest encoded record accepted, in bytes.
pub const MAX_ENCODED_LEN: usize = 16 * 1024;
/// At most this many tags are kept per response.
pub const MAX_TAGS: usize = 64;
/// A tag longer than this many bytes is cut (at a character boundary).
pub const MAX_TAG_LEN: usize = 128;

const META_V1: &str = "m1";
const META_V2: &str = "m2";
const INDEX_V2: &str = "i2";

/// Why a record could not be encoded or decoded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MetaError {
    /// The encoded record would be longer than `max` bytes.
    TooLarge { len: usize, max: usize },
    /// The record carries a kind/version tag this build cannot read (the tag, shortened).
    UnknownVersion(String),
    /// The record is damaged: bad escape, bad UTF-8 or JSON not matching the format.
    Malformed(String),
}

impl fmt::Display for MetaError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            MetaError::TooLarge { len, max } => write!(f, "record too large: {len} bytes (max {max})"),
            MetaError::UnknownVersion(tag) => write!(f, "unknown record version {tag:?}"),
            MetaError::Malformed(why) => write!(f, "malformed record: {why}"),
        }
    }
}

impl std::error::Error for MetaError {}

/// Whether a stored entry was purged through the global ledger.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Purged {
    No,
    /// Hard purge: the entry is a miss.
    Hard,
    /// Soft purge: the entry is stale from `at` and must be revalidated.
    Soft {
        at: Time,
    },
    /// The isolate's copy of the ledger is older than the propagation bound and the entry is
    /// old enough to have been purged meanwhile: revalidate it before use (no
    /// stale-while-revalidate), with `Cache-Status: …; detail=ledger-unverified`.
    Unverified {
        before: Time,
    },
}

/// What is stored beside each cached body.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Meta {
    /// The primary key (normalised URL).
    pub url: String,
    /// The canonical variant of the request that stored it (see [`crate::storage::key::variant`]).
    pub variant: Option<String>,
    /// The split-view audience it was stored for.
    pub audience: Option<Audience>,
    /// When the origin request was sent (RFC 9111 §4.2.3 `request_time`).
    pub request_time: Time,
    /// When the origin response was received (RFC 9111 §4.2.3 `response_time`).
    pub response_time: Time,
    /// When the entry was written; purge records made later than this apply to it.
    pub stored_at: Time,
    /// The origin's head as stored (hop-by-hop fields already stripped).
    pub head: ResponseHead,
    /// How the policy said to store it.
    pub storage: EdgeStorage,
    /// The ruleset the request was classified as.
    pub ruleset: Option<String>,
    /// The operation that stored it.
    pub operation: String,
    /// Purge tags from `Cache-Tag` / `Surrogate-Key` (see [`tags_from_headers`]).
    pub tags: Vec<String>,
    /// The version of the policy in force when it was stored.
    pub policy_version: u64,
    /// Length of the stored body in bytes.
    pub body_len: u64,
    /// Set by a soft purge: from this time on the entry is stale and must be revalidated.
    pub stale_from: Option<Time>,
}

/// Format v1: as v2 without `tags` and `stale_from`, with `stored` for `stored_at`.
#[derive(Deserialize)]
struct MetaV1 {
    url: String,
    variant: Option<String>,
    audience: Option<Audience>,
    request_time: Time,
    response_time: Time,
    stored: Time,
    head: ResponseHead,
    storage: EdgeStorage,
    ruleset: Option<String>,
    operation: String,
    policy_version: u64,
    body_len: u64,
}

impl From<MetaV1> for Meta {
    fn from(v1: MetaV1) -> Self {
        Meta {
            url: v1.url,
            variant: v1.variant,
            audience: v1.audience,
            request_time: v1.request_time,
            response_time: v1.response_time,
            stored_at: v1.stored,
            head: v1.head,
            storage: v1.storage,
            ruleset: v1.ruleset,
            operation: v1.operation,
            tags: Vec::new(),
            policy_version: v1.policy_version,
            body_len: v1.body_len,
            stale_from: None,
        }
    }
}

impl Meta {
    /// The entry as freshness is judged (RFC 9111 §4.2), with its soft-purge instant.
    pub fn freshness_view(&self) -> crate::rfc::freshness::Stored<'_> {
        crate::rfc::freshness::Stored {
            head: &self.head,
            request_time: self.request_time,
            response_time: self.response_time,
            storage: self.storage,
            stale_from: self.stale_from,
        }
    }

    /// Encodes the record in the current format (v2).
    pub fn encode(&self) -> Result<String, MetaError> {
        encode_record(META_V2, self)
    }

    /// Decodes a record in the current or an older format.
    pub fn decode(s: &str) -> Result<Meta, MetaError> {
        let (tag, json) = decode_envelope(s)?;
        match tag {
            META_V2 => parse_json(&json),
            META_V1 => parse_json::<MetaV1>(&json).map(Meta::from),
            other => Err(unknown_version(other)),
        }
    }

    /// True when this entry was stored for exactly this audience and variant. The storage
    /// key is a hash; this check makes a hash collision a miss instead of a wrong answer.
    /// When the entry is stale from, given what the purge ledger says of it: a soft purge
    /// makes it stale from the purge's time (or from an earlier stale mark it already has).
    pub fn stale_after(&self, purged: Purged) -> Option<Time> {
        match purged {
            Purged::Soft { at } | Purged::Unverified { before: at } => {
                Some(self.stale_from.map_or(at, |s| s.min(at)))
            }
            _ => self.stale_from,
        }
    }

    pub fn serves(&self, audience: Option<Audience>, variant: Option<&str>) -> bool {
        self.audience == audience && self.variant.as_deref().unwrap_or("") == variant.unwrap_or("")
    }
}

/// The record, kept at the URL's base storage key, that lists the stored variants of one URL
/// so that a purge of the URL reaches every one of them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VaryIndex {
    /// The primary key.
    pub url: String,
    /// The `Vary` field names of the latest stored response.
    pub vary: Vec<String>,
    /// Storage keys of the stored variants, newest last, at most [`VaryIndex::MAX_VARIANTS`].
    pub variants: Vec<String>,
    /// When the index was last written.
    pub stored_at: Time,
    /// When each listed variant stops being fresh, by storage key. A variant not named here
    /// (listed by an index written before this field) counts as fresh.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub fresh_until: BTreeMap<String, Time>,
}

impl VaryIndex {
    /// The most variants listed; older ones fall off the front.
    pub const MAX_VARIANTS: usize = 64;

    pub fn new(url: impl Into<String>) -> Self {
        VaryIndex {
            url: url.into(),
            vary: Vec::new(),
            variants: Vec::new(),
            stored_at: 0,
            fresh_until: BTreeMap::new(),
        }
    }

    /// Whether a variant stored under `storage_key` at `now` finds room: the index has a free
    /// place, lists it already, or lists a variant that is no longer fresh (which it then
    /// replaces). A full index of fresh variants admits no other, so a flood of made-up
    /// `Accept-Language` values can never push out the variants that serve hits: the newcomer
    /// is answered from the origin and not stored.
    pub fn admits(&self, storage_key: &str, now: Time) -> bool {
        self.variants.len() < Self::MAX_VARIANTS
            || self.variants.iter().any(|k| k == storage_key)
            || self.variants.iter().any(|k| self.fresh_until.get(k).is_some_and(|until| *until <= now))
    }

    /// Records that `storage_key` was stored at `now` under `vary`: the key moves to the
    /// newest position. Returns the keys that fell off the list (the caller deletes them,
    /// since nothing would find them any more). Variants stored under an older `Vary` stay
    /// listed, so a purge still reaches them.
    pub fn record(&mut self, storage_key: &str, vary: &[String], now: Time) -> Vec<String> {
        self.record_until(storage_key, vary, now, None)
    }

    /// [`record`](VaryIndex::record), with when the variant stops being fresh. Past
    /// [`MAX_VARIANTS`](VaryIndex::MAX_VARIANTS), the variants no longer fresh go first (oldest
    /// first), then (only when stores raced past [`admits`](VaryIndex::admits)) the oldest.
    pub fn record_until(
        &mut self,
        storage_key: &str,
        vary: &[String],
        now: Time,
        until: Option<Time>,
    ) -> Vec<String> {
        self.variants.retain(|k| k != storage_key);
        self.variants.push(storage_key.to_owned());
        match until {
            Some(t) => self.fresh_until.insert(storage_key.to_owned(), t),
            None => self.fresh_until.remove(storage_key),
        };
        self.vary = vary.to_vec();
        self.stored_at = now;
        let mut forgotten = Vec::new();
        while self.variants.len() > Self::MAX_VARIANTS {
            let stale = self.variants.iter().position(|k| self.fresh_until.get(k).is_some_and(|t| *t <= now));
            let at = stale.unwrap_or(0);
            if at < self.variants.len() {
                let key = self.variants.remove(at);
                self.fresh_until.remove(&key);
                forgotten.push(key);
            }
        }
        forgotten
    }

    /// Encodes the index in the current format (v2).
    pub fn encode(&self) -> Result<String, MetaError> {
        encode_record(INDEX_V2, self)
    }

    pub fn decode(s: &str) -> Result<VaryIndex, MetaError> {
        let (tag, json) = decode_envelope(s)?;
        match tag {
            INDEX_V2 => parse_json(&json),
            other => Err(unknown_version(other)),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Tags
// ---------------------------------------------------------------------------------------------

/// The response fields a response's purge tags are read from (the policy's
/// `purge.tagSources`; every one unless it says otherwise).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TagSources {
    /// `Cache-Groups` (RFC 9875): a List of Strings.
    pub cache_groups: bool,
    /// `Cache-Tag` (Cloudflare, Akamai): comma separated.
    pub cache_tag: bool,
    /// `Surrogate-Key` (Fastly): space separated.
    pub surrogate_key: bool,
    /// `xkey` (Varnish's xkey module): separated by spaces or commas.
    pub xkey: bool,
}

impl Default for TagSources {
    fn default() -> Self {
        TagSources::ALL
    }
}

impl TagSources {
    /// Every source.
    pub const ALL: TagSources =
        TagSources { cache_groups: true, cache_tag: true, surrogate_key: true, xkey: true };
    /// No source: responses carry no tags.
    pub const NONE: TagSources =
        TagSources { cache_groups: false, cache_tag: false, surrogate_key: false, xkey: false };
    /// The sources' names as a policy writes them (compared without regard to case).
    pub const NAMES: [&'static str; 4] = ["Cache-Groups", "Cache-Tag", "Surrogate-Key", "xkey"];

    /// Adds the source called `name` (any case); false when there is none of that name.
    pub fn enable(&mut self, name: &str) -> bool {
        let slot = match name.to_ascii_lowercase().as_str() {
            "cache-groups" => &mut self.cache_groups,
            "cache-tag" => &mut self.cache_tag,
            "surrogate-key" => &mut self.surrogate_key,
            "xkey" => &mut self.xkey,
            _ => return false,
        };
        *slot = true;
        true
    }
}

/// The purge tags of a response, from the fields `sources` names: `Cache-Groups` first (RFC
/// 9875 §2: "Implementations MUST support at least 32 groups in a field value", which
/// [`MAX_TAGS`] leaves room for whatever the other fields hold), then `Cache-Tag` (comma
/// separated), `Surrogate-Key` (space separated) and `xkey` (spaces or commas); normalised by
/// [`normalise_tag`], de-duplicated in first-seen order, at most [`MAX_TAGS`].
pub fn tags_from_headers(h: &Headers, sources: TagSources) -> Vec<String> {
    let groups = if sources.cache_groups { crate::rfc::groups::groups(h, MAX_TAGS) } else { Vec::new() };
    let cache_tags = h.get_all("cache-tag").filter(|_| sources.cache_tag).flat_map(|v| v.split(','));
    let surrogate_keys =
        h.get_all("surrogate-key").filter(|_| sources.surrogate_key).flat_map(|v| v.split([' ', '\t']));
    let xkeys = h.get_all("xkey").filter(|_| sources.xkey).flat_map(|v| v.split([' ', '\t', ',']));
    let mut tags: Vec<String> = Vec::new();
    let listed = groups.iter().map(String::as_str).chain(cache_tags).chain(surrogate_keys).chain(xkeys);
    for tag in listed.filter_map(normalise_tag) {
        if tags.len() == MAX_TAGS {
            break;
        }
        if !tags.contains(&tag) {
            tags.push(tag);
        }
    }
    tags
}

/// The response fields tags are read from, which the edge removes from its answers (they
/// describe the origin's purge structure; the admin secret's debug view keeps them).
pub const TAG_FIELDS: [&str; 4] = ["cache-groups", "cache-tag", "surrogate-key", "xkey"];

/// A tag as stored and as matched by a purge: trimmed, ASCII lower-cased (tags are
/// case-insensitive) and cut to [`MAX_TAG_LEN`] bytes at a character boundary. None when
/// empty. Cutting can only make a purge reach more, never less.
pub fn normalise_tag(tag: &str) -> Option<String> {
    let tag = tag.trim();
    if tag.is_empty() {
        return None;
    }
    let mut end = tag.len().min(MAX_TAG_LEN);
    while !tag.is_char_boundary(end) {
        end -= 1;
    }
    tag.get(..end).map(str::to_ascii_lowercase)
}

// ---------------------------------------------------------------------------------------------
// Envelope: `<tag>:<escaped JSON>`
// ---------------------------------------------------------------------------------------------

fn encode_record<T: Serialize>(tag: &str, record: &T) -> Result<String, MetaError> {
    let json = serde_json::to_string(record).map_err(|e| MetaError::Malformed(e.to_string()))?;
    let too_large = |len| MetaError::TooLarge { len, max: MAX_ENCODED_LEN };
    if tag.len() + 1 + json.len() > MAX_ENCODED_LEN {
        return Err(too_large(tag.len() + 1 + json.len()));
    }
    let mut out = String::with_capacity(tag.len() + 1 + json.len() + json.len() / 8);
    out.push_str(tag);
    out.push(':');
    escape_into(&mut out, json.as_bytes());
    if out.len() > MAX_ENCODED_LEN {
        return Err(too_large(out.len()));
    }
    Ok(out)
}

/// Splits off the tag and unescapes the JSON.
fn decode_envelope(s: &str) -> Result<(&str, String), MetaError> {
    let s = s.trim();
    if s.len() > MAX_ENCODED_LEN {
        return Err(MetaError::TooLarge { len: s.len(), max: MAX_ENCODED_LEN });
    }
    let (tag, body) = s.split_once(':').ok_or_else(|| MetaError::Malformed("no version tag".into()))?;
    Ok((tag, unescape(body)?))
}

fn parse_json<'a, T: Deserialize<'a>>(json: &'a str) -> Result<T, MetaError> {
    serde_json::from_str(json).map_err(|e| MetaError::Malformed(e.to_string()))
}

fn unknown_version(tag: &str) -> MetaError {
    MetaError::UnknownVersion(tag.chars().take(16).collect())
}

/// Header-safe: RFC 9110 §5.5 `field-vchar = VCHAR / obs-text`; we keep to VCHAR (visible
/// ASCII, 0x21–0x7E) and percent-encode everything else, and `%` itself.
fn is_kept_verbatim(b: u8) -> bool {
    (0x21..=0x7e).contains(&b) && b != b'%'
}

fn escape_into(out: &mut String, bytes: &[u8]) {
    for &b in bytes {
        if is_kept_verbatim(b) {
            out.push(char::from(b));
        } else {
            out.push('%');
            out.push(hex_digit(b >> 4));
            out.push(hex_digit(b & 0x0f));
        }
    }
}

fn hex_digit(n: u8) -> char {
    char::from_digit(u32::from(n), 16).map_or('0', |c| c.to_ascii_uppercase())
}

fn unescape(s: &str) -> Result<String, MetaError> {
    let mut out = Vec::with_capacity(s.len());
    let mut bytes = s.bytes();
    while let Some(b) = bytes.next() {
        if b == b'%' {
            let hi = bytes.next().and_then(crate::http::hex_digit);
            let lo = bytes.next().and_then(crate::http::hex_digit);
            match (hi, lo) {
                (Some(hi), Some(lo)) => out.push((hi << 4) | lo),
                _ => return Err(MetaError::Malformed("bad percent escape".into())),
            }
        } else if is_kept_verbatim(b) {
            out.push(b);
        } else {
            return Err(MetaError::Malformed("byte outside visible ASCII".into()));
        }
    }
    String::from_utf8(out).map_err(|_| MetaError::Malformed("not UTF-8".into()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Meta {
        Meta {
            url: "https://e.com/caf%C3%A9?x=1".into(),
            variant: Some("accept-encoding=br\naccept-language=de".into()),
            audience: Some(Audience::Anonymous),
            request_time: 1_700_000_000_000,
            response_time: 1_700_000_000_250,
            stored_at: 1_700_000_000_300,
            head: ResponseHead::new(
                200,
                Headers::from_pairs([
                    ("Content-Type", "text/html; charset=utf-8"),
                    ("ETag", "\"v1\""),
                    ("X-Title", "Crème brûlée 100% \u{1F370}\r\n"),
                ]),
            ),
            storage: EdgeStorage::Store { ttl: 60, stale_while_revalidate: 30, stale_if_error: 600 },
            ruleset: Some("plone.content.itemView".into()),
            operation: "moderateCaching".into(),
            tags: vec!["news".into(), "doc-1".into()],
            policy_version: 7,
            body_len: 12_345,
            stale_from: Some(1_700_000_100_000),
        }
    }

    #[test]
    fn meta_round_trips_through_a_header_safe_string() {
        let meta = sample();
        let encoded = meta.encode().unwrap_or_else(|e| panic!("{e}"));
        assert!(encoded.starts_with("m2:{"), "{encoded}");
        assert!(encoded.bytes().all(|b| (0x21..=0x7e).contains(&b)), "{encoded}");
        assert!(encoded.contains("Cr%C3%A8me%20br%C3%BBl%C3%A9e%20100%25%20%F0%9F%8D%B0\\r\\n"), "{encoded}");
        assert_eq!(Meta::decode(&encoded), Ok(meta));
    }

    #[test]
    fn current_format_is_pinned() {
        let meta = Meta {
            url: "http://e.com/".into(),
            variant: None,
            audience: None,
            request_time: 1,
            response_time: 2,
            stored_at: 3,
            head: ResponseHead::new(200, Headers::from_pairs([("ETag", "\"a b\"")])),
            storage: EdgeStorage::HonourOrigin,
            ruleset: None,
            operation: "honourOrigin".into(),
            tags: vec![],
            policy_version: 0,
            body_len: 5,
            stale_from: None,
        };
        let pinned = concat!(
            "m2:{\"url\":\"http://e.com/\",\"variant\":null,\"audience\":null,\"request_time\":1,",
            "\"response_time\":2,\"stored_at\":3,\"head\":{\"status\":200,\"headers\":[[\"etag\",",
            "\"\\\"a%20b\\\"\"]]},\"storage\":\"HonourOrigin\",\"ruleset\":null,\"operation\":",
            "\"honourOrigin\",\"tags\":[],\"policy_version\":0,\"body_len\":5,\"stale_from\":null}"
        );
        assert_eq!(meta.encode().as_deref(), Ok(pinned));
        assert_eq!(Meta::decode(pinned), Ok(meta));
    }

    #[test]
    fn version_1_records_still_read() {
        let v1 = concat!(
            "m1:{\"url\":\"https://e.com/a\",\"variant\":\"accept-encoding=gzip\",",
            "\"audience\":\"Authenticated\",\"request_time\":10,\"response_time\":20,\"stored\":30,",
            "\"head\":{\"status\":404,\"headers\":[[\"content-type\",\"text/plain\"]]},",
            "\"storage\":{\"Store\":{\"ttl\":5,\"stale_while_revalidate\":0,\"stale_if_error\":0}},",
            "\"ruleset\":\"plone.resource\",\"operation\":\"strongCaching\",\"policy_version\":3,",
            "\"body_len\":9}"
        );
        let meta = Meta::decode(v1).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(meta.stored_at, 30);
        assert_eq!(meta.audience, Some(Audience::Authenticated));
        assert_eq!(meta.head.status, 404);
        assert_eq!(meta.storage, EdgeStorage::Store { ttl: 5, stale_while_revalidate: 0, stale_if_error: 0 });
        assert!(meta.tags.is_empty());
        assert_eq!(meta.stale_from, None);
        // Re-encoding upgrades it to the current format.
        let upgraded = meta.encode().unwrap_or_default();
        assert!(upgraded.starts_with("m2:"));
        assert_eq!(Meta::decode(&upgraded), Ok(meta));
    }

    #[test]
    fn unknown_versions_and_damaged_records_are_errors() {
        assert_eq!(Meta::decode("m3:{}"), Err(MetaError::UnknownVersion("m3".into())));
        assert!(matches!(Meta::decode("i2:{}"), Err(MetaError::UnknownVersion(_))));
        assert!(matches!(VaryIndex::decode("m2:{}"), Err(MetaError::UnknownVersion(_))));
        assert!(matches!(Meta::decode("no tag here"), Err(MetaError::Malformed(_))));
        assert!(matches!(Meta::decode("m2:{\"url\":%zz}"), Err(MetaError::Malformed(_))));
        assert!(matches!(Meta::decode("m2:%FF%FE"), Err(MetaError::Malformed(_))));
        assert!(matches!(Meta::decode("m2:{\"url\": 1}"), Err(MetaError::Malformed(_))));
        assert!(matches!(Meta::decode("m2:{}"), Err(MetaError::Malformed(_))));
        assert!(matches!(Meta::decode(""), Err(MetaError::Malformed(_))));
    }

    #[test]
    fn oversized_records_fail_cleanly() {
        let mut meta = sample();
        meta.head.headers.append("x-big", "\u{e9}".repeat(3000));
        // 6000 bytes of UTF-8 become 18000 escaped bytes.
        assert!(matches!(meta.encode(), Err(MetaError::TooLarge { max: MAX_ENCODED_LEN, .. })));
        let mut meta = sample();
        meta.head.headers.append("x-big", "a".repeat(20_000));
        assert!(matches!(meta.encode(), Err(MetaError::TooLarge { .. })));
        let long = format!("m2:{}", "a".repeat(MAX_ENCODED_LEN));
        assert!(matches!(Meta::decode(&long), Err(MetaError::TooLarge { .. })));
    }

    #[test]
    fn serves_only_the_same_audience_and_variant() {
        let meta = sample();
        let variant = meta.variant.clone();
        assert!(meta.serves(Some(Audience::Anonymous), variant.as_deref()));
        assert!(!meta.serves(Some(Audience::Authenticated), variant.as_deref()));
        assert!(!meta.serves(None, variant.as_deref()));
        assert!(!meta.serves(Some(Audience::Anonymous), Some("accept-encoding=gzip")));
        let base = Meta { variant: None, audience: None, ..sample() };
        assert!(base.serves(None, Some("")));
    }

    #[test]
    fn tags_come_from_cache_tag_and_surrogate_key() {
        let h = Headers::from_pairs([
            ("Cache-Tag", " News, doc-1,, news "),
            ("Surrogate-Key", "doc-1  folder-2\tfolder-3"),
            ("cache-tag", "extra"),
        ]);
        assert_eq!(
            tags_from_headers(&h, TagSources::ALL),
            vec!["news", "doc-1", "extra", "folder-2", "folder-3"]
        );
        assert!(tags_from_headers(&Headers::new(), TagSources::ALL).is_empty());
    }

    #[test]
    fn cache_groups_come_first_then_xkey_last_and_each_source_can_be_off() {
        let h = Headers::from_pairs([
            ("xkey", "k1 k2,k3"),
            ("Cache-Tag", "t1"),
            ("Cache-Groups", r#""Front Page", "t1""#),
            ("Surrogate-Key", "s1"),
        ]);
        assert_eq!(tags_from_headers(&h, TagSources::ALL), vec!["front page", "t1", "s1", "k1", "k2", "k3"]);
        let only_groups = TagSources { cache_groups: true, ..TagSources::NONE };
        assert_eq!(tags_from_headers(&h, only_groups), vec!["front page", "t1"]);
        let no_groups = TagSources { cache_groups: false, ..TagSources::ALL };
        assert_eq!(tags_from_headers(&h, no_groups), vec!["t1", "s1", "k1", "k2", "k3"]);
        assert!(tags_from_headers(&h, TagSources::NONE).is_empty());
        // A malformed Cache-Groups names no group; the other fields still count.
        let bad = Headers::from_pairs([("Cache-Groups", "front-page"), ("Cache-Tag", "t1")]);
        assert_eq!(tags_from_headers(&bad, TagSources::ALL), vec!["t1"]);
    }

    #[test]
    fn thirty_two_groups_fit_beside_a_full_cache_tag() {
        let groups: Vec<String> = (0..32).map(|i| format!("\"group-{i:02}-{}\"", "x".repeat(20))).collect();
        let many: Vec<String> = (0..200).map(|i| format!("t{i}")).collect();
        let h = Headers::from_pairs([("cache-tag", many.join(",")), ("cache-groups", groups.join(", "))]);
        let tags = tags_from_headers(&h, TagSources::ALL);
        assert_eq!(tags.len(), MAX_TAGS);
        assert!((0..32).all(|i| tags.contains(&format!("group-{i:02}-{}", "x".repeat(20)))));
    }

    #[test]
    fn sources_are_named_in_any_case() {
        let mut s = TagSources::NONE;
        assert!(s.enable("CACHE-GROUPS") && s.enable("XKey"));
        assert!(!s.enable("Cache-Tags"));
        assert_eq!(s, TagSources { cache_groups: true, xkey: true, ..TagSources::NONE });
    }

    #[test]
    fn tags_are_bounded_in_count_and_length() {
        let many: Vec<String> = (0..200).map(|i| format!("t{i}")).collect();
        let h = Headers::from_pairs([("cache-tag", many.join(","))]);
        let tags = tags_from_headers(&h, TagSources::ALL);
        assert_eq!(tags.len(), MAX_TAGS);
        assert_eq!(tags.last().map(String::as_str), Some("t63"));
        let long = "\u{e9}".repeat(100);
        let cut = normalise_tag(&long).unwrap_or_default();
        assert_eq!(cut.len(), MAX_TAG_LEN);
        assert!(long.starts_with(&cut));
        assert_eq!(normalise_tag(&format!("x{long}")).map(|t| t.len()), Some(MAX_TAG_LEN - 1));
        assert_eq!(normalise_tag("   "), None);
    }

    #[test]
    fn a_full_index_admits_a_variant_only_in_place_of_one_no_longer_fresh() {
        let mut index = VaryIndex::new("https://e.com/a");
        let vary = vec!["accept-language".to_string()];
        for i in 0..VaryIndex::MAX_VARIANTS {
            let until = if i == 5 { 100 } else { 10_000 };
            assert!(index.record_until(&format!("k{i}"), &vary, 50, Some(until)).is_empty());
        }
        assert!(index.admits("k3", 60), "listed already");
        assert!(!index.admits("new", 60), "full of fresh variants");
        assert!(index.admits("new", 100), "k5 is no longer fresh");
        assert_eq!(index.record_until("new", &vary, 100, Some(20_000)), vec!["k5"]);
        assert!(!index.fresh_until.contains_key("k5"));
        // An index written before `fresh_until` reads as one whose variants are all fresh.
        let old = r#"{"url":"https://e.com/a","vary":["accept-language"],"variants":["k1"],"stored_at":1}"#;
        let decoded = VaryIndex::decode(&format!("i2:{old}"));
        assert!(decoded.as_ref().is_ok_and(|i| i.fresh_until.is_empty()), "{decoded:?}");
    }

    #[test]
    fn vary_index_keeps_newest_variants_last_and_bounded() {
        let mut index = VaryIndex::new("https://e.com/a");
        let vary = vec!["accept-encoding".to_string()];
        assert!(index.record("k1", &vary, 10).is_empty());
        assert!(index.record("k2", &vary, 20).is_empty());
        assert!(index.record("k1", &vary, 30).is_empty());
        assert_eq!(index.variants, vec!["k2", "k1"]);
        assert_eq!(index.stored_at, 30);
        for i in 0..VaryIndex::MAX_VARIANTS {
            let evicted = index.record(&format!("n{i}"), &vary, 40);
            match i {
                62 => assert_eq!(evicted, vec!["k2"]),
                63 => assert_eq!(evicted, vec!["k1"]),
                _ => assert!(evicted.is_empty(), "{i}: {evicted:?}"),
            }
        }
        assert_eq!(index.variants.len(), VaryIndex::MAX_VARIANTS);
        assert_eq!(index.variants.last().map(String::as_str), Some("n63"));
        let encoded = index.encode().unwrap_or_else(|e| panic!("{e}"));
        assert!(encoded.starts_with("i2:"));
        assert_eq!(VaryIndex::decode(&encoded), Ok(index));
    }

    #[test]
    fn random_input_never_panics() {
        let mut state = 0x2545_f491_4f6c_dd1du64;
        let mut next = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        let valid = sample().encode().unwrap_or_default().into_bytes();
        for _ in 0..2000 {
            // Mutate a valid record a few bytes at a time, and also try pure noise.
            let mut bytes = valid.clone();
            for _ in 0..(next() % 4 + 1) {
                let i = (next() as usize) % bytes.len().max(1);
                if let Some(b) = bytes.get_mut(i) {
                    *b = (next() % 128) as u8;
                }
            }
            let _ = Meta::decode(&String::from_utf8_lossy(&bytes));
            let noise: Vec<u8> = (0..next() % 64).map(|_| (next() % 256) as u8).collect();
            let noise = String::from_utf8_lossy(&noise);
            let _ = Meta::decode(&noise);
            let _ = VaryIndex::decode(&format!("i2:{noise}"));
            let _ = tags_from_headers(
                &Headers::from_pairs([
                    ("cache-tag", &*noise),
                    ("surrogate-key", &*noise),
                    ("cache-groups", &*noise),
                    ("xkey", &*noise),
                ]),
                TagSources::ALL,
            );
        }
    }
}

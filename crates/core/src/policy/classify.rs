//! Classification: which ruleset a request (and, failing that, its response) belongs to.
//!
//! Rules are tried in the policy's order and the first match wins. A rule matches when every
//! condition it states holds; a condition holding a list holds when any entry does.
//!
//! * Request rules (no `contentType` condition) are tried first, on the request alone.
//! * Only when none matched, once the origin's response is known: the origin's ruleset hint
//!   header (when trusted and naming a declared ruleset), then the rules with a `contentType`
//!   condition, in order.

use std::borrow::Cow;
use std::cell::OnceCell;

use crate::http::{Headers, RequestHead, ResponseHead};
use crate::policy::audience;
use crate::policy::glob::{byte_set, Glob};
use crate::policy::RulesetId;

/// The outcome of classification: the ruleset and the rule that named it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Classified<'a> {
    pub ruleset: &'a str,
    /// The ruleset's id in the policy that classified.
    pub ruleset_id: RulesetId,
    /// The rule id; None when the ruleset came from the origin's hint header.
    pub rule_id: Option<&'a str>,
    /// The named origin the rule sends its requests to, when it names one.
    pub origin: Option<&'a str>,
}

/// What a query parameter, header or cookie condition asks of a value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ValueTest {
    /// `true`: present (with any value).
    Present,
    /// `false`: absent.
    Absent,
    /// A string: present with exactly this value.
    Equals(String),
}

impl ValueTest {
    fn holds(&self, mut values: impl Iterator<Item = impl AsRef<str>>) -> bool {
        match self {
            ValueTest::Present => values.next().is_some(),
            ValueTest::Absent => values.next().is_none(),
            ValueTest::Equals(want) => values.any(|v| v.as_ref() == want),
        }
    }
}

/// A host condition: an exact name, or `*.example.org` for any subdomain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HostPattern {
    Exact(String),
    /// The suffix including its leading dot (`.example.org`).
    Subdomain(String),
}

impl HostPattern {
    fn matches(&self, host: &str) -> bool {
        match self {
            HostPattern::Exact(h) => host.eq_ignore_ascii_case(h),
            HostPattern::Subdomain(suffix) => {
                host.len() > suffix.len()
                    && host
                        .get(host.len() - suffix.len()..)
                        .is_some_and(|tail| tail.eq_ignore_ascii_case(suffix))
            }
        }
    }
}

/// The compiled `match` section of a rule. Empty lists state no condition.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Conditions {
    /// Upper-case method names.
    pub methods: Vec<String>,
    pub hosts: Vec<HostPattern>,
    /// Exact paths.
    pub paths: Vec<String>,
    pub path_prefixes: Vec<String>,
    pub globs: Vec<Glob>,
    /// File extensions without the dot, compared case-insensitively.
    pub extensions: Vec<String>,
    pub query: Vec<(String, ValueTest)>,
    /// Header names lower-cased.
    pub headers: Vec<(String, ValueTest)>,
    pub cookies: Vec<(String, bool)>,
    /// Lower-cased media type prefixes of the response's Content-Type.
    pub content_types: Vec<String>,
    /// The bytes every path these conditions accept contains, as a [`byte_set`] (0: none
    /// known). Set by [`Conditions::with_path_bytes`] once the path conditions are in place.
    pub path_bytes: u128,
}

/// A compiled classification rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rule {
    pub id: String,
    pub ruleset: String,
    /// The id of `ruleset` in the policy the rule belongs to.
    pub ruleset_id: RulesetId,
    pub conditions: Conditions,
    /// The named origin that serves what this rule classifies (None: the ruleset's).
    pub origin: Option<String>,
}

impl Rule {
    /// Whether this rule needs the response (it has a `contentType` condition).
    pub fn is_response_rule(&self) -> bool {
        !self.conditions.content_types.is_empty()
    }

    fn classified(&self) -> Classified<'_> {
        Classified {
            ruleset: &self.ruleset,
            ruleset_id: self.ruleset_id,
            rule_id: Some(&self.id),
            origin: self.origin.as_deref(),
        }
    }
}

fn any_or_empty<T>(list: &[T], pred: impl FnMut(&T) -> bool) -> bool {
    list.is_empty() || list.iter().any(pred)
}

/// The media types a file extension stands for, as a server labels such a file: (extension,
/// media types). `application/octet-stream` is accepted for every extension not read as text.
const EXTENSION_TYPES: &[(&str, &[&str])] = &[
    ("css", &["text/css"]),
    (
        "js",
        &["text/javascript", "application/javascript", "application/x-javascript", "application/ecmascript"],
    ),
    ("mjs", &["text/javascript", "application/javascript"]),
    ("map", &["application/json"]),
    ("json", &["application/json"]),
    ("woff", &["font/woff", "application/font-woff", "application/x-font-woff"]),
    ("woff2", &["font/woff2", "application/font-woff2"]),
    ("ttf", &["font/ttf", "font/sfnt", "application/x-font-ttf", "application/font-sfnt"]),
    ("otf", &["font/otf", "font/sfnt", "application/x-font-opentype", "application/font-sfnt"]),
    ("eot", &["application/vnd.ms-fontobject"]),
    ("ico", &["image/x-icon", "image/vnd.microsoft.icon"]),
    ("png", &["image/png"]),
    ("jpg", &["image/jpeg", "image/pjpeg"]),
    ("jpeg", &["image/jpeg", "image/pjpeg"]),
    ("gif", &["image/gif"]),
    ("webp", &["image/webp"]),
    ("avif", &["image/avif"]),
    ("svg", &["image/svg+xml"]),
    ("pdf", &["application/pdf"]),
    ("doc", &["application/msword"]),
    ("docx", &["application/vnd.openxmlformats-officedocument.wordprocessingml.document"]),
    ("xls", &["application/vnd.ms-excel"]),
    ("xlsx", &["application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"]),
    ("ppt", &["application/vnd.ms-powerpoint"]),
    ("pptx", &["application/vnd.openxmlformats-officedocument.presentationml.presentation"]),
    ("odt", &["application/vnd.oasis.opendocument.text"]),
    ("ods", &["application/vnd.oasis.opendocument.spreadsheet"]),
    ("odp", &["application/vnd.oasis.opendocument.presentation"]),
    ("csv", &["text/csv", "text/plain", "application/csv"]),
    ("txt", &["text/plain"]),
    ("xml", &["application/xml", "text/xml"]),
    ("zip", &["application/zip", "application/x-zip-compressed"]),
    ("mp3", &["audio/mpeg", "audio/mp3"]),
    ("mp4", &["video/mp4", "audio/mp4"]),
    ("webm", &["video/webm", "audio/webm"]),
    ("ogg", &["audio/ogg", "video/ogg", "application/ogg"]),
];

/// Whether a response labelled `content_type` may be what a URL ending in `.ext` names (web
/// cache deception: `/account/settings/x.css` answered with the account page must not be
/// stored as a stylesheet). Known extensions need one of their media types
/// ([`EXTENSION_TYPES`]; `application/octet-stream` too unless the extension is text); an
/// unknown extension anything but an HTML page. A response without `Content-Type` fits no
/// extension.
pub fn content_type_fits_extension(ext: &str, content_type: Option<&str>) -> bool {
    let Some(ct) = content_type else { return false };
    let media = ct.split(';').next().unwrap_or("").trim().to_ascii_lowercase();
    if media.is_empty() {
        return false;
    }
    match EXTENSION_TYPES.iter().find(|(e, _)| e.eq_ignore_ascii_case(ext)) {
        Some((_, types)) => {
            let textual =
                types.iter().any(|t| t.starts_with("text/") || t.ends_with("json") || t.ends_with("xml"));
            types.contains(&media.as_str()) || (!textual && media == "application/octet-stream")
        }
        None => !matches!(media.as_str(), "text/html" | "application/xhtml+xml"),
    }
}

/// Whether `rule` matched `path` by its file extension: its response must then fit that
/// extension ([`content_type_fits_extension`]) to be stored.
pub fn extension_to_check<'p>(rule: &Rule, path: &'p str) -> Option<&'p str> {
    if rule.conditions.extensions.is_empty() {
        return None;
    }
    extension(path).filter(|e| rule.conditions.extensions.iter().any(|x| x.eq_ignore_ascii_case(e)))
}

/// The extension of the last path segment, without its dot.
fn extension(path: &str) -> Option<&str> {
    let last = path.rsplit('/').next()?;
    let (_, ext) = last.rsplit_once('.')?;
    Some(ext)
}

/// What the conditions look at in a request, worked out once per request rather than once
/// per rule: the path, host and extension, and (on first use) the query and the cookies.
struct RequestView<'r> {
    req: &'r RequestHead,
    path: &'r str,
    host: &'r str,
    extension: Option<&'r str>,
    path_bytes: u128,
    query: OnceCell<Vec<(Cow<'r, str>, Cow<'r, str>)>>,
    cookies: OnceCell<Vec<&'r str>>,
}

impl<'r> RequestView<'r> {
    fn new(req: &'r RequestHead) -> Self {
        let path = req.url.path();
        RequestView {
            req,
            path,
            host: req.url.host_str().unwrap_or(""),
            extension: extension(path),
            path_bytes: byte_set(path.as_bytes()),
            query: OnceCell::new(),
            cookies: OnceCell::new(),
        }
    }

    fn query(&self) -> &[(Cow<'r, str>, Cow<'r, str>)] {
        self.query.get_or_init(|| self.req.url.query_pairs().collect())
    }

    fn cookie_names(&self) -> &[&'r str] {
        self.cookies.get_or_init(|| audience::cookie_names(&self.req.headers).collect())
    }
}

impl Conditions {
    /// Works out [`Conditions::path_bytes`]: all path conditions must hold, and each holds
    /// when one of its entries does, so the bytes common to every entry of each condition.
    pub fn with_path_bytes(mut self) -> Self {
        fn common(sets: impl Iterator<Item = u128>) -> u128 {
            sets.reduce(|a, b| a & b).unwrap_or(0)
        }
        self.path_bytes = common(self.paths.iter().map(|p| byte_set(p.as_bytes())))
            | common(self.path_prefixes.iter().map(|p| byte_set(p.as_bytes())))
            | common(self.globs.iter().map(Glob::literal_bytes));
        self
    }

    fn view_matches(&self, view: &RequestView<'_>) -> bool {
        let req = view.req;
        let path = view.path;
        self.path_bytes & !view.path_bytes == 0
            && any_or_empty(&self.methods, |m| *m == req.method)
            && any_or_empty(&self.hosts, |h| h.matches(view.host))
            && any_or_empty(&self.paths, |p| p == path)
            && any_or_empty(&self.path_prefixes, |p| crate::http::has_path_prefix(path, p))
            && any_or_empty(&self.globs, |g| g.matches(path))
            && any_or_empty(&self.extensions, |e| view.extension.is_some_and(|x| x.eq_ignore_ascii_case(e)))
            && (self.query.is_empty()
                || self.query.iter().all(|(name, test)| {
                    test.holds(view.query().iter().filter(|(n, _)| n == name).map(|(_, v)| v))
                }))
            && self.headers.iter().all(|(name, test)| test.holds(req.headers.get_all(name)))
            && (self.cookies.is_empty()
                || self
                    .cookies
                    .iter()
                    .all(|(name, present)| view.cookie_names().iter().any(|n| n == name) == *present))
    }

    /// Whether the response's Content-Type starts with one of the configured media types.
    pub fn response_matches(&self, resp: &Headers) -> bool {
        let Some(ct) = resp.get("content-type") else {
            return false;
        };
        let ct = ct.trim_start();
        self.content_types.iter().any(|want| {
            ct.len() >= want.len() && ct.get(..want.len()).is_some_and(|head| head.eq_ignore_ascii_case(want))
        })
    }
}

/// The first request rule (no `contentType` condition) matching `req`.
pub fn classify_request<'a>(rules: &'a [Rule], req: &RequestHead) -> Option<Classified<'a>> {
    let view = RequestView::new(req);
    rules
        .iter()
        .filter(|r| !r.is_response_rule())
        .find(|r| r.conditions.view_matches(&view))
        .map(Rule::classified)
}

/// The first response rule (with a `contentType` condition) matching `req` and `resp`.
pub fn classify_by_content_type<'a>(
    rules: &'a [Rule],
    req: &RequestHead,
    resp: &ResponseHead,
) -> Option<Classified<'a>> {
    let view = RequestView::new(req);
    rules
        .iter()
        .filter(|r| r.is_response_rule())
        .find(|r| r.conditions.response_matches(&resp.headers) && r.conditions.view_matches(&view))
        .map(Rule::classified)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subdomain_pattern_needs_a_label_before_the_suffix() {
        let p = HostPattern::Subdomain(".example.org".into());
        assert!(p.matches("www.Example.org"));
        assert!(!p.matches(".example.org"));
        assert!(!p.matches("example.org"));
        assert!(!p.matches("badexample.org"));
    }

    fn path_rule(paths: &[&str], prefixes: &[&str], globs: &[&str]) -> Conditions {
        Conditions {
            paths: paths.iter().map(|p| p.to_string()).collect(),
            path_prefixes: prefixes.iter().map(|p| p.to_string()).collect(),
            globs: globs.iter().filter_map(|g| Glob::new(g).ok()).collect(),
            ..Conditions::default()
        }
        .with_path_bytes()
    }

    fn get(path: &str) -> RequestHead {
        RequestHead::parse("GET", &format!("https://example.org{path}"), Headers::new())
            .unwrap_or_else(|| panic!("{path}"))
    }

    #[test]
    fn the_byte_prefilter_keeps_every_alternative_of_a_list() {
        // "/events" lacks the "w" of "/news": only bytes common to both may be required.
        let c = path_rule(&["/news", "/events"], &[], &[]);
        assert!(c.view_matches(&RequestView::new(&get("/events"))));
        assert!(c.view_matches(&RequestView::new(&get("/news"))));
        assert!(!c.view_matches(&RequestView::new(&get("/new"))));
        let c = path_rule(&[], &["/static/"], &["/**/*.css", "/**/*.js"]);
        assert!(c.view_matches(&RequestView::new(&get("/static/a/site.css"))));
        assert!(c.view_matches(&RequestView::new(&get("/static/app.js"))));
        assert!(!c.view_matches(&RequestView::new(&get("/static/app.png"))));
        let c = path_rule(&[], &[], &["/**/++resource++*/**"]);
        assert!(c.view_matches(&RequestView::new(&get("/site/++resource++demo/style.css"))));
        assert!(!c.view_matches(&RequestView::new(&get("/articles/2025/edge-caching"))));
    }

    #[test]
    fn extension_is_of_the_last_segment() {
        assert_eq!(extension("/files/report.pdf"), Some("pdf"));
        assert_eq!(extension("/a.b/c"), None);
        assert_eq!(extension("/"), None);
    }
}

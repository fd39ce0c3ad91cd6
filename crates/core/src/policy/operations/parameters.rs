//! The vocabulary of operations: their kinds (with the parameters each takes), the parts of a
//! composed ETag, and the parameters with plone.app.caching's defaults.

/// The kinds of operation a ruleset can be mapped to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum OperationKind {
    /// Cache in browsers and the edge (default `maxage` one day).
    StrongCaching,
    /// Browsers revalidate every time; the edge keeps it (default `smaxage` one day).
    ModerateCaching,
    /// Browsers revalidate every time; the edge stores but revalidates before every use.
    WeakCaching,
    /// Very short caching to absorb load peaks (plone's newer `terseCaching`: `maxage` 10,
    /// `smaxage` 60, `vary` Accept).
    TerseCaching,
    /// Keep the response out of every cache.
    NoCaching,
    /// Run several operations in order.
    Chain,
    /// Behave as an RFC 9111 shared cache on the origin's own headers.
    HonourOrigin,
}

impl OperationKind {
    /// Every kind, in the order documentation lists them.
    pub const ALL: [OperationKind; 7] = [
        OperationKind::StrongCaching,
        OperationKind::ModerateCaching,
        OperationKind::WeakCaching,
        OperationKind::TerseCaching,
        OperationKind::NoCaching,
        OperationKind::Chain,
        OperationKind::HonourOrigin,
    ];

    /// The name used in policy bundles.
    pub fn name(self) -> &'static str {
        match self {
            OperationKind::StrongCaching => "strongCaching",
            OperationKind::ModerateCaching => "moderateCaching",
            OperationKind::WeakCaching => "weakCaching",
            OperationKind::TerseCaching => "terseCaching",
            OperationKind::NoCaching => "noCaching",
            OperationKind::Chain => "chain",
            OperationKind::HonourOrigin => "honourOrigin",
        }
    }

    /// The kind called `name` in policy bundles.
    pub fn from_name(name: &str) -> Option<OperationKind> {
        Self::ALL.into_iter().find(|k| k.name() == name)
    }

    /// The parameters this kind accepts (plone's `options` plus the edge's own).
    pub fn parameter_names(self) -> &'static [&'static str] {
        const EDGE: [&str; 8] = [
            "staleWhileRevalidate",
            "staleIfError",
            "persist",
            "stripSetCookie",
            "splitView",
            "shareAuthenticated",
            "storeAnonymousPrivate",
            "globalTier",
        ];
        // strongCaching's parameters; moderateCaching takes all but the first (`maxage`).
        const STRONG: [&str; 15] = [
            "maxage",
            "smaxage",
            "etags",
            "lastModified",
            "ramCache",
            "vary",
            "anonOnly",
            EDGE[0],
            EDGE[1],
            EDGE[2],
            EDGE[3],
            EDGE[4],
            EDGE[5],
            EDGE[6],
            EDGE[7],
        ];
        match self {
            OperationKind::StrongCaching | OperationKind::TerseCaching => &STRONG,
            OperationKind::ModerateCaching => STRONG.split_first().map_or(&[], |(_, rest)| rest),
            OperationKind::WeakCaching => {
                &["etags", "lastModified", "ramCache", "vary", "anonOnly", EDGE[1], EDGE[3], EDGE[4], EDGE[5]]
            }
            OperationKind::NoCaching => &["noStore"],
            OperationKind::Chain => &["operations"],
            OperationKind::HonourOrigin => &[],
        }
    }
}

/// A part of a composed ETag. plone.app.caching's server-side components (catalogCounter,
/// locked, skin, resourceRegistries…) are not visible at the edge: `origin` stands for them,
/// since the origin's own ETag already reflects its content state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EtagComponent {
    /// The origin's own ETag (its opaque part).
    Origin,
    /// A short digest of the request's credential (auth cookie or Authorization); nothing
    /// for anonymous requests. Makes the response private for authenticated requests.
    UserId,
    /// `anon` or `auth`.
    Audience,
    /// The request's `Accept-Language` (empty when absent), as plone's `language`.
    Language,
    /// The response's `Content-Encoding`, `identity` when absent.
    Encoding,
    /// The origin's `Last-Modified` as seconds since the epoch.
    LastModified,
    /// The active policy's version.
    PolicyVersion,
    /// `1` when the `__cp` (copy) cookie is present, else `0`, as plone's `copy`.
    Copy,
    /// Nothing for anonymous requests; the current time for authenticated ones, so they
    /// never revalidate to a shared copy (added implicitly by `anonOnly`, as in plone).
    AnonymousOrRandom,
}

impl EtagComponent {
    /// Every component, in the order documentation lists them.
    pub const ALL: [EtagComponent; 9] = [
        EtagComponent::Origin,
        EtagComponent::UserId,
        EtagComponent::Audience,
        EtagComponent::Language,
        EtagComponent::Encoding,
        EtagComponent::LastModified,
        EtagComponent::PolicyVersion,
        EtagComponent::Copy,
        EtagComponent::AnonymousOrRandom,
    ];

    /// The name used in policy bundles.
    pub fn name(self) -> &'static str {
        match self {
            EtagComponent::Origin => "origin",
            EtagComponent::UserId => "userid",
            EtagComponent::Audience => "audience",
            EtagComponent::Language => "language",
            EtagComponent::Encoding => "encoding",
            EtagComponent::LastModified => "lastModified",
            EtagComponent::PolicyVersion => "policyVersion",
            EtagComponent::Copy => "copy",
            EtagComponent::AnonymousOrRandom => "anonymousOrRandom",
        }
    }

    /// The component called `name` in policy bundles.
    pub fn from_name(name: &str) -> Option<EtagComponent> {
        Self::ALL.into_iter().find(|c| c.name() == name)
    }

    pub(super) fn names_the_user(self) -> bool {
        matches!(self, EtagComponent::UserId | EtagComponent::AnonymousOrRandom)
    }
}

/// An operation's parameters, defaults applied.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Parameters {
    /// Browser (and, without `smaxage`, shared) lifetime in seconds.
    pub maxage: Option<u64>,
    /// Shared-cache lifetime in seconds.
    pub smaxage: Option<u64>,
    /// ETag components; None lets the origin's ETag through.
    pub etags: Option<Vec<EtagComponent>>,
    pub last_modified: bool,
    pub ram_cache: bool,
    /// Header names merged into Vary.
    pub vary: Vec<String>,
    pub anon_only: bool,
    pub stale_while_revalidate: u64,
    pub stale_if_error: u64,
    /// Also keep the response in the global store (KV).
    pub persist: bool,
    /// Also keep the response in R2, the global tier for large bodies (`"globalTier": "r2"`).
    pub r2: bool,
    /// `noCaching` only: send `Cache-Control: no-store`.
    pub no_store: bool,
    /// Remove `Set-Cookie` from the origin's response so it can be stored.
    pub strip_set_cookie: bool,
    /// Whether split-view caching applies to this ruleset (default true).
    pub split_view: bool,
    /// Responses to authenticated requests may be shared among authenticated users (when the
    /// origin also marks them shareable, RFC 9111 §3.5). Default false: never stored.
    pub share_authenticated: bool,
    /// Store the origin's unqualified `private` answer to an *anonymous* request under the
    /// anonymous variant for the operation's lifetime (Plone's weakCaching answers `private`
    /// for every view, anonymous ones included). Off by default; needs `anonOnly`.
    pub store_anonymous_private: bool,
}

impl Parameters {
    /// The defaults of `kind`, as plone.app.caching's operation classes set them.
    pub fn defaults(kind: OperationKind) -> Parameters {
        let base = Parameters { split_view: true, ..Parameters::default() };
        match kind {
            OperationKind::StrongCaching => Parameters { maxage: Some(86400), ..base },
            OperationKind::ModerateCaching => Parameters { maxage: Some(0), smaxage: Some(86400), ..base },
            OperationKind::WeakCaching => Parameters { maxage: Some(0), ..base },
            OperationKind::TerseCaching => {
                Parameters { maxage: Some(10), smaxage: Some(60), vary: vec!["Accept".to_string()], ..base }
            }
            _ => base,
        }
    }
}

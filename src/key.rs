//! Cache keys: the normalised primary key of a URL and the secondary (variant) keys.

/// Cache-key options from the policy.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct KeyOptions {
    /// Query parameters left out of the key. An entry ending in `*` is a prefix (`utm_*`).
    pub drop_params: Vec<String>,
    /// When set, only these query parameters are kept (same `*` prefix rule); applied before
    /// `drop_params`.
    pub keep_params: Option<Vec<String>>,
    /// Sort the remaining query parameters by name (stable for equal names).
    pub sort_query: bool,
    /// Content codings the origin can serve, in preference order (e.g. `["br", "gzip"]`);
    /// `Accept-Encoding` is normalised to one of these or `identity`.
    pub encodings: Vec<String>,
}

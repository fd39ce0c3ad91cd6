//! Request methods (RFC 9110 §9).

use std::fmt;

/// A request method. Tokens are upper-cased when read (RFC 9110 §9.1 makes them
/// case-sensitive; every registered method is upper case, and a lower-case `get` is read as
/// `GET` rather than forwarded as an unknown method). A method compares equal to its token.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Method {
    Get,
    Head,
    Post,
    Put,
    Delete,
    Patch,
    Options,
    Trace,
    Connect,
    /// The purge request of Varnish and plone.cachepurging.
    Purge,
    /// Any other token (WebDAV's `PROPFIND`, `M-SEARCH`, …), upper-cased.
    Other(String),
}

impl Method {
    /// The method named by `token`.
    pub fn parse(token: &str) -> Method {
        match token.to_ascii_uppercase().as_str() {
            "GET" => Method::Get,
            "HEAD" => Method::Head,
            "POST" => Method::Post,
            "PUT" => Method::Put,
            "DELETE" => Method::Delete,
            "PATCH" => Method::Patch,
            "OPTIONS" => Method::Options,
            "TRACE" => Method::Trace,
            "CONNECT" => Method::Connect,
            "PURGE" => Method::Purge,
            other => Method::Other(other.to_string()),
        }
    }

    /// The token.
    pub fn as_str(&self) -> &str {
        match self {
            Method::Get => "GET",
            Method::Head => "HEAD",
            Method::Post => "POST",
            Method::Put => "PUT",
            Method::Delete => "DELETE",
            Method::Patch => "PATCH",
            Method::Options => "OPTIONS",
            Method::Trace => "TRACE",
            Method::Connect => "CONNECT",
            Method::Purge => "PURGE",
            Method::Other(token) => token,
        }
    }

    pub fn is_get_or_head(&self) -> bool {
        matches!(self, Method::Get | Method::Head)
    }

    /// RFC 9110 §9.2.1: "Of the request methods defined by this specification, the GET, HEAD,
    /// OPTIONS, and TRACE methods are defined to be safe."
    pub fn is_safe(&self) -> bool {
        matches!(self, Method::Get | Method::Head | Method::Options | Method::Trace)
    }
}

impl From<&str> for Method {
    fn from(token: &str) -> Method {
        Method::parse(token)
    }
}

impl PartialEq<str> for Method {
    fn eq(&self, other: &str) -> bool {
        self.as_str() == other
    }
}

impl PartialEq<&str> for Method {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

impl PartialEq<Method> for String {
    fn eq(&self, other: &Method) -> bool {
        self.as_str() == other.as_str()
    }
}

impl fmt::Display for Method {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_read_upper_cased_and_compare_equal_to_their_text() {
        assert_eq!(Method::parse("get"), Method::Get);
        assert_eq!(Method::parse("PURGE"), Method::Purge);
        assert_eq!(Method::parse("m-search"), Method::Other("M-SEARCH".into()));
        assert!(Method::Get == "GET" && Method::parse("propfind") == "PROPFIND");
        assert_eq!(Method::parse("PROPFIND").to_string(), "PROPFIND");
        assert!(Method::Head.is_get_or_head() && !Method::Post.is_get_or_head());
        assert!(Method::Options.is_safe() && !Method::Other("X".into()).is_safe());
    }
}

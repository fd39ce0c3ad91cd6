//! Scoped secrets: which configured secret proves what.
//!
//! Three variables, each a list of accepted values (comma- or whitespace-separated, so a new
//! value can be added before the old one is withdrawn and rotation needs no downtime):
//!
//! | variable        | proves                                         |
//! |-----------------|------------------------------------------------|
//! | `PURGE_SECRET`  | [`Scope::Purge`] only                          |
//! | `ADMIN_SECRET`  | [`Scope::Admin`], and also purge and read      |
//! | `STATS_SECRET`  | [`Scope::Read`] only (optional)                |
//!
//! The purge secret is the one a CMS stores (in plone.cachepurging's proxy URL, in Django's
//! settings): whoever can read the CMS's settings can purge, and nothing more. A scope no
//! configured value can prove is off ([`Secrets::enables`]). A presented value is compared
//! with every accepted value of every list that proves the scope, each comparison in
//! constant time ([`digests_equal`]) and the results folded without an early exit, so the
//! time taken tells nothing about which value, if any, was close.

use super::digests_equal;

/// What a request needs to be allowed to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Scope {
    /// Purging: `PURGE <url>` and the purge API endpoint.
    Purge,
    /// The admin API and the control panel: policy read, push and rollback, profiles,
    /// explain (and, as admin may, purging and reading stats).
    Admin,
    /// Reading the stats endpoints, nothing else.
    Read,
}

impl Scope {
    /// Every scope.
    pub const ALL: [Scope; 3] = [Scope::Purge, Scope::Admin, Scope::Read];

    /// The scope a call of the admin API needs: `POST purge` purges and `GET purges/{id}`
    /// reads a purge's receipt (so a purger can wait for its purge); `GET stats`,
    /// `GET stats/fleet` and `GET metrics` (`<admin prefix>/metrics`) read; every other call
    /// (known or not: an unknown one is answered 404 only once proven) is an admin call.
    /// `endpoint` is the path after `<admin prefix>/api/`.
    pub fn of_admin_call(method: &str, endpoint: &str) -> Scope {
        match (method.to_ascii_uppercase().as_str(), endpoint) {
            ("POST", "purge") => Scope::Purge,
            ("GET", e) if e.strip_prefix("purges/").is_some_and(|id| !id.is_empty() && !id.contains('/')) => {
                Scope::Purge
            }
            ("GET", "stats" | "stats/fleet" | "metrics") => Scope::Read,
            _ => Scope::Admin,
        }
    }

    /// The scope's name in messages and documentation.
    pub fn name(self) -> &'static str {
        match self {
            Scope::Purge => "purge",
            Scope::Admin => "admin",
            Scope::Read => "read",
        }
    }

    /// Whether a credential proven for this scope also allows `other`: an admin credential
    /// allows everything; a purge or read credential only its own scope.
    pub fn allows(self, other: Scope) -> bool {
        self == other || self == Scope::Admin
    }
}

/// The accepted values of one secret variable. Its `Debug` form shows how many values it
/// holds, never a value.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct SecretList {
    values: Vec<String>,
}

impl std::fmt::Debug for SecretList {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "SecretList({} values)", self.values.len())
    }
}

/// The list of no value, for a scope that only one variable proves.
static NO_VALUES: SecretList = SecretList { values: Vec::new() };

impl SecretList {
    /// The values of a variable: separated by commas and/or whitespace, empty items left out
    /// (so a value can contain neither).
    pub fn parse(text: &str) -> SecretList {
        let values = text
            .split(|c: char| c == ',' || c.is_whitespace())
            .filter(|v| !v.is_empty())
            .map(str::to_string)
            .collect();
        SecretList { values }
    }

    /// How many values are accepted.
    pub fn len(&self) -> usize {
        self.values.len()
    }

    /// True when no value is accepted.
    pub fn is_empty(&self) -> bool {
        self.values.is_empty()
    }

    /// Whether `presented` is one of the values. Every value is compared, each in constant
    /// time, and the answers are folded without an early exit.
    pub fn contains(&self, presented: &[u8]) -> bool {
        self.values.iter().fold(false, |found, value| found | digests_equal(presented, value.as_bytes()))
    }

    /// The values, for checking a signature under each as the HMAC key.
    pub(super) fn values(&self) -> impl Iterator<Item = &str> {
        self.values.iter().map(String::as_str)
    }
}

/// The configured secrets, one list per variable. Its `Debug` form shows counts only.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Secrets {
    purge: SecretList,
    admin: SecretList,
    read: SecretList,
}

impl Secrets {
    pub fn new(purge: SecretList, admin: SecretList, read: SecretList) -> Secrets {
        Secrets { purge, admin, read }
    }

    /// From the texts of `PURGE_SECRET`, `ADMIN_SECRET` and `STATS_SECRET` (`None`: unset).
    pub fn from_vars(purge: Option<&str>, admin: Option<&str>, read: Option<&str>) -> Secrets {
        let list = |text: Option<&str>| text.map(SecretList::parse).unwrap_or_default();
        Secrets::new(list(purge), list(admin), list(read))
    }

    /// The lists whose values prove `scope`: the scope's own and the admin list.
    fn lists(&self, scope: Scope) -> [&SecretList; 2] {
        match scope {
            Scope::Purge => [&self.purge, &self.admin],
            Scope::Admin => [&self.admin, &NO_VALUES],
            Scope::Read => [&self.read, &self.admin],
        }
    }

    /// Whether any configured value can prove `scope`; when not, the scope is off.
    pub fn enables(&self, scope: Scope) -> bool {
        self.lists(scope).iter().any(|l| !l.is_empty())
    }

    /// Whether the presented value `token` proves `scope`: the one rule of which secret opens
    /// what. Compared with every value of both lists, in constant time, without early exit.
    pub fn proves(&self, scope: Scope, token: &[u8]) -> bool {
        let [own, admin] = self.lists(scope);
        own.contains(token) | admin.contains(token)
    }

    /// Every value that proves `scope`, for checking a signature under each.
    pub(super) fn keys(&self, scope: Scope) -> impl Iterator<Item = &str> {
        self.lists(scope).into_iter().flat_map(SecretList::values)
    }
}

#[cfg(test)]
mod tests {
    use super::super::signed::counted;
    use super::super::{authorize, sign_v2, AuthInput, ReplayGuard};
    use super::*;
    use crate::http::Headers;

    /// Every accepted value of both lists is compared, each by the constant-time helper,
    /// whichever value matches (first, last or none): no early exit.
    #[test]
    fn every_value_is_compared_by_the_constant_time_helper_without_early_exit() {
        let secrets = Secrets::from_vars(Some("p1,p2 p3"), Some("a1, a2"), Some("r1"));
        for (scope, token, accepted, compared) in [
            (Scope::Purge, "p1", true, 5),
            (Scope::Purge, "a2", true, 5),
            (Scope::Purge, "nope", false, 5),
            (Scope::Admin, "a1", true, 2),
            (Scope::Admin, "p1", false, 2),
            (Scope::Read, "r1", true, 3),
            (Scope::Read, "p3", false, 3),
        ] {
            let mut proven = None;
            let (digests, macs) = counted::during(|| proven = Some(secrets.proves(scope, token.as_bytes())));
            assert_eq!(proven, Some(accepted), "{scope:?} {token}");
            assert_eq!((digests, macs), (compared, 0), "{scope:?} {token}");
        }
    }

    /// A signature is checked under every value that proves the scope, whichever signed it.
    #[test]
    fn a_signature_is_checked_under_every_accepted_value() {
        let secrets = Secrets::from_vars(Some("old-purge new-purge"), Some("admin"), None);
        let now_secs = 1_700_000_000;
        for (key, accepted) in [("old-purge", true), ("new-purge", true), ("admin", true), ("other", false)] {
            let mut headers = Headers::from_pairs([("host", "www.example.org")]);
            let signature = sign_v2(key, "PURGE", "/news", now_secs, b"", &headers);
            headers.set("x-rulecache-timestamp", now_secs.to_string());
            headers.set("x-rulecache-signature", signature);
            let input = AuthInput { method: "PURGE", path_and_query: "/news", headers: &headers, body: b"" };
            let mut result = None;
            let (_, macs) = counted::during(|| {
                let now = now_secs * 1000;
                result =
                    Some(authorize(&secrets, Scope::Purge, &input, now, &mut ReplayGuard::new()).is_ok());
            });
            assert_eq!(result, Some(accepted), "{key}");
            assert_eq!(macs, 3, "{key}");
        }
    }
}

//! The request flow: the engine (a sans-I/O state machine: decisions in, actions out), the
//! effects a reply becomes, and the explanation and rehearsal built on it. What the policy
//! hands the engine is in [`crate::policy::decision`].

mod effects;
pub mod engine;
pub mod explain;
pub mod isolate;
pub mod rehearse;

pub use effects::{lookup_tiers, Effect, Tier};

#[cfg(test)]
mod tests {
    #[test]
    fn the_name_lists_compared_exactly_are_lower_case() {
        // `http::is_listed` compares stored (lower-case) names with these without folding case.
        let lists: [&[&str]; 4] = [
            &crate::rfc::hop::HOP_BY_HOP,
            &crate::storage::key::FORWARDED_UNKEYED,
            &crate::storage::key::FORWARDED_KEYED,
            super::engine::INTERNAL_REQUEST_HEADERS,
        ];
        for name in lists.iter().flat_map(|l| l.iter()) {
            assert_eq!(*name, name.to_ascii_lowercase());
        }
    }
}

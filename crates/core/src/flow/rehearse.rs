//! A rehearsal of the decision path: one made-up request run through every phase of the flow
//! (start, lookup, origin response, stored entry, answer, effects) with nothing stored and no
//! I/O. A runtime that compiles code on first use (V8 compiles a wasm function when it is
//! first called) can then compile that path while the module is instantiated, not while the
//! first real request waits. Nothing it does outlives the call.

use crate::flow::engine::{Flow, Found, Step};

use crate::flow::Effect;
use crate::http::{parse_url, Headers, RequestHead, ResponseHead, Time};
use crate::policy::Policy;
use crate::storage::meta::Purged;

/// Runs the rehearsal under `policy`; returns how many steps and effects it went through
/// (nothing else comes out of it).
pub fn rehearse(policy: &Policy, now: Time) -> usize {
    let Some(url) = parse_url("https://rehearsal.invalid/page?x=1") else { return 0 };
    let request = Headers::from_lines("accept\ntext/html\naccept-encoding\ngzip, br\ncookie\nlang=en\n");
    let (mut flow, mut step) = Flow::start(policy, RequestHead::new("GET", url, request), now, false);
    // An origin sends Date (RFC 9110 §6.6.1): its parser is on every miss's path.
    let response =
        "200\ndate\nSun, 06 Nov 1994 08:49:37 GMT\ncontent-type\ntext/html\ncache-control\nmax-age=60\n\
                    etag\n\"r1\"\nlast-modified\nSun, 06 Nov 1994 08:49:37 GMT\ncontent-length\n5\n";
    let mut steps = 0;
    loop {
        steps += 1;
        step = match step {
            Step::Lookup { .. } => flow.found(policy, Found::Nothing, Purged::No, now),
            Step::Fetch { .. } => flow.origin_response(policy, ResponseHead::from_lines(response), now),
            Step::Respond(mut reply) => {
                let effects = flow.effects(policy, &mut reply);
                // The driver encodes a stored entry's record for the shared tiers.
                let encoded = effects
                    .iter()
                    .filter(|e| matches!(e, Effect::Put { meta, .. } if meta.encode().is_ok()))
                    .count();
                return steps + effects.len() + encoded;
            }
        };
        if steps > 8 {
            return steps;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_shipped_profile_rehearses_a_whole_miss() {
        for (id, _) in Policy::profiles() {
            let policy = Policy::bundled(id).unwrap_or_else(Policy::default_profile);
            // start, lookup (nothing), fetch, the reply, its answer and a stored record
            assert!(rehearse(&policy, 1_700_000_000_000) >= 5, "{id}");
        }
    }
}

//! Bursts of `PURGE` requests written to the ledger together.
//!
//! plone.cachepurging sends one `PURGE` per path, one request at a time, about 45 ms apart:
//! an edited document makes ten, an image about forty. Recording each in the purge ledger
//! would cost a Durable Object write per path. Instead an isolate collects the targets of
//! the `PURGE` requests it takes into a **burst window** and writes them with one append:
//! the window is written once no purge joined it for [`QUIET_MS`], and at the latest
//! [`MAX_WINDOW_MS`] after it opened. Hard and soft purges keep separate windows.
//!
//! Each request is answered at once (200, its local copies already removed); the other
//! locations honour it once the window is written and their ledger copy refreshed, so the
//! global bound grows by at most [`MAX_WINDOW_MS`]. A window holds at most
//! [`MAX_TARGETS`] targets; a request that would overflow it is written on its own.
//! Signed requests are never batched (their signature is the ledger's replay guard).

use super::ledger::Target;
use super::request::MAX_PURGE_ITEMS;
use crate::http::Time;

/// A window is written once no purge joined it for this long.
pub const QUIET_MS: u64 = 150;
/// … and at the latest this long after its first purge.
pub const MAX_WINDOW_MS: u64 = 1000;
/// The most targets one window holds.
pub const MAX_TARGETS: usize = MAX_PURGE_ITEMS;

/// What became of an offered purge.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Offer {
    /// It opened a window: the caller schedules the write for [`Burst::due_at`].
    Opened,
    /// It joined the open window, which an earlier purge scheduled.
    Joined,
    /// The window is full: write this purge on its own.
    Full,
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Window {
    targets: Vec<Target>,
    opened: Time,
    last: Time,
}

/// The open windows of one isolate (hard and soft).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Burst {
    hard: Option<Window>,
    soft: Option<Window>,
}

impl Burst {
    pub fn new() -> Burst {
        Burst::default()
    }

    fn slot(&mut self, soft: bool) -> &mut Option<Window> {
        if soft {
            &mut self.soft
        } else {
            &mut self.hard
        }
    }

    /// Adds `targets` (hard or `soft`) at `now`; duplicates of targets already in the window
    /// are left out.
    pub fn offer(&mut self, targets: &[Target], soft: bool, now: Time) -> Offer {
        let slot = self.slot(soft);
        match slot {
            None => {
                let mut list = Vec::with_capacity(targets.len());
                for t in targets {
                    if !list.contains(t) {
                        list.push(t.clone());
                    }
                }
                *slot = Some(Window { targets: list, opened: now, last: now });
                Offer::Opened
            }
            Some(w) => {
                let new: Vec<&Target> = targets.iter().filter(|t| !w.targets.contains(t)).collect();
                if w.targets.len() + new.len() > MAX_TARGETS {
                    return Offer::Full;
                }
                w.targets.extend(new.into_iter().cloned());
                w.last = w.last.max(now);
                Offer::Joined
            }
        }
    }

    /// When the open window (hard or `soft`) is to be written; None when none is open.
    pub fn due_at(&self, soft: bool) -> Option<Time> {
        let w = if soft { self.soft.as_ref() } else { self.hard.as_ref() }?;
        Some((w.last + QUIET_MS).min(w.opened + MAX_WINDOW_MS))
    }

    /// The window's targets when it is due at `now` (the window is closed); otherwise
    /// `Err(when)` it will be, or `Err(now)` with nothing to write when none is open.
    pub fn take_due(&mut self, soft: bool, now: Time) -> Result<Vec<Target>, Option<Time>> {
        match self.due_at(soft) {
            None => Err(None),
            Some(at) if at > now => Err(Some(at)),
            Some(_) => Ok(self.slot(soft).take().map(|w| w.targets).unwrap_or_default()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn url(p: &str) -> Target {
        Target::Url(format!("https://www.example.org{p}"))
    }

    #[test]
    fn a_burst_of_purges_is_one_write_after_the_quiet_spell() {
        let mut b = Burst::new();
        assert_eq!(b.offer(&[url("/doc1"), url("/doc1/")], false, 1_000), Offer::Opened);
        for (i, p) in ["/doc1/view", "/doc1/document_view", "/doc1"].iter().enumerate() {
            assert_eq!(b.offer(&[url(p)], false, 1_045 + 45 * i as u64), Offer::Joined);
        }
        assert_eq!(b.due_at(false), Some(1_135 + QUIET_MS));
        assert_eq!(b.take_due(false, 1_200), Err(Some(1_135 + QUIET_MS)));
        let written = b.take_due(false, 1_135 + QUIET_MS).unwrap_or_default();
        assert_eq!(written, vec![url("/doc1"), url("/doc1/"), url("/doc1/view"), url("/doc1/document_view")]);
        assert_eq!(b.take_due(false, 5_000), Err(None), "the window is closed");
        assert_eq!(b.offer(&[url("/doc2")], false, 5_000), Offer::Opened);
    }

    #[test]
    fn a_steady_stream_is_written_at_the_latest_after_the_longest_window() {
        let mut b = Burst::new();
        b.offer(&[url("/0")], false, 0);
        for i in 1..100u64 {
            b.offer(&[url(&format!("/{i}"))], false, i * 100);
        }
        assert_eq!(b.due_at(false), Some(MAX_WINDOW_MS));
    }

    #[test]
    fn hard_and_soft_purges_keep_separate_windows_and_a_full_window_refuses() {
        let mut b = Burst::new();
        assert_eq!(b.offer(&[url("/a")], false, 0), Offer::Opened);
        assert_eq!(b.offer(&[url("/a")], true, 10), Offer::Opened);
        let many: Vec<Target> = (0..MAX_TARGETS).map(|i| url(&format!("/x{i}"))).collect();
        assert_eq!(b.offer(&many, false, 20), Offer::Full);
        assert_eq!(b.offer(&[url("/a")], false, 30), Offer::Joined, "a duplicate adds nothing");
        assert_eq!(b.take_due(true, 10 + QUIET_MS), Ok(vec![url("/a")]));
        assert_eq!(b.take_due(false, 30 + QUIET_MS), Ok(vec![url("/a")]));
    }
}

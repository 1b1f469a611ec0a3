//! The outage a write load saw: the longest time between two successful writes, printed as one
//! `outage report:` line that bench/outages.sh collects (speed and outages are reported by
//! bench/, never asserted by time in tests).

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

pub struct OutageMeter {
    started: Instant,
    last_success_ms: AtomicU64,
    longest_gap_ms: AtomicU64,
}

impl OutageMeter {
    pub fn start() -> Self {
        Self { started: Instant::now(), last_success_ms: AtomicU64::new(0), longest_gap_ms: AtomicU64::new(0) }
    }

    /// A write was acknowledged now.
    pub fn success(&self) {
        let now = self.started.elapsed().as_millis() as u64;
        let before = self.last_success_ms.fetch_max(now, Ordering::Relaxed);
        self.longest_gap_ms.fetch_max(now.saturating_sub(before), Ordering::Relaxed);
    }

    /// Prints the report line for `case` and returns the longest gap in seconds.
    pub fn report(&self, case: &str) -> f64 {
        let secs = self.longest_gap_ms.load(Ordering::Relaxed) as f64 / 1000.0;
        println!("outage report: {case}: {secs:.2} s without a successful write");
        secs
    }
}

//! A token bucket for audit records that outsiders can cause (refused connections, failed
//! logins): a flood is counted, not written line by line, so it cannot fill the disk, drown the
//! log or make every anonymous request pay for an fsync.

use std::time::{Duration, Instant};

/// Records written back to back before the bucket throttles.
const BURST: f64 = 30.0;
/// One more record allowed per this long.
const REFILL: Duration = Duration::from_secs(2);

pub struct Throttle {
    tokens: f64,
    last: Instant,
    suppressed: u64,
}

impl Default for Throttle {
    fn default() -> Throttle {
        Throttle { tokens: BURST, last: Instant::now(), suppressed: 0 }
    }
}

impl Throttle {
    /// `Some(n)` when a record may be written now, `n` being the records suppressed since the
    /// last one written (it carries that count); `None` when this one is suppressed.
    pub fn admit(&mut self) -> Option<u64> {
        self.admit_at(Instant::now())
    }

    fn admit_at(&mut self, now: Instant) -> Option<u64> {
        let refilled = now.saturating_duration_since(self.last).as_secs_f64() / REFILL.as_secs_f64();
        self.tokens = (self.tokens + refilled).min(BURST);
        self.last = now;
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            Some(std::mem::take(&mut self.suppressed))
        } else {
            self.suppressed += 1;
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_flood_is_counted_and_the_count_travels_with_the_next_record() {
        let mut throttle = Throttle::default();
        let start = throttle.last;
        let written = (0..1000).filter(|_| throttle.admit_at(start).is_some()).count();
        assert_eq!(written, BURST as usize);
        assert_eq!(throttle.admit_at(start + REFILL), Some(1000 - BURST as u64));
        assert_eq!(throttle.admit_at(start + REFILL), None);
        assert_eq!(throttle.admit_at(start + REFILL * 2), Some(1));
    }
}

//! UTC timestamps with millisecond precision, written as RFC 3339 (`2026-11-23T10:33:00.123Z`).

use std::fmt;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

use crate::AuditError;

/// A point in time, UTC, millisecond precision.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Timestamp {
    millis_since_epoch: u64,
}

/// 9999-12-31T23:59:59.999Z: RFC 3339 has four-digit years, so later times are clamped here.
const LATEST_MILLIS: u64 = 253_402_300_799_999;

impl Timestamp {
    pub fn now() -> Timestamp {
        Timestamp::from(SystemTime::now())
    }

    /// Times past the year 9999 become its last millisecond ("keep forever" stays printable).
    pub fn from_millis(millis_since_epoch: u64) -> Timestamp {
        Timestamp { millis_since_epoch: millis_since_epoch.min(LATEST_MILLIS) }
    }

    pub fn millis(self) -> u64 {
        self.millis_since_epoch
    }

    pub fn plus(self, duration: Duration) -> Timestamp {
        let millis = u64::try_from(duration.as_millis()).unwrap_or(u64::MAX);
        Timestamp::from_millis(self.millis_since_epoch.saturating_add(millis))
    }

    /// Parses RFC 3339 in UTC, or a bare date `YYYY-MM-DD` meaning its midnight UTC.
    pub fn parse(text: &str) -> Result<Timestamp, AuditError> {
        let text = text.trim();
        let full = if text.len() == "2026-11-23".len() { format!("{text}T00:00:00Z") } else { text.to_owned() };
        humantime::parse_rfc3339(&full)
            .map(Timestamp::from)
            .map_err(|_| AuditError::InvalidTime(text.chars().take(40).collect()))
    }

    /// The calendar day (UTC) as `YYYY-MM-DD`: the unit of daily log rotation.
    pub fn day(self) -> String {
        self.to_string()[..10].to_owned()
    }

    /// `YYYY-MM-DD HH:MM:SS`, for people; always UTC.
    pub fn human(self) -> String {
        let text = self.to_string();
        format!("{} {}", &text[..10], &text[11..19])
    }

    fn system_time(self) -> SystemTime {
        UNIX_EPOCH + Duration::from_millis(self.millis_since_epoch)
    }
}

impl From<SystemTime> for Timestamp {
    fn from(time: SystemTime) -> Timestamp {
        let millis = time
            .duration_since(UNIX_EPOCH)
            .map(|since| u64::try_from(since.as_millis()).unwrap_or(u64::MAX))
            .unwrap_or(0);
        Timestamp::from_millis(millis)
    }
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", humantime::format_rfc3339_millis(self.system_time()))
    }
}

impl TryFrom<String> for Timestamp {
    type Error = AuditError;
    fn try_from(text: String) -> Result<Timestamp, AuditError> {
        Timestamp::parse(&text)
    }
}

impl From<Timestamp> for String {
    fn from(time: Timestamp) -> String {
        time.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_through_text() {
        let time = Timestamp::from_millis(1_795_430_000_123);
        assert_eq!(Timestamp::parse(&time.to_string()).unwrap(), time);
        assert!(time.to_string().ends_with(".123Z"));
    }

    #[test]
    fn far_future_is_clamped_not_a_panic() {
        let forever = Timestamp::now().plus(Duration::MAX);
        assert_eq!(forever.to_string(), "9999-12-31T23:59:59.999Z");
        assert_eq!(Timestamp::parse(&forever.to_string()).unwrap(), forever);
    }

    #[test]
    fn bare_date_means_midnight_utc() {
        let time = Timestamp::parse("2026-11-23").unwrap();
        assert_eq!(time.to_string(), "2026-11-23T00:00:00.000Z");
        assert_eq!(time.day(), "2026-11-23");
        assert_eq!(time.human(), "2026-11-23 00:00:00");
    }

    #[test]
    fn rejects_garbage_and_local_times() {
        for bad in ["yesterday", "2026-13-01", "2026-11-23T10:00:00+01:00", ""] {
            assert!(Timestamp::parse(bad).is_err(), "{bad}");
        }
    }
}

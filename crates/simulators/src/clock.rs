//! Simulated wall clock and Go-compatible time formatting.
//!
//! Token expiry is checked against [`SimClock::now`], which is the real
//! time plus an offset that tests move forward with [`SimClock::advance`].
//! That makes expiry tests deterministic without sleeping. Latencies and
//! operation durations are real (scaled) sleeps, not clock reads.

use std::sync::Mutex;
use std::time::Duration;

use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

/// A wall clock that can be moved forward.
#[derive(Debug, Default)]
pub struct SimClock {
    offset: Mutex<Duration>,
}

impl SimClock {
    /// The simulated current time (UTC).
    pub fn now(&self) -> OffsetDateTime {
        let offset = self.offset.lock().map(|o| *o).unwrap_or_default();
        OffsetDateTime::now_utc() + offset
    }

    /// Moves the clock forward (never backward).
    pub fn advance(&self, by: Duration) {
        if let Ok(mut o) = self.offset.lock() {
            *o += by;
        }
    }
}

/// Formats like Go's `time.RFC3339Nano` for UTC times:
/// `2026-11-21T05:17:48.927889885Z`, trailing zeros of the fraction
/// removed, no fraction at all when it is zero.
pub fn rfc3339_nano(t: OffsetDateTime) -> String {
    let t = t.to_offset(time::UtcOffset::UTC);
    let base = format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second()
    );
    let nanos = t.nanosecond();
    if nanos == 0 {
        return format!("{base}Z");
    }
    let frac = format!("{nanos:09}");
    format!("{base}.{}Z", frac.trim_end_matches('0'))
}

/// Formats like Go's `time.RFC3339` (no fraction), as microcluster uses for
/// token records.
pub fn rfc3339(t: OffsetDateTime) -> String {
    let t = t.to_offset(time::UtcOffset::UTC);
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}Z",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second()
    )
}

/// Go's zero time as JSON-marshalled (`0001-01-01T00:00:00Z`).
pub const GO_ZERO_TIME: &str = "0001-01-01T00:00:00Z";

/// Parses an RFC 3339 timestamp (with or without fraction).
pub fn parse_rfc3339(s: &str) -> Option<OffsetDateTime> {
    OffsetDateTime::parse(s, &Rfc3339).ok()
}

/// Parses LXD's expiry syntax (`shared.GetExpiry`): space-separated
/// `<n><unit>` with units `S` (seconds), `M` (minutes), `H` (hours), `d`,
/// `w`, `m` (30-day months) and `y` (365-day years). Empty means "never".
pub fn parse_lxd_expiry(s: &str) -> Result<Option<Duration>, String> {
    if s.trim().is_empty() {
        return Ok(None);
    }
    let mut total = Duration::ZERO;
    for part in s.split_whitespace() {
        let (num, unit) = part.split_at(part.len().saturating_sub(1));
        let n: u64 = num
            .parse()
            .map_err(|_| format!("Invalid expiry value {part:?}"))?;
        let secs = match unit {
            "S" => 1,
            "M" => 60,
            "H" => 3600,
            "d" => 86_400,
            "w" => 7 * 86_400,
            "m" => 30 * 86_400,
            "y" => 365 * 86_400,
            _ => return Err(format!("Invalid expiry unit {unit:?}")),
        };
        total += Duration::from_secs(n.saturating_mul(secs));
    }
    Ok(Some(total))
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    #[test]
    fn go_rfc3339_nano_trims_zeros() {
        assert_eq!(
            rfc3339_nano(datetime!(2026-11-21 05:17:48.927889885 UTC)),
            "2026-11-21T05:17:48.927889885Z"
        );
        assert_eq!(
            rfc3339_nano(datetime!(2026-11-21 05:17:48.5 UTC)),
            "2026-11-21T05:17:48.5Z"
        );
        assert_eq!(
            rfc3339_nano(datetime!(2026-11-21 05:17:48 UTC)),
            "2026-11-21T05:17:48Z"
        );
    }

    #[test]
    fn lxd_expiry_units() {
        assert_eq!(parse_lxd_expiry(""), Ok(None));
        assert_eq!(
            parse_lxd_expiry("3H"),
            Ok(Some(Duration::from_secs(3 * 3600)))
        );
        assert_eq!(
            parse_lxd_expiry("1M 30S"),
            Ok(Some(Duration::from_secs(90)))
        );
        assert_eq!(
            parse_lxd_expiry("3x"),
            Err("Invalid expiry unit \"x\"".to_string())
        );
    }
}

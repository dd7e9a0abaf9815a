//! Time for the whole program: the [`Timestamp`] type every stage is given as `now`, and the only
//! place that reads the wall clock ([`wall_clock`]). Core stages never call the clock themselves:
//! in replay, `now` is the capture time of the packet being processed.

use std::fmt;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Nanoseconds since the Unix epoch (capture time in replay, receive time in live capture).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Timestamp(pub u64);

impl Timestamp {
    pub const ZERO: Timestamp = Timestamp(0);

    pub fn from_secs_nanos(secs: i64, nanos: u32) -> Timestamp {
        if secs < 0 {
            return Timestamp::ZERO;
        }
        Timestamp(
            (secs as u64)
                .saturating_mul(1_000_000_000)
                .saturating_add(u64::from(nanos)),
        )
    }

    pub fn saturating_add(self, d: Duration) -> Timestamp {
        Timestamp(
            self.0
                .saturating_add(d.as_nanos().min(u128::from(u64::MAX)) as u64),
        )
    }

    /// `self - earlier`, or zero when `earlier` is later (capture files are not always ordered).
    pub fn saturating_sub(self, d: Duration) -> Timestamp {
        Timestamp(
            self.0
                .saturating_sub(u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)),
        )
    }

    pub fn saturating_since(self, earlier: Timestamp) -> Duration {
        Duration::from_nanos(self.0.saturating_sub(earlier.0))
    }

    /// RFC 3339 with microseconds and a `Z`, as Suricata EVE writes it:
    /// `2023-11-14T22:13:20.000500Z`.
    pub fn rfc3339_micros(self) -> String {
        let t = UNIX_EPOCH + Duration::from_nanos(self.0);
        humantime::format_rfc3339_micros(t).to_string()
    }
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.rfc3339_micros())
    }
}

/// Reads the wall clock. Only capture (live timestamps), pipeline and sinks may call this.
/// The monotonic clock, for the pipeline's batching, latency and retry timers (never for
/// packet time).
#[allow(clippy::disallowed_methods)]
pub fn monotonic() -> std::time::Instant {
    std::time::Instant::now()
}

#[allow(clippy::disallowed_methods)]
pub fn wall_clock() -> Timestamp {
    match SystemTime::now().duration_since(UNIX_EPOCH) {
        Ok(d) => Timestamp(d.as_nanos().min(u128::from(u64::MAX)) as u64),
        Err(_) => Timestamp::ZERO,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_like_suricata_eve() {
        let t = Timestamp::from_secs_nanos(1_700_000_000, 500_000);
        assert_eq!(t.rfc3339_micros(), "2023-11-14T22:13:20.000500Z");
    }

    #[test]
    fn negative_seconds_clamp_to_epoch() {
        assert_eq!(Timestamp::from_secs_nanos(-5, 0), Timestamp::ZERO);
    }

    #[test]
    fn since_saturates_on_reordered_captures() {
        let a = Timestamp(10);
        let b = Timestamp(4);
        assert_eq!(b.saturating_since(a), Duration::ZERO);
        assert_eq!(a.saturating_since(b), Duration::from_nanos(6));
    }
}

//! Retry policy: capped exponential backoff with jitter, within a deadline.

use std::collections::BTreeMap;
use std::time::Duration;

use config_loader::model::StepClass;

/// How transient failures are retried.
#[derive(Debug, Clone, PartialEq)]
pub struct RetryPolicy {
    /// Delay before the first retry.
    pub initial: Duration,
    /// Largest delay between two attempts.
    pub max: Duration,
    /// Growth factor of the delay.
    pub multiplier: f64,
    /// Fraction of each delay that is randomised (0 = none, 0.5 = ±50 %).
    pub jitter: f64,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            initial: Duration::from_millis(250),
            max: Duration::from_secs(10),
            multiplier: 2.0,
            jitter: 0.3,
        }
    }
}

impl RetryPolicy {
    /// Delay after the `attempt`-th failure (1-based), given a uniform
    /// random number `unit` in [0, 1) for the jitter.
    pub fn delay(&self, attempt: u32, unit: f64) -> Duration {
        let exponent = i32::try_from(attempt.saturating_sub(1)).unwrap_or(i32::MAX);
        let base = self.initial.as_secs_f64() * self.multiplier.max(1.0).powi(exponent);
        let capped = base.min(self.max.as_secs_f64());
        let jitter = self.jitter.clamp(0.0, 1.0);
        let factor = 1.0 - jitter + 2.0 * jitter * unit.clamp(0.0, 1.0);
        Duration::from_secs_f64((capped * factor).min(self.max.as_secs_f64()).max(0.0))
    }
}

/// Deadline for each step class: the total time a step may take, retries
/// included.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Deadlines {
    /// Per class.
    pub per_class: BTreeMap<StepClass, Duration>,
    /// For classes not listed.
    pub default: Duration,
}

impl Deadlines {
    /// The deadline of `class`.
    pub fn of(&self, class: StepClass) -> Duration {
        self.per_class.get(&class).copied().unwrap_or(self.default)
    }
}

impl Default for Deadlines {
    fn default() -> Self {
        Deadlines {
            per_class: BTreeMap::new(),
            default: Duration::from_secs(300),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays_grow_and_are_capped() {
        let p = RetryPolicy {
            initial: Duration::from_millis(100),
            max: Duration::from_secs(1),
            multiplier: 2.0,
            jitter: 0.0,
        };
        let d: Vec<u128> = (1..=6).map(|a| p.delay(a, 0.5).as_millis()).collect();
        assert_eq!(d, vec![100, 200, 400, 800, 1000, 1000]);
    }

    #[test]
    fn jitter_stays_within_its_band_and_under_the_cap() {
        let p = RetryPolicy {
            initial: Duration::from_millis(100),
            max: Duration::from_secs(1),
            multiplier: 2.0,
            jitter: 0.5,
        };
        assert_eq!(p.delay(1, 0.0).as_millis(), 50);
        assert_eq!(p.delay(1, 0.999_999).as_millis(), 149);
        assert!(p.delay(10, 0.999_999) <= Duration::from_secs(1));
    }
}

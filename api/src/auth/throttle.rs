//! Sign-in throttling. Per account: [`ACCOUNT_FAILURES`] failures in a row lock the
//! account for [`LOCK_MINUTES`] (kept in `platform.users`, so every process sees it).
//! Per address: more than [`ADDRESS_FAILURES`] failures within [`WINDOW`] from one
//! address refuse further attempts from it until the window moves on, which stops
//! password spraying across many accounts.

use std::collections::{HashMap, VecDeque};
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Failures in a row that lock an account.
pub const ACCOUNT_FAILURES: i32 = 5;
/// How long a locked account stays locked.
pub const LOCK_MINUTES: i64 = 15;
/// Failures from one address within the window that refuse it.
pub const ADDRESS_FAILURES: usize = 20;
/// The per-address window.
pub const WINDOW: Duration = Duration::from_secs(10 * 60);

/// Recent failures per address, in this process.
#[derive(Debug, Default)]
pub struct AddressThrottle {
    failures: Mutex<HashMap<IpAddr, VecDeque<Instant>>>,
}

impl AddressThrottle {
    /// Seconds until `address` may try again, if it is throttled now.
    pub fn wait(&self, address: IpAddr) -> Option<u64> {
        let mut failures = self.failures.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let recent = failures.get_mut(&address)?;
        let now = Instant::now();
        while recent.front().is_some_and(|at| now.duration_since(*at) > WINDOW) {
            recent.pop_front();
        }
        if recent.len() < ADDRESS_FAILURES {
            return None;
        }
        let oldest = *recent.front()?;
        Some(WINDOW.saturating_sub(now.duration_since(oldest)).as_secs().max(1))
    }

    /// Takes back the latest attempt of `address`, counted before it succeeded.
    pub fn succeeded(&self, address: IpAddr) {
        let mut failures = self.failures.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(recent) = failures.get_mut(&address) {
            recent.pop_back();
        }
    }

    pub fn failed(&self, address: IpAddr) {
        let mut failures = self.failures.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        // Bounded: an attacker cycling addresses cannot grow this without limit.
        if failures.len() > 100_000 {
            let now = Instant::now();
            failures.retain(|_, recent| recent.back().is_some_and(|at| now.duration_since(*at) <= WINDOW));
        }
        failures.entry(address).or_default().push_back(Instant::now());
    }
}

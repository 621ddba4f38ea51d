//! Active and reactive power, summed as vectors: the apparent power and the power factor
//! of a sum come from its components, never from adding kVA.

use std::ops::{Add, AddAssign, Mul};

/// Active power (kW) and reactive power (kVAR, inductive positive).
#[derive(Debug, Clone, Copy, Default, PartialEq, serde::Serialize)]
pub struct Power {
    pub kw: f64,
    pub kvar: f64,
}

impl Power {
    /// `kw` drawn at power factor `power_factor` (lagging).
    pub fn at_power_factor(kw: f64, power_factor: f64) -> Self {
        let kva = kw / power_factor;
        Power { kw, kvar: (kva * kva - kw * kw).max(0.0).sqrt() }
    }

    /// Apparent power, kVA.
    pub fn kva(&self) -> f64 {
        self.kw.hypot(self.kvar)
    }

    /// kW ÷ kVA; 1 for no load.
    pub fn power_factor(&self) -> f64 {
        let kva = self.kva();
        if kva == 0.0 { 1.0 } else { self.kw / kva }
    }
}

impl Add for Power {
    type Output = Power;
    fn add(self, other: Power) -> Power {
        Power { kw: self.kw + other.kw, kvar: self.kvar + other.kvar }
    }
}

impl AddAssign for Power {
    fn add_assign(&mut self, other: Power) {
        *self = *self + other;
    }
}

impl Mul<f64> for Power {
    type Output = Power;
    fn mul(self, factor: f64) -> Power {
        Power { kw: self.kw * factor, kvar: self.kvar * factor }
    }
}

impl std::iter::Sum for Power {
    fn sum<I: Iterator<Item = Power>>(iter: I) -> Power {
        iter.fold(Power::default(), Add::add)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sum_has_the_power_factor_of_its_components() {
        let motor = Power::at_power_factor(80.0, 0.8);
        assert!((motor.kvar - 60.0).abs() < 1e-9);
        assert!((motor.kva() - 100.0).abs() < 1e-9);
        let heater = Power::at_power_factor(100.0, 1.0);
        let both = motor + heater;
        assert!((both.kva() - 180.0_f64.hypot(60.0)).abs() < 1e-9);
        assert!((both.power_factor() - 180.0 / 180.0_f64.hypot(60.0)).abs() < 1e-12);
        assert_eq!(Power::default().power_factor(), 1.0);
    }
}

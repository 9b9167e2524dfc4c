//! Money as integer minor units (cents). Never floating point inside the shop;
//! decimal text is parsed exactly, so "19.99" is 1999 and "19.999" is refused
//! rather than rounded.

use serde::{Deserialize, Serialize};
use std::fmt;

/// An amount in the shop's currency, in minor units (two decimal places).
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
#[serde(transparent)]
pub struct Money(i64);

/// Why a decimal text is not an amount of money.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum MoneyError {
    #[error("is empty")]
    Empty,
    #[error("is not a number")]
    NotANumber,
    #[error("has more than two decimal places")]
    TooManyDecimals,
    #[error("must not be negative")]
    Negative,
    #[error("is too large")]
    TooLarge,
}

impl Money {
    pub const ZERO: Money = Money(0);

    pub const fn from_minor(minor: i64) -> Self {
        Money(minor)
    }

    pub const fn minor(self) -> i64 {
        self.0
    }

    /// The amount in currency units, for JSON numbers. Exact for every amount
    /// below 2^53 minor units: the shortest float that round-trips is printed.
    pub fn as_decimal_f64(self) -> f64 {
        self.0 as f64 / 100.0
    }

    /// Parses a non-negative decimal amount exactly: `19.99`, `5`, `1.50`,
    /// `19.990` (trailing zeros carry no value) and JSON exponents (`1e2`).
    pub fn parse(text: &str) -> Result<Money, MoneyError> {
        let text = text.trim();
        if text.is_empty() {
            return Err(MoneyError::Empty);
        }
        let (negative, unsigned) = match text.as_bytes()[0] {
            b'-' => (true, &text[1..]),
            b'+' => (false, &text[1..]),
            _ => (false, text),
        };
        let (mantissa, exponent) = match unsigned.find(['e', 'E']) {
            Some(at) => {
                let exp: i32 = unsigned[at + 1..]
                    .parse()
                    .map_err(|_| MoneyError::NotANumber)?;
                (&unsigned[..at], exp)
            }
            None => (unsigned, 0),
        };
        let (int_part, frac_part) = match mantissa.split_once('.') {
            Some((i, f)) => (i, f),
            None => (mantissa, ""),
        };
        if (int_part.is_empty() && frac_part.is_empty())
            || !int_part.bytes().all(|b| b.is_ascii_digit())
            || !frac_part.bytes().all(|b| b.is_ascii_digit())
        {
            return Err(MoneyError::NotANumber);
        }
        // Minor units: the digits up to two places after the (shifted) point;
        // any digit beyond that must be zero or the amount is refused.
        let digits = format!("{int_part}{frac_part}");
        let cents_end = int_part.len() as i64 + i64::from(exponent) + 2;
        let (kept, dropped) = if cents_end <= 0 {
            ("", digits.as_str())
        } else if cents_end as usize >= digits.len() {
            (digits.as_str(), "")
        } else {
            digits.split_at(cents_end as usize)
        };
        if dropped.bytes().any(|b| b != b'0') {
            return Err(MoneyError::TooManyDecimals);
        }
        let padding = (cents_end.max(0) as usize).saturating_sub(kept.len());
        let significant = kept.trim_start_matches('0');
        if !significant.is_empty() && significant.len() + padding > 17 {
            return Err(MoneyError::TooLarge);
        }
        let mut minor: i64 = 0;
        for b in significant.bytes() {
            minor = minor * 10 + i64::from(b - b'0');
        }
        if minor != 0 {
            for _ in 0..padding {
                minor *= 10;
            }
        }
        if negative && minor != 0 {
            return Err(MoneyError::Negative);
        }
        Ok(Money(minor))
    }
}

/// Renders as currency units with two decimals: `19.99`, `5.00`.
impl fmt::Display for Money {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let sign = if self.0 < 0 { "-" } else { "" };
        let abs = self.0.unsigned_abs();
        write!(f, "{sign}{}.{:02}", abs / 100, abs % 100)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_exact_decimals() {
        assert_eq!(Money::parse("19.99"), Ok(Money(1999)));
        assert_eq!(Money::parse("5"), Ok(Money(500)));
        assert_eq!(Money::parse("0.5"), Ok(Money(50)));
        assert_eq!(Money::parse(".5"), Ok(Money(50)));
        assert_eq!(Money::parse("1.50"), Ok(Money(150)));
        assert_eq!(Money::parse("19.990"), Ok(Money(1999)));
        assert_eq!(Money::parse("007.10"), Ok(Money(710)));
        assert_eq!(Money::parse("0"), Ok(Money(0)));
        assert_eq!(Money::parse("50000"), Ok(Money(5_000_000)));
    }

    #[test]
    fn parses_json_exponents() {
        assert_eq!(Money::parse("1e2"), Ok(Money(10_000)));
        assert_eq!(Money::parse("1.5E+1"), Ok(Money(1500)));
        assert_eq!(Money::parse("1999e-2"), Ok(Money(1999)));
        assert_eq!(Money::parse("1e-3"), Err(MoneyError::TooManyDecimals));
    }

    #[test]
    fn refuses_value_beyond_cents() {
        assert_eq!(Money::parse("19.999"), Err(MoneyError::TooManyDecimals));
        assert_eq!(Money::parse("0.001"), Err(MoneyError::TooManyDecimals));
        assert_eq!(Money::parse("0.0010"), Err(MoneyError::TooManyDecimals));
    }

    #[test]
    fn refuses_junk_negative_and_huge() {
        assert_eq!(Money::parse(""), Err(MoneyError::Empty));
        assert_eq!(Money::parse("abc"), Err(MoneyError::NotANumber));
        assert_eq!(Money::parse("1.2.3"), Err(MoneyError::NotANumber));
        assert_eq!(Money::parse("."), Err(MoneyError::NotANumber));
        assert_eq!(Money::parse("1e"), Err(MoneyError::NotANumber));
        assert_eq!(Money::parse("-1"), Err(MoneyError::Negative));
        assert_eq!(Money::parse("-0"), Ok(Money(0)));
        assert_eq!(Money::parse("1e30"), Err(MoneyError::TooLarge));
        assert_eq!(
            Money::parse("123456789012345678"),
            Err(MoneyError::TooLarge)
        );
    }

    #[test]
    fn displays_two_decimals() {
        assert_eq!(Money(1999).to_string(), "19.99");
        assert_eq!(Money(500).to_string(), "5.00");
        assert_eq!(Money(7).to_string(), "0.07");
        assert_eq!(Money(1999).as_decimal_f64().to_string(), "19.99");
    }
}

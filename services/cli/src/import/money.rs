//! Money in CSV files is written in major units with a decimal point
//! ("12.50"); the contract wants integer minor units (1250). The conversion
//! works on the decimal string itself, never through a float, so every amount
//! is exact.

/// Currencies whose minor unit is not a hundredth (ISO 4217); every other
/// code has two decimals.
const MINOR_DIGITS: &[(&str, u32)] = &[
    ("BHD", 3),
    ("BIF", 0),
    ("CLP", 0),
    ("DJF", 0),
    ("GNF", 0),
    ("IQD", 3),
    ("ISK", 0),
    ("JOD", 3),
    ("JPY", 0),
    ("KMF", 0),
    ("KRW", 0),
    ("KWD", 3),
    ("LYD", 3),
    ("OMR", 3),
    ("PYG", 0),
    ("RWF", 0),
    ("TND", 3),
    ("UGX", 0),
    ("UYI", 0),
    ("VND", 0),
    ("VUV", 0),
    ("XAF", 0),
    ("XOF", 0),
    ("XPF", 0),
];

/// Decimal digits of the currency's minor unit: 2 for USD, 0 for JPY.
pub fn minor_digits(currency: &str) -> u32 {
    MINOR_DIGITS.iter().find(|(code, _)| code.eq_ignore_ascii_case(currency)).map_or(2, |&(_, digits)| digits)
}

/// Parses an amount in major units ("-12.5", "0.99", "3") into minor units of
/// `currency`. Digits beyond the minor unit are accepted only when they are
/// zeros ("2.550" is 255 cents; "0.001" dollars is refused, not rounded).
pub fn to_minor(text: &str, currency: &str) -> Result<i64, String> {
    let digits = minor_digits(currency);
    let (negative, unsigned) = match text.as_bytes().first() {
        Some(b'-') => (true, &text[1..]),
        Some(b'+') => (false, &text[1..]),
        _ => (false, text),
    };
    let (whole, fraction) = unsigned.split_once('.').unwrap_or((unsigned, ""));
    let all_digits = |part: &str| part.bytes().all(|byte| byte.is_ascii_digit());
    if (whole.is_empty() && fraction.is_empty()) || !all_digits(whole) || !all_digits(fraction) {
        return Err(format!("{text:?} is not an amount like 12.50"));
    }
    let kept = fraction.len().min(digits as usize);
    let (fraction, dropped) = fraction.split_at(kept);
    if dropped.bytes().any(|byte| byte != b'0') {
        return Err(format!("{text:?} has more than {digits} decimals for {currency}"));
    }
    let overflow = || format!("{text:?} is too large");
    let mut minor: i64 = 0;
    for byte in whole.bytes().chain(fraction.bytes()).chain(std::iter::repeat_n(b'0', digits as usize - kept)) {
        minor =
            minor.checked_mul(10).and_then(|value| value.checked_add(i64::from(byte - b'0'))).ok_or_else(overflow)?;
    }
    Ok(if negative { -minor } else { minor })
}

/// Formats minor units as the major-unit text [`to_minor`] reads back.
pub fn to_major(minor: i64, currency: &str) -> String {
    let digits = minor_digits(currency);
    let sign = if minor < 0 { "-" } else { "" };
    let magnitude = minor.unsigned_abs();
    if digits == 0 {
        return format!("{sign}{magnitude}");
    }
    let scale = 10u64.pow(digits);
    format!("{sign}{}.{:0width$}", magnitude / scale, magnitude % scale, width = digits as usize)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_major_units_exactly() {
        assert_eq!(to_minor("12.50", "USD"), Ok(1250));
        assert_eq!(to_minor("12.5", "USD"), Ok(1250));
        assert_eq!(to_minor("12", "USD"), Ok(1200));
        assert_eq!(to_minor("0.99", "USD"), Ok(99));
        assert_eq!(to_minor(".5", "EUR"), Ok(50));
        assert_eq!(to_minor("7.", "GBP"), Ok(700));
        assert_eq!(to_minor("-3.05", "USD"), Ok(-305));
        assert_eq!(to_minor("+3.05", "USD"), Ok(305));
        assert_eq!(to_minor("2.550", "USD"), Ok(255));
        // 0.1 + 0.2 style amounts stay exact.
        assert_eq!(to_minor("0.29", "USD"), Ok(29));
        assert_eq!(to_minor("1234567.89", "USD"), Ok(123_456_789));
        assert_eq!(to_minor("92233720368547758.07", "USD"), Ok(i64::MAX));
    }

    #[test]
    fn honours_the_minor_unit_of_the_currency() {
        assert_eq!(to_minor("1500", "JPY"), Ok(1500));
        assert_eq!(to_minor("1500.0", "JPY"), Ok(1500));
        assert!(to_minor("1500.5", "JPY").is_err());
        assert_eq!(to_minor("1.234", "KWD"), Ok(1234));
        assert_eq!(minor_digits("usd"), 2);
        assert_eq!(minor_digits("jpy"), 0);
    }

    #[test]
    fn refuses_what_is_not_an_exact_amount() {
        for bad in ["", "-", ".", "1,50", "1.2.3", "1e3", "$5", " 5", "abc", "0.001", "--1"] {
            assert!(to_minor(bad, "USD").is_err(), "{bad:?} was accepted");
        }
        assert!(to_minor("92233720368547758.08", "USD").is_err());
    }

    #[test]
    fn formats_what_it_parses() {
        for (minor, text) in [(1250, "12.50"), (5, "0.05"), (0, "0.00"), (-305, "-3.05"), (100_000, "1000.00")] {
            assert_eq!(to_major(minor, "USD"), text);
            assert_eq!(to_minor(text, "USD"), Ok(minor));
        }
        assert_eq!(to_major(1500, "JPY"), "1500");
        assert_eq!(to_major(1234, "KWD"), "1.234");
    }
}

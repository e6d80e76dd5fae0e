//! Page tokens for newest-first listings: the (create_time, id) of the last
//! item served, so pages stay stable while new items are added.

use crate::ServiceError;

const PREFIX: &str = "v1.";

pub fn encode(create_time_us: i64, id: &str) -> String {
    let raw = format!("{create_time_us}:{id}");
    let hex: String = raw.bytes().map(|byte| format!("{byte:02x}")).collect();
    format!("{PREFIX}{hex}")
}

/// Decodes a token made by [`encode`]; anything else is INVALID_ARGUMENT.
pub fn decode(token: &str) -> Result<(i64, String), ServiceError> {
    let malformed =
        || ServiceError::invalid("page_token", "malformed or foreign page token; start from the first page");
    let hex = token.strip_prefix(PREFIX).ok_or_else(malformed)?;
    if hex.len() % 2 != 0 || hex.len() > 512 {
        return Err(malformed());
    }
    let bytes = (0..hex.len())
        .step_by(2)
        .map(|at| u8::from_str_radix(hex.get(at..at + 2).unwrap_or("zz"), 16))
        .collect::<Result<Vec<u8>, _>>()
        .map_err(|_| malformed())?;
    let raw = String::from_utf8(bytes).map_err(|_| malformed())?;
    let (time, id) = raw.split_once(':').ok_or_else(malformed)?;
    Ok((time.parse().map_err(|_| malformed())?, id.to_owned()))
}

/// Page size after the documented defaults: 0 means `default`, larger than
/// `max` is lowered to it, negative is INVALID_ARGUMENT.
pub fn size(requested: i32, default: u64, max: u64) -> Result<u64, ServiceError> {
    match u64::try_from(requested) {
        Err(_) => Err(ServiceError::invalid("page_size", "must not be negative")),
        Ok(0) => Ok(default),
        Ok(size) => Ok(size.min(max)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_round_trip_and_foreign_ones_are_refused() {
        let token = encode(1_764_000_000_000_000, "seg-20261124-063412-7f3a9c");
        assert_eq!(decode(&token).ok(), Some((1_764_000_000_000_000, "seg-20261124-063412-7f3a9c".to_owned())));
        for bad in ["", "abc", "v1.zz", "v1.3", "v1.616263"] {
            assert!(decode(bad).is_err(), "{bad}");
        }
    }
}

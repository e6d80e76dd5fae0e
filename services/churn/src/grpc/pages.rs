//! Page tokens of the stored-score listings. A token pins the score run and
//! the filters of the first page, so every page comes from one run and a
//! changed filter is refused.

use patron_common::ServiceError;

const PREFIX: &str = "c1.";

/// The position after the last item served, in a run, under a filter.
#[derive(Debug, Clone, PartialEq)]
pub struct Position {
    pub run_id: String,
    /// A digest of the request's other fields.
    pub filter: String,
    /// Ranked listings: the value at risk of the last item.
    pub value: i64,
    pub customer_id: String,
    /// Items before the next page (for 1-based ranks).
    pub served: i64,
}

pub fn encode(p: &Position) -> String {
    let raw = format!("{}\u{1f}{}\u{1f}{}\u{1f}{}\u{1f}{}", p.run_id, p.filter, p.value, p.served, p.customer_id);
    let hex: String = raw.bytes().map(|b| format!("{b:02x}")).collect();
    format!("{PREFIX}{hex}")
}

/// Decodes a token of a request whose filter digest is `filter`.
pub fn decode(token: &str, filter: &str) -> Result<Position, ServiceError> {
    let malformed =
        || ServiceError::invalid("page_token", "malformed or foreign page token; start from the first page");
    let hex = token.strip_prefix(PREFIX).ok_or_else(malformed)?;
    if hex.len() % 2 != 0 || hex.len() > 2048 {
        return Err(malformed());
    }
    let bytes = (0..hex.len())
        .step_by(2)
        .map(|at| u8::from_str_radix(hex.get(at..at + 2).unwrap_or("zz"), 16))
        .collect::<Result<Vec<u8>, _>>()
        .map_err(|_| malformed())?;
    let raw = String::from_utf8(bytes).map_err(|_| malformed())?;
    let parts: Vec<&str> = raw.splitn(5, '\u{1f}').collect();
    let [run_id, token_filter, value, served, customer_id] = parts.as_slice() else { return Err(malformed()) };
    if *token_filter != filter {
        return Err(ServiceError::invalid("page_token", "the request's other fields changed since the first page"));
    }
    Ok(Position {
        run_id: (*run_id).to_owned(),
        filter: filter.to_owned(),
        value: value.parse().map_err(|_| malformed())?,
        served: served.parse().map_err(|_| malformed())?,
        customer_id: (*customer_id).to_owned(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_round_trip_and_pin_the_filter() {
        let p = Position {
            run_id: "run-1".into(),
            filter: "band=2".into(),
            value: -5,
            customer_id: "c\u{1f}x".into(),
            served: 10,
        };
        assert_eq!(decode(&encode(&p), "band=2").ok(), Some(p.clone()));
        assert!(decode(&encode(&p), "band=3").is_err());
        assert!(decode("c1.zz", "band=2").is_err());
    }
}

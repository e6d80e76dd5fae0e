//! Small pieces of the gRPC wire format the gateway reads without decoding
//! messages: the `grpc-timeout` header, trailers-only status responses, and
//! whether a framed unary request carries a non-empty `request_id`.

use std::time::Duration;

use bytes::Buf;
use prost::encoding::{WireType, decode_key, decode_varint};

/// Parses `grpc-timeout` (1-8 digits and a unit: H, M, S, m, u, n).
pub use patron_common::parse_grpc_timeout as parse_timeout;

/// Formats a `grpc-timeout` value, in the finest unit that fits 8 digits.
pub fn format_timeout(timeout: Duration) -> http::HeaderValue {
    const MAX: u128 = 99_999_999;
    let micros = timeout.as_micros();
    let text = if micros <= MAX {
        format!("{}u", micros.max(1))
    } else if timeout.as_millis() <= MAX {
        format!("{}m", timeout.as_millis())
    } else {
        format!("{}S", timeout.as_secs().min(99_999_999))
    };
    // Digits and a unit letter are always a valid header value.
    http::HeaderValue::from_str(&text).unwrap_or_else(|_| http::HeaderValue::from_static("1S"))
}

/// The status code of a trailers-only response or of a trailers frame.
pub fn status_code(headers: &http::HeaderMap) -> Option<tonic::Code> {
    let value = headers.get("grpc-status")?;
    let code = value.to_str().ok()?.parse::<i32>().ok()?;
    Some(tonic::Code::from_i32(code))
}

/// Whether `frame` (one length-prefixed, uncompressed gRPC message) sets
/// string field `field` of the top-level message to something non-empty.
pub fn carries_nonempty_string(frame: &[u8], field: u32) -> bool {
    let Some((&0, rest)) = frame.split_first() else { return false };
    if rest.len() < 4 {
        return false;
    }
    let mut message = &rest[4..];
    while message.has_remaining() {
        let Ok((tag, wire_type)) = decode_key(&mut message) else { return false };
        let skip = match wire_type {
            WireType::Varint => decode_varint(&mut message).map(|_| 0).ok(),
            WireType::SixtyFourBit => Some(8),
            WireType::ThirtyTwoBit => Some(4),
            WireType::LengthDelimited => {
                let Ok(length) = decode_varint(&mut message) else { return false };
                if tag == field {
                    return length > 0;
                }
                usize::try_from(length).ok()
            }
            // Groups are not used by Patron's protos.
            WireType::StartGroup | WireType::EndGroup => None,
        };
        match skip {
            Some(length) if length <= message.remaining() => message.advance(length),
            _ => return false,
        }
    }
    false
}

#[cfg(test)]
mod tests {
    use prost::Message;

    use super::*;

    #[test]
    fn timeouts_parse_and_format_in_every_unit() {
        let parse = |text: &'static str| parse_timeout(&http::HeaderValue::from_static(text));
        assert_eq!(parse("2H"), Some(Duration::from_secs(7200)));
        assert_eq!(parse("3M"), Some(Duration::from_secs(180)));
        assert_eq!(parse("5S"), Some(Duration::from_secs(5)));
        assert_eq!(parse("250m"), Some(Duration::from_millis(250)));
        assert_eq!(parse("7u"), Some(Duration::from_micros(7)));
        assert_eq!(parse("9n"), Some(Duration::from_nanos(9)));
        assert_eq!(parse("123456789m"), None, "more than 8 digits");
        assert_eq!(parse("5x"), None);
        assert_eq!(parse("m"), None);
        for timeout in [Duration::from_micros(1500), Duration::from_secs(200), Duration::from_secs(10 * 3600)] {
            let formatted = format_timeout(timeout);
            let back = parse_timeout(&formatted).expect("parses");
            assert!(back <= timeout && timeout - back < Duration::from_secs(1), "{formatted:?}");
        }
    }

    fn framed(message: &impl Message) -> Vec<u8> {
        let body = message.encode_to_vec();
        let mut frame = vec![0_u8];
        frame.extend_from_slice(&u32::try_from(body.len()).expect("small").to_be_bytes());
        frame.extend_from_slice(&body);
        frame
    }

    #[test]
    fn a_request_id_is_found_only_when_set() {
        use patron_proto::profile::v1::{Customer, RecordOrderRequest, UpdateCustomerRequest};
        let with_id = RecordOrderRequest { request_id: "r-1".into(), order: None };
        assert!(carries_nonempty_string(&framed(&with_id), 1));
        let without = RecordOrderRequest { request_id: String::new(), order: Some(Default::default()) };
        assert!(!carries_nonempty_string(&framed(&without), 1));
        // Found after other fields, whatever their wire types.
        let customer = Customer { customer_id: "c".into(), ..Default::default() };
        let mask = prost_types::FieldMask { paths: vec!["email".into()] };
        let update =
            UpdateCustomerRequest { request_id: String::new(), customer: Some(customer), update_mask: Some(mask) };
        assert!(carries_nonempty_string(&framed(&update), 3), "field 3 follows fields 1 and 2");
        assert!(!carries_nonempty_string(&framed(&update), 1));
        // Truncated or compressed frames are not trusted.
        let frame = framed(&with_id);
        assert!(!carries_nonempty_string(&frame[..frame.len() - 2], 2));
        let mut compressed = frame.clone();
        compressed[0] = 1;
        assert!(!carries_nonempty_string(&compressed, 1));
    }
}

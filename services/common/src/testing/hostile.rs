//! Hostile requests for property-based tests: for any RPC of Patron's protos,
//! well-formed protobuf encodings of its request type whose fields take
//! random and boundary values (empty, huge, negative, NaN, out-of-range enum
//! codes, SQL and control characters, over-long text), built from the file
//! descriptor set so every request type — including ones added later — is
//! covered without a hand-written generator per message.
//!
//! Requests go over a real gRPC channel as raw bytes, so they pass through
//! tonic's decoder, the service's validation and its handler. A call must end
//! in OK or one of the error codes the services document
//! ([`DOCUMENTED_CODES`]); a panic, an internal error or a dropped connection
//! fails the property.

use std::collections::HashMap;
use std::str::FromStr;
use std::time::Duration;

use http::uri::PathAndQuery;
use proptest::prelude::*;
use proptest::test_runner::{Config, TestCaseError, TestError, TestRunner};
use prost::Message;
use prost::bytes::{Buf, BufMut};
use prost_types::field_descriptor_proto::{Label, Type};
use prost_types::{DescriptorProto, FieldDescriptorProto, FileDescriptorSet};
use tonic::client::GrpcService;
use tonic::codec::{Codec, DecodeBuf, Decoder, EncodeBuf, Encoder};
use tonic::codegen::Body;
use tonic::{Code, Status};

/// Codes a hostile request may get: the request is wrong, names something
/// absent, or asks what the current state cannot give. UNKNOWN, INTERNAL,
/// UNAVAILABLE (a crashed connection) and the like are bugs.
pub const DOCUMENTED_CODES: [Code; 8] = [
    Code::Ok,
    Code::InvalidArgument,
    Code::NotFound,
    Code::AlreadyExists,
    Code::FailedPrecondition,
    Code::Aborted,
    Code::OutOfRange,
    Code::ResourceExhausted,
];

/// Nesting depth of generated messages; deeper message fields are left unset.
const MAX_DEPTH: u32 = 4;
/// Longest repeated field generated.
const MAX_REPEATED: usize = 4;
/// Most messages sent on a client stream.
const MAX_STREAM_MESSAGES: usize = 4;
/// Most response messages read from a server stream before the call is dropped.
const MAX_RESPONSES: usize = 256;

/// One RPC of a service, as its descriptor describes it.
#[derive(Debug, Clone)]
pub struct Method {
    /// `/package.Service/Method`
    pub path: String,
    pub input_type: String,
    pub client_streaming: bool,
    pub server_streaming: bool,
}

/// Every message and service of Patron's protos, by fully qualified name.
#[derive(Debug)]
pub struct Catalogue {
    messages: HashMap<String, DescriptorProto>,
    services: HashMap<String, Vec<Method>>,
}

impl Catalogue {
    /// The catalogue of `patron_proto::FILE_DESCRIPTOR_SET`.
    pub fn patron() -> Self {
        let set = FileDescriptorSet::decode(patron_proto::FILE_DESCRIPTOR_SET).expect("the descriptor set decodes");
        let mut messages = HashMap::new();
        let mut services = HashMap::new();
        for file in &set.file {
            let package = file.package();
            for message in &file.message_type {
                collect_messages(&format!(".{package}"), message, &mut messages);
            }
            for service in &file.service {
                let methods = service
                    .method
                    .iter()
                    .map(|method| Method {
                        path: format!("/{package}.{}/{}", service.name(), method.name()),
                        input_type: method.input_type().to_owned(),
                        client_streaming: method.client_streaming(),
                        server_streaming: method.server_streaming(),
                    })
                    .collect();
                services.insert(format!("{package}.{}", service.name()), methods);
            }
        }
        Self { messages, services }
    }

    /// The RPCs of `service` (e.g. `patron.profile.v1.ProfileService`); panics if it is unknown.
    pub fn methods(&self, service: &str) -> &[Method] {
        self.services.get(service).unwrap_or_else(|| panic!("service {service} is in the descriptor set"))
    }

    /// Encodings of the message `type_name` (e.g. `.patron.profile.v1.GetCustomerRequest`).
    pub fn message(&self, type_name: &str) -> BoxedStrategy<Vec<u8>> {
        let mut cache = HashMap::new();
        self.message_at(type_name, MAX_DEPTH, &mut cache)
    }

    fn message_at(
        &self,
        type_name: &str,
        depth: u32,
        cache: &mut HashMap<(String, u32), BoxedStrategy<Vec<u8>>>,
    ) -> BoxedStrategy<Vec<u8>> {
        let key = (type_name.to_owned(), depth);
        if let Some(strategy) = cache.get(&key) {
            return strategy.clone();
        }
        let message = self.messages.get(type_name).unwrap_or_else(|| panic!("message {type_name} is known"));
        let names: Vec<String> = message.field.iter().map(|field| field.name().to_owned()).collect();
        let fields: Vec<BoxedStrategy<Vec<u8>>> =
            message.field.iter().filter_map(|field| self.field(field, depth, &names, cache)).collect();
        let strategy = fields.prop_map(|parts| parts.concat()).boxed();
        cache.insert(key, strategy.clone());
        strategy
    }

    /// Encodings of one field (tag and value, repeated or absent); `None` when
    /// the field is a message too deep to generate.
    fn field(
        &self,
        field: &FieldDescriptorProto,
        depth: u32,
        sibling_names: &[String],
        cache: &mut HashMap<(String, u32), BoxedStrategy<Vec<u8>>>,
    ) -> Option<BoxedStrategy<Vec<u8>>> {
        let number = u64::try_from(field.number()).ok()?;
        let (wire_type, value) = match field.r#type() {
            Type::Message | Type::Group => {
                if depth == 0 {
                    return None;
                }
                (2, self.message_at(field.type_name(), depth - 1, cache).prop_map(length_delimited).boxed())
            }
            Type::String => {
                (2, hostile_text(sibling_names).prop_map(|text| length_delimited(text.into_bytes())).boxed())
            }
            Type::Bytes => (2, proptest::collection::vec(any::<u8>(), 0..64).prop_map(length_delimited).boxed()),
            Type::Double => (1, hostile_double().prop_map(|value| value.to_le_bytes().to_vec()).boxed()),
            Type::Float => (5, hostile_double().prop_map(|value| (value as f32).to_le_bytes().to_vec()).boxed()),
            Type::Fixed64 | Type::Sfixed64 => {
                (1, hostile_integer().prop_map(|value| value.to_le_bytes().to_vec()).boxed())
            }
            Type::Fixed32 | Type::Sfixed32 => {
                (5, hostile_integer().prop_map(|value| (value as i32).to_le_bytes().to_vec()).boxed())
            }
            Type::Sint32 | Type::Sint64 => {
                (0, hostile_integer().prop_map(|value| varint(((value << 1) ^ (value >> 63)) as u64)).boxed())
            }
            Type::Bool => (0, prop_oneof![Just(0_u64), Just(1), Just(2)].prop_map(varint).boxed()),
            Type::Int32 | Type::Int64 | Type::Uint32 | Type::Uint64 | Type::Enum => {
                (0, hostile_integer().prop_map(|value| varint(value as u64)).boxed())
            }
        };
        let tag = varint((number << 3) | wire_type);
        let encoded = value.prop_map(move |value| [tag.as_slice(), value.as_slice()].concat());
        Some(if field.label() == Label::Repeated {
            proptest::collection::vec(encoded, 0..=MAX_REPEATED).prop_map(|values| values.concat()).boxed()
        } else {
            proptest::option::weighted(0.7, encoded).prop_map(Option::unwrap_or_default).boxed()
        })
    }
}

fn collect_messages(scope: &str, message: &DescriptorProto, into: &mut HashMap<String, DescriptorProto>) {
    let name = format!("{scope}.{}", message.name());
    for nested in &message.nested_type {
        collect_messages(&name, nested, into);
    }
    into.insert(name, message.clone());
}

fn varint(mut value: u64) -> Vec<u8> {
    let mut bytes = Vec::with_capacity(10);
    while value >= 0x80 {
        bytes.push((value as u8) | 0x80);
        value >>= 7;
    }
    bytes.push(value as u8);
    bytes
}

fn length_delimited(value: Vec<u8>) -> Vec<u8> {
    [varint(value.len() as u64), value].concat()
}

/// Integers around every boundary a request field has: zero, small counts,
/// limits and one past them, extremes of each width, timestamps around the
/// valid range of a `google.protobuf.Timestamp`, and anything else.
fn hostile_integer() -> impl Strategy<Value = i64> {
    prop_oneof![
        3 => prop::sample::select(vec![
            0_i64, 1, -1, 2, 3, 4, 7, 8, 12, 24, 30, 31, 32, 33, 50, 51, 52, 100, 101, 365, 730, 731, 999, 1_000,
            1_001, 10_000, 10_001, 1_000_000, 999_999_999, 1_000_000_000, 1_700_000_000, -62_135_596_800,
            -62_135_596_801, 253_402_300_799, 253_402_300_800, i64::from(i32::MAX), i64::from(i32::MIN),
            i64::from(u32::MAX), i64::MAX, i64::MIN,
        ]),
        1 => 0_i64..64,
        1 => any::<i64>(),
    ]
}

/// Doubles: valid shares and rates, their edges, and what no field accepts.
fn hostile_double() -> impl Strategy<Value = f64> {
    prop_oneof![
        3 => prop::sample::select(vec![
            0.0, -0.0, 0.5, 0.8, 0.9, 0.95, 0.99, 1.0, -1.0, 1.5, 2.0, 100.0, 1e-300, 1e300, f64::EPSILON,
            f64::MIN_POSITIVE, f64::MAX, f64::MIN, f64::NAN, f64::INFINITY, f64::NEG_INFINITY,
        ]),
        1 => 0.0_f64..1.0,
        1 => any::<f64>(),
    ]
}

/// Text: plausible values (so some requests get past validation), the
/// message's own field names (field masks, parameter keys), injection and
/// control characters, text at and past the stored-text limits, and random
/// Unicode.
fn hostile_text(field_names: &[String]) -> impl Strategy<Value = String> + use<> {
    let mut samples: Vec<String> = [
        "",
        "c-1",
        "c-2",
        "o-1",
        "sku-1",
        "store-1",
        "ada@example.com",
        "not-an-email",
        "+1 555 0100",
        "USD",
        "EUR",
        "JPY",
        "usd",
        "recency",
        "spend",
        "orders",
        "total",
        "active",
        "2024-01-01",
        "1.5",
        "-1",
        "'; DROP TABLE customers; --",
        "\" OR \"1\"=\"1",
        "Robert'); DROP TABLE students;--",
        "%s%n%x%p",
        "../../../etc/passwd",
        "${jndi:ldap://example.invalid/a}",
        "<script>alert(1)</script>",
        "=HYPERLINK(\"http://example.invalid\")",
        "\0",
        "a\0b",
        "\u{1}\u{1b}[31m\u{7f}",
        "line\nbreak\r\n\ttab",
        "\u{202e}gnp.exe",
        "\u{feff}bom",
        "é漢字🙂",
        "\u{10ffff}",
        "AAAA",
        "s1.AAAA",
        "m1.",
    ]
    .into_iter()
    .map(str::to_owned)
    .collect();
    samples.extend(field_names.iter().cloned());
    samples.extend([64, 65, 128, 129, 256, 257, 320, 321, 4_096, 4_097].map(|length| "a".repeat(length)));
    samples.push("é".repeat(129));
    samples.push("x".repeat(70_000));
    prop_oneof![
        4 => prop::sample::select(samples),
        1 => "\\PC{0,24}",
        1 => any::<String>(),
    ]
}

/// Passes request and response messages through as their encoded bytes.
#[derive(Debug, Clone, Copy, Default)]
struct RawCodec;

impl Codec for RawCodec {
    type Encode = Vec<u8>;
    type Decode = Vec<u8>;
    type Encoder = RawCodec;
    type Decoder = RawCodec;

    fn encoder(&mut self) -> Self::Encoder {
        RawCodec
    }

    fn decoder(&mut self) -> Self::Decoder {
        RawCodec
    }
}

impl Encoder for RawCodec {
    type Item = Vec<u8>;
    type Error = Status;

    fn encode(&mut self, item: Vec<u8>, dst: &mut EncodeBuf<'_>) -> Result<(), Status> {
        dst.put_slice(&item);
        Ok(())
    }
}

impl Decoder for RawCodec {
    type Item = Vec<u8>;
    type Error = Status;

    fn decode(&mut self, src: &mut DecodeBuf<'_>) -> Result<Option<Vec<u8>>, Status> {
        Ok(Some(src.copy_to_bytes(src.remaining()).to_vec()))
    }
}

/// Where hostile requests go: a [`Channel`](tonic::transport::Channel), or a channel wrapped to add
/// metadata (a gateway's bearer token).
pub trait Target:
    GrpcService<tonic::body::Body, ResponseBody: Body<Error: Into<tonic::codegen::StdError>> + Send + 'static> + Clone
{
}

impl<T> Target for T where
    T: GrpcService<tonic::body::Body, ResponseBody: Body<Error: Into<tonic::codegen::StdError>> + Send + 'static>
        + Clone
{
}

/// Calls `method` with `messages` (encoded requests) and reads its answer
/// (up to [`MAX_RESPONSES`] messages of a stream); the call's status.
pub async fn call<T: Target>(channel: T, method: &Method, messages: Vec<Vec<u8>>, timeout: Duration) -> Status {
    let mut grpc = tonic::client::Grpc::new(channel).max_decoding_message_size(64 * 1024 * 1024);
    if let Err(error) = grpc.ready().await {
        let error: tonic::codegen::StdError = error.into();
        return Status::unavailable(format!("channel not ready: {error}"));
    }
    let Ok(path) = PathAndQuery::from_str(&method.path) else {
        return Status::internal(format!("bad method path {}", method.path));
    };
    let mut request = tonic::Request::new(tokio_stream::iter(messages));
    request.set_timeout(timeout);
    let mut responses = match grpc.streaming(request, path, RawCodec).await {
        Ok(response) => response.into_inner(),
        Err(status) => return status,
    };
    for _ in 0..MAX_RESPONSES {
        match responses.message().await {
            Ok(Some(_)) => {}
            Ok(None) => break,
            Err(status) => return status,
        }
    }
    Status::ok("")
}

/// The property for one service: `cases` hostile requests per RPC of
/// `service` (one message per unary request, up to four on a client stream),
/// each answered with OK or a documented code, and an INVALID_ARGUMENT always
/// naming at least one field. Runs on `runtime`, where the service under test
/// is served through `channel`; a failure names the RPC and the request.
pub fn every_rpc_survives_hostile_requests(
    runtime: &tokio::runtime::Runtime,
    channel: &impl Target,
    service: &str,
    cases: u32,
) {
    let catalogue = Catalogue::patron();
    for method in catalogue.methods(service) {
        let message = catalogue.message(&method.input_type);
        let messages = if method.client_streaming {
            proptest::collection::vec(message, 1..=MAX_STREAM_MESSAGES).boxed()
        } else {
            message.prop_map(|message| vec![message]).boxed()
        };
        let config = Config { cases, failure_persistence: None, max_shrink_iters: 64, ..Config::default() };
        let mut runner = TestRunner::new(config);
        let outcome = runner.run(&messages, |messages| {
            let status = runtime.block_on(call(channel.clone(), method, messages, Duration::from_secs(20)));
            check_status(&status)
        });
        match outcome {
            Ok(()) => {}
            Err(TestError::Fail(reason, messages)) => {
                panic!("{} failed a hostile request: {reason}; request messages: {}", method.path, hex(&messages))
            }
            Err(TestError::Abort(reason)) => panic!("{}: the property was aborted: {reason}", method.path),
        }
    }
}

/// The failing request, shrunk, as hex (long ones cut), for decoding with
/// `protoc --decode` or the message type's `decode`.
fn hex(messages: &[Vec<u8>]) -> String {
    const SHOWN: usize = 2_048;
    let parts: Vec<String> = messages
        .iter()
        .map(|message| {
            let shown: String = message.iter().take(SHOWN).map(|byte| format!("{byte:02x}")).collect();
            if message.len() > SHOWN { format!("{shown}... ({} bytes)", message.len()) } else { shown }
        })
        .collect();
    parts.join(" | ")
}

fn check_status(status: &Status) -> Result<(), TestCaseError> {
    use tonic_types::StatusExt;
    if !DOCUMENTED_CODES.contains(&status.code()) {
        return Err(TestCaseError::fail(format!("undocumented {:?}: {}", status.code(), status.message())));
    }
    if status.code() == Code::InvalidArgument {
        let named = status.get_details_bad_request().is_some_and(|details| !details.field_violations.is_empty());
        if !named {
            return Err(TestCaseError::fail(format!("INVALID_ARGUMENT names no field: {}", status.message())));
        }
    }
    Ok(())
}

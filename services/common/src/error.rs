//! The one error type of Patron's services and its single mapping to a gRPC
//! [`Status`]. Handlers return `Result<_, ServiceError>`; `?` does the rest.

use tonic::{Code, Status};
use tonic_types::{ErrorDetails, StatusExt};

/// One invalid request field, reported as a google.rpc.BadRequest field violation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldViolation {
    /// Path of the field in the request, e.g. `customer.email` or `rows[3].quantity`.
    pub field: String,
    pub reason: String,
}

impl FieldViolation {
    pub fn new(field: impl Into<String>, reason: impl Into<String>) -> Self {
        Self { field: field.into(), reason: reason.into() }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    #[error("invalid argument: {}", describe_violations(.0))]
    InvalidArgument(Vec<FieldViolation>),
    #[error("{resource} {id:?} not found")]
    NotFound { resource: &'static str, id: String },
    #[error("{resource} {id:?} already exists")]
    AlreadyExists { resource: &'static str, id: String },
    /// The request is valid but the system is not in a state to serve it
    /// (e.g. too little data to train a model).
    #[error("{0}")]
    FailedPrecondition(String),
    /// The store or a backend does not answer; retrying later may succeed.
    #[error("unavailable: {0}")]
    Unavailable(String),
    #[error("resource exhausted: {0}")]
    ResourceExhausted(String),
    #[error("deadline exceeded: {0}")]
    DeadlineExceeded(String),
    /// A bug or an unexpected fault; details are logged, not returned.
    #[error("internal error: {0}")]
    Internal(String),
}

impl ServiceError {
    pub fn invalid(field: impl Into<String>, reason: impl Into<String>) -> Self {
        Self::InvalidArgument(vec![FieldViolation::new(field, reason)])
    }

    pub fn not_found(resource: &'static str, id: impl Into<String>) -> Self {
        Self::NotFound { resource, id: id.into() }
    }

    pub fn internal(error: impl std::fmt::Display) -> Self {
        Self::Internal(error.to_string())
    }

    /// The gRPC code this error is reported with.
    pub fn code(&self) -> Code {
        match self {
            Self::InvalidArgument(_) => Code::InvalidArgument,
            Self::NotFound { .. } => Code::NotFound,
            Self::AlreadyExists { .. } => Code::AlreadyExists,
            Self::FailedPrecondition(_) => Code::FailedPrecondition,
            Self::Unavailable(_) => Code::Unavailable,
            Self::ResourceExhausted(_) => Code::ResourceExhausted,
            Self::DeadlineExceeded(_) => Code::DeadlineExceeded,
            Self::Internal(_) => Code::Internal,
        }
    }

    /// The message a caller may see: internal details are logged here and
    /// replaced by a pointer to the log.
    pub fn public_message(&self) -> String {
        match self {
            Self::FailedPrecondition(message) => message.clone(),
            Self::Internal(message) => {
                tracing::error!(error = %message, "internal error");
                INTERNAL_MESSAGE.to_owned()
            }
            _ => self.to_string(),
        }
    }
}

const INTERNAL_MESSAGE: &str = "internal error; see the service log";

fn describe_violations(violations: &[FieldViolation]) -> String {
    violations
        .iter()
        .map(|violation| format!("{}: {}", violation.field, violation.reason))
        .collect::<Vec<_>>()
        .join("; ")
}

// A status travels in HTTP/2 headers (`grpc-message`, percent-encoded, and
// `grpc-status-details-bin`, base64), and a header block over the peer's limit
// breaks the call with a protocol error instead of the status. Rejections
// quote what the caller sent, which may be kilobytes long: every quoted part
// is bounded so the whole status stays a few KiB.
const MAX_MESSAGE_CHARS: usize = 1_024;
const MAX_FIELD_CHARS: usize = 200;
const MAX_REASON_CHARS: usize = 300;
const MAX_VIOLATIONS: usize = 10;

/// `text` cut to `max_chars` characters, saying how much was left out.
fn bounded(text: &str, max_chars: usize) -> String {
    match text.char_indices().nth(max_chars) {
        None => text.to_owned(),
        Some((end, _)) => format!("{}… ({} more characters)", &text[..end], text[end..].chars().count()),
    }
}

impl From<ServiceError> for Status {
    fn from(error: ServiceError) -> Self {
        let status = match error {
            ServiceError::InvalidArgument(violations) => {
                let shown: Vec<FieldViolation> = violations
                    .iter()
                    .take(MAX_VIOLATIONS)
                    .map(|violation| FieldViolation {
                        field: bounded(&violation.field, MAX_FIELD_CHARS),
                        reason: bounded(&violation.reason, MAX_REASON_CHARS),
                    })
                    .collect();
                let mut details = ErrorDetails::new();
                for violation in &shown {
                    details.add_bad_request_violation(violation.field.clone(), violation.reason.clone());
                }
                let mut message = format!("invalid argument: {}", describe_violations(&shown));
                if violations.len() > shown.len() {
                    message.push_str(&format!("; and {} more", violations.len() - shown.len()));
                }
                return Status::with_error_details(
                    Code::InvalidArgument,
                    bounded(&message, MAX_MESSAGE_CHARS),
                    details,
                );
            }
            ServiceError::NotFound { .. } => Status::not_found(error.to_string()),
            ServiceError::AlreadyExists { .. } => Status::already_exists(error.to_string()),
            ServiceError::FailedPrecondition(message) => Status::failed_precondition(message),
            ServiceError::Unavailable(message) => Status::unavailable(message),
            ServiceError::ResourceExhausted(message) => Status::resource_exhausted(message),
            ServiceError::DeadlineExceeded(message) => Status::deadline_exceeded(message),
            ServiceError::Internal(_) => Status::internal(error.public_message()),
        };
        Status::new(status.code(), bounded(status.message(), MAX_MESSAGE_CHARS))
    }
}

impl From<sea_orm::DbErr> for ServiceError {
    fn from(error: sea_orm::DbErr) -> Self {
        use sea_orm::DbErr;
        match &error {
            DbErr::ConnectionAcquire(_) | DbErr::Conn(_) => Self::Unavailable(format!("database: {error}")),
            DbErr::Exec(sea_orm::RuntimeErr::SqlxError(inner))
            | DbErr::Query(sea_orm::RuntimeErr::SqlxError(inner))
                if is_connection_fault(inner) =>
            {
                Self::Unavailable(format!("database: {error}"))
            }
            _ => Self::Internal(format!("database: {error}")),
        }
    }
}

fn is_connection_fault(error: &sea_orm::sqlx::Error) -> bool {
    use sea_orm::sqlx::Error;
    match error {
        Error::Io(_) | Error::Tls(_) | Error::PoolTimedOut | Error::PoolClosed | Error::WorkerCrashed => true,
        Error::Database(database) => database.code().is_some_and(|code| is_unavailable_sqlstate(&code)),
        _ => false,
    }
}

/// PostgreSQL's codes for "the server went away or is not accepting work
/// yet": a connection exception (class 08), or an administrator or crash
/// shutdown, or a server still starting (57P01-57P03). A stopped or
/// restarting database answers these, and a retry later may succeed.
fn is_unavailable_sqlstate(code: &str) -> bool {
    code.starts_with("08") || matches!(code, "57P01" | "57P02" | "57P03")
}

/// Collects every field violation of a request, so a caller learns all of its
/// mistakes at once rather than one per round trip.
#[derive(Debug, Default)]
pub struct Validator {
    violations: Vec<FieldViolation>,
}

impl Validator {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn violation(&mut self, field: impl Into<String>, reason: impl Into<String>) {
        self.violations.push(FieldViolation::new(field, reason));
    }

    /// Records a violation unless `ok` holds.
    pub fn check(&mut self, ok: bool, field: impl Into<String>, reason: impl Into<String>) {
        if !ok {
            self.violation(field, reason);
        }
    }

    /// A required identifier: non-empty, at most `max_chars`, no control characters.
    pub fn identifier(&mut self, field: &str, value: &str, max_chars: usize) {
        if value.is_empty() {
            self.violation(field, "must not be empty");
        } else if value.chars().count() > max_chars {
            self.violation(field, format!("must be at most {max_chars} characters"));
        } else if value.chars().any(char::is_control) {
            self.violation(field, "must not contain control characters");
        }
    }

    /// Free text: at most `max_chars`; stored verbatim. The one exception is
    /// NUL, which PostgreSQL cannot store in text, so it is refused on every
    /// store alike.
    pub fn text(&mut self, field: &str, value: &str, max_chars: usize) {
        if value.chars().count() > max_chars {
            self.violation(field, format!("must be at most {max_chars} characters"));
        } else if value.contains('\0') {
            self.violation(field, "must not contain NUL characters");
        }
    }

    pub fn is_empty(&self) -> bool {
        self.violations.is_empty()
    }

    pub fn finish(self) -> Result<(), ServiceError> {
        if self.violations.is_empty() { Ok(()) } else { Err(ServiceError::InvalidArgument(self.violations)) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn invalid_argument_carries_field_violations() {
        let mut validator = Validator::new();
        validator.identifier("customer.customer_id", "", 128);
        validator.check(false, "customer.email", "is not an email address");
        let status = Status::from(validator.finish().expect_err("two violations"));
        assert_eq!(status.code(), Code::InvalidArgument);
        assert!(status.message().contains("customer.customer_id: must not be empty"));
        let bad_request = status.get_details_bad_request().expect("bad request details");
        let fields: Vec<_> = bad_request.field_violations.iter().map(|violation| violation.field.as_str()).collect();
        assert_eq!(fields, ["customer.customer_id", "customer.email"]);
    }

    #[test]
    fn free_text_is_verbatim_except_nul() {
        let mut validator = Validator::new();
        validator.text("comment", "'; DROP TABLE orders; -- \u{7}\t\r\n", 64);
        assert!(validator.is_empty(), "{validator:?}");
        validator.text("comment", "a\0b", 64);
        let status = Status::from(validator.finish().expect_err("NUL is refused"));
        assert!(status.message().contains("comment: must not contain NUL characters"), "{status:?}");
    }

    #[test]
    fn shutdown_and_connection_sqlstates_are_unavailable() {
        for code in ["57P01", "57P02", "57P03", "08006", "08001"] {
            assert!(is_unavailable_sqlstate(code), "{code}");
        }
        for code in ["23505", "40001", "42P01", "57014"] {
            assert!(!is_unavailable_sqlstate(code), "{code}");
        }
    }

    #[test]
    fn long_quoted_values_are_bounded_in_the_status() {
        let long = "é".repeat(5_000);
        let mut validator = Validator::new();
        for index in 0..30 {
            validator.violation(format!("{long}{index}"), format!("unknown feature {long:?}"));
        }
        let status = Status::from(validator.finish().expect_err("violations"));
        assert_eq!(status.code(), Code::InvalidArgument);
        assert!(status.message().chars().count() <= super::MAX_MESSAGE_CHARS + 40, "{}", status.message().len());
        assert!(status.message().contains("more characters"));
        let details = status.get_error_details();
        let violations = details.bad_request().expect("field violations").field_violations.clone();
        assert_eq!(violations.len(), super::MAX_VIOLATIONS);
        assert!(violations.iter().all(|violation| violation.field.chars().count() <= super::MAX_FIELD_CHARS + 40));

        let missing = Status::from(ServiceError::not_found("customer", long.clone()));
        assert_eq!(missing.code(), Code::NotFound);
        assert!(missing.message().chars().count() <= super::MAX_MESSAGE_CHARS + 40);
        let short = Status::from(ServiceError::FailedPrecondition("no active model".into()));
        assert_eq!((short.code(), short.message()), (Code::FailedPrecondition, "no active model"));
    }

    #[test]
    fn internal_errors_hide_details() {
        let status = Status::from(ServiceError::internal("secret connection string"));
        assert_eq!(status.code(), Code::Internal);
        assert!(!status.message().contains("secret"));
    }
}

//! How a failed command ends: one line on stderr naming what was being done
//! and, for a failed call, the gRPC status code; and an exit code scripts can
//! branch on.
//!
//! Exit codes:
//!   0  success
//!   1  any other failure (a job failed, a file could not be written, INTERNAL...)
//!   2  usage: a bad flag or value (`patron import` also: some rows were rejected)
//!   3  NOT_FOUND: no such model version, segment, forecast...
//!   4  INVALID_ARGUMENT or OUT_OF_RANGE: the service refused a value
//!   5  UNAVAILABLE, DEADLINE_EXCEEDED or RESOURCE_EXHAUSTED: retry later
//!   6  UNAUTHENTICATED or PERMISSION_DENIED: check the token and its role
//!   7  FAILED_PRECONDITION, ABORTED or ALREADY_EXISTS: the state does not allow it (e.g. nothing active)

use std::process::ExitCode;

use tonic::{Code, Status};

pub const EXIT_CODES_HELP: &str = "\
Exit codes:
  0  success
  1  any other failure (a job failed, a file could not be written, INTERNAL...)
  2  usage: a bad flag or value (`patron import` also: some rows were rejected)
  3  NOT_FOUND: no such model version, segment, forecast...
  4  INVALID_ARGUMENT or OUT_OF_RANGE: the service refused a value
  5  UNAVAILABLE, DEADLINE_EXCEEDED or RESOURCE_EXHAUSTED: retry later
  6  UNAUTHENTICATED or PERMISSION_DENIED: check the token and its role
  7  FAILED_PRECONDITION, ABORTED or ALREADY_EXISTS: the state does not allow it

The gateway is --addr, else PATRON_ADDR, else `addr` in the config file
(--config, PATRON_CONFIG, default ~/.config/patron/config), else
http://127.0.0.1:50051. The token is --token, else PATRON_TOKEN, else `token`
in the config file, else the key `patron up` wrote (--token-file).";

/// A failure that decides the exit code; other errors exit with 1.
#[derive(Debug)]
pub enum Failure {
    /// A gRPC call failed while doing something.
    Call { doing: String, status: Status },
    /// A value given on the command line is unusable.
    Usage(String),
}

impl Failure {
    pub fn call(doing: impl Into<String>, status: Status) -> anyhow::Error {
        anyhow::Error::new(Self::Call { doing: doing.into(), status })
    }

    pub fn usage(message: impl Into<String>) -> anyhow::Error {
        anyhow::Error::new(Self::Usage(message.into()))
    }

    fn exit_code(&self) -> u8 {
        match self {
            Self::Usage(_) => 2,
            Self::Call { status, .. } => exit_code_of(status.code()),
        }
    }
}

impl std::fmt::Display for Failure {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Call { doing, status } => {
                // One line: a multi-line message from a server is joined.
                let message = status.message().split_whitespace().collect::<Vec<_>>().join(" ");
                write!(formatter, "{doing}: {}: {message}", code_name(status.code()))
            }
            Self::Usage(message) => formatter.write_str(message),
        }
    }
}

impl std::error::Error for Failure {}

/// Extension for results of generated clients: names what the call was for.
pub trait CallContext<T> {
    fn doing(self, doing: impl Into<String>) -> anyhow::Result<T>;
}

impl<T> CallContext<T> for Result<T, Status> {
    fn doing(self, doing: impl Into<String>) -> anyhow::Result<T> {
        self.map_err(|status| Failure::call(doing, status))
    }
}

pub fn exit_code_of(code: Code) -> u8 {
    match code {
        Code::Ok => 0,
        Code::NotFound => 3,
        Code::InvalidArgument | Code::OutOfRange => 4,
        Code::Unavailable | Code::DeadlineExceeded | Code::ResourceExhausted => 5,
        Code::Unauthenticated | Code::PermissionDenied => 6,
        Code::FailedPrecondition | Code::Aborted | Code::AlreadyExists => 7,
        Code::Cancelled | Code::Unknown | Code::Unimplemented | Code::Internal | Code::DataLoss => 1,
    }
}

/// The canonical name, as gRPC documents and other clients print it:
/// `NotFound` becomes `NOT_FOUND`.
pub fn code_name(code: Code) -> String {
    let mut name = String::new();
    for (index, letter) in format!("{code:?}").chars().enumerate() {
        if letter.is_ascii_uppercase() && index > 0 {
            name.push('_');
        }
        name.push(letter.to_ascii_uppercase());
    }
    name
}

/// Prints the error as one line and picks the exit code.
pub fn report(error: &anyhow::Error) -> ExitCode {
    let failure = error.chain().find_map(|cause| cause.downcast_ref::<Failure>());
    let line = format!("{error:#}").split_whitespace().collect::<Vec<_>>().join(" ");
    eprintln!("patron: {line}");
    ExitCode::from(failure.map_or(1, Failure::exit_code))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_codes_map_to_documented_exit_codes() {
        assert_eq!(exit_code_of(Code::NotFound), 3);
        assert_eq!(exit_code_of(Code::InvalidArgument), 4);
        assert_eq!(exit_code_of(Code::Unavailable), 5);
        assert_eq!(exit_code_of(Code::PermissionDenied), 6);
        assert_eq!(exit_code_of(Code::FailedPrecondition), 7);
        assert_eq!(exit_code_of(Code::Internal), 1);
        assert_eq!(code_name(Code::Ok), "OK");
        assert_eq!(code_name(Code::InvalidArgument), "INVALID_ARGUMENT");
        assert_eq!(code_name(Code::Unauthenticated), "UNAUTHENTICATED");
    }

    #[test]
    fn a_call_failure_is_one_line_with_the_code_name() {
        let error = Failure::call("showing churn model x", Status::not_found("no model\nversion x"));
        assert_eq!(error.to_string(), "showing churn model x: NOT_FOUND: no model version x");
        let wrapped = error.context("models show");
        assert_eq!(wrapped.chain().find_map(|cause| cause.downcast_ref::<Failure>()).map(Failure::exit_code), Some(3));
    }
}

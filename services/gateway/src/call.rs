//! One call's life after the gate let it in: its access-log line, and a
//! response body that enforces the call's deadline while it streams.

use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body::{Body, Frame, SizeHint};
use tokio::sync::OwnedSemaphorePermit;
use tokio::time::Sleep;
use tonic::Code;

use crate::auth::Principal;
use crate::wire;

/// The gateway answers DEADLINE_EXCEEDED this much before the caller's
/// deadline: at the deadline itself the server's own timer would win and
/// report CANCELLED instead.
pub const DEADLINE_MARGIN: Duration = Duration::from_millis(3);

/// Writes one access-log line when the call ends: RPC, principal, role,
/// status and latency; never the credential, the request or the response.
pub struct CallRecord {
    rpc: &'static str,
    principal: Principal,
    request_id: Option<Arc<str>>,
    started: Instant,
    logged: bool,
    /// The backend's concurrency slot, held until the response ends.
    permit: Option<OwnedSemaphorePermit>,
}

impl CallRecord {
    pub fn new(rpc: &'static str, principal: Principal, request_id: Option<Arc<str>>, started: Instant) -> Self {
        Self { rpc, principal, request_id, started, logged: false, permit: None }
    }

    pub fn hold(&mut self, permit: Option<OwnedSemaphorePermit>) {
        self.permit = permit;
    }

    pub fn finish(&mut self, code: Code) {
        if std::mem::replace(&mut self.logged, true) {
            return;
        }
        self.permit = None;
        // Outside the rpc span: the line carries what it needs, and is
        // cheaper to format and to skip for span exporters.
        tracing::info!(
            target: "patron_gateway::access",
            parent: None,
            rpc = self.rpc,
            principal = &*self.principal.name,
            role = self.principal.role.name(),
            request_id = self.request_id.as_deref().unwrap_or(""),
            code = ?code,
            latency_ms = self.started.elapsed().as_secs_f64() * 1e3,
            "rpc"
        );
    }
}

impl Drop for CallRecord {
    fn drop(&mut self) {
        // Dropped before an outcome was seen: the client went away.
        self.finish(Code::Cancelled);
    }
}

/// A trailers map carrying `code` and `message`.
pub fn status_trailers(code: Code, message: &str) -> http::HeaderMap {
    let mut trailers = http::HeaderMap::new();
    trailers.insert("grpc-status", http::HeaderValue::from(code as i32));
    if let Ok(value) = http::HeaderValue::from_str(message) {
        trailers.insert("grpc-message", value);
    }
    trailers
}

pin_project_lite::pin_project! {
    /// The backend's response body, ended with DEADLINE_EXCEEDED if the
    /// deadline passes first, and logged when it ends.
    pub struct CallBody<B> {
        #[pin]
        inner: B,
        #[pin]
        timer: Sleep,
        deadline: Instant,
        record: Option<CallRecord>,
        passthrough: bool,
        ended: bool,
    }
}

impl<B> CallBody<B> {
    /// `record` is `None` when the call already ended in the headers.
    pub fn new(inner: B, deadline: Instant, record: Option<CallRecord>) -> Self {
        let passthrough = record.is_none();
        let timer = tokio::time::sleep_until(deadline.checked_sub(DEADLINE_MARGIN).unwrap_or(deadline).into());
        Self { inner, timer, deadline, record, passthrough, ended: false }
    }
}

impl<B> Body for CallBody<B>
where
    B: Body<Data = Bytes>,
{
    type Data = Bytes;
    type Error = B::Error;

    fn poll_frame(self: Pin<&mut Self>, context: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        let mut this = self.project();
        if *this.passthrough {
            // A trailers-only response: nothing to watch.
            return this.inner.poll_frame(context);
        }
        if *this.ended {
            return Poll::Ready(None);
        }
        match this.inner.as_mut().poll_frame(context) {
            Poll::Ready(Some(Ok(frame))) => {
                let Some(trailers) = frame.trailers_ref() else { return Poll::Ready(Some(Ok(frame))) };
                let mut code = wire::status_code(trailers).unwrap_or(Code::Unknown);
                *this.ended = true;
                let frame = if code == Code::Cancelled && Instant::now() + DEADLINE_MARGIN >= *this.deadline {
                    code = Code::DeadlineExceeded;
                    Frame::trailers(status_trailers(code, "deadline exceeded"))
                } else {
                    frame
                };
                if let Some(mut record) = this.record.take() {
                    record.finish(code);
                }
                Poll::Ready(Some(Ok(frame)))
            }
            Poll::Ready(Some(Err(_))) => {
                // The backend went away mid-response: end the call cleanly.
                *this.ended = true;
                if let Some(mut record) = this.record.take() {
                    record.finish(Code::Unavailable);
                }
                let trailers = status_trailers(Code::Unavailable, "backend connection lost");
                Poll::Ready(Some(Ok(Frame::trailers(trailers))))
            }
            Poll::Ready(None) => {
                *this.ended = true;
                if let Some(mut record) = this.record.take() {
                    record.finish(Code::Unknown);
                }
                Poll::Ready(None)
            }
            Poll::Pending => match this.timer.poll(context) {
                Poll::Ready(()) => {
                    *this.ended = true;
                    if let Some(mut record) = this.record.take() {
                        record.finish(Code::DeadlineExceeded);
                    }
                    Poll::Ready(Some(Ok(Frame::trailers(status_trailers(Code::DeadlineExceeded, "deadline exceeded")))))
                }
                Poll::Pending => Poll::Pending,
            },
        }
    }

    fn is_end_stream(&self) -> bool {
        if self.passthrough { self.inner.is_end_stream() } else { self.ended }
    }

    fn size_hint(&self) -> SizeHint {
        if !self.passthrough && self.ended { SizeHint::with_exact(0) } else { self.inner.size_hint() }
    }
}

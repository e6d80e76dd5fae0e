//! Calls from one Patron service to another (segmentation and churn read the
//! profile service's exports, forecast reads segment members, the gateway
//! fans out). Every such call carries the caller's trace context and, when
//! configured, the internal credential that backends require of callers
//! other than the gateway.

use std::time::Duration;

use secrecy::{ExposeSecret, SecretString};
use tonic::metadata::{AsciiMetadataValue, MetadataValue};
use tonic::service::interceptor::InterceptedService;
use tonic::transport::{Channel, Endpoint};

use crate::telemetry::inject_current_context;

/// Metadata key of the internal credential shared by Patron's services.
pub const INTERNAL_TOKEN_HEADER: &str = "x-patron-internal-token";

/// A channel to another Patron service; use it with any generated client,
/// e.g. `ProfileServiceClient<UpstreamChannel>`.
pub type UpstreamChannel = InterceptedService<Channel, UpstreamInterceptor>;

/// Adds trace context and the internal credential to every outgoing call.
#[derive(Clone, Default)]
pub struct UpstreamInterceptor {
    internal_token: Option<AsciiMetadataValue>,
}

impl UpstreamInterceptor {
    /// `internal_token` must be printable ASCII (it travels as metadata).
    pub fn new(internal_token: Option<&SecretString>) -> anyhow::Result<Self> {
        let internal_token = internal_token
            .map(|token| {
                let mut value = MetadataValue::try_from(token.expose_secret())
                    .map_err(|_| anyhow::anyhow!("the internal token must be printable ASCII"))?;
                value.set_sensitive(true);
                anyhow::Ok(value)
            })
            .transpose()?;
        Ok(Self { internal_token })
    }
}

impl tonic::service::Interceptor for UpstreamInterceptor {
    fn call(&mut self, mut request: tonic::Request<()>) -> Result<tonic::Request<()>, tonic::Status> {
        inject_current_context(request.metadata_mut());
        if let Some(token) = &self.internal_token {
            request.metadata_mut().insert(INTERNAL_TOKEN_HEADER, token.clone());
        }
        Ok(request)
    }
}

/// A lazily connecting channel to `url`: a peer that is down makes calls fail
/// with UNAVAILABLE instead of failing this service's start.
pub fn connect_lazy(
    url: &str,
    internal_token: Option<&SecretString>,
    connect_timeout: Duration,
) -> anyhow::Result<UpstreamChannel> {
    let channel = Endpoint::from_shared(url.to_owned())
        .map_err(|error| anyhow::anyhow!("invalid upstream URL {url:?}: {error}"))?
        .connect_timeout(connect_timeout)
        .tcp_nodelay(true)
        .connect_lazy();
    Ok(InterceptedService::new(channel, UpstreamInterceptor::new(internal_token)?))
}

//! Logging and tracing: `tracing` to stdout (text or JSON), OpenTelemetry spans
//! exported over OTLP/gRPC when an endpoint is configured, and W3C trace
//! context carried across every gRPC hop.
//!
//! The OpenTelemetry layer is installed even without an exporter so that every
//! span has a trace id to propagate; exporting is what the endpoint switches on.

use opentelemetry::propagation::{Extractor, Injector, TextMapPropagator};
use opentelemetry::trace::TracerProvider as _;
use opentelemetry_sdk::propagation::TraceContextPropagator;
use opentelemetry_sdk::trace::SdkTracerProvider;
use std::io::IsTerminal;
use tracing_opentelemetry::OpenTelemetrySpanExt;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{EnvFilter, Layer};

use crate::config::{LogFormat, TelemetryConfig};
use crate::log_writer::{LogWriter, LogWriterGuard};

/// Flushes and stops span export when dropped; keep it alive in `main`.
#[must_use = "dropping the guard stops trace export"]
pub struct TelemetryGuard {
    provider: SdkTracerProvider,
    /// Dropped after the provider, so its last messages are written too.
    _log_writer: LogWriterGuard,
}

impl Drop for TelemetryGuard {
    fn drop(&mut self) {
        if let Err(error) = self.provider.shutdown() {
            eprintln!("trace export did not shut down cleanly: {error}");
        }
    }
}

/// Installs the global subscriber. Call once, at the top of `main`.
pub fn init(service_name: &'static str, config: &TelemetryConfig) -> anyhow::Result<TelemetryGuard> {
    let filter = EnvFilter::try_from_default_env().or_else(|_| EnvFilter::try_new(&config.log_filter))?;
    let endpoint = std::env::var("OTEL_EXPORTER_OTLP_ENDPOINT")
        .ok()
        .filter(|endpoint| !endpoint.is_empty())
        .or_else(|| config.otlp_endpoint.clone());

    let resource = opentelemetry_sdk::Resource::builder().with_service_name(format!("patron-{service_name}")).build();
    let mut provider = SdkTracerProvider::builder().with_resource(resource);
    if let Some(endpoint) = &endpoint {
        use opentelemetry_otlp::WithExportConfig;
        let exporter = opentelemetry_otlp::SpanExporter::builder().with_tonic().with_endpoint(endpoint).build()?;
        provider = provider.with_batch_exporter(exporter);
    }
    let provider = provider.build();
    opentelemetry::global::set_text_map_propagator(TraceContextPropagator::new());
    let otel_layer = tracing_opentelemetry::layer().with_tracer(provider.tracer(service_name));

    // Lines are written by a background thread, not on the request path.
    let (writer, log_writer_guard) = LogWriter::stdout()?;
    let fmt_layer = match config.log_format {
        LogFormat::Json => tracing_subscriber::fmt::layer().json().with_current_span(false).with_writer(writer).boxed(),
        // Colour only for a terminal: `patron up` and orchestrators send the output to files.
        LogFormat::Text => tracing_subscriber::fmt::layer()
            .with_target(true)
            .with_ansi(std::io::stdout().is_terminal())
            .with_writer(writer)
            .boxed(),
    };
    tracing_subscriber::registry().with(filter).with(fmt_layer).with(otel_layer).try_init()?;
    if let Some(endpoint) = endpoint {
        tracing::info!(%endpoint, "exporting traces over otlp");
    }
    Ok(TelemetryGuard { provider, _log_writer: log_writer_guard })
}

/// Sets `span`'s parent from the `traceparent` header of an incoming request.
pub fn adopt_remote_parent(span: &tracing::Span, headers: &http::HeaderMap) {
    let context = TraceContextPropagator::new().extract(&HeaderExtractor(headers));
    // Fails only when the span is disabled; nothing to adopt then.
    let _ = span.set_parent(context);
}

/// Writes the current span's trace context into outgoing gRPC metadata.
pub fn inject_current_context(metadata: &mut tonic::metadata::MetadataMap) {
    let context = tracing::Span::current().context();
    TraceContextPropagator::new().inject_context(&context, &mut MetadataInjector(metadata));
}

/// A tonic client interceptor that propagates the caller's trace context.
#[derive(Debug, Clone, Copy, Default)]
pub struct TraceContextInterceptor;

impl tonic::service::Interceptor for TraceContextInterceptor {
    fn call(&mut self, mut request: tonic::Request<()>) -> Result<tonic::Request<()>, tonic::Status> {
        inject_current_context(request.metadata_mut());
        Ok(request)
    }
}

struct HeaderExtractor<'a>(&'a http::HeaderMap);

impl Extractor for HeaderExtractor<'_> {
    fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key).and_then(|value| value.to_str().ok())
    }

    fn keys(&self) -> Vec<&str> {
        self.0.keys().map(http::HeaderName::as_str).collect()
    }
}

struct MetadataInjector<'a>(&'a mut tonic::metadata::MetadataMap);

impl Injector for MetadataInjector<'_> {
    fn set(&mut self, key: &str, value: String) {
        let Ok(key) = tonic::metadata::MetadataKey::from_bytes(key.as_bytes()) else { return };
        if let Ok(value) = tonic::metadata::MetadataValue::try_from(value.as_str()) {
            self.0.insert(key, value);
        }
    }
}

/// Writes the current span's trace context into outgoing HTTP headers
/// (for relayed calls that never become a tonic request).
pub fn inject_current_context_into_headers(headers: &mut http::HeaderMap) {
    let context = tracing::Span::current().context();
    TraceContextPropagator::new().inject_context(&context, &mut HeaderInjector(headers));
}

struct HeaderInjector<'a>(&'a mut http::HeaderMap);

impl Injector for HeaderInjector<'_> {
    fn set(&mut self, key: &str, value: String) {
        let Ok(name) = http::HeaderName::from_bytes(key.as_bytes()) else { return };
        if let Ok(value) = http::HeaderValue::from_str(&value) {
            self.0.insert(name, value);
        }
    }
}

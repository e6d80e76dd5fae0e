//! TLS on the gateway's listener, with and without client certificates
//! (test certificates in tests/fixtures, signed by a test CA).

use std::path::PathBuf;

use patron_gateway::config::TlsConfig;
use tonic::Code;
use tonic::transport::{Certificate, Channel, ClientTlsConfig, Identity};

use crate::helpers::{TestGateway, call_raw, with_bearer};

const READ: &str = "/patron.churn.v1.ChurnService/GetJob";

fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures").join(name)
}

fn pem(name: &str) -> Vec<u8> {
    std::fs::read(fixture(name)).expect("fixture")
}

async fn tls_channel(gateway: &TestGateway, client_identity: bool) -> Result<Channel, tonic::transport::Error> {
    let mut tls = ClientTlsConfig::new().ca_certificate(Certificate::from_pem(pem("ca.pem"))).domain_name("localhost");
    if client_identity {
        tls = tls.identity(Identity::from_pem(pem("client.pem"), pem("client-key.pem")));
    }
    Channel::from_shared(format!("https://127.0.0.1:{}", gateway.addr.port()))
        .expect("uri")
        .tls_config(tls)?
        .connect()
        .await
}

#[tokio::test]
async fn the_gateway_serves_tls_and_refuses_plaintext() {
    let gateway = TestGateway::start_with(|config| {
        config.tls = TlsConfig {
            cert_file: Some(fixture("server.pem")),
            key_file: Some(fixture("server-key.pem")),
            client_ca_file: None,
        };
    })
    .await;
    let channel = tls_channel(&gateway, false).await.expect("TLS handshake");
    call_raw(with_bearer(channel, Some(&crate::helpers::key_of(patron_gateway::rpc_table::Role::Reader))), READ, None)
        .await
        .expect("a call over TLS");
    let plaintext = call_raw(gateway.admin(), READ, None).await.expect_err("plaintext refused");
    assert_ne!(plaintext.code(), Code::Ok);
}

#[tokio::test]
async fn with_a_client_ca_only_clients_with_a_certificate_get_in() {
    let gateway = TestGateway::start_with(|config| {
        config.tls = TlsConfig {
            cert_file: Some(fixture("server.pem")),
            key_file: Some(fixture("server-key.pem")),
            client_ca_file: Some(fixture("ca.pem")),
        };
    })
    .await;
    let with_certificate = tls_channel(&gateway, true).await.expect("mutual TLS");
    call_raw(
        with_bearer(with_certificate, Some(&crate::helpers::key_of(patron_gateway::rpc_table::Role::Admin))),
        READ,
        None,
    )
    .await
    .expect("a call with a client certificate");
    let refused = match tls_channel(&gateway, false).await {
        Err(_) => true,
        Ok(channel) => call_raw(with_bearer(channel, None), READ, None)
            .await
            .is_err_and(|status| status.code() == Code::Unavailable || status.code() == Code::Unknown),
    };
    assert!(refused, "a client without a certificate is turned away at the handshake");
}

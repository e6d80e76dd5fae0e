//! Secrets given by environment — the internal token, the API-key pepper,
//! the JWT secret, the database password inside its URL — never appear in a
//! log line or in an error message a caller gets, whether the calls succeed,
//! are refused, or fail because the database or a backend is down, and not
//! when a service refuses to start over a bad setting either.

use std::path::Path;
use std::time::Duration;

use patron_proto::profile::v1 as pb;
use patron_proto::profile::v1::profile_service_client::ProfileServiceClient;
use patron_tests::{Credential, call_raw, free_port_base};
use tonic::service::interceptor::InterceptedService;
use tonic::transport::Channel;
use tonic_health::pb::health_check_response::ServingStatus;

use crate::service_process::ServiceProcess;

const INTERNAL_TOKEN: &str = "secret-internal-token-9d41";
const PEPPER: &str = "secret-pepper-77ab";
const JWT_SECRET: &str = "secret-jwt-key-5c3e";
const DB_PASSWORD: &str = "secret-db-password-0f6b";
const API_KEY: &str = "pak_secret_admin_key_42";
const SECRETS: [&str; 5] = [INTERNAL_TOKEN, PEPPER, JWT_SECRET, DB_PASSWORD, API_KEY];

fn assert_no_secret(what: &str, text: &str) {
    for secret in SECRETS {
        assert!(!text.contains(secret), "{what} contains the secret {secret:?}: {text}");
    }
}

fn gateway_channel(port: u16, token: &str) -> InterceptedService<Channel, Credential> {
    let channel = Channel::from_shared(format!("http://127.0.0.1:{port}")).expect("uri").connect_lazy();
    InterceptedService::new(channel, Credential::bearer(Some(token)))
}

fn hs256(secret: &str, expires_in: i64) -> String {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.as_secs() as i64);
    let claims = serde_json::json!({
        "sub": "secrets-test", "role": "admin", "iss": "https://idp.test", "aud": "patron", "exp": now + expires_in,
    });
    let key = jsonwebtoken::EncodingKey::from_secret(secret.as_bytes());
    jsonwebtoken::encode(&jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256), &claims, &key).expect("signs")
}

/// Runs a service that must refuse to start; returns what it printed.
async fn refused_start(name: &str, port: u16, env: &[(&str, String)], log: &Path) -> String {
    let mut process = ServiceProcess::spawn(name, port, INTERNAL_TOKEN, env, log);
    let status = tokio::time::timeout(Duration::from_secs(30), process.child.wait())
        .await
        .expect("a bad setting stops the service at once")
        .expect("exit status");
    assert!(!status.success(), "{name} refuses to start: {}", process.log_text());
    process.log_text()
}

#[tokio::test(flavor = "multi_thread")]
async fn secrets_from_the_environment_stay_out_of_logs_and_error_messages() {
    let _shared = crate::alone::shared().await; // the overload test runs alone
    let base = free_port_base();
    let dir = std::env::temp_dir().join(format!("patron-secrets-{}-{base}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    // PostgreSQL on a port where nothing listens: the profile service stays NOT_SERVING.
    let unreachable_database = format!("postgres://patron:{DB_PASSWORD}@127.0.0.1:{}/patron", base + 20);
    let profile = ServiceProcess::spawn(
        "profile",
        base + 10,
        INTERNAL_TOKEN,
        &[("PATRON_DATABASE__URL", unreachable_database.clone())],
        &dir.join("profile.log"),
    );
    let hash = patron_gateway::auth::hash_api_key(&secrecy::SecretString::from(PEPPER), API_KEY);
    let gateway_env = [
        ("PATRON_AUTH__PEPPER", PEPPER.to_owned()),
        ("PATRON_AUTH__API_KEYS", format!(r#"[{{name="secrets-test",role="admin",hash="{hash}"}}]"#)),
        ("PATRON_AUTH__JWT__HS256_SECRET", JWT_SECRET.to_owned()),
        ("PATRON_AUTH__JWT__ISSUER", "https://idp.test".to_owned()),
        ("PATRON_BACKENDS__PROFILE", format!("http://127.0.0.1:{}", base + 10)),
        // Segmentation, forecast and churn are not running at all.
        ("PATRON_BACKENDS__SEGMENTATION", format!("http://127.0.0.1:{}", base + 11)),
        ("PATRON_BACKENDS__FORECAST", format!("http://127.0.0.1:{}", base + 12)),
        ("PATRON_BACKENDS__CHURN", format!("http://127.0.0.1:{}", base + 13)),
    ];
    let gateway = ServiceProcess::spawn("gateway", base, INTERNAL_TOKEN, &gateway_env, &dir.join("gateway.log"));
    gateway.wait_for(ServingStatus::Serving, Duration::from_secs(30)).await;
    tokio::time::sleep(Duration::from_secs(1)).await; // the profile service logs its failed database checks

    let mut messages = Vec::new();
    let valid_jwt = hs256(JWT_SECRET, 300);
    for token in [
        API_KEY.to_owned(),
        valid_jwt.clone(),
        format!("{API_KEY}x"),
        hs256("not-the-secret", 300),
        hs256(JWT_SECRET, -3_600),
    ] {
        for path in [
            "/patron.profile.v1.ProfileService/GetCustomer",
            "/patron.profile.v1.ProfileService/CreateCustomer",
            "/patron.churn.v1.ChurnService/GetJob",
            "/patron.gateway.v1.InsightService/GetCustomer360",
        ] {
            if let Err(status) = call_raw(gateway_channel(base, &token), path).await {
                messages.push(format!("{path}: {:?} {}", status.code(), status.message()));
            }
        }
    }
    let down = ProfileServiceClient::new(gateway_channel(base, API_KEY))
        .get_customer(pb::GetCustomerRequest { customer_id: "c-1".into() })
        .await
        .expect_err("the profile service's database is down");
    assert_eq!(down.code(), tonic::Code::Unavailable, "{down:?}");
    // A direct call with a wrong internal token.
    let wrong = ProfileServiceClient::new(InterceptedService::new(
        Channel::from_shared(format!("http://127.0.0.1:{}", base + 10)).expect("uri").connect_lazy(),
        Credential::internal("secret-internal-token-guess"),
    ))
    .get_customer(pb::GetCustomerRequest { customer_id: "c-1".into() })
    .await
    .expect_err("refused");
    messages.push(wrong.message().to_owned());
    assert!(messages.len() >= 20, "the calls failed as set up: {messages:?}");
    for message in &messages {
        assert_no_secret("an error message", message);
    }

    // Bad settings next to the secrets: each service refuses to start and says why, without them.
    let bad_settings = [
        ("bad-port", format!("postgres://patron:{DB_PASSWORD}@127.0.0.1:notaport/patron"), None),
        ("bad-scheme", format!("mysql://patron:{DB_PASSWORD}@127.0.0.1/patron"), None),
        ("bad-limit", unreachable_database.clone(), Some(("PATRON_SERVER__MAX_CONCURRENT_CALLS", "many".to_owned()))),
    ];
    for (offset, (what, url, extra)) in bad_settings.into_iter().enumerate() {
        let mut env = vec![("PATRON_DATABASE__URL", url)];
        env.extend(extra);
        let log = dir.join(format!("profile-{what}.log"));
        let printed = refused_start("profile", base + 14 + offset as u16, &env, &log).await;
        assert_no_secret(what, &printed);
    }
    let printed = refused_start(
        "gateway",
        base + 17,
        &[
            ("PATRON_AUTH__PEPPER", PEPPER.to_owned()),
            ("PATRON_AUTH__JWT__HS256_SECRET", JWT_SECRET.to_owned()),
            ("PATRON_AUTH__API_KEYS", r#"[{name="broken",role="admin",hash="not-hex"}]"#.to_owned()),
        ],
        &dir.join("gateway-bad-key.log"),
    )
    .await;
    assert_no_secret("a refused gateway start", &printed);

    for process in [&gateway, &profile] {
        nix::sys::signal::kill(process.pid(), nix::sys::signal::Signal::SIGTERM).expect("SIGTERM");
    }
    let (mut gateway, mut profile) = (gateway, profile);
    for process in [&mut gateway, &mut profile] {
        let _ = tokio::time::timeout(Duration::from_secs(20), process.child.wait()).await;
    }
    for process in [&gateway, &profile] {
        let logs = process.log_text();
        assert!(logs.lines().count() >= 2, "{} logged: {logs}", process.log.display());
        assert_no_secret("a service log", &logs);
    }
    let _ = std::fs::remove_dir_all(&dir);
}

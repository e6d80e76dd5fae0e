//! The authorisation matrix, generated from the role table: every public RPC
//! called with every role, once as an API key and once as an HS256 JWT, must
//! be let through exactly when the role reaches the RPC's and refused with
//! PERMISSION_DENIED otherwise. Expired, not-yet-valid, wrong-audience,
//! wrong-issuer, foreign-signed and tampered JWTs, and API keys removed from
//! the configuration, are UNAUTHENTICATED on every RPC.

use patron_gateway::rpc_table::{RPC_TABLE, Role};
use secrecy::SecretString;
use tonic::Code;

use crate::helpers::{TestGateway, call_raw, channel, key_of, with_bearer};

const JWT_SECRET: &str = "matrix-jwt-secret";
const ISSUER: &str = "https://idp.matrix.test";
const AUDIENCE: &str = "patron";

async fn gateway_accepting_jwts() -> TestGateway {
    TestGateway::start_with(|config| {
        config.auth.jwt.hs256_secret = Some(SecretString::from(JWT_SECRET));
        config.auth.jwt.issuer = ISSUER.into();
        config.auth.jwt.audience = AUDIENCE.into();
        config.auth.jwt.leeway_secs = 0;
    })
    .await
}

fn now() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |elapsed| elapsed.as_secs() as i64)
}

/// Valid claims for `role`, with `changes` applied on top.
fn claims(role: Role, changes: serde_json::Value) -> serde_json::Value {
    let mut claims = serde_json::json!({
        "sub": format!("matrix-{}", role.name()), "role": role.name(), "iss": ISSUER, "aud": AUDIENCE,
        "exp": now() + 600,
    });
    if let (Some(claims), Some(changes)) = (claims.as_object_mut(), changes.as_object()) {
        for (key, value) in changes {
            claims.insert(key.clone(), value.clone());
        }
    }
    claims
}

fn sign(claims: &serde_json::Value, secret: &str) -> String {
    let header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256);
    jsonwebtoken::encode(&header, claims, &jsonwebtoken::EncodingKey::from_secret(secret.as_bytes())).expect("signs")
}

/// A valid token whose payload was edited after signing: the role raised to admin.
fn tampered_token() -> String {
    let token = sign(&claims(Role::Reader, serde_json::json!({})), JWT_SECRET);
    let parts: Vec<&str> = token.split('.').collect();
    let forged = sign(&claims(Role::Admin, serde_json::json!({})), "attacker-secret");
    let forged_payload = forged.split('.').nth(1).expect("payload");
    format!("{}.{forged_payload}.{}", parts[0], parts[2])
}

/// Whether the gateway refused the call itself (as opposed to the backend answering).
fn refused_by_gate(status: &tonic::Status) -> bool {
    matches!(status.code(), Code::Unauthenticated | Code::PermissionDenied)
        || (status.code() == Code::Unimplemented && status.message() == "no such method")
}

/// Calls every RPC with `token` as `role` and checks each cell; returns the cells checked.
async fn check_role(gateway: &TestGateway, role: Role, token: &str, credential: &str) -> usize {
    for entry in RPC_TABLE {
        let outcome = call_raw(with_bearer(channel(gateway.addr), Some(token)), entry.path, None).await;
        if role >= entry.role {
            if let Err(status) = outcome {
                assert!(!refused_by_gate(&status), "{} as {} {credential}: {status:?}", entry.path, role.name());
            }
        } else {
            let status = outcome.expect_err("a role below the RPC's is refused");
            assert_eq!(
                status.code(),
                Code::PermissionDenied,
                "{} as {} {credential}: {status:?}",
                entry.path,
                role.name()
            );
            assert!(status.message().contains(entry.role.name()), "names the role needed: {}", status.message());
        }
    }
    RPC_TABLE.len()
}

#[tokio::test]
async fn every_rpc_times_every_role_is_allowed_or_permission_denied_by_key_and_by_jwt() {
    let gateway = gateway_accepting_jwts().await;
    let mut cells = 0;
    for role in Role::ALL {
        cells += check_role(&gateway, role, &key_of(role), "api key").await;
        let token = sign(&claims(role, serde_json::json!({})), JWT_SECRET);
        cells += check_role(&gateway, role, &token, "jwt").await;
    }
    assert_eq!(cells, RPC_TABLE.len() * Role::ALL.len() * 2);
    println!(
        "authorisation matrix: {cells} cells ({} rpcs x {} roles x 2 credentials)",
        RPC_TABLE.len(),
        Role::ALL.len()
    );
}

#[tokio::test]
async fn expired_premature_foreign_audience_issuer_signature_and_tampered_jwts_are_unauthenticated() {
    let gateway = gateway_accepting_jwts().await;
    let admin = |changes: serde_json::Value| sign(&claims(Role::Admin, changes), JWT_SECRET);
    let bad_tokens = [
        ("expired", admin(serde_json::json!({"exp": now() - 60}))),
        ("not yet valid", admin(serde_json::json!({"nbf": now() + 600}))),
        ("wrong audience", admin(serde_json::json!({"aud": "someone-else"}))),
        ("wrong issuer", admin(serde_json::json!({"iss": "https://idp.evil.test"}))),
        ("unknown role", admin(serde_json::json!({"role": "root"}))),
        ("foreign signature", sign(&claims(Role::Admin, serde_json::json!({})), "attacker-secret")),
        ("tampered payload", tampered_token()),
    ];
    let mut cells = 0;
    for (what, token) in &bad_tokens {
        for entry in RPC_TABLE {
            let status =
                call_raw(with_bearer(channel(gateway.addr), Some(token)), entry.path, None).await.expect_err("refused");
            assert_eq!(status.code(), Code::Unauthenticated, "{what} token on {}: {status:?}", entry.path);
            assert!(!status.message().contains(token.as_str()), "the token is never echoed");
            cells += 1;
        }
    }
    // The untampered reader token still works: the refusals above are the edits, not the setup.
    let reader = sign(&claims(Role::Reader, serde_json::json!({})), JWT_SECRET);
    let path = "/patron.churn.v1.ChurnService/GetJob";
    call_raw(with_bearer(channel(gateway.addr), Some(&reader)), path, None).await.expect("a valid token passes");
    println!("bad jwts: {cells} cells ({} kinds x {} rpcs)", bad_tokens.len(), RPC_TABLE.len());
}

#[tokio::test]
async fn an_api_key_removed_from_the_configuration_is_unauthenticated_everywhere() {
    let revoked = Role::Writer;
    let gateway = TestGateway::start_with(|config| {
        config.auth.api_keys.retain(|entry| entry.role != revoked);
    })
    .await;
    let path = "/patron.churn.v1.ChurnService/GetJob";
    for entry in RPC_TABLE {
        let status = call_raw(gateway.as_role(Some(revoked)), entry.path, None).await.expect_err("revoked");
        assert_eq!(status.code(), Code::Unauthenticated, "revoked key on {}: {status:?}", entry.path);
    }
    // The keys still configured keep working.
    call_raw(gateway.as_role(Some(Role::Reader)), path, None).await.expect("reader key still accepted");
    println!("revoked key: {} cells", RPC_TABLE.len());
}

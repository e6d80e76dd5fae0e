//! Who is calling: bearer tokens from the `authorization` metadata, either an
//! API key (kept only as a keyed hash) or a JWT signed with HS256 or RS256.
//!
//! API keys are stored as `HMAC-SHA-256(pepper, key)` in hex, so neither the
//! configuration nor a leaked copy of it lets anyone call the gateway, and a
//! key cannot be recovered from its hash without the pepper.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, PoisonError, RwLock};

use hmac::{Hmac, KeyInit, Mac};
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use sha2::Sha256;

use crate::rpc_table::Role;

/// Prefix of the API keys `patron up` and `patron-gateway --new-api-key` make;
/// it tells a key apart from a JWT at a glance (and to secret scanners).
pub const API_KEY_PREFIX: &str = "pak_";

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AuthConfig {
    /// Development only: ask no credential and treat every caller as admin.
    /// Without it the gateway refuses to start unless keys or JWT are set.
    pub disabled: bool,
    /// Key of the API-key hashes (secret); the same value that hashed them.
    #[serde(serialize_with = "patron_common::config::serialize_secret")]
    pub pepper: SecretString,
    /// Accepted API keys, by hash.
    pub api_keys: Vec<ApiKeyEntry>,
    pub jwt: JwtConfig,
}

impl Default for AuthConfig {
    fn default() -> Self {
        Self { disabled: false, pepper: SecretString::from(""), api_keys: Vec::new(), jwt: JwtConfig::default() }
    }
}

/// One API key: who it is, what it may do, and `HMAC-SHA-256(pepper, key)` in hex.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ApiKeyEntry {
    pub name: String,
    pub role: Role,
    pub hash: String,
}

/// JSON Web Tokens. A token must carry `sub`, `role`, `exp`, `iss` and `aud`;
/// `exp` and `nbf` are checked with `leeway_secs` of clock skew.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct JwtConfig {
    /// Shared secret for HS256 tokens (secret); unset refuses HS256.
    #[serde(serialize_with = "serialize_optional_secret")]
    pub hs256_secret: Option<SecretString>,
    /// PEM file of the RSA public key for RS256 tokens; unset refuses RS256.
    pub rs256_public_key_file: Option<PathBuf>,
    /// Required `iss`.
    pub issuer: String,
    /// Required `aud`.
    pub audience: String,
    pub leeway_secs: u64,
}

impl Default for JwtConfig {
    fn default() -> Self {
        Self {
            hs256_secret: None,
            rs256_public_key_file: None,
            issuer: String::new(),
            audience: "patron".to_owned(),
            leeway_secs: 30,
        }
    }
}

fn serialize_optional_secret<S: serde::Serializer>(
    secret: &Option<SecretString>,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    patron_common::config::serialize_optional_secret(secret, serializer)
}

/// An authenticated caller. The name is safe to log: a key's or a token
/// subject's label, never the credential.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    pub name: Arc<str>,
    pub role: Role,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuthError {
    #[error("missing bearer token in the authorization metadata")]
    Missing,
    #[error("invalid credential")]
    Invalid,
    #[error("invalid token: {0}")]
    InvalidToken(String),
}

/// Computes the stored form of an API key.
pub fn hash_api_key(pepper: &SecretString, key: &str) -> String {
    hex(&api_key_digest(pepper.expose_secret().as_bytes(), key))
}

fn api_key_digest(pepper: &[u8], key: &str) -> [u8; 32] {
    // HMAC accepts keys of any length, so this cannot fail.
    let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(pepper).unwrap_or_else(|_| unreachable!());
    mac.update(key.as_bytes());
    mac.finalize().into_bytes().into()
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|byte| format!("{byte:02x}")).collect()
}

fn unhex(text: &str) -> Option<[u8; 32]> {
    let text = text.trim();
    if text.len() != 64 {
        return None;
    }
    let mut out = [0_u8; 32];
    for (index, chunk) in text.as_bytes().chunks(2).enumerate() {
        let pair = std::str::from_utf8(chunk).ok()?;
        out[index] = u8::from_str_radix(pair, 16).ok()?;
    }
    Some(out)
}

const MAX_VERIFIED_KEYS: usize = 1024;

#[derive(Deserialize)]
struct Claims {
    sub: String,
    role: String,
}

pub struct Authenticator {
    disabled: bool,
    pepper: Vec<u8>,
    keys: HashMap<[u8; 32], Principal>,
    /// Keys already verified, by the key itself: its HMAC is computed once,
    /// not on every call (per call it was ~8% of the gateway's instructions).
    /// Only keys that verified are kept, so guesses cannot fill it.
    verified_keys: RwLock<HashMap<Box<str>, Principal>>,
    hs256: Option<(DecodingKey, Validation)>,
    rs256: Option<(DecodingKey, Validation)>,
}

impl Authenticator {
    pub fn new(config: &AuthConfig) -> anyhow::Result<Self> {
        let mut keys = HashMap::new();
        for entry in &config.api_keys {
            let digest = unhex(&entry.hash)
                .ok_or_else(|| anyhow::anyhow!("auth.api_keys: the hash of {:?} is not 64 hex digits", entry.name))?;
            keys.insert(digest, Principal { name: Arc::from(entry.name.as_str()), role: entry.role });
        }
        if !keys.is_empty() && config.pepper.expose_secret().is_empty() {
            anyhow::bail!("auth.pepper must be set when API keys are configured");
        }
        let validation = |algorithm: Algorithm| -> anyhow::Result<Validation> {
            if config.jwt.issuer.is_empty() || config.jwt.audience.is_empty() {
                anyhow::bail!("auth.jwt.issuer and auth.jwt.audience must be set to accept JWTs");
            }
            let mut validation = Validation::new(algorithm);
            validation.set_issuer(&[&config.jwt.issuer]);
            validation.set_audience(&[&config.jwt.audience]);
            validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
            validation.validate_nbf = true;
            validation.leeway = config.jwt.leeway_secs;
            Ok(validation)
        };
        let hs256 = match &config.jwt.hs256_secret {
            Some(secret) => {
                Some((DecodingKey::from_secret(secret.expose_secret().as_bytes()), validation(Algorithm::HS256)?))
            }
            None => None,
        };
        let rs256 = match &config.jwt.rs256_public_key_file {
            Some(path) => {
                let pem = std::fs::read(path).map_err(|error| {
                    anyhow::anyhow!("reading auth.jwt.rs256_public_key_file {}: {error}", path.display())
                })?;
                let key = DecodingKey::from_rsa_pem(&pem)
                    .map_err(|error| anyhow::anyhow!("auth.jwt.rs256_public_key_file {}: {error}", path.display()))?;
                Some((key, validation(Algorithm::RS256)?))
            }
            None => None,
        };
        let authenticator = Self {
            disabled: config.disabled,
            pepper: config.pepper.expose_secret().as_bytes().to_vec(),
            keys,
            verified_keys: RwLock::default(),
            hs256,
            rs256,
        };
        if !authenticator.disabled && !authenticator.accepts_anything() {
            anyhow::bail!(
                "no credentials configured: set auth.api_keys or auth.jwt, or auth.disabled=true for development"
            );
        }
        Ok(authenticator)
    }

    fn accepts_anything(&self) -> bool {
        !self.keys.is_empty() || self.hs256.is_some() || self.rs256.is_some()
    }

    pub fn is_disabled(&self) -> bool {
        self.disabled
    }

    /// Authenticates the `authorization` header value, if any.
    pub fn authenticate(&self, authorization: Option<&[u8]>) -> Result<Principal, AuthError> {
        if self.disabled {
            return Ok(Principal { name: Arc::from("anonymous"), role: Role::Admin });
        }
        let header = authorization.ok_or(AuthError::Missing)?;
        let header = std::str::from_utf8(header).map_err(|_| AuthError::Invalid)?;
        let (scheme, token) = header.trim().split_once(' ').ok_or(AuthError::Invalid)?;
        if !scheme.eq_ignore_ascii_case("bearer") {
            return Err(AuthError::Invalid);
        }
        let token = token.trim();
        if token.is_empty() {
            return Err(AuthError::Missing);
        }
        if token.bytes().filter(|byte| *byte == b'.').count() == 2 {
            self.verify_jwt(token)
        } else {
            self.api_key(token)
        }
    }

    fn api_key(&self, token: &str) -> Result<Principal, AuthError> {
        if let Some(principal) = self.verified_keys.read().unwrap_or_else(PoisonError::into_inner).get(token) {
            return Ok(principal.clone());
        }
        let principal = self.keys.get(&api_key_digest(&self.pepper, token)).cloned().ok_or(AuthError::Invalid)?;
        let mut verified = self.verified_keys.write().unwrap_or_else(PoisonError::into_inner);
        // Configured keys are few; the bound only matters if many were configured.
        if verified.len() >= MAX_VERIFIED_KEYS {
            verified.clear();
        }
        verified.insert(Box::from(token), principal.clone());
        Ok(principal)
    }

    fn verify_jwt(&self, token: &str) -> Result<Principal, AuthError> {
        let header = jsonwebtoken::decode_header(token).map_err(|_| AuthError::Invalid)?;
        let (key, validation) = match header.alg {
            Algorithm::HS256 => self.hs256.as_ref(),
            Algorithm::RS256 => self.rs256.as_ref(),
            _ => None,
        }
        .ok_or_else(|| AuthError::InvalidToken(format!("{:?} tokens are not accepted", header.alg)))?;
        let data = jsonwebtoken::decode::<Claims>(token, key, validation).map_err(|error| {
            use jsonwebtoken::errors::ErrorKind;
            let reason = match error.kind() {
                ErrorKind::ExpiredSignature => "expired",
                ErrorKind::ImmatureSignature => "not yet valid",
                ErrorKind::InvalidAudience => "wrong audience",
                ErrorKind::InvalidIssuer => "wrong issuer",
                ErrorKind::InvalidSignature => "bad signature",
                ErrorKind::MissingRequiredClaim(_) => "missing a required claim",
                _ => "malformed",
            };
            AuthError::InvalidToken(reason.to_owned())
        })?;
        let role = Role::parse(&data.claims.role)
            .ok_or_else(|| AuthError::InvalidToken("role claim is not reader, writer, modeler or admin".into()))?;
        Ok(Principal { name: Arc::from(format!("jwt:{}", data.claims.sub)), role })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with_key(key: &str, role: Role) -> AuthConfig {
        let pepper = SecretString::from("pepper");
        let hash = hash_api_key(&pepper, key);
        AuthConfig { pepper, api_keys: vec![ApiKeyEntry { name: "ci".into(), role, hash }], ..AuthConfig::default() }
    }

    #[test]
    fn api_keys_are_recognised_only_by_their_hash() {
        let authenticator = Authenticator::new(&with_key("pak_secret", Role::Writer)).expect("valid config");
        let principal = authenticator.authenticate(Some(b"Bearer pak_secret")).expect("known key");
        assert_eq!((&*principal.name, principal.role), ("ci", Role::Writer));
        assert_eq!(authenticator.authenticate(Some(b"Bearer pak_other")), Err(AuthError::Invalid));
        assert_eq!(authenticator.authenticate(Some(b"Basic pak_secret")), Err(AuthError::Invalid));
        assert_eq!(authenticator.authenticate(None), Err(AuthError::Missing));
        assert_eq!(authenticator.authenticate(Some(b"Bearer ")), Err(AuthError::Invalid));
    }

    #[test]
    fn a_verified_key_is_remembered_and_only_verified_keys_are() {
        let authenticator = Authenticator::new(&with_key("pak_secret", Role::Reader)).expect("valid config");
        for _ in 0..3 {
            let principal = authenticator.authenticate(Some(b"Bearer pak_secret")).expect("known key");
            assert_eq!((&*principal.name, principal.role), ("ci", Role::Reader));
        }
        assert_eq!(authenticator.authenticate(Some(b"Bearer pak_secreT")), Err(AuthError::Invalid));
        let verified = authenticator.verified_keys.read().expect("not poisoned");
        assert_eq!(verified.keys().map(|key| &**key).collect::<Vec<_>>(), ["pak_secret"]);
    }

    fn jwt_config() -> AuthConfig {
        let fixtures = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
        AuthConfig {
            jwt: JwtConfig {
                hs256_secret: Some(SecretString::from("shared-secret")),
                rs256_public_key_file: Some(fixtures.join("jwt-rs256-public.pem")),
                issuer: "https://idp.example".into(),
                audience: "patron".into(),
                leeway_secs: 0,
            },
            ..AuthConfig::default()
        }
    }

    fn now() -> i64 {
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |elapsed| elapsed.as_secs() as i64)
    }

    fn sign(algorithm: Algorithm, claims: serde_json::Value) -> String {
        use jsonwebtoken::{EncodingKey, Header};
        let key = match algorithm {
            Algorithm::HS256 => EncodingKey::from_secret(b"shared-secret"),
            _ => {
                let pem = include_bytes!("../tests/fixtures/jwt-rs256-private.pem");
                EncodingKey::from_rsa_pem(pem).expect("test key")
            }
        };
        jsonwebtoken::encode(&Header::new(algorithm), &claims, &key).expect("signs")
    }

    fn claims(extra: serde_json::Value) -> serde_json::Value {
        let mut claims = serde_json::json!({
            "sub": "svc-reports", "role": "modeler", "iss": "https://idp.example", "aud": "patron", "exp": now() + 300,
        });
        if let (Some(claims), Some(extra)) = (claims.as_object_mut(), extra.as_object()) {
            for (key, value) in extra {
                claims.insert(key.clone(), value.clone());
            }
        }
        claims
    }

    #[test]
    fn hs256_and_rs256_tokens_are_verified_with_their_claims() {
        let authenticator = Authenticator::new(&jwt_config()).expect("valid config");
        for algorithm in [Algorithm::HS256, Algorithm::RS256] {
            let token = sign(algorithm, claims(serde_json::json!({})));
            let principal = authenticator.authenticate(Some(format!("Bearer {token}").as_bytes())).expect("valid");
            assert_eq!((&*principal.name, principal.role), ("jwt:svc-reports", Role::Modeler), "{algorithm:?}");
        }
        let refused = |extra: serde_json::Value, algorithm: Algorithm| {
            let token = sign(algorithm, claims(extra));
            authenticator.authenticate(Some(format!("Bearer {token}").as_bytes())).expect_err("refused")
        };
        let reason = |error: AuthError| error.to_string();
        assert!(reason(refused(serde_json::json!({"exp": now() - 10}), Algorithm::HS256)).contains("expired"));
        assert!(reason(refused(serde_json::json!({"nbf": now() + 120}), Algorithm::RS256)).contains("not yet valid"));
        assert!(reason(refused(serde_json::json!({"aud": "other"}), Algorithm::HS256)).contains("audience"));
        assert!(reason(refused(serde_json::json!({"iss": "https://evil"}), Algorithm::RS256)).contains("issuer"));
        assert!(reason(refused(serde_json::json!({"role": "root"}), Algorithm::HS256)).contains("role"));
        // A token signed with another secret, and one whose signature was tampered with.
        let foreign = jsonwebtoken::encode(
            &jsonwebtoken::Header::new(Algorithm::HS256),
            &claims(serde_json::json!({})),
            &jsonwebtoken::EncodingKey::from_secret(b"other"),
        )
        .expect("signs");
        assert!(
            reason(authenticator.authenticate(Some(format!("Bearer {foreign}").as_bytes())).expect_err("bad"))
                .contains("signature")
        );
        // An algorithm that is not configured is refused, whatever the signature.
        let hs384 = jsonwebtoken::encode(
            &jsonwebtoken::Header::new(Algorithm::HS384),
            &claims(serde_json::json!({})),
            &jsonwebtoken::EncodingKey::from_secret(b"shared-secret"),
        )
        .expect("signs");
        assert!(authenticator.authenticate(Some(format!("Bearer {hs384}").as_bytes())).is_err());
    }

    #[test]
    fn the_hash_depends_on_the_pepper() {
        let key = "pak_x";
        assert_ne!(hash_api_key(&SecretString::from("a"), key), hash_api_key(&SecretString::from("b"), key));
        assert_eq!(hash_api_key(&SecretString::from("a"), key).len(), 64);
    }

    #[test]
    fn without_any_credential_the_gateway_refuses_to_start_unless_disabled() {
        let error = Authenticator::new(&AuthConfig::default()).err().expect("refused");
        assert!(error.to_string().contains("auth.disabled"), "{error}");
        let open = Authenticator::new(&AuthConfig { disabled: true, ..AuthConfig::default() }).expect("dev mode");
        assert_eq!(open.authenticate(None).map(|principal| principal.role), Ok(Role::Admin));
    }

    #[test]
    fn malformed_key_hashes_and_a_missing_pepper_are_rejected() {
        let mut config = with_key("pak_x", Role::Reader);
        config.api_keys[0].hash = "xyz".into();
        assert!(Authenticator::new(&config).is_err());
        let mut config = with_key("pak_x", Role::Reader);
        config.pepper = SecretString::from("");
        assert!(Authenticator::new(&config).is_err());
    }
}

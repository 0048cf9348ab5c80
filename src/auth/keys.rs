//! Public verification keys and which of them may check a given token.
//!
//! The algorithm comes from the KEY's own type (RSA → RS256, P-256 → ES256, Ed25519 → EdDSA),
//! never from the token: a token's `alg` only narrows the candidates, and a token whose `alg`
//! names no configured key type (`none`, `HS256` against RSA keys, …) has no candidate at all.
//! That is what rules out algorithm confusion (an RSA public key's PEM used as an HMAC secret).

use super::ScopeClaims;
use jwt_simple::prelude::*;

/// What a configured key can verify.
pub enum PublicKey {
    /// Boxed: an RSA key is several times the size of the others.
    Rs256(Box<RS256PublicKey>),
    Es256(ES256PublicKey),
    Ed25519(Ed25519PublicKey),
}

/// One key with its optional `kid`.
pub struct VerifyingKey {
    pub kid: Option<String>,
    pub key: PublicKey,
}

impl VerifyingKey {
    /// Whether a token header's `alg` names this key's algorithm.
    fn accepts_alg(&self, alg: &str) -> bool {
        match self.key {
            PublicKey::Rs256(_) => alg == "RS256",
            PublicKey::Es256(_) => alg == "ES256",
            PublicKey::Ed25519(_) => alg == "EdDSA" || alg == "Ed25519",
        }
    }

    /// jwt-simple re-checks the header's `alg` against the key type, signature, time and
    /// issuer/audience claims.
    pub fn verify(
        &self,
        token: &str,
        options: VerificationOptions,
    ) -> Result<JWTClaims<ScopeClaims>, jwt_simple::Error> {
        match &self.key {
            PublicKey::Rs256(k) => k.verify_token(token, Some(options)),
            PublicKey::Es256(k) => k.verify_token(token, Some(options)),
            PublicKey::Ed25519(k) => k.verify_token(token, Some(options)),
        }
    }
}

/// A set of public keys: the static `jwt_public_keys`, or a fetched JWK Set.
#[derive(Default)]
pub struct KeySet(pub Vec<VerifyingKey>);

impl KeySet {
    /// `jwt_public_keys`: one or more PEM blocks (`PUBLIC KEY`, `RSA PUBLIC KEY`), or a JWK Set
    /// (`{"keys":[…]}`), or a single JWK. Any block or key we cannot use is an error: a typo in
    /// static configuration must not silently drop a key.
    pub fn parse_static(text: &str) -> Result<Self, String> {
        let text = text.trim();
        let set = if text.starts_with('{') {
            let value: serde_json::Value =
                serde_json::from_str(text).map_err(|e| format!("not JSON: {e}"))?;
            let keys = match value.get("keys") {
                Some(serde_json::Value::Array(keys)) => keys.clone(),
                Some(_) => return Err("\"keys\" is not an array".into()),
                None => vec![value],
            };
            let mut set = Vec::new();
            for (i, jwk) in keys.iter().enumerate() {
                set.push(from_jwk(jwk).map_err(|e| format!("key {i}: {e}"))?);
            }
            Self(set)
        } else {
            let mut set = Vec::new();
            for (i, block) in pem_blocks(text)?.into_iter().enumerate() {
                set.push(from_pem(block).map_err(|e| format!("PEM block {i}: {e}"))?);
            }
            Self(set)
        };
        if set.0.is_empty() {
            return Err("no key found".into());
        }
        Ok(set)
    }

    /// A provider's JWK Set. Keys we cannot use (encryption keys, other curves, RS512, …) are
    /// skipped: providers publish them next to the signing keys we need.
    pub fn parse_jwks(text: &str) -> Result<Self, String> {
        #[derive(Deserialize)]
        struct Jwks {
            keys: Vec<serde_json::Value>,
        }
        let jwks: Jwks = serde_json::from_str(text).map_err(|e| format!("not a JWK Set: {e}"))?;
        Ok(Self(
            jwks.keys.iter().filter_map(|k| from_jwk(k).ok()).collect(),
        ))
    }

    /// Whether a key with this `kid` is in the set (an unknown kid may mean a key rotation).
    pub fn has_kid(&self, kid: &str) -> bool {
        self.0.iter().any(|k| k.kid.as_deref() == Some(kid))
    }

    /// The keys that may verify a token with this header: the key type must match `alg`, and a
    /// `kid` selects the keys with that kid (keys without a kid, such as PEM ones, stay
    /// candidates). Without a kid every key of the type is tried.
    pub fn candidates<'a>(
        &'a self,
        alg: &'a str,
        kid: Option<&'a str>,
    ) -> impl Iterator<Item = &'a VerifyingKey> + 'a {
        self.0.iter().filter(move |k| {
            k.accepts_alg(alg)
                && match (kid, k.kid.as_deref()) {
                    (Some(want), Some(have)) => want == have,
                    _ => true,
                }
        })
    }
}

/// Splits concatenated PEM text into its `-----BEGIN …-----`…`-----END …-----` blocks.
fn pem_blocks(text: &str) -> Result<Vec<&str>, String> {
    let mut blocks = Vec::new();
    let mut rest = text;
    while let Some(start) = rest.find("-----BEGIN ") {
        let after = &rest[start..];
        let end_marker = after
            .find("-----END ")
            .ok_or("a PEM block has no END line")?;
        let close = after[end_marker + 9..]
            .find("-----")
            .ok_or("a PEM END line is not closed")?;
        let len = end_marker + 9 + close + 5;
        blocks.push(&after[..len]);
        rest = &after[len..];
    }
    if !rest.trim().is_empty() && blocks.is_empty() {
        return Err("neither PEM nor JSON".into());
    }
    Ok(blocks)
}

/// A public-key PEM block: tried as RSA, P-256 and Ed25519, the parsers check the key's OID.
fn from_pem(block: &str) -> Result<VerifyingKey, String> {
    let label = block["-----BEGIN ".len()..]
        .split("-----")
        .next()
        .unwrap_or_default();
    if label != "PUBLIC KEY" && label != "RSA PUBLIC KEY" {
        return Err(format!(
            "{label:?} is not a public key (use PUBLIC KEY blocks)"
        ));
    }
    let key = if let Ok(k) = RS256PublicKey::from_pem(block) {
        PublicKey::Rs256(Box::new(k))
    } else if let Ok(k) = ES256PublicKey::from_pem(block) {
        PublicKey::Es256(k)
    } else if let Ok(k) = Ed25519PublicKey::from_pem(block) {
        PublicKey::Ed25519(k)
    } else {
        return Err("not an RSA (2048–4096 bit), P-256 or Ed25519 public key".into());
    };
    Ok(VerifyingKey { kid: None, key })
}

/// One JWK by its `kty`/`crv`; jwt-simple's strict import checks the rest (`alg`/`use` must
/// fit the type, no private members, canonical encodings).
fn from_jwk(jwk: &serde_json::Value) -> Result<VerifyingKey, String> {
    let text = jwk.to_string();
    let kty = jwk.get("kty").and_then(|v| v.as_str()).unwrap_or_default();
    let crv = jwk.get("crv").and_then(|v| v.as_str()).unwrap_or_default();
    let err = |e: jwt_simple::Error| e.to_string();
    let key = match (kty, crv) {
        ("RSA", _) => PublicKey::Rs256(Box::new(RS256PublicKey::from_jwk(&text).map_err(err)?)),
        ("EC", "P-256") => PublicKey::Es256(ES256PublicKey::from_jwk(&text).map_err(err)?),
        ("OKP", "Ed25519") => PublicKey::Ed25519(Ed25519PublicKey::from_jwk(&text).map_err(err)?),
        _ => return Err(format!("unsupported key type {kty:?} {crv:?}")),
    };
    let kid = jwk.get("kid").and_then(|v| v.as_str()).map(str::to_owned);
    Ok(VerifyingKey { kid, key })
}

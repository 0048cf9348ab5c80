//! `--dev-secret`: a local secret kept in the state dir and a ready admin token, so
//! `make up` needs no configuration. Never used when `SPIN_VARIABLE_JWT_HS256_SECRET` is set.

use anyhow::{Context, Result};
use jwt_simple::prelude::*;
use std::io::Read;
use std::path::Path;

const FILE: &str = "dev-jwt-secret";

/// The state dir's dev secret, created (random, 32 bytes hex) on first use.
pub fn load_or_create(state_dir: &Path) -> Result<String> {
    let path = state_dir.join(FILE);
    if let Ok(secret) = std::fs::read_to_string(&path) {
        return Ok(secret.trim().to_owned());
    }
    let mut bytes = [0u8; 32];
    std::fs::File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(&mut bytes))
        .context("reading /dev/urandom")?;
    let secret: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    std::fs::create_dir_all(state_dir)?;
    std::fs::write(&path, &secret).with_context(|| format!("writing {}", path.display()))?;
    Ok(secret)
}

#[derive(Serialize, Deserialize)]
struct Scope {
    scope: String,
}

/// An HS256 admin token (read, write, secrets) valid for 30 days.
pub fn admin_token(secret: &str, issuer: &str, audience: &str) -> Result<String> {
    let claims = Claims::with_custom_claims(
        Scope {
            scope: "inventory:read inventory:write inventory:secrets".into(),
        },
        Duration::from_days(30),
    )
    .with_issuer(issuer)
    .with_audience(audience)
    .with_subject("dev-admin");
    HS256Key::from_bytes(secret.as_bytes())
        .authenticate(claims)
        .map_err(|e| anyhow::anyhow!("{e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secret_is_created_once_and_token_verifies() {
        let dir = std::env::temp_dir().join(format!("edgepedia-dev-token-{}", std::process::id()));
        let a = load_or_create(&dir).unwrap();
        let b = load_or_create(&dir).unwrap();
        assert_eq!(a, b);
        assert_eq!(a.len(), 64);
        let token = admin_token(&a, "edgepedia", "edgepedia").unwrap();
        let claims = HS256Key::from_bytes(a.as_bytes())
            .verify_token::<Scope>(&token, None)
            .unwrap();
        assert!(claims.custom.scope.contains("inventory:write"));
        std::fs::remove_dir_all(dir).unwrap();
    }
}

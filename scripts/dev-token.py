#!/usr/bin/env python3
"""Prints a dev admin token for `make up` on real Spin (the bundled host mints its own).

Usage: dev-token.py SECRET_FILE [SPIN_TOML]

An HS256 JWT signed with the secret in SECRET_FILE, valid for 30 days, with the scopes an admin
needs; issuer and audience are the `jwt_issuer`/`jwt_audience` variables as Spin resolves them
(SPIN_VARIABLE_JWT_ISSUER / SPIN_VARIABLE_JWT_AUDIENCE, else the spin.toml defaults). Standard
library only, so it runs before anything is built.
"""
import base64
import hashlib
import hmac
import json
import os
import sys
import time


def default(manifest, name):
    """The variable's default in spin.toml, or "edgepedia" when it cannot be read."""
    try:
        import tomllib

        with open(manifest, "rb") as f:
            return tomllib.load(f)["variables"][name]["default"]
    except Exception:
        return "edgepedia"


def b64(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def main():
    if len(sys.argv) not in (2, 3):
        sys.exit(__doc__)
    secret = open(sys.argv[1]).read().strip()
    manifest = sys.argv[2] if len(sys.argv) == 3 else "spin.toml"
    var = lambda n: os.environ.get("SPIN_VARIABLE_" + n.upper()) or default(manifest, n)
    now = int(time.time())
    claims = {
        "iat": now,
        "nbf": now,
        "exp": now + 30 * 24 * 3600,
        "iss": var("jwt_issuer"),
        "aud": var("jwt_audience"),
        "sub": "dev-admin",
        "scope": "inventory:read inventory:write inventory:secrets",
    }
    header = {"alg": "HS256", "typ": "JWT"}
    signing_input = b64(json.dumps(header, separators=(",", ":")).encode()) + "." + b64(
        json.dumps(claims, separators=(",", ":")).encode()
    )
    signature = hmac.new(secret.encode(), signing_input.encode(), hashlib.sha256).digest()
    print(signing_input + "." + b64(signature))


if __name__ == "__main__":
    main()

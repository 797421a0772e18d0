"""Tokens made by an independent implementation: Debian's python3-jwt (PyJWT) with
python3-cryptography. Keys are made per test in its directory; the broker's config
names their public halves (PEM, JWKS) and the HMAC secret file."""

import json
import time

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa


class KeySet:
    """One key per algorithm, written under `directory`."""

    def __init__(self, directory):
        self.dir = directory
        self.ed = ed25519.Ed25519PrivateKey.generate()
        self.ec = ec.generate_private_key(ec.SECP256R1())
        self.rsa = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.secret = "s3cret-" + "x" * 40
        pem = serialization.Encoding.PEM
        spki = serialization.PublicFormat.SubjectPublicKeyInfo
        (directory / "ed.pem").write_bytes(self.ed.public_key().public_bytes(pem, spki))
        (directory / "rsa.pem").write_bytes(self.rsa.public_key().public_bytes(pem, spki))
        ec_jwk = json.loads(jwt.algorithms.ECAlgorithm.to_jwk(self.ec.public_key()))
        ec_jwk.update(kid="ec1", alg="ES256")
        (directory / "keys.jwks").write_text(json.dumps({"keys": [ec_jwk]}))
        (directory / "hs.secret").write_text(self.secret + "\n")
        (directory / "hs.secret").chmod(0o600)

    def config(self):
        d = self.dir
        return f"""
[[auth.jwt.keys]]
kid = "ed1"
alg = "EdDSA"
file = "{d / 'ed.pem'}"

[[auth.jwt.keys]]
file = "{d / 'keys.jwks'}"

[[auth.jwt.keys]]
kid = "rs1"
alg = "RS256"
file = "{d / 'rsa.pem'}"

[[auth.jwt.keys]]
kid = "ps1"
alg = "PS256"
file = "{d / 'rsa.pem'}"

[[auth.jwt.keys]]
kid = "hs1"
alg = "HS256"
secret_file = "{d / 'hs.secret'}"
"""

    def token(self, alg="EdDSA", kid=None, lifetime=3600, **claims):
        key, default_kid = {
            "EdDSA": (self.ed, "ed1"), "ES256": (self.ec, "ec1"), "RS256": (self.rsa, "rs1"),
            "PS256": (self.rsa, "ps1"), "HS256": (self.secret, "hs1"),
        }[alg]
        if lifetime is not None and "exp" not in claims:
            claims["exp"] = int(time.time()) + lifetime
        return jwt.encode(claims, key, algorithm=alg,
                          headers={"kid": kid if kid is not None else default_kid})

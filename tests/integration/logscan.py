"""The scanner for secrets in logs (DESIGN §7) of the integration and unit tiers.

(The load tier, ``python -m bench load`` and the idp tier look only for the whole tokens and
secrets their clients saw: ``bench.load.leaked``, ``tests/idp/conftest.py``.)

    secrets = Secrets()
    secrets.token("browser token", login.browser_token)      # a token or a JWT
    secrets.binary("PKCS#8 signing key", pkcs8_der)           # bytes, in every way a log could spell them
    secrets.text("client secret", client_secret)              # any other string
    assert secrets.found_in(stdout, stderr) == []              # names and forms, never the secret itself

    for number, pkcs8 in enumerate(signing_keys(dynamodb, kms, table_name)):  # the keys behind the tokens
        secrets.private_key(f"signing key {number}", pkcs8)

A secret is looked for in each form a log line could carry it: whole; for a
JWT also its signature part (a line may hold a token cut short); for bytes
their base64 (with and without padding, and its first 64 characters, a PEM
line), base64url, hex and Python's ``repr`` escapes (what ``%r`` of the bytes
prints, how botocore logs bodies).  Backslashes are ignored on both sides, so
JSON's escaping (``\\/``, a doubled ``\\``) cannot hide a form.  Forms shorter
than ``MIN_FORM_LENGTH`` are skipped: they would match by chance.
"""

from __future__ import annotations

import base64
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from botocore.exceptions import ClientError
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature
from cryptography.hazmat.primitives.serialization import load_der_private_key

from qrlogin.signing import ENVELOPE_CONTEXT, envelope_context

MIN_FORM_LENGTH = 16


@dataclass
class Secrets:
    forms: dict[str, dict[str, str]] = field(default_factory=dict)  # name -> {form kind: form}

    def _add(self, name: str, forms: dict[str, str]) -> None:
        kept = {kind: form for kind, form in forms.items() if len(form.replace("\\", "")) >= MIN_FORM_LENGTH}
        if not kept:
            raise ValueError(f"{name}: too short to be searched for safely")
        self.forms.setdefault(name, {}).update(kept)

    def text(self, name: str, value: str) -> None:
        self._add(name, {"whole": value})

    def token(self, name: str, value: str) -> None:
        """A bearer token; a JWT's signature part is looked for on its own too."""
        forms = {"whole": value}
        parts = value.split(".")
        if len(parts) == 3 and parts[2]:
            forms["JWT signature"] = parts[2]
        self._add(name, forms)

    def binary(self, name: str, data: bytes) -> None:
        standard = base64.b64encode(data).decode("ascii")
        self._add(name, {
            "base64": standard,
            "base64 unpadded": standard.rstrip("="),
            "base64 PEM line": standard[:64],
            "base64url": base64.urlsafe_b64encode(data).decode("ascii").rstrip("="),
            "hex": data.hex(),
            "raw (repr)": repr(data)[2:-1],
        })

    def private_key(self, name: str, pkcs8: bytes) -> None:
        """A private key: its PKCS#8 and its secret number (EC private value, RSA private exponent)."""
        self.binary(f"{name} (PKCS#8)", pkcs8)
        numbers: Any = load_der_private_key(pkcs8, password=None).private_numbers()  # type: ignore[union-attr]
        value = int(numbers.private_value if hasattr(numbers, "private_value") else numbers.d)
        self.binary(f"{name} (private number)", value.to_bytes((value.bit_length() + 7) // 8, "big"))

    def kms_signing(self, name: str, token: str) -> None:
        """What KMS sees and answers when it signs a JWS (``SigningKeyMode=kms``): the signing input
        (``Sign``'s message) and the signature as KMS returns it (DER for ES256, as is for RS256)."""
        header, payload, signature = token.split(".")
        self.binary(f"{name}: KMS Sign message", f"{header}.{payload}".encode("ascii"))
        raw = base64.urlsafe_b64decode(signature + "=" * (-len(signature) % 4))
        if len(raw) == 64:  # ES256: r || s
            raw = encode_dss_signature(int.from_bytes(raw[:32], "big"), int.from_bytes(raw[32:], "big"))
        self.binary(f"{name}: KMS Sign signature", raw)

    def __len__(self) -> int:
        return len(self.forms)

    def found_in(self, *logs: str) -> list[str]:
        """``"<name>: <form kind>"`` for every form of every secret that appears in any of the logs."""
        text = "\n".join(logs).replace("\\", "")
        return [f"{name}: {kind}" for name, forms in self.forms.items()
                for kind, form in forms.items() if form.replace("\\", "") in text]


def _ciphertexts(attributes: dict[str, Any], hints: dict[str, str]) -> Iterator[tuple[bytes, dict[str, str]]]:
    """Every binary value in an item, nested maps and lists too, with the kid and algorithm beside it."""
    hints = {**hints, **{name: value["S"] for name, value in attributes.items()
                         if name in ("kid", "alg", "algorithm") and "S" in value}}
    for value in attributes.values():
        if "B" in value:
            yield bytes(value["B"]), hints
        for nested in [value.get("M", {})] + [element.get("M", {}) for element in value.get("L", [])]:
            yield from _ciphertexts(nested, hints)


def signing_keys(dynamodb: Any, kms: Any, table_name: str) -> list[bytes]:
    """The private keys (PKCS#8) stored in the table's ``signing-key*`` items, decrypted with (moto's) KMS."""
    keys = []
    for item in dynamodb.scan(TableName=table_name, ConsistentRead=True)["Items"]:
        pk = item["pk"]["S"]
        if not pk.startswith("signing-key"):
            continue
        algorithm = pk.partition("#")[2]
        for ciphertext, hints in _ciphertexts(item, {"alg": algorithm} if algorithm else {}):
            kid, alg = hints.get("kid", ""), hints.get("alg") or hints.get("algorithm", "")
            for context in (envelope_context(kid, alg), ENVELOPE_CONTEXT, {}):
                try:
                    plaintext = kms.decrypt(CiphertextBlob=ciphertext, EncryptionContext=context)["Plaintext"]
                except ClientError:
                    continue
                load_der_private_key(plaintext, password=None)  # it is a private key, not something else
                keys.append(bytes(plaintext))
                break
    return keys

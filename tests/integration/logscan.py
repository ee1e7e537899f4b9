"""The one scanner for secrets in logs (DESIGN §7), for every test that searches a stack's output.

    secrets = Secrets()
    secrets.token("browser token", login.browser_token)      # a token or a JWT
    secrets.binary("PKCS#8 signing key", pkcs8_der)           # bytes, in every way a log could spell them
    secrets.text("client secret", client_secret)              # any other string
    assert secrets.found_in(stdout, stderr) == []              # names and forms, never the secret itself

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
from dataclasses import dataclass, field

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

    def __len__(self) -> int:
        return len(self.forms)

    def found_in(self, *logs: str) -> list[str]:
        """``"<name>: <form kind>"`` for every form of every secret that appears in any of the logs."""
        text = "\n".join(logs).replace("\\", "")
        return [f"{name}: {kind}" for name, forms in self.forms.items()
                for kind, form in forms.items() if form.replace("\\", "") in text]

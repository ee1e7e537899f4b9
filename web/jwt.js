/**
 * ES256 id_token verification in the browser, with WebCrypto and the JWKS.
 *
 * For the demo page only: a real product sends the id_token to its backend,
 * which verifies it the same way (signature against /.well-known/jwks.json,
 * then iss, aud, exp, and jti against replays) before it opens a session.
 *
 * A JWS ES256 signature is r||s (64 bytes): exactly what WebCrypto's ECDSA
 * verify takes, so no DER conversion is needed.
 */

export class TokenInvalid extends Error {}

export function base64UrlDecode(text) {
  const base64 = text.replace(/-/g, "+").replace(/_/g, "/").padEnd(Math.ceil(text.length / 4) * 4, "=");
  return Uint8Array.from(atob(base64), (char) => char.charCodeAt(0));
}

export function decodeJwt(token) {
  const parts = String(token).split(".");
  if (parts.length !== 3) throw new TokenInvalid("not a compact JWS");
  const json = (part) => JSON.parse(new TextDecoder().decode(base64UrlDecode(part)));
  return {
    header: json(parts[0]),
    claims: json(parts[1]),
    signingInput: new TextEncoder().encode(`${parts[0]}.${parts[1]}`),
    signature: base64UrlDecode(parts[2]),
  };
}

/** Resolves to {header, claims, kid} when the signature verifies and the token is current; throws otherwise. */
export async function verifyIdToken(token, { jwksUrl, now = Date.now() / 1000, leewaySeconds = 60 } = {}) {
  if (!globalThis.crypto || !crypto.subtle) {
    throw new TokenInvalid("this browser has no WebCrypto here (it needs https or localhost)");
  }
  const { header, claims, signingInput, signature } = decodeJwt(token);
  if (header.alg !== "ES256") throw new TokenInvalid(`unexpected alg ${header.alg}`);
  const response = await fetch(jwksUrl, { credentials: "omit" });
  if (!response.ok) throw new TokenInvalid(`JWKS answered ${response.status}`);
  const jwk = (await response.json()).keys.find((key) => key.kid === header.kid);
  if (!jwk) throw new TokenInvalid("no key with this kid in the JWKS");
  const key = await crypto.subtle.importKey(
    "jwk", { kty: jwk.kty, crv: jwk.crv, x: jwk.x, y: jwk.y }, { name: "ECDSA", namedCurve: "P-256" }, false, ["verify"],
  );
  const valid = await crypto.subtle.verify({ name: "ECDSA", hash: "SHA-256" }, key, signature, signingInput);
  if (!valid) throw new TokenInvalid("the signature does not verify");
  if (typeof claims.exp !== "number" || claims.exp + leewaySeconds < now) throw new TokenInvalid("the token has expired");
  return { header, claims, kid: header.kid };
}

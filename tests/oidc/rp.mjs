// A relying party built on openid-client (an OpenID Certified RP library) and aws-jwt-verify.
//
//   node rp.mjs '{"issuer": "...", "client_id": "...", "client_secret"?: "...", "auth": "basic|post|none",
//                 "redirect_uri": "...", "audience": "..."}'
//
// Line protocol (JSON, one object per line), so that the test can drive a browser in between:
//   out: {"authorization_url"}                    discovery, PKCE (S256), state and nonce done
//   in:  {"callback_url"}                          where the browser was sent back to
//   out: {"ok": true, id_token_claims, userinfo, access_token_claims, id_token_verified_claims, scope, token_type}
//     or {"ok": false, "error", "error_description", "name"}
//
// The id_token is validated by openid-client: signature from jwks_uri (enableNonRepudiationChecks), iss, aud,
// nonce, exp, azp; the callback's iss (RFC 9207) and state.  Both tokens are then verified the way an API Gateway
// JWT authorizer does it, with aws-jwt-verify's JwtVerifier given only issuer, audience and the discovered jwksUri.
import * as client from "openid-client";
import { discover } from "./discover.mjs";
import { JwtVerifier } from "aws-jwt-verify";
import { SimpleJwksCache } from "aws-jwt-verify/jwk";
import readline from "node:readline";

const settings = JSON.parse(process.argv[2]);
const out = (value) => process.stdout.write(JSON.stringify(value) + "\n");

// aws-jwt-verify fetches over https only; the local stack is http on loopback, so the transport is swapped
// (the fetching, caching and verifying stay the library's own).
const httpFetcher = { fetch: async (uri) => (await fetch(uri)).arrayBuffer() };

async function main() {
  const config = await discover(settings);
  const metadata = config.serverMetadata();
  const verifier = client.randomPKCECodeVerifier();
  const state = settings.state ?? client.randomState();
  const nonce = client.randomNonce();
  const url = client.buildAuthorizationUrl(config, {
    redirect_uri: settings.redirect_uri,
    scope: "openid profile",
    code_challenge: await client.calculatePKCECodeChallenge(verifier),
    code_challenge_method: "S256",
    state,
    nonce,
  });
  out({ authorization_url: url.href, state, nonce });

  const lines = readline.createInterface({ input: process.stdin });
  const { callback_url: callbackUrl } = JSON.parse((await lines[Symbol.asyncIterator]().next()).value);
  lines.close();

  const tokens = await client.authorizationCodeGrant(config, new URL(callbackUrl), {
    pkceCodeVerifier: verifier,
    expectedState: state,
    expectedNonce: nonce,
    idTokenExpected: true,
  });
  const claims = tokens.claims();
  const userinfo = await client.fetchUserInfo(config, tokens.access_token, claims.sub);

  const jwksCache = new SimpleJwksCache({ fetcher: httpFetcher });
  const accessVerifier = JwtVerifier.create(
    { issuer: metadata.issuer, audience: settings.audience, jwksUri: metadata.jwks_uri }, { jwksCache });
  const idVerifier = JwtVerifier.create(
    { issuer: metadata.issuer, audience: settings.client_id, jwksUri: metadata.jwks_uri }, { jwksCache });
  out({
    ok: true,
    token_type: tokens.token_type,
    scope: tokens.scope,
    id_token_claims: claims,
    userinfo,
    access_token_claims: await accessVerifier.verify(tokens.access_token),
    id_token_verified_claims: await idVerifier.verify(tokens.id_token),
    id_token_header: JSON.parse(Buffer.from(tokens.id_token.split(".")[0], "base64url")),
    access_token_header: JSON.parse(Buffer.from(tokens.access_token.split(".")[0], "base64url")),
    // The raw tokens, so the test can look for them in the stack's logs.
    secrets: { access_token: tokens.access_token, id_token: tokens.id_token },
  });
}

main().catch((error) => {
  out({ ok: false, name: error?.name, error: error?.error ?? error?.code, error_description:
        error?.error_description ?? error?.message });
  process.exitCode = 0;
});

// A device (TV, CLI) logging in with openid-client's RFC 8628 functions: initiateDeviceAuthorization, then
// pollDeviceAuthorizationGrant, which waits `interval`, retries authorization_pending and adds 5 s on slow_down.
//
//   node device.mjs '{"issuer", "client_id", "client_secret"?, "auth": "basic|post|none", "scope"?,
//                     "interval"?: override the server's interval (0: poll back to back),
//                     "stop_on": "slow_down"?  (abort the poll once that answer was seen),
//                     "poll_timeout_ms"?: the poll's own deadline instead of expires_in,
//                     "reuse"?: true (poll once more with the same device_code after success)}'
//
// Output, one JSON object per line:
//   {"device": {user_code, verification_uri, verification_uri_complete, expires_in, interval}}
//   {"poll": "<error code>" | "tokens"}          each answer of the token endpoint, as it arrives
//   {"ok": true, id_token_claims, userinfo, scope, token_type, reuse?: {error}}
//   or {"ok": false, name, error, error_description}
import * as client from "openid-client";
import { discover } from "./discover.mjs";

const settings = JSON.parse(process.argv[2]);
const out = (value) => process.stdout.write(JSON.stringify(value) + "\n");
const stopper = new AbortController();

// Every answer of the token endpoint is reported as it comes (the library itself only returns the last one).
async function recordingFetch(url, options) {
  const response = await fetch(url, options);
  if (new URL(url).pathname === "/token") {
    const body = await response.clone().json().catch(() => ({}));
    const answer = body.error ?? (response.ok ? "tokens" : `http ${response.status}`);
    out({ poll: answer });
    if (answer === settings.stop_on) stopper.abort();
  }
  return response;
}

function report(error) {
  return { name: error?.name, error: error?.error ?? error?.code ?? error?.cause?.error,
           error_description: error?.error_description ?? error?.message };
}

async function main() {
  const config = await discover(settings);
  config[client.customFetch] = recordingFetch;

  const response = await client.initiateDeviceAuthorization(config, { scope: settings.scope ?? "openid profile" });
  const { device_code: _secret, ...shown } = response;
  out({ device: shown });

  const polled = settings.interval === undefined ? response : { ...response, interval: settings.interval };
  const signals = [stopper.signal];
  if (settings.poll_timeout_ms) signals.push(AbortSignal.timeout(settings.poll_timeout_ms));
  const tokens = await client.pollDeviceAuthorizationGrant(config, polled, undefined, {
    signal: AbortSignal.any(signals),
  });
  const claims = tokens.claims();
  const result = {
    ok: true,
    token_type: tokens.token_type,
    scope: tokens.scope,
    id_token_claims: claims,
    userinfo: await client.fetchUserInfo(config, tokens.access_token, claims.sub),
  };
  if (settings.reuse) {
    // The same device code once more: the grant was spent, so the library must get an error, never tokens.
    result.reuse = await client.pollDeviceAuthorizationGrant(config, { ...response, interval: 0 })
      .then(() => ({ error: "tokens again" }), report);
  }
  out(result);
}

main().catch((error) => {
  out({ ok: false, ...report(error) });
  process.exitCode = 0;
});

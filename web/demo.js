// The demo login page: what a product writes around qrlogin.js.
// `?rotations=N` sets how many fresh codes are shown before "Get a new code"; the widget's timing
// options can be set by name (`?safetyPollSeconds=1&reconnectInitialMs=100`).  Tests use them.
import { createQrLogin } from "/qrlogin.js";
import { verifyIdToken, decodeJwt } from "/jwt.js";

const $ = (id) => document.getElementById(id);
const params = new URLSearchParams(location.search);
const rotations = Number.parseInt(params.get("rotations") ?? "", 10);
const TIMING_OPTIONS = ["reconnectInitialMs", "reconnectMaxMs", "snapshotTimeoutSeconds", "safetyPollSeconds",
  "redeemRetryMs"];
const timing = Object.fromEntries(TIMING_OPTIONS.filter((name) => Number(params.get(name)) > 0)
  .map((name) => [name, Number(params.get(name))]));

const login = createQrLogin({
  baseUrl: "",  // the API is on this origin locally; a product passes its qrlogin URL
  container: $("qr-login"),
  maxRotations: Number.isInteger(rotations) && rotations >= 0 ? rotations : undefined,
  ...timing,
  onStatus: ({ sessionId }) => {
    if (sessionId) $("phone-link").href = `/phone?session=${encodeURIComponent(sessionId)}`;
  },
  onToken: (idToken) => signedIn(idToken),
});
login.start();

$("password-form").addEventListener("submit", (event) => {
  event.preventDefault();
  $("form-note").textContent = "Password login isn't part of this demo. Scan the QR code with your phone instead.";
});
for (const id of ["forgot", "register"]) {
  $(id).addEventListener("click", (event) => {
    event.preventDefault();
    $("form-note").textContent = "That page isn't part of this demo.";
  });
}
$("sign-out").addEventListener("click", () => location.reload());

const CLAIMS = [
  ["name", "Name"], ["sub", "User id"], ["iss", "Issued by"], ["aud", "For"], ["amr", "Method"],
  ["auth_time", "Approved at"], ["iat", "Issued at"], ["exp", "Expires at"], ["jti", "Token id"],
];
const TIME_CLAIMS = new Set(["auth_time", "iat", "exp"]);

async function signedIn(idToken) {
  let claims, verdict;
  try {
    const verified = await verifyIdToken(idToken, { jwksUrl: "/.well-known/jwks.json" });
    claims = verified.claims;
    verdict = { ok: true, title: "Signature verified",
                detail: `ES256 with key ${verified.kid}, checked in this page with WebCrypto against /.well-known/jwks.json` };
  } catch (error) {
    claims = safeClaims(idToken);
    verdict = { ok: false, title: "Not verified", detail: error.message };
  }
  const name = claims.name || claims.sub || "there";
  $("welcome").textContent = `Welcome, ${name}`;
  $("user-chip").textContent = name;
  $("user-avatar").textContent = $("user-avatar-big").textContent = name.charAt(0).toUpperCase();

  const badge = $("verdict");
  badge.className = `badge ${verdict.ok ? "ok" : "bad"}`;
  badge.replaceChildren(
    Object.assign(document.createElement("span"), { className: "icon", textContent: verdict.ok ? "✓" : "!" }),
    Object.assign(document.createElement("div"), { textContent: verdict.title }),
  );
  badge.lastChild.append(Object.assign(document.createElement("small"), { textContent: verdict.detail }));

  const list = $("claims");
  list.replaceChildren();
  for (const [claim, label] of CLAIMS) {
    if (!(claim in claims)) continue;
    const term = document.createElement("dt");
    term.append(label, Object.assign(document.createElement("code"), { textContent: claim }));
    const value = claims[claim];
    const text = TIME_CLAIMS.has(claim) ? new Date(value * 1000).toLocaleString()
      : Array.isArray(value) ? value.join(", ") : String(value);
    list.append(term, Object.assign(document.createElement("dd"), { textContent: text }));
  }
  $("login-view").hidden = true;
  $("app-view").hidden = false;
  document.title = `${name} — Larkspur`;
  $("welcome").tabIndex = -1;  // move focus to the new view's heading, for keyboard and screen-reader users
  $("welcome").focus();
}

function safeClaims(idToken) {
  try { return decodeJwt(idToken).claims; } catch { return {}; }
}

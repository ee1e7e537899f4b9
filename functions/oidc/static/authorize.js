/**
 * The hosted authorize page (DESIGN §8): shows the qrlogin.js widget for the
 * authorization request's session, and once the phone confirms or denies (or
 * the code expires) asks POST authorize/complete where to go, then goes there.
 *
 * The outcome is exposed as <body data-outcome="waiting|code|access_denied|error">.
 */
import { createQrLogin } from "./qrlogin.js";

const data = JSON.parse(document.getElementById("qrl-authorization").textContent);
const session = data.session;
let finishing = false;

function sleep(ms) {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

async function finish() {
  if (finishing) return;
  finishing = true;
  // The server decides by its own clock; a code that just expired here may need a moment there.
  for (let attempt = 0; attempt < 8; attempt += 1) {
    let response, body;
    try {
      response = await fetch("authorize/complete", {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify({ session_id: session.session_id, browser_token: session.browser_token }),
        credentials: "omit",
        cache: "no-store",
      });
      body = await response.json();
    } catch {
      await sleep(1000);
      continue;
    }
    if (response.ok && body.redirect) {
      document.body.dataset.outcome = body.outcome;
      window.location.replace(body.redirect);
      return;
    }
    if (!(response.ok && body.outcome === "pending") && response.status < 500) break;
    await sleep(1000);
  }
  document.body.dataset.outcome = "error";
  finishing = false;
}

const login = createQrLogin({
  container: document.getElementById("qr-login"),
  session,
  styleNonce: data.style_nonce,
  maxRotations: 0,
  onConfirmed: finish,
  onStatus: (status) => {
    if (["denied", "cancelled", "expired"].includes(status.state)) finish();
  },
});
login.start();

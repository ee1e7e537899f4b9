// Phone simulator: the mobile app's side of QR login (DESIGN.md §3, "Phone").
// The phone user's token comes from the development identity provider and is
// kept in localStorage, so the simulator stays signed in like an app does and a
// followed QR link opens straight to the request; it is never logged.
const $ = (id) => document.getElementById(id);
const STORAGE_KEY = "larkspur-phone-user";
const SESSION_ID = /[A-Za-z0-9_-]{22}/g;

let me = loadUser();          // {sub, name, token}
let sessionId = null;         // the code being reviewed
let expiresAt = 0;            // its expiry, in this clock's seconds
let countdown = null;

function loadUser() {
  try { return JSON.parse(localStorage.getItem(STORAGE_KEY)); } catch { return null; }
}

function show(screen) {
  for (const name of ["signin", "home", "review", "result"]) $(`screen-${name}`).hidden = name !== screen;
  $("me-avatar").hidden = !me;
  if (me) $("me-avatar").textContent = initial(me.name || me.sub);
  const heading = $(`screen-${screen}`).querySelector("h2");
  if (heading) { heading.tabIndex = -1; heading.focus({ preventScroll: true }); }
}

function initial(text) {
  return (text || "?").trim().charAt(0).toUpperCase();
}

/** The session id in a QR link (any QrLinkTemplate), or a bare id. */
export function sessionIdOf(text) {
  const value = String(text || "").trim();
  try {
    const fromQuery = new URL(value).searchParams.get("session");
    if (fromQuery) return fromQuery;
  } catch { /* not a URL: a bare id or a path */ }
  const found = value.match(SESSION_ID);
  return found ? found[found.length - 1] : null;
}

// -- signing in ------------------------------------------------------------------

async function signIn(sub, name) {
  $("signin-error").textContent = "";
  let response, body;
  try {
    response = await fetch("/dev/phone-token", {
      method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify({ sub, name: name || undefined }),
    });
    body = await response.json();
  } catch {
    $("signin-error").textContent = "Can't reach the sign-in service.";
    return;
  }
  if (!response.ok) { $("signin-error").textContent = body.message || "Sign-in failed."; return; }
  me = { sub, name: name || sub, token: body.access_token };
  localStorage.setItem(STORAGE_KEY, JSON.stringify(me));
  home();
  if (pendingLink) { const link = pendingLink; pendingLink = null; open(link); }
}

function forget() {
  localStorage.removeItem(STORAGE_KEY);
  me = null;
}

function signOut() {
  forget();
  signInScreen(false);
}

function signInScreen(forLink) {
  $("signin-reason").hidden = !forLink;
  show("signin");
}

function home() {
  $("me-name").textContent = me.name;
  $("home-error").textContent = "";
  show("home");
}

// -- a code: scan, then approve or deny ------------------------------------------

let pendingLink = null;

async function open(link) {
  const id = sessionIdOf(link);
  if (!id) { $("home-error").textContent = "That isn't a Larkspur login code."; home(); return; }
  if (!me) { pendingLink = link; signInScreen(true); return; }
  history.replaceState(null, "", "/phone");  // a reload must not scan again
  const { response, body } = await call(id, "scan");
  if (!response) return;
  if (response.status === 401) { pendingLink = link; forget(); signInScreen(true); return; }  // e.g. a restarted stack
  if (!response.ok) { failed(response.status, body); return; }
  sessionId = id;
  review(body);
}

async function call(id, action) {
  try {
    const response = await fetch(`/sessions/${encodeURIComponent(id)}/${action}`, {
      method: "POST", headers: { Authorization: `Bearer ${me.token}` },
    });
    return { response, body: await response.json() };
  } catch {
    result("error", "No connection", "Check your connection and scan the code again.");
    return {};
  }
}

function review(body) {
  const { ip, user_agent: userAgent, created_at: createdAt } = body.request;
  $("review-user").textContent = me.name;
  $("ctx-browser").textContent = describeBrowser(userAgent);
  $("ctx-ip").textContent = ip;
  $("ctx-time").textContent = describeTime(createdAt);
  const network = $("ctx-network");
  network.replaceChildren();
  const icon = document.createElement("span");
  icon.setAttribute("aria-hidden", "true");
  const words = document.createElement("div");
  const title = document.createElement("strong");
  const detail = document.createElement("span");
  if (body.proximity.same_network) {
    network.className = "network same";
    icon.textContent = "✓";
    title.textContent = "Same network as this phone";
    detail.textContent = "The computer seems to be near you.";
  } else {
    network.className = "network other";
    icon.textContent = "⚠";
    title.textContent = "Not on your network";
    detail.textContent = "This request comes from somewhere else. If you're not at that computer, deny it.";
  }
  words.append(title, detail);
  network.append(icon, words);
  expiresAt = body.expires_at;  // the server's clock: a phone's clock is assumed to be close to it
  tick();
  clearInterval(countdown);
  countdown = setInterval(tick, 1000);
  $("approve").disabled = $("deny").disabled = false;
  show("review");
}

function tick() {
  const left = Math.round(expiresAt - Date.now() / 1000);
  if (left <= 0) {
    clearInterval(countdown);
    $("review-expires").textContent = "This request has expired.";
    $("approve").disabled = $("deny").disabled = true;
    return;
  }
  $("review-expires").textContent = `This request expires in ${Math.floor(left / 60)}:${String(left % 60).padStart(2, "0")}`;
}

async function decide(action) {
  $("approve").disabled = $("deny").disabled = true;
  clearInterval(countdown);
  const { response, body } = await call(sessionId, action);
  if (!response) return;
  if (!response.ok) { failed(response.status, body); return; }
  const browser = $("ctx-browser").textContent;
  if (action === "confirm") {
    result("approved", `You're logged in on ${browser}`, "You can use Larkspur on that computer now.");
  } else {
    result("denied", "Login denied", "Nobody was logged in. If this wasn't you, no action is needed.");
  }
}

function failed(status, body) {
  if (status === 401) { forget(); signInScreen(false); return; }
  const reasons = {
    404: ["Code not recognised", "This isn't a valid login code. Get a new code on the computer."],
    409: ["Code already used", "This code was scanned by someone else or has been answered. Get a new code on the computer."],
    410: ["Code expired", "This code has expired. Get a new code on the computer and scan again."],
  };
  const [title, text] = reasons[status] || ["Something went wrong", body.message || "Try again."];
  result("error", title, text);
}

function result(kind, title, text) {
  $("result").dataset.kind = kind;
  $("result-icon").textContent = { approved: "✓", denied: "✕", error: "!" }[kind];
  $("result-title").textContent = title;
  $("result-text").textContent = text;
  show("result");
}

// -- a typed code (DESIGN §8): "Can't scan?" on the computer shows it --------------

async function enterCode(typed) {
  $("home-error").textContent = "";
  if (!me) { signInScreen(false); return; }
  $("code-submit").disabled = true;
  let response, body;
  try {
    response = await fetch("/sessions/lookup", {
      method: "POST",
      headers: { Authorization: `Bearer ${me.token}`, "Content-Type": "application/json" },
      body: JSON.stringify({ user_code: typed }),
    });
    body = await response.json();
  } catch {
    $("home-error").textContent = "No connection. Check it and try again.";
    return;
  } finally {
    $("code-submit").disabled = false;
  }
  if (response.ok) { $("user-code").value = ""; open(body.session_id); return; }
  if (response.status === 401) { forget(); signInScreen(false); return; }
  const minutes = Math.max(1, Math.ceil(Number(response.headers.get("Retry-After") || 60) / 60));
  $("home-error").textContent = {
    400: "A code is 8 letters, like WDJB-MJHT.",
    404: "No login is waiting for that code. Check it, or get a new code on the computer.",
    429: `Too many wrong codes. Try again in ${minutes} min.`,
  }[response.status] || body.message || "Something went wrong. Try again.";
}

// -- describing the request ------------------------------------------------------

export function describeBrowser(userAgent) {
  const ua = String(userAgent || "");
  const browser = [
    [/Edg\/(\d+)/, "Edge"], [/OPR\/(\d+)/, "Opera"], [/Firefox\/(\d+)/, "Firefox"],
    [/(?:Headless)?Chrome\/(\d+)/, "Chrome"], [/Version\/(\d+).*Safari/, "Safari"],
  ].find(([pattern]) => pattern.test(ua));
  const system = [
    [/Windows/, "Windows"], [/Android/, "Android"], [/iPhone|iPad/, "iOS"], [/Mac OS X/, "macOS"],
    [/CrOS/, "ChromeOS"], [/Linux/, "Linux"],
  ].find(([pattern]) => pattern.test(ua));
  if (!browser) return system ? `A browser on ${system[1]}` : "An unknown browser";
  const version = ua.match(browser[0])[1];
  return `${browser[1]} ${version}${system ? ` on ${system[1]}` : ""}`;
}

function describeTime(epochSeconds) {
  const when = new Date(epochSeconds * 1000);
  const ago = Math.max(0, Math.round(Date.now() / 1000 - epochSeconds));
  const relative = ago < 60 ? "just now" : `${Math.round(ago / 60)} min ago`;
  return `${when.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" })} · ${relative}`;
}

// -- the camera (where the browser has BarcodeDetector) ---------------------------

let stream = null;

async function startCamera() {
  $("home-error").textContent = "";
  try {
    stream = await navigator.mediaDevices.getUserMedia({ video: { facingMode: "environment" } });
  } catch {
    $("home-error").textContent = "The camera isn't available. Paste the code's link instead.";
    return;
  }
  const video = $("camera");
  video.srcObject = stream;
  video.hidden = $("camera-stop").hidden = false;
  $("camera-start").hidden = true;
  await video.play();
  const detector = new BarcodeDetector({ formats: ["qr_code"] });
  while (stream) {
    const codes = await detector.detect(video).catch(() => []);
    const code = codes.find((found) => sessionIdOf(found.rawValue));
    if (code) { stopCamera(); open(code.rawValue); return; }
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
}

function stopCamera() {
  if (stream) for (const track of stream.getTracks()) track.stop();
  stream = null;
  $("camera").hidden = $("camera-stop").hidden = true;
  $("camera-start").hidden = false;
}

// -- wiring ------------------------------------------------------------------------

for (const button of document.querySelectorAll(".user")) {
  button.addEventListener("click", () => signIn(button.dataset.sub, button.dataset.name));
}
$("signin-form").addEventListener("submit", (event) => {
  event.preventDefault();
  const sub = $("signin-sub").value.trim();
  if (sub) signIn(sub, $("signin-name").value.trim());
});
$("link-form").addEventListener("submit", (event) => {
  event.preventDefault();
  open($("link").value);
});
$("code-form").addEventListener("submit", (event) => {
  event.preventDefault();
  enterCode($("user-code").value);
});
$("sign-out").addEventListener("click", signOut);
$("approve").addEventListener("click", () => decide("confirm"));
$("deny").addEventListener("click", () => decide("deny"));
$("done").addEventListener("click", () => { $("link").value = $("user-code").value = ""; home(); });
$("camera-card").hidden = !("BarcodeDetector" in window && navigator.mediaDevices);
$("camera-start").addEventListener("click", startCamera);
$("camera-stop").addEventListener("click", stopCamera);
$("clock").textContent = new Date().toLocaleTimeString([], { hour: "numeric", minute: "2-digit" });

const linked = new URLSearchParams(location.search).get("session") || decodeURIComponent(location.hash.slice(1));
if (me) home(); else signInScreen(Boolean(linked));
if (linked) open(linked);

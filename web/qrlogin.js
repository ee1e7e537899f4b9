/**
 * qrlogin.js — scan-to-log-in for any web page.  A dependency-free ES module.
 *
 *   import { createQrLogin } from "https://login.example.com/qrlogin.js";
 *   const login = createQrLogin({
 *     baseUrl: "https://login.example.com",          // the qrlogin HTTP API
 *     container: document.querySelector("#qr-login"),
 *     onToken: (idToken) => sendToYourBackend(idToken),
 *   });
 *   login.start();
 *
 * What it does (contract v1, DESIGN.md §3):
 * - POST /sessions, shows the QR, subscribes over the WebSocket (secrets in the
 *   message body, never in the URL) and keeps the last seen `version` per
 *   session, so stale or repeated status messages are dropped.
 * - "scanned": hides the QR and says who scanned ("Alice — confirm on your phone").
 * - Before the code expires it rotates to a fresh one on the same socket, at
 *   most `maxRotations` times in a row, then offers "Get a new code".  While the
 *   tab is hidden it does not rotate (nobody is looking); coming back to an
 *   expired code gets a fresh one at once.
 * - When the WebSocket cannot open or drops, it polls GET /sessions/{id} at the
 *   server's `interval` and reconnects with exponential backoff and jitter.
 * - It never goes silent: an error reply, a message it does not know (API
 *   Gateway's {"message": "Internal server error"}) or no snapshot within
 *   `snapshotTimeoutSeconds` of a subscribe means "not subscribed": it polls
 *   and subscribes again with backoff.  While a code is scanned, a slow safety
 *   poll runs next to the socket, so a lost push cannot strand the person.
 * - "confirmed": POST /sessions/{id}/token, then `onToken(id_token)`;
 *   authorization_pending and slow_down are retried with backoff until the
 *   code expires (RFC 8628 §3.5), as are network errors and 5xx.
 * - A countdown (role="progressbar") shows how long the code on screen lives.
 * - denied / cancelled / expired are said plainly, with a way to start again.
 * - `dismiss()` (and leaving the page) sends DELETE /sessions/{id}.
 *
 * Options for a page that already has its session (the stack's hosted
 * /authorize page, DESIGN §8): `session` (a POST /sessions body) is shown
 * instead of issuing one, and the widget then never issues codes of its own
 * (no rotation, no renew); `onConfirmed({sessionId})` replaces the redeem (and
 * `onToken`); `styleNonce` is set on the injected <style> for a nonce-based CSP.
 *
 * Tokens live in memory only and are never logged.  The page's Content
 * Security Policy must allow `connect-src` to the API and its WebSocket, and
 * `img-src data:` (the QR is shown as an <img> of the server's SVG, so no
 * markup from the network is ever inserted into the page).
 */

const DEFAULT_TEXT = {
  loading: "Getting a code…",
  pending: "Scan with your phone to log in",
  scanned: (user) => (user ? `${user} — confirm on your phone` : "Code scanned — confirm on your phone"),
  confirmed: "Confirmed — signing you in…",
  signed_in: "You're signed in",
  denied: "Login denied on your phone.",
  cancelled: "This login was cancelled.",
  expired: "This code expired.",
  used: "This code was already used.",
  rate_limited: "Too many new codes from this network. Wait a minute, then get a new code.",
  unavailable: "Can't reach the login service. Check your connection and try again.",
  renew: "Get a new code",
  countdown_rotate: (seconds) => `New code in ${seconds} s`,
  countdown_expire: (seconds) => `Code expires in ${seconds} s`,
  countdown_confirm: (seconds) => `${seconds} s left to confirm`,
  countdown_label: "Time left on this code",
  retry: "Try again",
  start_over: "Not you? Start over",
  qr_alt: "QR code. Scan it with your phone to log in.",
  cant_scan: "Can't scan? Use a code",
  code_hint: "Enter this code in the app:",
  code_unavailable: "Couldn't get a code. Try again.",
};

const DEFAULTS = {
  baseUrl: "",
  maxRotations: 5,          // fresh codes in a row before asking the person to click
  rotateLeadSeconds: 10,    // rotate this long before expiry (at most a fifth of the lifetime)
  reconnectInitialMs: 1000,
  reconnectMaxMs: 30000,
  pingSeconds: 300,         // API Gateway closes idle sockets after 10 minutes
  snapshotTimeoutSeconds: 5, // no snapshot this long after a subscribe: subscribe again (and poll meanwhile)
  safetyPollSeconds: 10,    // while scanned, one poll this often next to the socket (a lost push)
  redeemRetryMs: 1000,      // first wait after authorization_pending / an unreachable token endpoint
  showCountdown: true,
  dismissOnPageHide: true,
  injectStyles: true,
};

// States the widget can be in; exposed as `controller.state` and `data-state`.
const LIVE = new Set(["pending", "scanned"]);

export function createQrLogin(options) {
  return new QrLogin(options);
}

export class QrLogin {
  constructor(options = {}) {
    if (!(options.container instanceof Element)) throw new TypeError("qrlogin: `container` must be an Element");
    if (typeof options.onToken !== "function" && typeof options.onConfirmed !== "function") {
      throw new TypeError("qrlogin: `onToken` must be a function");
    }
    const given = Object.fromEntries(Object.entries(options).filter(([, value]) => value !== undefined));
    this.options = { ...DEFAULTS, ...given };
    this.options.baseUrl = String(this.options.baseUrl).replace(/\/+$/, "");
    this.text = { ...DEFAULT_TEXT, ...(options.text || {}) };
    this.container = options.container;
    this.state = "idle";
    this.transport = "none";        // "websocket" | "polling" | "none"
    this.session = null;            // {id, token, qrUrl, deadline, lifetimeMs, interval, websocketUrl, user}
    this.versions = new Map();      // session id -> last version seen
    this.rotations = 0;
    this.rotationDue = false;
    this.generation = 0;            // bumps on every new code: late answers for an older one are ignored
    this.socket = null;
    this.socketOpen = false;
    this.subscribed = null;         // the session id whose snapshot came over the open socket
    this.reconnectDelay = this.options.reconnectInitialMs;
    this.subscribeDelay = this.options.reconnectInitialMs;
    this.timers = {};
    this.dismissedByPageHide = false;
    this.onVisibility = () => this.visibilityChanged();
    this.onPageHide = () => { if (this.options.dismissOnPageHide && this.running) { this.dismiss(); this.dismissedByPageHide = true; } };
    this.onPageShow = (event) => { if (event.persisted && this.dismissedByPageHide) this.start(); };
  }

  /** Shows a code and starts listening.  Calling it again while running does nothing. */
  start() {
    if (this.running) return this;
    this.running = true;
    this.dismissedByPageHide = false;
    if (this.options.injectStyles) injectStyles(this.options.styleNonce);
    this.render();
    document.addEventListener("visibilitychange", this.onVisibility);
    window.addEventListener("pagehide", this.onPageHide);
    window.addEventListener("pageshow", this.onPageShow);
    this.rotations = 0;
    this.issue();
    return this;
  }

  /** A fresh code now (what "Get a new code" does); the rotation budget starts over. */
  renew() {
    if (!this.running) return this.start();
    this.rotations = 0;
    this.issue();
    return this;
  }

  /** The page no longer wants this login: cancel the session (DELETE) and stop everything. */
  dismiss() {
    if (!this.running) return;
    this.generation += 1;
    const session = this.session;
    if (session && LIVE.has(this.state)) this.cancel(session);
    this.stop();
    this.setState("dismissed");
    this.root.remove();
  }

  stop() {
    this.running = false;
    this.teardown();
    document.removeEventListener("visibilitychange", this.onVisibility);
    window.removeEventListener("pagehide", this.onPageHide);
  }

  // -- sessions ---------------------------------------------------------------

  /** A new code.  While a rotation's request is out, the old code stays on screen (its expiry timer is off). */
  async issue(rotation = false) {
    const generation = ++this.generation;
    const previous = this.session;
    this.clearTimer("rotate");
    this.clearTimer("expire");
    this.rotationDue = false;
    if (!previous || !LIVE.has(this.state)) this.setState("loading");
    let response, body;
    if (this.options.session) {  // a page that brought its own session issues none
      if (previous) return;
      response = { ok: true };
      body = this.options.session;
    } else try {
      response = await fetch(this.url("/sessions"), {
        method: "POST", headers: { "Content-Type": "application/json" }, body: "{}", credentials: "omit",
      });
      body = await response.json();
    } catch {
      if (generation === this.generation) this.fail("unavailable");
      return;
    }
    if (!response.ok) {
      if (generation === this.generation) this.fail(response.status === 429 ? "rate_limited" : "unavailable");
      return;
    }
    const issued = {
      id: body.session_id,
      token: body.browser_token,
      qrUrl: body.qr.url,
      svg: body.qr.svg,
      lifetimeMs: body.expires_in * 1000,
      issuedAt: Date.now(),
      deadline: Date.now() + body.expires_in * 1000,
      // Expiry times from the server are mapped onto this clock with the offset seen now.
      clockOffsetMs: body.expires_at * 1000 - (Date.now() + body.expires_in * 1000),
      interval: Math.max(1, Number(body.interval) || 2),
      websocketUrl: body.websocket_url,
      user: null,
    };
    // Nobody will show this one: the page moved on, or the old code was scanned meanwhile
    // (a rotation never takes a code away from someone who is confirming it).
    if (generation !== this.generation || !this.running || (rotation && this.state !== "pending")) {
      this.cancel(issued);
      return;
    }
    this.session = issued;
    this.versions.set(issued.id, 0);
    this.showCode(issued);
    this.setState("pending");
    this.scheduleExpiry();
    this.clearTimer("poll");  // a poll scheduled for the previous code
    this.listen();
    if (previous && previous.id !== issued.id && LIVE.has(previous.status || "pending")) this.cancel(previous);
  }

  cancel(session) {
    // keepalive lets the request outlive a page that is being unloaded.
    fetch(this.url(`/sessions/${encodeURIComponent(session.id)}`), {
      method: "DELETE", headers: { Authorization: `Bearer ${session.token}` }, keepalive: true, credentials: "omit",
    }).catch(() => {});  // best effort: an unanswered code expires on its own
    session.status = "cancelled";
  }

  scheduleExpiry() {
    const session = this.session;
    const now = Date.now();
    this.clearTimer("rotate");
    this.clearTimer("expire");
    this.timers.expire = setTimeout(() => this.expired(), Math.max(0, session.deadline - now));
    session.rotateAt = null;
    if (this.state === "pending") {
      const leadMs = Math.min(this.options.rotateLeadSeconds * 1000, session.lifetimeMs / 5);
      if (this.rotations < this.options.maxRotations) session.rotateAt = session.deadline - leadMs;
      this.timers.rotate = setTimeout(() => this.rotate(), Math.max(0, session.deadline - leadMs - now));
    }
    this.tick();
  }

  rotate() {
    if (this.state !== "pending") return;
    if (document.hidden) { this.rotationDue = true; return; }  // paused: resumes when the tab is visible
    if (this.rotations >= this.options.maxRotations) return;  // let it expire; the person clicks for more
    this.rotations += 1;
    this.issue(true);
  }

  expired() {
    if (!LIVE.has(this.state)) return;
    this.finish("expired");
  }

  visibilityChanged() {
    if (document.hidden || !this.running) return;
    // Someone is looking again: an expired or about-to-expire code is replaced at once.
    if (this.state === "expired" || (this.rotationDue && this.state === "pending")) this.renew();
  }

  // -- status updates -----------------------------------------------------------

  /** One status message from the WebSocket or a poll. */
  receive(message) {
    const session = this.session;
    if (!session || message.session_id !== session.id) return;  // an older, rotated-away code
    const version = Number(message.version);
    const last = this.versions.get(session.id) || 0;
    // Expiry is decided by time on the server and does not bump the version.
    const expiredNow = message.status === "expired" && version === last && LIVE.has(this.state);
    if (!(version > last) && !expiredNow) return;  // stale or repeated
    this.versions.set(session.id, version);
    if (typeof message.expires_at === "number") {
      session.deadline = message.expires_at * 1000 - session.clockOffsetMs;
    }
    session.status = message.status;
    switch (message.status) {
      case "pending":
        if (this.state === "pending") this.scheduleExpiry();
        break;
      case "scanned":
        session.user = message.user || null;
        this.setState("scanned");
        this.scheduleExpiry();  // no rotation while someone is confirming
        this.scheduleSafetyPoll(session);
        break;
      case "confirmed":
        if (typeof this.options.onConfirmed === "function") {
          this.stop();
          this.setState("confirmed");
          this.options.onConfirmed({ sessionId: session.id });
        } else this.redeem(session);
        break;
      case "denied":
      case "cancelled":
      case "expired":
        this.finish(message.status);
        break;
      default:  // "redeemed" follows our own redeem
        break;
    }
  }

  async redeem(session) {
    if (this.state === "confirmed" || this.state === "signed_in") return;
    this.setState("confirmed");
    this.clearTimer("rotate");
    this.clearTimer("expire");
    this.clearTimer("safety");
    let delay = this.options.redeemRetryMs;
    for (;;) {
      let response = null;
      let body = {};
      try {
        response = await fetch(this.url(`/sessions/${encodeURIComponent(session.id)}/token`), {
          method: "POST", headers: { Authorization: `Bearer ${session.token}` }, credentials: "omit",
        });
        body = await response.json().catch(() => ({}));
      } catch {
        response = null;  // offline for now: try again below
      }
      if (session !== this.session || !this.running) return;
      if (response && response.ok) {
        this.stop();
        this.setState("signed_in");
        this.options.onToken(body.id_token, { sessionId: session.id });
        return;
      }
      // "Not yet" (a read that lags the confirmation) and "too fast" mean try again (RFC 8628 §3.5);
      // so do a network error and a 5xx.  Anything else is the answer.
      const notYet = response && ["authorization_pending", "slow_down"].includes(body.error);
      if (response && response.status < 500 && !notYet) {
        const ending = { access_denied: "denied", expired_token: "expired", invalid_grant: "used" }[body.error];
        this.finish(ending || "unavailable");
        return;
      }
      if (body.error === "slow_down") delay += 5000;
      if (Date.now() + delay > session.deadline) {
        this.finish(notYet ? "expired" : "unavailable");
        return;
      }
      await sleep(delay);
      if (session !== this.session || !this.running) return;
      delay = Math.min(delay * 2, this.options.reconnectMaxMs);
    }
  }

  finish(reason) {
    this.clearTimer("rotate");
    this.clearTimer("expire");
    this.clearTimer("poll");
    this.clearTimer("safety");
    this.closeSocket();  // nothing left to hear; the next code opens a new one
    const state = ["denied", "cancelled", "expired"].includes(reason) ? reason : "error";
    this.setState(state, this.text[reason]);
  }

  fail(reason) {
    this.finish(reason);
  }

  // -- transport: WebSocket first, polling while it is down ----------------------

  listen() {
    if (this.socketOpen) { this.subscribe(); return; }  // its snapshot (or its absence) decides what follows
    if (!this.socket && !this.timers.reconnect) this.connect();
    this.startPolling();  // until a subscription is live
  }

  connect() {
    const session = this.session;
    if (!session || !this.running) return;
    let socket;
    try {
      socket = new WebSocket(session.websocketUrl);
    } catch {
      this.socketDown();
      return;
    }
    this.socket = socket;
    socket.onopen = () => {
      if (this.socket !== socket) return;
      this.socketOpen = true;
      this.reconnectDelay = this.options.reconnectInitialMs;
      this.subscribe();  // polling (if any) goes on until the snapshot arrives
      this.timers.ping = setInterval(() => this.send({ action: "ping" }), this.options.pingSeconds * 1000);
    };
    socket.onmessage = (event) => {
      if (this.socket !== socket) return;
      let message = null;
      try { message = JSON.parse(event.data); } catch { /* not JSON: handled as unknown below */ }
      if (message && message.type === "status") {
        if (this.session && message.session_id === this.session.id) this.subscribedNow();
        this.receive(message);
      } else if (!(message && message.type === "pong")) {
        // An error reply ({"type": "error"}: a throttled read, an unknown session), or a message we do not
        // know, such as API Gateway's {"message": "Internal server error"} for a failed function:
        // whatever it answered, this code may not be subscribed.  Poll, and subscribe again.
        this.subscriptionLost();
      }
    };
    socket.onclose = () => {
      if (this.socket !== socket) return;
      this.socket = null;
      this.socketDown();
    };
  }

  socketDown() {
    this.socketOpen = false;
    this.unsubscribed();
    clearInterval(this.timers.ping);
    if (!this.running || !LIVE.has(this.state)) return;
    this.startPolling();
    const delay = this.reconnectDelay * (0.5 + Math.random() / 2);  // jitter: not every tab at once
    this.reconnectDelay = Math.min(this.reconnectDelay * 2, this.options.reconnectMaxMs);
    this.clearTimer("reconnect");
    this.timers.reconnect = setTimeout(() => { delete this.timers.reconnect; this.connect(); }, delay);
  }

  subscribe() {
    const session = this.session;
    this.unsubscribed();
    this.send({ action: "subscribe", session_id: session.id, browser_token: session.token });
    this.timers.snapshot = setTimeout(() => {
      delete this.timers.snapshot;
      if (session === this.session) this.subscriptionLost();  // no snapshot: refused, lost or throttled
    }, this.options.snapshotTimeoutSeconds * 1000);
  }

  /** The current code's snapshot came over the socket: pushes will follow, polling can stop. */
  subscribedNow() {
    if (this.subscribed === this.session.id) return;
    this.clearTimer("snapshot");
    this.clearTimer("resubscribe");
    this.subscribed = this.session.id;
    this.subscribeDelay = this.options.reconnectInitialMs;
    this.clearTimer("poll");
    this.setTransport("websocket");
    if (this.root) this.root.dataset.subscribed = this.subscribed;
  }

  unsubscribed() {
    this.clearTimer("snapshot");
    this.subscribed = null;
    if (this.root) delete this.root.dataset.subscribed;
  }

  /** Not (or no longer known to be) subscribed on an open socket: poll now and meanwhile, subscribe again later. */
  subscriptionLost() {
    if (!this.running || !this.session || !LIVE.has(this.state)) return;
    this.unsubscribed();
    this.setTransport("polling");
    const session = this.session;
    if (!this.timers.poll) this.poll(session).then(() => { if (session === this.session) this.startPolling(); });
    if (this.timers.resubscribe) return;
    const delay = this.subscribeDelay * (0.5 + Math.random() / 2);
    this.subscribeDelay = Math.min(this.subscribeDelay * 2, this.options.reconnectMaxMs);
    this.timers.resubscribe = setTimeout(() => {
      delete this.timers.resubscribe;
      if (this.socketOpen && session === this.session && LIVE.has(this.state)) this.subscribe();
    }, delay);
  }

  /** While someone confirms on the phone, a slow poll next to the socket: a push lost after the
   *  notifier's last retry (or to a connection API Gateway dropped) cannot strand them. */
  scheduleSafetyPoll(session) {
    this.clearTimer("safety");
    this.timers.safety = setTimeout(async () => {
      delete this.timers.safety;
      if (session !== this.session || this.state !== "scanned") return;
      if (!this.timers.poll) await this.poll(session);  // regular polling covers it while unsubscribed
      if (session === this.session && this.state === "scanned") this.scheduleSafetyPoll(session);
    }, this.options.safetyPollSeconds * 1000);
  }

  send(message) {
    if (this.socket && this.socket.readyState === WebSocket.OPEN) this.socket.send(JSON.stringify(message));
  }

  closeSocket() {
    this.clearTimer("reconnect");
    this.clearTimer("resubscribe");
    this.unsubscribed();
    clearInterval(this.timers.ping);
    const socket = this.socket;
    this.socket = null;
    this.socketOpen = false;
    if (socket) socket.close(1000);
    this.setTransport("none");
  }

  startPolling() {
    const live = this.socketOpen && this.session && this.subscribed === this.session.id;
    if (live || this.timers.poll || !this.session || !LIVE.has(this.state)) return;
    this.setTransport("polling");
    const session = this.session;
    this.timers.poll = setTimeout(async () => {
      delete this.timers.poll;
      await this.poll(session);
      if (session === this.session) this.startPolling();
    }, session.interval * 1000);
  }

  async poll(session) {
    try {
      const response = await fetch(this.url(`/sessions/${encodeURIComponent(session.id)}`), {
        headers: { Authorization: `Bearer ${session.token}` }, credentials: "omit", cache: "no-store",
      });
      if (response.status === 404 && session === this.session) { this.finish("expired"); return; }
      if (response.ok) this.receive({ ...(await response.json()), session_id: session.id });
    } catch {
      // offline for now: the next poll tries again
    }
  }

  teardown() {
    this.closeSocket();
    for (const name of Object.keys(this.timers)) this.clearTimer(name);
  }

  clearTimer(name) {
    clearTimeout(this.timers[name]);  // clearTimeout clears intervals too
    delete this.timers[name];
  }

  url(path) {
    return `${this.options.baseUrl}${path}`;
  }

  // -- rendering -----------------------------------------------------------------

  render() {
    if (this.root) { this.container.append(this.root); return; }
    const root = element("div", "qrl");
    const frame = element("div", "qrl-frame");
    this.image = element("img", "qrl-code");
    this.image.alt = this.text.qr_alt;
    this.spinner = element("div", "qrl-spinner");
    this.spinner.setAttribute("aria-hidden", "true");
    this.who = element("div", "qrl-who");
    this.avatar = element("div", "qrl-avatar");
    this.avatar.setAttribute("aria-hidden", "true");
    this.whoName = element("div", "qrl-who-name");
    this.who.append(this.avatar, this.whoName);
    this.renewButton = element("button", "qrl-renew");
    this.renewButton.type = "button";
    this.renewButton.addEventListener("click", () => this.renew());
    frame.append(this.image, this.spinner, this.who, this.renewButton);
    this.countdown = element("div", "qrl-countdown");
    this.countdown.setAttribute("role", "progressbar");
    this.countdown.setAttribute("aria-label", this.text.countdown_label);
    this.countdown.setAttribute("aria-valuemin", "0");
    this.countdownBar = element("div", "qrl-countdown-bar");
    this.countdownText = element("span", "qrl-countdown-text");
    this.countdown.append(this.countdownBar, this.countdownText);
    this.countdown.hidden = !this.options.showCountdown;
    this.statusLine = element("p", "qrl-status");
    this.statusLine.setAttribute("role", "status");
    this.statusLine.setAttribute("aria-live", "polite");
    this.startOver = element("button", "qrl-start-over");
    this.startOver.type = "button";
    this.startOver.textContent = this.text.start_over;
    this.startOver.addEventListener("click", () => this.renew());
    // "Can't scan?": a typed code (DESIGN §8), minted only when asked for.
    this.codeButton = element("button", "qrl-code-request");
    this.codeButton.type = "button";
    this.codeButton.textContent = this.text.cant_scan;
    this.codeButton.addEventListener("click", () => this.requestUserCode());
    this.userCode = element("p", "qrl-user-code");
    this.userCode.setAttribute("aria-live", "polite");
    this.userCode.hidden = true;
    root.append(frame, this.countdown, this.statusLine, this.startOver, this.codeButton, this.userCode);
    this.root = root;
    this.container.append(root);
  }

  showCode(session) {
    const image = this.image;
    delete this.root.dataset.qrShown;
    image.src = `data:image/svg+xml;charset=utf-8,${encodeURIComponent(session.svg)}`;
    this.root.dataset.sessionId = session.id;
    delete this.root.dataset.userCode;  // a typed code belongs to one session
    this.userCode.hidden = true;
    this.codeButton.hidden = false;
    // data-qr-shown names the session whose code is on screen for real: decoded, its fade-in done,
    // and painted.  A camera (or a test's screenshot) taken earlier may see the old code or none.
    image.decode()
      .then(nextFrame)
      .then(() => Promise.all(image.getAnimations().map((animation) => animation.finished)))
      .then(nextFrame)
      .then(nextFrame)
      .then(() => { if (this.session === session && this.root) this.root.dataset.qrShown = session.id; })
      .catch(() => {});  // replaced by a newer code meanwhile: that one says when it is shown
  }

  /** "Can't scan?": POST /sessions/{id}/user_code, then show it; the code on screen then stops rotating. */
  async requestUserCode() {
    const session = this.session;
    if (!session || this.state !== "pending") return;
    this.codeButton.disabled = true;
    let body = null;
    try {
      const response = await fetch(this.url(`/sessions/${encodeURIComponent(session.id)}/user_code`), {
        method: "POST", headers: { Authorization: `Bearer ${session.token}` }, credentials: "omit",
      });
      if (response.ok) body = await response.json();
    } catch { /* shown below */ }
    this.codeButton.disabled = false;
    if (this.session !== session) return;
    this.userCode.replaceChildren();
    this.userCode.hidden = false;
    if (!body) { this.userCode.textContent = this.text.code_unavailable; return; }
    const code = element("strong", "qrl-user-code-value");
    code.textContent = body.user_code;
    this.userCode.append(`${this.text.code_hint} `, code);
    this.root.dataset.userCode = body.user_code;
    this.codeButton.hidden = true;
    // The person is typing this code: it must stay valid, so no rotation replaces it.
    this.rotations = this.options.maxRotations;
    this.scheduleExpiry();
  }

  /** The countdown: seconds until the code on screen changes (a rotation) or expires. */
  tick() {
    const session = this.session;
    const live = this.running && session && LIVE.has(this.state);
    if (!live) { this.clearTimer("tick"); return; }
    if (!this.timers.tick) this.timers.tick = setInterval(() => this.tick(), 1000);
    const end = this.state === "pending" && session.rotateAt ? session.rotateAt : session.deadline;
    const totalMs = Math.max(1000, end - session.issuedAt);
    const left = Math.max(0, Math.ceil((end - Date.now()) / 1000));
    const wording = this.state === "scanned" ? this.text.countdown_confirm
      : session.rotateAt ? this.text.countdown_rotate : this.text.countdown_expire;
    const text = typeof wording === "function" ? wording(left) : String(wording).replace("{seconds}", left);
    this.countdown.setAttribute("aria-valuemax", String(Math.round(totalMs / 1000)));
    this.countdown.setAttribute("aria-valuenow", String(Math.min(left, Math.round(totalMs / 1000))));
    this.countdown.setAttribute("aria-valuetext", text);
    this.countdownText.textContent = text;
    this.countdownBar.style.width = `${Math.min(100, (100 * left * 1000) / totalMs)}%`;
  }

  setState(state, text) {
    this.state = state;
    const session = this.session;
    const user = session && session.user;
    const line = text || (state === "scanned" ? this.text.scanned(user) : this.text[state]) || "";
    if (this.root) {
      this.root.dataset.state = state;
      this.statusLine.textContent = line;
      this.avatar.textContent = (user || "?").trim().charAt(0).toUpperCase();
      this.whoName.textContent = user || "";
      this.renewButton.textContent = state === "denied" || state === "error" ? this.text.retry : this.text.renew;
    }
    if (typeof this.options.onStatus === "function") {
      this.options.onStatus({
        state, text: line, user: user || null,
        sessionId: session ? session.id : null, qrUrl: session ? session.qrUrl : null, transport: this.transport,
      });
    }
  }

  setTransport(transport) {
    this.transport = transport;
    if (this.root) this.root.dataset.transport = transport;
  }
}

function element(tag, className) {
  const node = document.createElement(tag);
  node.className = className;
  return node;
}

function sleep(ms) {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

function nextFrame() {
  return new Promise((resolve) => requestAnimationFrame(() => resolve()));
}

// Default look; every rule is wrapped in :where() (zero specificity) so the page's own CSS wins.
// Themable with --qrl-size, --qrl-accent, --qrl-fg, --qrl-muted, --qrl-radius.
const STYLES = `
:where(.qrl){--qrl-size:264px;--qrl-accent:#4f46e5;--qrl-fg:#111827;--qrl-muted:#4b5563;--qrl-radius:14px;
  display:flex;flex-direction:column;align-items:center;gap:12px;color:var(--qrl-fg);font:inherit}
:where(.qrl-frame){position:relative;width:var(--qrl-size);height:var(--qrl-size);border-radius:var(--qrl-radius);
  background:#fff;box-shadow:0 0 0 1px rgb(0 0 0 / .08),0 8px 24px rgb(0 0 0 / .08);overflow:hidden}
:where(.qrl-code){display:block;width:100%;height:100%;transition:filter .2s,opacity .2s}
:where(.qrl-spinner){position:absolute;inset:0;margin:auto;width:40px;height:40px;border-radius:50%;
  border:4px solid rgb(0 0 0 / .1);border-top-color:var(--qrl-accent);animation:qrl-spin .9s linear infinite;display:none}
@keyframes qrl-spin{to{transform:rotate(360deg)}}
:where(.qrl-who){position:absolute;inset:0;display:none;flex-direction:column;align-items:center;justify-content:center;
  gap:10px;background:#fff}
:where(.qrl-avatar){width:88px;height:88px;border-radius:50%;display:grid;place-items:center;font-size:40px;font-weight:600;
  color:#fff;background:var(--qrl-accent)}
:where(.qrl-who-name){font-size:18px;font-weight:600}
:where(.qrl-renew){position:absolute;inset:0;margin:auto;width:max-content;height:max-content;display:none;
  padding:12px 18px;border:0;border-radius:999px;background:var(--qrl-accent);color:#fff;font:inherit;font-weight:600;
  cursor:pointer;box-shadow:0 4px 14px rgb(0 0 0 / .2)}
:where(.qrl-renew:focus-visible,.qrl-start-over:focus-visible){outline:3px solid var(--qrl-accent);outline-offset:3px}
:where(.qrl-countdown){position:relative;width:var(--qrl-size);height:22px;display:none;overflow:hidden;
  border-radius:999px;background:rgb(0 0 0 / .06);font-size:13px;line-height:22px;text-align:center;color:var(--qrl-muted)}
:where(.qrl-countdown-bar){position:absolute;inset:0 auto 0 0;background:color-mix(in srgb,var(--qrl-accent) 22%,transparent);transition:width 1s linear}
:where(.qrl-countdown-text){position:relative;font-variant-numeric:tabular-nums}
:where(.qrl[data-state=pending],.qrl[data-state=scanned]) :where(.qrl-countdown:not([hidden])){display:block}
:where(.qrl-status){margin:0;min-height:1.5em;text-align:center;color:var(--qrl-muted);font-weight:500}
:where(.qrl-start-over){display:none;border:0;background:none;color:var(--qrl-accent);font:inherit;cursor:pointer;
  text-decoration:underline;padding:2px}
:where(.qrl[data-state=loading]) :where(.qrl-code){opacity:0}
:where(.qrl[data-state=loading]) :where(.qrl-spinner){display:block}
:where(.qrl[data-state=scanned],.qrl[data-state=confirmed],.qrl[data-state=signed_in]) :where(.qrl-code){visibility:hidden}
:where(.qrl[data-state=scanned],.qrl[data-state=confirmed],.qrl[data-state=signed_in]) :where(.qrl-who){display:flex}
:where(.qrl[data-state=scanned]) :where(.qrl-start-over){display:inline}
:where(.qrl[data-state=scanned],.qrl[data-state=pending]) :where(.qrl-status){color:var(--qrl-fg)}
:where(.qrl[data-state=denied],.qrl[data-state=cancelled],.qrl[data-state=expired],.qrl[data-state=error]) :where(.qrl-code){
  filter:blur(5px);opacity:.35}
:where(.qrl[data-state=denied],.qrl[data-state=cancelled],.qrl[data-state=expired],.qrl[data-state=error]) :where(.qrl-renew){
  display:block}
:where(.qrl[data-state=denied],.qrl[data-state=error]) :where(.qrl-status){color:#b91c1c}
:where(.qrl-code-request){display:none;border:0;background:none;color:var(--qrl-accent);font:inherit;cursor:pointer;
  text-decoration:underline;padding:2px}
:where(.qrl[data-state=pending]) :where(.qrl-code-request:not([hidden])){display:inline}
:where(.qrl-user-code){margin:0;text-align:center}
:where(.qrl:not([data-state=pending])) :where(.qrl-user-code){display:none}
:where(.qrl-user-code-value){display:block;font:600 1.6em/1.3 ui-monospace,SFMono-Regular,Menlo,monospace;letter-spacing:.12em}
@media (prefers-reduced-motion:reduce){:where(.qrl-spinner){animation-duration:3s}
  :where(.qrl-code,.qrl-countdown-bar){transition:none}}
`;

function injectStyles(nonce) {
  if (document.getElementById("qrlogin-styles")) return;
  const style = document.createElement("style");
  style.id = "qrlogin-styles";
  if (nonce) style.nonce = nonce;
  style.textContent = STYLES;
  document.head.prepend(style);  // first, so the page's stylesheets come later and win
}

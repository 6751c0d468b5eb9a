// The dashboard's session. A person signs in once by pasting a key (POST dashboard/session); from
// then on the browser sends the HttpOnly session cookie by itself, and `call` adds the session's
// CSRF token to every request that changes something. The key itself is never kept.
const $ = (id) => document.getElementById(id);
const ENDED = "lockstep.session-ended"; // sessionStorage: why the sign-in form is back
let csrf = null; // the session's CSRF token, from the sign-in answer

export class Problem extends Error {
  constructor(status, detail) {
    super(detail);
    this.status = status;
  }
}

// Every request of the page: same origin, the session's cookie, its CSRF token on changes.
export async function call(path, method = "GET") {
  const headers = { Accept: "application/json" };
  if (method !== "GET") headers["X-CSRF-Token"] = csrf ?? "";
  const response = await fetch(path, { method, headers, credentials: "same-origin" });
  const body = await response.json().catch(() => null);
  if (response.status === 401) sessionEnded(body?.detail);
  if (!response.ok) throw new Problem(response.status, body?.detail ?? `${response.status} ${response.statusText}`);
  return body;
}

// Expired, signed out elsewhere, or the key revoked: back to the form, saying why.
export function sessionEnded(detail) {
  sessionStorage.setItem(ENDED, detail ?? "Your session has ended; sign in again.");
  location.reload();
}

// Who is signed in (with the CSRF token), or null.
export async function currentSession() {
  const response = await fetch("dashboard/session", { headers: { Accept: "application/json" }, credentials: "same-origin" });
  return response.ok ? response.json() : null;
}

async function signIn(event, opened) {
  event.preventDefault();
  const field = $("sign-in-key");
  const key = field.value.trim();
  field.value = ""; // the key does not stay in the page
  $("sign-in-error").textContent = "";
  const response = await fetch("dashboard/session", {
    method: "POST",
    headers: { "Content-Type": "application/json", Accept: "application/json" },
    body: JSON.stringify({ key }),
    credentials: "same-origin",
  });
  const body = await response.json().catch(() => null);
  if (!response.ok) {
    $("sign-in-error").textContent = body?.detail ?? `${response.status} ${response.statusText}`;
    return;
  }
  open(body, opened);
}

async function signOut() {
  await call("dashboard/session", "DELETE").catch(() => {});
  sessionStorage.setItem(ENDED, "Signed out.");
  location.reload();
}

function open(session, opened) {
  csrf = session.csrf_token;
  $("who-name").textContent = `${session.name} · ${session.role}`;
  $("who").hidden = false;
  $("sign-in").hidden = true;
  opened(session);
}

// The board when a session exists, else the sign-in form; `opened(session)` starts the board.
export async function signedIn(opened) {
  $("sign-in-form").addEventListener("submit", (event) => signIn(event, opened));
  $("sign-out").addEventListener("click", signOut);
  const session = await currentSession().catch(() => null);
  if (session) {
    open(session, opened);
    return;
  }
  $("sign-in").hidden = false;
  $("sign-in-error").textContent = sessionStorage.getItem(ENDED) ?? "";
  sessionStorage.removeItem(ENDED);
  $("sign-in-key").focus();
}

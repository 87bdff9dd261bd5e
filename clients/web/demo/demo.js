// @ts-check
// The Tessera demo page: a small single-page app over tessera.js.
// Query parameters (for trying things out, and for the browser tests):
//   ?transport=body    keep the refresh token in memory instead of a cookie
//   ?lead=2            refresh 2 s before the access token expires (default 1)
//   ?proactive=off     no refresh timer: refresh only when a call needs it
import { createClient, TesseraError } from '/demo/tessera.js';

const params = new URLSearchParams(location.search);
const transport = params.get('transport') === 'body' ? 'body' : 'cookie';
const lead = params.get('proactive') === 'off' ? false : Number(params.get('lead') ?? 1);

const client = createClient({
  transport,
  refreshLeadSeconds: lead === false || Number.isFinite(lead) ? lead : 1,
});
// For poking at it from the console.
Object.assign(globalThis, { tesseraDemo: { client } });

/** @param {string} id */
function $(id) {
  const element = document.getElementById(id);
  if (!element) throw new Error(`#${id} is missing`);
  return element;
}

const ui = {
  status: $('status'),
  transport: $('transport'),
  expired: $('expired'),
  expiredCode: $('expired-code'),
  expiredLink: $('expired-login-link'),
  login: $('login'),
  loginForm: /** @type {HTMLFormElement} */ ($('login-form')),
  email: /** @type {HTMLInputElement} */ ($('email')),
  password: /** @type {HTMLInputElement} */ ($('password')),
  loginButton: /** @type {HTMLButtonElement} */ ($('login-button')),
  loginError: $('login-error'),
  app: $('app'),
  userEmail: $('user-email'),
  userId: $('user-id'),
  userRoles: $('user-roles'),
  sessionId: $('session-id'),
  countdown: $('countdown'),
  refreshCount: $('refresh-count'),
  logoutButton: /** @type {HTMLButtonElement} */ ($('logout-button')),
  reloadButton: /** @type {HTMLButtonElement} */ ($('reload-button')),
  parallelButton: /** @type {HTMLButtonElement} */ ($('parallel-button')),
  parallelResult: $('parallel-result'),
  sessionsBody: $('sessions-body'),
  sessionsError: $('sessions-error'),
  log: $('log'),
};

ui.transport.textContent = transport;
let refreshes = 0;
/** @type {string | null} */
let shownSession = null;

// ---- small helpers --------------------------------------------------------

/** @param {string} message */
function log(message) {
  const item = document.createElement('li');
  const time = new Date().toLocaleTimeString(undefined, { hour12: false });
  item.textContent = `${time}  ${message}`;
  ui.log.prepend(item);
  while (ui.log.children.length > 60) ui.log.lastElementChild?.remove();
}

/**
 * @param {'starting' | 'signed-in' | 'signed-out' | 'expired'} state
 * @param {string} text
 */
function setStatus(state, text) {
  ui.status.dataset.state = state;
  ui.status.textContent = text;
}

/** @param {string | null | undefined} iso */
function when(iso) {
  if (!iso) return '—';
  const date = new Date(iso);
  return Number.isNaN(date.getTime()) ? iso : date.toLocaleString();
}

/** @param {Response} res */
async function problemOf(res) {
  try {
    const body = await res.json();
    return `${res.status} ${body.code ?? ''} ${body.detail ?? ''}`.trim();
  } catch {
    return `${res.status} ${res.statusText}`;
  }
}

// ---- views ----------------------------------------------------------------

function showLogin() {
  ui.app.hidden = true;
  ui.expired.hidden = true;
  ui.login.hidden = false;
  shownSession = null;
  setStatus('signed-out', 'Signed out');
}

function showApp() {
  ui.login.hidden = true;
  ui.expired.hidden = true;
  ui.loginError.hidden = true;
  ui.app.hidden = false;
  setStatus('signed-in', 'Signed in');
}

/** @param {string} code */
function showExpired(code) {
  ui.app.hidden = true;
  ui.login.hidden = true;
  ui.expiredCode.textContent = code;
  ui.expired.dataset.code = code;
  ui.expired.hidden = false;
  shownSession = null;
  setStatus('expired', 'Session expired');
}

async function loadMe() {
  const res = await client.fetch('/v1/auth/me');
  if (!res.ok) {
    log(`GET /v1/auth/me → ${await problemOf(res)}`);
    return;
  }
  const { user, session } = await res.json();
  ui.userEmail.textContent = user.email;
  ui.userId.textContent = user.id;
  ui.userRoles.textContent = (user.roles ?? []).join(', ') || '—';
  ui.sessionId.textContent = session.id;
  shownSession = session.id;
}

async function loadSessions() {
  const res = await client.fetch('/v1/auth/sessions');
  if (!res.ok) {
    ui.sessionsError.textContent = `Could not list the sessions: ${await problemOf(res)}`;
    ui.sessionsError.hidden = false;
    return;
  }
  ui.sessionsError.hidden = true;
  const { sessions } = await res.json();
  const rows = sessions.map((/** @type {any} */ session) => {
    const row = document.createElement('tr');
    row.dataset.testid = 'session-row';
    row.dataset.sessionId = session.id;
    row.dataset.current = String(Boolean(session.current));
    if (session.current) row.classList.add('current');
    for (const text of [
      session.device ?? session.user_agent ?? 'unknown device',
      session.ip ?? '—',
      when(session.created_at),
      when(session.last_used_at),
    ]) {
      const cell = document.createElement('td');
      cell.textContent = text;
      row.append(cell);
    }
    const cell = document.createElement('td');
    const button = document.createElement('button');
    button.type = 'button';
    button.className = 'secondary';
    button.textContent = 'Sign out this device';
    button.dataset.testid = 'revoke-session';
    button.dataset.sessionId = session.id;
    button.addEventListener('click', () => revoke(session.id, Boolean(session.current), button));
    cell.append(button);
    row.append(cell);
    return row;
  });
  ui.sessionsBody.replaceChildren(...rows);
  ui.sessionsBody.dataset.count = String(rows.length);
}

async function loadAll() {
  await Promise.all([loadMe(), loadSessions()]);
}

/**
 * @param {string} id
 * @param {boolean} current
 * @param {HTMLButtonElement} button
 */
async function revoke(id, current, button) {
  button.disabled = true;
  if (current) {
    await client.logout();
    log('signed out this device');
    showLogin();
    return;
  }
  const res = await client.fetch(`/v1/auth/sessions/${encodeURIComponent(id)}`, { method: 'DELETE' });
  log(res.ok ? `signed out session ${id}` : `DELETE session ${id} → ${await problemOf(res)}`);
  if (!ui.app.hidden) await loadSessions();
}

// ---- the access-token countdown ---------------------------------------------

function tick() {
  const expiresAt = client.accessTokenExpiresAt();
  if (expiresAt === null) {
    ui.countdown.textContent = '—';
    ui.countdown.classList.remove('expired');
    delete ui.countdown.dataset.expiresAt;
    return;
  }
  ui.countdown.dataset.expiresAt = String(expiresAt);
  const left = expiresAt - Date.now();
  if (left > 0) {
    ui.countdown.textContent = `expires in ${(left / 1000).toFixed(1)} s`;
    ui.countdown.classList.remove('expired');
  } else {
    ui.countdown.textContent = `expired ${(-left / 1000).toFixed(1)} s ago`;
    ui.countdown.classList.add('expired');
  }
}
setInterval(tick, 100);

// ---- client events ----------------------------------------------------------

client.onTokenChange((state, reason) => {
  tick();
  switch (reason) {
    case 'refresh':
      refreshes += 1;
      ui.refreshCount.textContent = String(refreshes);
      log('access token refreshed');
      break;
    case 'remote':
      log('access token received from another tab');
      if (ui.app.hidden && state) {
        showApp();
        loadAll();
      } else if (state && state.sessionId !== shownSession) {
        loadAll();
      }
      break;
    case 'logout':
      log('logged out');
      showLogin();
      break;
    case 'expired':
      if (ui.expired.hidden) showLogin();
      break;
    default:
      break;
  }
});

client.onSessionExpired((code) => {
  log(`session expired: ${code}`);
  showExpired(code);
});

// ---- user actions -------------------------------------------------------------

ui.loginForm.addEventListener('submit', async (event) => {
  event.preventDefault();
  ui.loginButton.disabled = true;
  ui.loginError.hidden = true;
  try {
    const answer = await client.login(ui.email.value, ui.password.value);
    ui.password.value = '';
    log(`logged in, session ${answer.session_id}`);
    showApp();
    await loadAll();
  } catch (error) {
    ui.loginError.textContent =
      error instanceof TesseraError ? `${error.message} (${error.code})` : `Login failed: ${error}`;
    ui.loginError.hidden = false;
  } finally {
    ui.loginButton.disabled = false;
  }
});

ui.expiredLink.addEventListener('click', (event) => {
  event.preventDefault();
  showLogin();
  ui.email.focus();
});

ui.logoutButton.addEventListener('click', async () => {
  ui.logoutButton.disabled = true;
  try {
    await client.logout();
  } finally {
    ui.logoutButton.disabled = false;
  }
  showLogin();
});

ui.reloadButton.addEventListener('click', () => loadAll());

ui.parallelButton.addEventListener('click', async () => {
  ui.parallelButton.disabled = true;
  ui.parallelResult.dataset.state = 'running';
  ui.parallelResult.textContent = 'running…';
  const started = performance.now();
  const results = await Promise.all(
    Array.from({ length: 10 }, () =>
      client
        .fetch('/v1/auth/me')
        .then((res) => res.ok)
        .catch(() => false),
    ),
  );
  const succeeded = results.filter(Boolean).length;
  const ms = Math.round(performance.now() - started);
  ui.parallelResult.textContent = `${succeeded} / ${results.length} succeeded (${ms} ms)`;
  ui.parallelResult.dataset.succeeded = String(succeeded);
  ui.parallelResult.dataset.total = String(results.length);
  ui.parallelResult.dataset.state = 'done';
  log(`10 parallel calls: ${succeeded} succeeded`);
  ui.parallelButton.disabled = false;
});

// ---- start ------------------------------------------------------------------------

(async () => {
  if (await client.resume()) {
    log('resumed the session');
    showApp();
    await loadAll();
  } else if (ui.expired.hidden) {
    showLogin();
  }
})();

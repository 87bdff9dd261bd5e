// @ts-check
/**
 * Tessera browser client: a dependency-free ES module.
 *
 * ```js
 * import { createClient } from '/demo/tessera.js';
 * const client = createClient({ baseUrl: '', transport: 'cookie' });
 * client.onSessionExpired((code) => showLogin(`session expired (${code})`));
 * if (!(await client.resume())) await client.login(email, password);
 * const res = await client.fetch('/v1/auth/me');
 * ```
 *
 * What `client.fetch` does for you:
 * - attaches `Authorization: Bearer <access token>`;
 * - refreshes before sending when the access token has already expired, and
 *   proactively `refreshLeadSeconds` before it expires (a timer);
 * - on a 401 runs ONE refresh shared by every waiting request (a single
 *   in-flight promise), then retries each request once;
 * - never retries the login or refresh calls themselves;
 * - across tabs of one origin (cookie transport), refreshes under the Web Lock
 *   `tessera-refresh` and shares the new access token over the
 *   `BroadcastChannel('tessera')`, so a tab that waited for the lock reuses the
 *   token another tab just got instead of presenting the refresh cookie again;
 * - when the server refuses the refresh, calls every `onSessionExpired`
 *   callback with the problem's `code` (`session_revoked`,
 *   `refresh_token_reused`, `session_idle_timeout`, ...).
 *
 * Transports: `'cookie'` keeps the refresh token in an HttpOnly cookie the
 * script never sees (refresh and logout echo the CSRF token in
 * `X-CSRF-Token`); `'body'` keeps it in this client's memory only (lost on
 * reload, never shared with other tabs).
 */

/** Name of the Web Lock held while a tab refreshes. */
export const LOCK_NAME = 'tessera-refresh';
/** Name of the BroadcastChannel the tabs share tokens and events on. */
export const CHANNEL_NAME = 'tessera';
/** CSRF cookie names: `__Host-` when the server sets Secure cookies, plain otherwise. */
const CSRF_COOKIE_NAMES = ['__Host-tessera_csrf', 'tessera_csrf'];
/** Paths whose calls `client.fetch` passes through untouched and never retries. */
const AUTH_FLOW_PATHS = ['/v1/auth/login', '/v1/auth/refresh', '/oauth/token'];
/**
 * Prefix of the Web Locks a tab holds while it has a token it got from the
 * server: `tessera-token:<expiry epoch ms>`. Lock state is kept by the browser,
 * so a tab inside the refresh lock sees (with `locks.query()`) a newer token
 * another tab got even before that tab's broadcast has arrived.
 */
const TOKEN_MARKER_PREFIX = 'tessera-token:';
/** How long to wait for another tab's token once we know it exists. */
const PEER_TOKEN_WAIT_MS = 1000;
/** A token with less life left than this is not worth adopting. */
const MIN_USEFUL_MS = 500;

/**
 * @typedef {'cookie' | 'body'} Transport
 *
 * @typedef {object} ClientOptions
 * @property {string} [baseUrl] Prefix for relative URLs, e.g. `https://auth.example.com`; `''` (default) is same origin.
 * @property {Transport} [transport] `'cookie'` (default) or `'body'`.
 * @property {number | false | null} [refreshLeadSeconds] Refresh this many seconds before the access token expires (default 1); `false` or `null` turns the timer off (refresh then happens before a request with an expired token, or on a 401).
 * @property {typeof fetch} [fetch] The fetch to use (default `globalThis.fetch`).
 * @property {boolean} [crossTab] Coordinate with other tabs (cookie transport only; default true).
 * @property {() => number} [now] Clock in epoch milliseconds (default `Date.now`); for tests.
 *
 * @typedef {object} TokenState
 * @property {number} expiresAt When the access token expires, epoch milliseconds (by this client's clock).
 * @property {string | null} sessionId The session the token belongs to.
 *
 * @typedef {'login' | 'refresh' | 'remote' | 'logout' | 'expired'} TokenChangeReason
 *   `remote`: adopted from another tab; `logout`: this or another tab logged out;
 *   `expired`: the refresh was refused.
 *
 * @typedef {object} Problem RFC 9457 problem details as Tessera sends them.
 * @property {string} [type]
 * @property {string} [title]
 * @property {number} [status]
 * @property {string} [detail]
 * @property {string} [code]
 *
 * @typedef {object} LoginResult The login answer, minus any refresh token.
 * @property {string} access_token
 * @property {string} token_type
 * @property {number} expires_in
 * @property {number} refresh_expires_in
 * @property {string} session_id
 * @property {string} [csrf_token]
 *
 * @typedef {object} TesseraClient
 * @property {(email: string, password: string) => Promise<LoginResult>} login Log in; rejects with a {@link TesseraError} (never retried).
 * @property {() => Promise<boolean>} logout Revoke the session on the server (best effort) and forget it here and in the other tabs; true when the server confirmed.
 * @property {(input: RequestInfo | URL, init?: RequestInit) => Promise<Response>} fetch `fetch` with the access token, refresh and one retry.
 * @property {() => Promise<boolean>} resume Obtain an access token without a login: from another tab, or by refreshing with the cookie. Silent: does not call `onSessionExpired`.
 * @property {() => Promise<boolean>} refresh Refresh now (shared with any refresh in flight); true when there is a usable access token afterwards.
 * @property {(callback: (code: string, problem: Problem) => void) => () => void} onSessionExpired Called when the server refuses the refresh of a session this client had; returns an unsubscribe function.
 * @property {(callback: (state: TokenState | null, reason: TokenChangeReason) => void) => () => void} onTokenChange Called on every new access token and when it is dropped; returns an unsubscribe function.
 * @property {() => number | null} accessTokenExpiresAt Epoch milliseconds, or null without a token.
 * @property {() => string | null} sessionId The current session id, or null.
 * @property {() => boolean} isAuthenticated Whether there is an unexpired access token.
 * @property {() => void} close Stop the timer, leave the channel, drop the callbacks.
 */

/** An error answer of the Tessera API (`application/problem+json`). */
export class TesseraError extends Error {
  /**
   * @param {number} status
   * @param {Problem} problem
   */
  constructor(status, problem) {
    super(problem.detail || problem.title || `HTTP ${status}`);
    this.name = 'TesseraError';
    /** @type {number} */
    this.status = status;
    /** @type {string} */
    this.code = problem.code || 'unknown';
    /** @type {Problem} */
    this.problem = problem;
  }
}

/**
 * Create a client.
 * @param {ClientOptions} [options]
 * @returns {TesseraClient}
 */
export function createClient(options = {}) {
  const baseUrl = (options.baseUrl ?? '').replace(/\/+$/, '');
  /** @type {Transport} */
  const transport = options.transport ?? 'cookie';
  if (transport !== 'cookie' && transport !== 'body') {
    throw new TypeError(`transport must be 'cookie' or 'body', not ${JSON.stringify(transport)}`);
  }
  const lead = options.refreshLeadSeconds === undefined ? 1 : options.refreshLeadSeconds;
  const fetchImpl = options.fetch ?? globalThis.fetch.bind(globalThis);
  const now = options.now ?? (() => Date.now());
  const crossTab = transport === 'cookie' && options.crossTab !== false;
  const credentials = transport === 'cookie' ? 'include' : 'same-origin';
  const locks = crossTab ? globalThis.navigator?.locks : undefined;

  /** @type {{ token: string, expiresAt: number, issuedAt: number, sessionId: string | null } | null} */
  let access = null;
  /** @type {string | null} the CSRF token of the last login/refresh answer */
  let csrf = null;
  /** @type {string | null} body transport only; never leaves this closure */
  let refreshToken = null;
  /** Whether this client had a session, so a refused refresh means "expired". */
  let hadSession = false;
  /** Bumped on login and logout so a late refresh answer cannot resurrect a dropped session. */
  let generation = 0;
  /** @type {Promise<string | null> | null} */
  let inflight = null;
  /** @type {ReturnType<typeof setTimeout> | null} */
  let timer = null;
  /** @type {Set<(code: string, problem: Problem) => void>} */
  const expiredListeners = new Set();
  /** @type {Set<(state: TokenState | null, reason: TokenChangeReason) => void>} */
  const tokenListeners = new Set();
  /** @type {Set<() => void>} resolved when a token arrives from another tab */
  const tokenWaiters = new Set();
  /** @type {(() => void) | null} releases this tab's token marker lock */
  let releaseMarker = null;

  /** @type {BroadcastChannel | null} */
  const channel = crossTab && typeof BroadcastChannel === 'function' ? new BroadcastChannel(CHANNEL_NAME) : null;
  if (channel) channel.onmessage = (event) => onMessage(event.data);

  // ---- helpers -------------------------------------------------------------

  /** @param {string} path */
  function url(path) {
    return baseUrl + path;
  }

  /** @param {RequestInfo | URL} input */
  function resolve(input) {
    if (typeof input === 'string' && !/^[a-z][a-z0-9+.-]*:/i.test(input)) return url(input);
    return input;
  }

  /** @param {RequestInfo | URL} input */
  function isAuthFlow(input) {
    const raw = typeof input === 'string' ? input : input instanceof URL ? input.href : input.url;
    let path;
    try {
      path = new URL(raw, globalThis.location?.href ?? 'http://localhost/').pathname;
    } catch {
      path = raw;
    }
    return AUTH_FLOW_PATHS.some((p) => path.endsWith(p));
  }

  /** @param {string | null} stale a token that is not good enough; null: any usable token will do */
  function usableBesides(stale) {
    return access !== null && access.token !== stale && access.expiresAt - now() > MIN_USEFUL_MS;
  }

  function csrfToken() {
    if (csrf) return csrf;
    const jar = globalThis.document?.cookie ?? '';
    const pairs = jar.split(/;\s*/);
    for (const name of CSRF_COOKIE_NAMES) {
      const pair = pairs.find((p) => p.startsWith(`${name}=`));
      if (pair) return decodeURIComponent(pair.slice(name.length + 1));
    }
    return null;
  }

  function canRefresh() {
    return transport === 'cookie' ? csrfToken() !== null : refreshToken !== null;
  }

  /** @param {Response} res @returns {Promise<Problem>} */
  async function readProblem(res) {
    try {
      const body = await res.json();
      if (body && typeof body === 'object') return body;
    } catch {
      // not JSON
    }
    return { status: res.status, title: res.statusText };
  }

  /** @param {object} message */
  function post(message) {
    if (!channel) return;
    try {
      channel.postMessage(message);
    } catch {
      // a closed channel
    }
  }

  /** @param {TokenChangeReason} reason */
  function emit(reason) {
    const state = access ? { expiresAt: access.expiresAt, sessionId: access.sessionId } : null;
    for (const callback of [...tokenListeners]) {
      try {
        callback(state, reason);
      } catch (error) {
        console.error('tessera: onTokenChange callback failed', error);
      }
    }
  }

  function schedule() {
    if (timer !== null) clearTimeout(timer);
    timer = null;
    if (lead === false || lead === null || access === null) return;
    const current = access;
    // Never aim earlier than half the token's life: a lead longer than the
    // lifetime would otherwise refresh in a loop.
    const leadMs = Math.min(Math.max(0, lead) * 1000, (current.expiresAt - current.issuedAt) / 2);
    const delay = Math.max(0, current.expiresAt - leadMs - now());
    timer = setTimeout(() => {
      timer = null;
      if (access === current) refreshShared(current.token).catch(() => {});
    }, delay);
  }

  /** Forget the session here (not on the server). */
  function clearState() {
    generation += 1;
    access = null;
    csrf = null;
    refreshToken = null;
    hadSession = false;
    if (timer !== null) clearTimeout(timer);
    timer = null;
    dropMarker();
  }

  /**
   * Take a login or refresh answer.
   * @param {any} body
   * @param {'login' | 'refresh'} reason
   */
  function accept(body, reason) {
    if (typeof body?.access_token !== 'string' || typeof body?.expires_in !== 'number') {
      throw new TypeError('tessera: the token answer has no access_token/expires_in');
    }
    const issuedAt = now();
    access = {
      token: body.access_token,
      issuedAt,
      expiresAt: issuedAt + body.expires_in * 1000,
      sessionId: body.session_id ?? access?.sessionId ?? null,
    };
    if (typeof body.csrf_token === 'string') csrf = body.csrf_token;
    if (transport === 'body' && typeof body.refresh_token === 'string') refreshToken = body.refresh_token;
    hadSession = true;
    schedule();
    post({
      type: 'token',
      access_token: access.token,
      issued_at: access.issuedAt,
      expires_at: access.expiresAt,
      session_id: access.sessionId,
      csrf_token: csrf,
    });
    emit(reason);
  }

  /**
   * The refresh was refused: drop the session, tell the other tabs and the app.
   * @param {Problem} problem
   */
  function expire(problem) {
    const code = problem.code || 'unauthorized';
    const notify = hadSession;
    const sessionId = access?.sessionId ?? null;
    clearState();
    if (notify) post({ type: 'expired', code, session_id: sessionId, problem });
    emit('expired');
    if (notify) notifyExpired(code, problem);
  }

  /** @param {string} code @param {Problem} problem */
  function notifyExpired(code, problem) {
    for (const callback of [...expiredListeners]) {
      try {
        callback(code, problem);
      } catch (error) {
        console.error('tessera: onSessionExpired callback failed', error);
      }
    }
  }

  // ---- other tabs ----------------------------------------------------------

  /** @param {any} message */
  function onMessage(message) {
    if (!message || typeof message !== 'object') return;
    switch (message.type) {
      case 'token':
        adopt(message);
        break;
      case 'request':
        if (access && access.expiresAt - now() > MIN_USEFUL_MS) {
          post({
            type: 'token',
            access_token: access.token,
            issued_at: access.issuedAt,
            expires_at: access.expiresAt,
            session_id: access.sessionId,
            csrf_token: csrfToken(),
          });
        }
        break;
      case 'logout':
        if (access || hadSession) {
          clearState();
          emit('logout');
        }
        break;
      case 'expired': {
        if (!hadSession) break;
        if (message.session_id && access?.sessionId && message.session_id !== access.sessionId) break;
        const problem = message.problem ?? { code: message.code };
        clearState();
        emit('expired');
        notifyExpired(message.code || 'unauthorized', problem);
        break;
      }
      default:
        break;
    }
  }

  /** A token another tab got: take it when it is newer than ours. @param {any} message */
  function adopt(message) {
    if (typeof message.access_token !== 'string' || typeof message.expires_at !== 'number') return;
    if (message.expires_at - now() <= MIN_USEFUL_MS) return;
    if (access && access.token === message.access_token) return;
    if (access && access.sessionId === message.session_id && access.expiresAt >= message.expires_at) return;
    access = {
      token: message.access_token,
      issuedAt: typeof message.issued_at === 'number' ? message.issued_at : now(),
      expiresAt: message.expires_at,
      sessionId: message.session_id ?? null,
    };
    if (typeof message.csrf_token === 'string') csrf = message.csrf_token;
    hadSession = true;
    dropMarker();
    schedule();
    emit('remote');
    for (const wake of [...tokenWaiters]) wake();
  }

  /** Wait up to `ms` for a token from another tab. @param {number} ms */
  function waitForPeerToken(ms) {
    return new Promise((done) => {
      const wake = () => {
        clearTimeout(timeout);
        tokenWaiters.delete(wake);
        done(undefined);
      };
      const timeout = setTimeout(wake, ms);
      tokenWaiters.add(wake);
    });
  }

  /**
   * Run `work` holding the cross-tab refresh lock.
   * @template T
   * @param {() => Promise<T>} work
   * @returns {Promise<T>}
   */
  async function withLock(work) {
    if (!locks) return work();
    /** @type {{ value: T } | undefined} */
    let result;
    await locks.request(LOCK_NAME, async () => {
      result = { value: await work() };
    });
    return /** @type {{ value: T }} */ (result).value;
  }

  /** Stop advertising our token. */
  function dropMarker() {
    releaseMarker?.();
    releaseMarker = null;
  }

  /**
   * Advertise, for as long as it is ours, the token we just got from the
   * server. Resolves once the browser holds the marker lock.
   * @param {number} expiresAt
   * @returns {Promise<void>}
   */
  function holdMarker(expiresAt) {
    dropMarker();
    if (!locks) return Promise.resolve();
    return new Promise((held) => {
      locks
        .request(`${TOKEN_MARKER_PREFIX}${expiresAt}`, { mode: 'shared' }, () => {
          held();
          return new Promise((release) => {
            releaseMarker = () => release(undefined);
          });
        })
        .catch(() => held());
    });
  }

  /** The latest expiry any tab advertises, or null. @returns {Promise<number | null>} */
  async function newestMarker() {
    if (!locks) return null;
    try {
      const { held = [] } = await locks.query();
      let newest = null;
      for (const lock of held) {
        if (!lock.name?.startsWith(TOKEN_MARKER_PREFIX)) continue;
        const expiresAt = Number(lock.name.slice(TOKEN_MARKER_PREFIX.length));
        if (Number.isFinite(expiresAt) && (newest === null || expiresAt > newest)) newest = expiresAt;
      }
      return newest;
    } catch {
      return null;
    }
  }

  /**
   * Inside the refresh lock: when another tab advertises a token newer than
   * ours, get it over the channel instead of refreshing.
   * @param {string | null} stale
   */
  async function tokenFromPeers(stale) {
    if (!channel) return false;
    const newest = await newestMarker();
    if (newest === null || newest - now() <= MIN_USEFUL_MS) return false;
    if (access && access.expiresAt >= newest) return false; // it is ours (or older)
    if (!usableBesides(stale)) {
      const arrived = waitForPeerToken(PEER_TOKEN_WAIT_MS);
      post({ type: 'request' });
      await arrived;
    }
    return usableBesides(stale);
  }

  // ---- refresh -------------------------------------------------------------

  /**
   * One refresh at a time in this tab; every caller gets the same promise.
   * @param {string | null} stale the token that is no longer good enough
   * @returns {Promise<string | null>} a usable access token, or null
   */
  function refreshShared(stale) {
    if (!inflight) {
      inflight = withLock(async () => {
        // Another tab (or an earlier refresh here) may already have a newer token.
        if (usableBesides(stale)) return access ? access.token : null;
        if (await tokenFromPeers(stale)) return access ? access.token : null;
        return presentRefresh();
      }).finally(() => {
        inflight = null;
      });
    }
    return inflight;
  }

  /** POST /v1/auth/refresh. @returns {Promise<string | null>} */
  async function presentRefresh() {
    /** @type {Record<string, string>} */
    const headers = { 'Content-Type': 'application/json', Accept: 'application/json' };
    let body = '{}';
    if (transport === 'cookie') {
      const token = csrfToken();
      if (!token) return null; // no CSRF cookie: no session in this browser
      headers['X-CSRF-Token'] = token;
    } else {
      if (!refreshToken) return null;
      body = JSON.stringify({ refresh_token: refreshToken });
    }
    const started = generation;
    let res;
    try {
      res = await fetchImpl(url('/v1/auth/refresh'), {
        method: 'POST',
        headers,
        body,
        credentials,
        cache: 'no-store',
      });
    } catch {
      return null; // network trouble: keep the session, the next call tries again
    }
    if (started !== generation) return null; // logged out (or in) meanwhile
    if (res.ok) {
      accept(await res.json(), 'refresh');
      // Advertise the new token before the refresh lock is released.
      if (access) await holdMarker(access.expiresAt);
      return access ? access.token : null;
    }
    if (res.status === 408 || res.status === 429 || res.status >= 500) return null; // transient
    expire(await readProblem(res));
    return null;
  }

  /** A token to send: refreshes first when ours has expired. */
  async function tokenForRequest() {
    if (access && access.expiresAt > now()) return access.token;
    if (!canRefresh()) return access ? access.token : null;
    const fresh = await refreshShared(access ? access.token : null);
    return fresh ?? (access ? access.token : null);
  }

  /**
   * @param {Request} request
   * @param {string | null} token
   */
  function send(request, token) {
    if (token) request.headers.set('Authorization', `Bearer ${token}`);
    return fetchImpl(request);
  }

  // ---- the client ----------------------------------------------------------

  /** @type {TesseraClient} */
  const client = {
    async login(email, password) {
      /** @type {Record<string, string>} */
      const payload = { email, password };
      if (transport === 'cookie') payload.transport = 'cookie';
      const res = await fetchImpl(url('/v1/auth/login'), {
        method: 'POST',
        headers: { 'Content-Type': 'application/json', Accept: 'application/json' },
        body: JSON.stringify(payload),
        credentials,
        cache: 'no-store',
      });
      if (!res.ok) throw new TesseraError(res.status, await readProblem(res));
      const body = await res.json();
      generation += 1;
      accept(body, 'login');
      if (access) await holdMarker(access.expiresAt);
      const { refresh_token: _hidden, ...result } = body;
      return result;
    },

    async logout() {
      if (timer !== null) clearTimeout(timer);
      timer = null;
      /** @type {Record<string, string>} */
      const headers = {};
      let bearer = access && access.expiresAt > now() ? access.token : null;
      if (!bearer && transport === 'body' && refreshToken) bearer = await refreshShared(access ? access.token : null);
      const token = transport === 'cookie' ? csrfToken() : null;
      if (token) headers['X-CSRF-Token'] = token;
      const call = (/** @type {string | null} */ withBearer) =>
        fetchImpl(url('/v1/auth/logout'), {
          method: 'POST',
          headers: withBearer ? { ...headers, Authorization: `Bearer ${withBearer}` } : headers,
          credentials,
          cache: 'no-store',
        });
      let confirmed = false;
      try {
        let res = await call(bearer);
        // Cookie transport: a refused bearer still leaves the refresh cookie.
        if (res.status === 401 && bearer && transport === 'cookie') res = await call(null);
        confirmed = res.ok;
      } catch {
        confirmed = false;
      }
      const had = access !== null || hadSession;
      clearState();
      if (had) post({ type: 'logout' });
      emit('logout');
      return confirmed;
    },

    async fetch(input, init) {
      const target = resolve(input);
      // Login and refresh go out as they are: never retried, never refreshed for.
      if (isAuthFlow(target)) return fetchImpl(target, init);
      const request = new Request(target, init);
      const token = await tokenForRequest();
      const first = await send(request.clone(), token);
      if (first.status !== 401) return first;
      const fresh = usableBesides(token) && access ? access.token : canRefresh() ? await refreshShared(token) : null;
      if (!fresh || fresh === token) return first;
      return send(request, fresh);
    },

    async resume() {
      if (access && access.expiresAt - now() > MIN_USEFUL_MS) return true;
      if (!canRefresh()) return false;
      // refreshShared first asks the other tabs when one of them has a token.
      return (await refreshShared(access ? access.token : null)) !== null;
    },

    async refresh() {
      if (!canRefresh()) return false;
      return (await refreshShared(access ? access.token : null)) !== null;
    },

    onSessionExpired(callback) {
      expiredListeners.add(callback);
      return () => expiredListeners.delete(callback);
    },

    onTokenChange(callback) {
      tokenListeners.add(callback);
      return () => tokenListeners.delete(callback);
    },

    accessTokenExpiresAt() {
      return access ? access.expiresAt : null;
    },

    sessionId() {
      return access ? access.sessionId : null;
    },

    isAuthenticated() {
      return access !== null && access.expiresAt > now();
    },

    close() {
      if (timer !== null) clearTimeout(timer);
      timer = null;
      dropMarker();
      channel?.close();
      expiredListeners.clear();
      tokenListeners.clear();
    },
  };
  return client;
}

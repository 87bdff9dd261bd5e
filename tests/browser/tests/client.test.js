// tessera.js on its own, without the demo page: loaded into a page of the
// server's origin and driven through page.evaluate.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';

import {
  PASSWORD,
  PAST_EXPIRY_MS,
  REUSE_GRACE_MS,
  countRequests,
  launchBrowser,
  sleep,
  startServer,
  watchPage,
} from '../lib/harness.js';

/** @type {import('../lib/harness.js').Server} */
let server;
/** @type {import('playwright-core').Browser} */
let browser;

before(async () => {
  server = await startServer('client');
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  await server?.stop();
});

/**
 * A fresh browser context with an empty page of the server's origin (answered
 * by the test itself, not the server) that has imported the module as
 * `window.tessera`.
 */
async function openPage() {
  const context = await browser.newContext();
  const blank = `${server.url}/client-test.html`;
  await context.route(blank, (route) =>
    route.fulfill({ status: 200, contentType: 'text/html', body: '<!doctype html><title>tessera.js</title>' }),
  );
  const page = await context.newPage();
  const problems = watchPage(page);
  await page.goto(blank);
  await page.evaluate(async () => {
    Object.assign(window, { tessera: await import('/demo/tessera.js') });
  });
  return {
    context,
    page,
    problems,
    refreshes: countRequests(page, 'POST', '/v1/auth/refresh'),
    me: countRequests(page, 'GET', '/v1/auth/me'),
    logins: countRequests(page, 'POST', '/v1/auth/login'),
  };
}

/**
 * In the page: create `window.client` with the given options (plus a frozen
 * clock when `frozenClock`), record `onSessionExpired` codes in `window.codes`,
 * and log in.
 * @param {import('playwright-core').Page} page
 * @param {string} email
 * @param {{ transport?: 'cookie' | 'body', frozenClock?: boolean }} [options]
 */
function createAndLogin(page, email, options = {}) {
  return page.evaluate(
    async ({ email, password, transport, frozenClock }) => {
      const frozenAt = Date.now();
      const w = /** @type {any} */ (window);
      w.client = w.tessera.createClient({
        transport,
        refreshLeadSeconds: false,
        ...(frozenClock ? { now: () => frozenAt } : {}),
      });
      w.codes = [];
      w.otherCodes = [];
      w.client.onSessionExpired((/** @type {string} */ code) => w.codes.push(code));
      w.client.onSessionExpired((/** @type {string} */ code) => w.otherCodes.push(code));
      return w.client.login(email, password);
    },
    { email, password: PASSWORD, transport: options.transport ?? 'cookie', frozenClock: options.frozenClock ?? false },
  );
}

/**
 * In the page: 10 parallel `client.fetch('/v1/auth/me')`, their statuses.
 * @param {import('playwright-core').Page} page
 * @returns {Promise<number[]>}
 */
function tenCalls(page) {
  return page.evaluate(() =>
    Promise.all(
      Array.from({ length: 10 }, () => /** @type {any} */ (window).client.fetch('/v1/auth/me').then((/** @type {Response} */ r) => r.status)),
    ),
  );
}

test('body transport: refresh token in memory only, one refresh for 10 calls after expiry', { timeout: 60_000 }, async () => {
  const email = 'body@example.com';
  await server.register(email);
  const { context, page, problems, refreshes, logins } = await openPage();

  const answer = await createAndLogin(page, email, { transport: 'body' });
  assert.equal(answer.refresh_token, undefined, 'login() does not hand the refresh token out');
  assert.equal(typeof answer.access_token, 'string');
  const loginBody = JSON.parse(logins.all[0].postData() ?? '{}');
  assert.notEqual(loginBody.transport, 'cookie');
  assert.deepEqual(await context.cookies(), [], 'no cookies with the body transport');
  assert.deepEqual(
    await page.evaluate(() => [localStorage.length, sessionStorage.length, document.cookie]),
    [0, 0, ''],
    'nothing stored in the page',
  );

  await sleep(PAST_EXPIRY_MS);
  const statuses = await tenCalls(page);
  assert.deepEqual(statuses, Array(10).fill(200));
  assert.equal(refreshes.count, 1, 'exactly one refresh');
  const sent = JSON.parse(refreshes.all[0].postData() ?? '{}');
  assert.equal(typeof sent.refresh_token, 'string', 'the body transport presents the refresh token in the body');
  assert.deepEqual(problems, []);
  await context.close();
});

test('on 401 one refresh is shared by every waiting request and each is retried once', { timeout: 60_000 }, async () => {
  const email = 'retry@example.com';
  await server.register(email);
  const { context, page, problems, refreshes, me } = await openPage();
  // A stopped clock: the client believes its token is fresh, so the server's
  // 401 is what makes it refresh.
  await createAndLogin(page, email, { transport: 'body', frozenClock: true });
  await sleep(PAST_EXPIRY_MS);

  const statuses = await tenCalls(page);
  assert.deepEqual(statuses, Array(10).fill(200));
  assert.equal(refreshes.count, 1, 'one refresh for ten 401s');
  const answers = await Promise.all(me.all.map(async (request) => (await request.response())?.status()));
  assert.equal(answers.filter((status) => status === 401).length, 10, `answers: ${answers}`);
  assert.equal(answers.filter((status) => status === 200).length, 10, `answers: ${answers}`);
  assert.equal(me.count, 20, 'each call retried exactly once');
  const tokens = new Set(me.all.map((request) => request.headers().authorization));
  assert.equal(tokens.size, 2, 'the old token, then the refreshed one');
  assert.deepEqual(problems, []);
  await context.close();
});

test('a refused refresh calls onSessionExpired with the code and is never retried', { timeout: 60_000 }, async () => {
  const email = 'refused@example.com';
  await server.register(email);
  const { context, page, refreshes, me } = await openPage();
  await createAndLogin(page, email, { transport: 'body' });

  // Sign this very session out, then let its access token expire.
  const deleted = await page.evaluate(async () => {
    const client = /** @type {any} */ (window).client;
    const res = await client.fetch(`/v1/auth/sessions/${client.sessionId()}`, { method: 'DELETE' });
    return res.status;
  });
  assert.equal(deleted, 204);
  await sleep(PAST_EXPIRY_MS);

  const meMark = me.count;
  const statuses = await tenCalls(page);
  assert.deepEqual(statuses, Array(10).fill(401));
  assert.equal(refreshes.count, 1, 'one refresh attempt for all ten calls');
  const refused = await refreshes.all[0].response();
  assert.equal(refused?.status(), 401);
  assert.equal((await refused?.json())?.code, 'session_revoked');
  assert.equal(me.since(meMark).length, 10, 'no call is retried after the refusal');
  assert.deepEqual(await page.evaluate(() => /** @type {any} */ (window).codes), ['session_revoked']);
  assert.deepEqual(await page.evaluate(() => /** @type {any} */ (window).otherCodes), ['session_revoked']);
  assert.equal(await page.evaluate(() => /** @type {any} */ (window).client.isAuthenticated()), false);

  // Later calls do not try again.
  assert.deepEqual(await tenCalls(page), Array(10).fill(401));
  assert.equal(refreshes.count, 1);
  assert.deepEqual(await page.evaluate(() => /** @type {any} */ (window).codes), ['session_revoked']);
  await context.close();
});

test('a replayed refresh cookie after the grace window reports refresh_token_reused', { timeout: 60_000 }, async () => {
  const email = 'reuse@example.com';
  const user = await server.register(email);
  const { context, page, problems, refreshes } = await openPage();
  await createAndLogin(page, email, { transport: 'cookie' });
  const stolen = (await context.cookies()).find((cookie) => cookie.name === 'tessera_refresh');
  assert.ok(stolen);

  assert.equal(await page.evaluate(() => /** @type {any} */ (window).client.refresh()), true);
  const rotated = (await context.cookies()).find((cookie) => cookie.name === 'tessera_refresh');
  assert.ok(rotated && rotated.value !== stolen.value, 'the refresh rotated the cookie');

  // Put the used cookie back once the grace window is over: the next refresh
  // presents a used refresh token.
  await sleep(REUSE_GRACE_MS + 500);
  await context.addCookies([stolen]);
  const mark = refreshes.count;
  assert.equal(await page.evaluate(() => /** @type {any} */ (window).client.refresh()), false);
  assert.equal(refreshes.since(mark).length, 1);
  assert.deepEqual(await page.evaluate(() => /** @type {any} */ (window).codes), ['refresh_token_reused']);
  const jar = (await context.cookies()).map((cookie) => cookie.name);
  assert.ok(!jar.includes('tessera_refresh'), `cookies cleared after the refusal: ${jar}`);

  const events = await server.audit();
  assert.ok(
    events.some((event) => event.user === user.id && event.kind === 'refresh_token_reused'),
    'the audit log has the reuse',
  );
  assert.deepEqual(problems, []);
  await context.close();
});

test('login is never retried; login and refresh calls pass through client.fetch untouched', { timeout: 60_000 }, async () => {
  const email = 'wrong@example.com';
  await server.register(email);
  const { context, page, refreshes, logins } = await openPage();
  const outcome = await page.evaluate(async (email) => {
    const w = /** @type {any} */ (window);
    const client = w.tessera.createClient({});
    const codes = [];
    client.onSessionExpired((/** @type {string} */ code) => codes.push(code));
    let error = null;
    try {
      await client.login(email, 'not the password at all');
    } catch (e) {
      error = { name: e.name, status: e.status, code: e.code, isTesseraError: e instanceof w.tessera.TesseraError };
    }
    const direct = await client.fetch('/v1/auth/refresh', {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: '{}',
    });
    return { error, codes, direct: direct.status, authenticated: client.isAuthenticated() };
  }, email);
  assert.deepEqual(outcome.error, { name: 'TesseraError', status: 401, code: 'invalid_credentials', isTesseraError: true });
  assert.equal(logins.count, 1, 'one login request');
  assert.equal(refreshes.count, 1, 'only the refresh the page itself sent, not retried');
  assert.equal(refreshes.all[0].headers().authorization, undefined);
  assert.ok([401, 403].includes(outcome.direct), `refresh without a cookie is refused: ${outcome.direct}`);
  assert.deepEqual(outcome.codes, [], 'a failed login is not an expired session');
  assert.equal(outcome.authenticated, false);
  await context.close();
});

test('logout revokes the session, clears the cookies, and no refresh follows', { timeout: 60_000 }, async () => {
  const email = 'logout@example.com';
  await server.register(email);
  const { context, page, problems, refreshes } = await openPage();
  await createAndLogin(page, email, { transport: 'cookie' });
  assert.ok((await context.cookies()).some((cookie) => cookie.name === 'tessera_refresh'));
  const logout = page.waitForRequest((request) => new URL(request.url()).pathname === '/v1/auth/logout');
  assert.equal(await page.evaluate(() => /** @type {any} */ (window).client.logout()), true);
  const request = await logout;
  assert.equal((await request.response())?.status(), 204);
  assert.match(request.headers().authorization ?? '', /^Bearer /);
  assert.ok(request.headers()['x-csrf-token']);
  assert.deepEqual(
    (await context.cookies()).map((cookie) => cookie.name).filter((name) => name.startsWith('tessera_')),
    [],
    'both cookies cleared',
  );
  const after = await page.evaluate(async () => {
    const client = /** @type {any} */ (window).client;
    return { status: (await client.fetch('/v1/auth/me')).status, resumed: await client.resume(), codes: /** @type {any} */ (window).codes };
  });
  assert.deepEqual(after, { status: 401, resumed: false, codes: [] });
  assert.equal(refreshes.count, 0, 'nothing to refresh after a logout');
  assert.deepEqual(problems, []);
  await context.close();
});

// Two tabs of one browser (two pages of one context: one cookie jar, one origin)
// hitting the expiry of the access token at the same moment.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';

import {
  PAST_EXPIRY_MS,
  REUSE_GRACE_MS,
  countRequests,
  launchBrowser,
  loginThroughDemo,
  parallelResult,
  screenshot,
  sleep,
  startServer,
  watchPage,
} from '../lib/harness.js';

/** @type {import('../lib/harness.js').Server} */
let server;
/** @type {import('playwright-core').Browser} */
let browser;

before(async () => {
  server = await startServer('tabs');
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  await server?.stop();
});

/**
 * Click the 10-calls button in every page at (nearly) the same instant.
 * @param {import('playwright-core').Page[]} pages
 */
async function fireTogether(pages) {
  await Promise.all(pages.map((page) => page.evaluate(() => document.getElementById('parallel-button')?.click())));
  return Promise.all(pages.map((page) => parallelResult(page)));
}

/**
 * Open a second tab of the demo and wait until it is signed in.
 * @param {import('playwright-core').BrowserContext} context
 * @param {string} query
 * @param {string} email
 */
async function openSecondTab(context, query, email) {
  const page = await context.newPage();
  const problems = watchPage(page);
  await page.goto(`${server.url}/demo${query}`);
  await page.locator('#app').waitFor({ state: 'visible' });
  await page.locator('#user-email', { hasText: email }).waitFor();
  return { page, problems };
}

test('two tabs hitting expiry together both stay signed in, with no refresh-token reuse', { timeout: 90_000 }, async () => {
  const email = 'tabs@example.com';
  const user = await server.register(email);
  const context = await browser.newContext();
  const refreshes = countRequests(context, 'POST', '/v1/auth/refresh');

  const a = await context.newPage();
  const problemsA = watchPage(a);
  await loginThroughDemo(a, server.url, email, '?proactive=off');
  // A new tab without an access token obtains one (from tab A, or by refreshing).
  const { page: b, problems: problemsB } = await openSecondTab(context, '?proactive=off', email);
  const sessionA = await a.textContent('#session-id');
  await b.locator('#session-id', { hasText: sessionA ?? '' }).waitFor();
  const signedInAt = Date.now();
  await screenshot(a, 'tabs-1-tab-a');
  await screenshot(b, 'tabs-1-tab-b');

  // Both tabs hold an expired token; both fire 10 calls at once.
  await sleep(PAST_EXPIRY_MS);
  assert.ok(Date.now() - signedInAt >= PAST_EXPIRY_MS);
  const mark = refreshes.count;
  const first = await fireTogether([a, b]);
  const firstRound = refreshes.since(mark);
  assert.deepEqual(first, [10, 10], 'every call of both tabs succeeds');
  assert.ok(firstRound.length >= 1, 'the tabs had to refresh');
  // One tab refreshes under the Web Lock; the other takes its token from the channel.
  assert.equal(firstRound.length, 1, `one refresh for both tabs, saw ${firstRound.length}`);
  for (const request of firstRound) assert.equal((await request.response())?.status(), 200);
  await screenshot(a, 'tabs-2-tab-a-after-expiry');
  await screenshot(b, 'tabs-2-tab-b-after-expiry');

  // Once more after the grace window: still nobody presents a used refresh token.
  await sleep(Math.max(PAST_EXPIRY_MS, REUSE_GRACE_MS + 500));
  const mark2 = refreshes.count;
  const second = await fireTogether([a, b]);
  assert.deepEqual(second, [10, 10]);
  assert.equal(refreshes.since(mark2).length, 1);

  for (const page of [a, b]) {
    assert.equal(await page.getAttribute('#status', 'data-state'), 'signed-in');
    assert.equal(await page.isHidden('#expired'), true);
  }
  const events = await server.audit();
  const mine = events.filter((event) => event.user === user.id);
  assert.deepEqual(
    mine.filter((event) => event.kind === 'refresh_token_reused' || event.code === 'refresh_token_reused'),
    [],
    'no refresh_token_reused in the audit log',
  );
  assert.equal(mine.filter((event) => event.kind === 'refreshed').length, refreshes.count);

  // Logging out in one tab signs the other out too (no "expired" message there).
  await a.click('#logout-button');
  await a.locator('#login').waitFor({ state: 'visible' });
  await b.locator('#login').waitFor({ state: 'visible' });
  assert.equal(await b.getAttribute('#status', 'data-state'), 'signed-out');
  assert.equal(await b.isHidden('#expired'), true);
  await screenshot(b, 'tabs-4-tab-b-after-logout-in-a');
  assert.deepEqual(problemsA, []);
  assert.deepEqual(problemsB, []);
  await context.close();
});

test('two tabs with the refresh timer on share each refresh and stay signed in', { timeout: 90_000 }, async () => {
  const email = 'timers@example.com';
  const user = await server.register(email);
  const context = await browser.newContext();
  const refreshes = countRequests(context, 'POST', '/v1/auth/refresh');
  /** @type {string[]} */
  const refused = [];
  context.on('response', (res) => {
    if (res.status() === 401 || res.status() === 403) refused.push(`${res.status()} ${res.url()}`);
  });

  const a = await context.newPage();
  const problemsA = watchPage(a);
  await loginThroughDemo(a, server.url, email);
  const { page: b, problems: problemsB } = await openSecondTab(context, '', email);
  const started = Date.now();
  const mark = refreshes.count;
  await sleep(2 * PAST_EXPIRY_MS);
  const results = await fireTogether([a, b]);
  const elapsed = Date.now() - started;
  await screenshot(a, 'tabs-3-timers-tab-a');
  await screenshot(b, 'tabs-3-timers-tab-b');

  assert.deepEqual(results, [10, 10]);
  assert.deepEqual(refused, [], 'no call and no refresh was refused');
  // The timers keep running while we read: a tab counts a refresh when its answer
  // arrives, the wire when it leaves, so one refresh may be in flight in between.
  const wireBefore = refreshes.count;
  const countA = Number(await a.textContent('#refresh-count'));
  const countB = Number(await b.textContent('#refresh-count'));
  const wireAfter = refreshes.count;
  const sent = refreshes.since(mark).length;
  // Each refresh on the wire is made by exactly one of the tabs, the other adopts it.
  const counted = `tab A ${countA} + tab B ${countB} vs ${wireBefore}..${wireAfter} on the wire`;
  assert.ok(countA + countB >= wireBefore - 1 && countA + countB <= wireAfter, counted);
  // About one refresh a second for both tabs together (expires_in 2, lead 1),
  // not one a second per tab.
  assert.ok(sent <= elapsed / 1000 + 2, `${sent} refreshes in ${elapsed} ms for two tabs`);
  const events = await server.audit();
  assert.deepEqual(
    events.filter((event) => event.user === user.id && event.kind === 'refresh_token_reused'),
    [],
  );
  assert.deepEqual(problemsA, []);
  assert.deepEqual(problemsB, []);
  await context.close();
});

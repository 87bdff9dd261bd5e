// "Sign out this device" from another browser: the first one learns at its next
// call that its session is gone and asks to log in again.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';

import {
  countRequests,
  fireParallel,
  launchBrowser,
  loginThroughDemo,
  screenshot,
  startServer,
  watchPage,
} from '../lib/harness.js';

/** @type {import('../lib/harness.js').Server} */
let server;
/** @type {import('playwright-core').Browser} */
let browser;

before(async () => {
  server = await startServer('revoke');
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  await server?.stop();
});

test('a session signed out from a second browser shows "session expired" at its next call', { timeout: 60_000 }, async () => {
  const email = 'revoke@example.com';
  const user = await server.register(email);

  // The first browser; no refresh timer, so only its next call can notice.
  const first = await browser.newContext();
  const victim = await first.newPage();
  const victimProblems = watchPage(victim);
  const victimRefreshes = countRequests(victim, 'POST', '/v1/auth/refresh');
  await loginThroughDemo(victim, server.url, email, '?proactive=off');
  const victimSession = (await victim.textContent('#session-id')) ?? '';
  assert.ok(victimSession);

  // A second browser (its own cookie jar), same user.
  const second = await browser.newContext();
  const admin = await second.newPage();
  const adminProblems = watchPage(admin);
  await loginThroughDemo(admin, server.url, email);
  await admin.locator('#sessions-body tr[data-session-id]').nth(1).waitFor();
  const rows = admin.locator('#sessions-body tr[data-session-id]');
  assert.equal(await rows.count(), 2, 'both sessions are listed');
  const other = admin.locator(`#sessions-body tr[data-session-id="${victimSession}"]`);
  assert.equal(await other.getAttribute('data-current'), 'false');
  assert.equal(
    await admin.getAttribute('#sessions-body tr[data-current="true"]', 'data-session-id'),
    await admin.textContent('#session-id'),
  );
  await screenshot(admin, 'revoke-1-second-browser-sessions');

  const deleted = admin.waitForResponse(
    (res) => res.request().method() === 'DELETE' && res.url().endsWith(`/v1/auth/sessions/${victimSession}`),
  );
  await other.locator('[data-testid="revoke-session"]').click();
  assert.equal((await deleted).status(), 204);
  await admin.locator(`#sessions-body tr[data-session-id="${victimSession}"]`).waitFor({ state: 'detached' });
  assert.equal(await rows.count(), 1);
  await screenshot(admin, 'revoke-2-second-browser-after');

  // The first browser has not noticed yet.
  assert.equal(await victim.isVisible('#app'), true);
  assert.equal(await victim.isHidden('#expired'), true);
  const mark = victimRefreshes.count;
  const succeeded = await fireParallel(victim);
  await victim.locator('#expired').waitFor({ state: 'visible' });
  await screenshot(victim, 'revoke-3-first-browser-expired');

  assert.equal(succeeded, 0, 'no call of a revoked session succeeds');
  assert.equal(await victim.textContent('#expired-code'), 'session_revoked');
  assert.match((await victim.textContent('#expired h2')) ?? '', /session expired.*please log in/i);
  assert.equal(await victim.isHidden('#app'), true);
  assert.equal(await victim.getAttribute('#status', 'data-state'), 'expired');
  const attempts = victimRefreshes.since(mark);
  assert.equal(attempts.length, 1, 'one refresh attempt, never retried');
  const refused = await attempts[0].response();
  assert.equal(refused?.status(), 401);
  assert.equal((await refused?.json())?.code, 'session_revoked');
  const jar = await first.cookies();
  assert.equal(
    jar.find((cookie) => cookie.name === 'tessera_refresh'),
    undefined,
    'the refused refresh cleared the refresh cookie',
  );

  // The link leads back to the form, and logging in again works.
  await victim.click('#expired-login-link');
  await victim.locator('#login-form').waitFor({ state: 'visible' });
  assert.equal(await victim.isHidden('#expired'), true);
  await victim.fill('#email', email);
  await victim.fill('#password', 'correct horse battery staple');
  await victim.click('#login-button');
  await victim.locator('#app').waitFor({ state: 'visible' });
  await victim.locator('#sessions-body tr[data-session-id]').nth(1).waitFor();
  await screenshot(victim, 'revoke-4-first-browser-signed-in-again');

  // The second browser was never disturbed.
  assert.equal(await admin.getAttribute('#status', 'data-state'), 'signed-in');
  const events = (await server.audit()).filter((event) => event.user === user.id && event.session === victimSession);
  const kinds = events.map((event) => `${event.kind}/${event.code}`);
  assert.ok(kinds.includes('session_revoked/-'), `audit of the revoked session: ${kinds}`);
  assert.ok(kinds.includes('refresh_refused/session_revoked'), `audit of the revoked session: ${kinds}`);
  assert.deepEqual(victimProblems, []);
  assert.deepEqual(adminProblems, []);
  await first.close();
  await second.close();
});

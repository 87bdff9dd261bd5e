// Shared pieces of the browser tests: a real `tessera serve` per test file, Debian's
// Chromium through playwright-core, request counters and screenshots.
import { spawn, execFile } from 'node:child_process';
import { createWriteStream } from 'node:fs';
import fs from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

import { chromium } from 'playwright-core';

export { sleep };

const here = path.dirname(fileURLToPath(import.meta.url));
export const browserDir = path.resolve(here, '..');
export const repoRoot = path.resolve(browserDir, '../..');
export const artifactsDir = path.join(browserDir, 'artifacts');
export const binary = process.env.TESSERA_BINARY ?? path.join(repoRoot, 'target/debug/tessera');
export const chromiumPath = process.env.TESSERA_CHROMIUM ?? '/usr/bin/chromium';

/** The access-token lifetime the servers run with. */
export const ACCESS_TTL_MS = 3000;
/** Long enough after a token was issued for the server to refuse it (no clock leeway). */
export const PAST_EXPIRY_MS = ACCESS_TTL_MS + 700;
/** The reuse grace the servers run with (it must be shorter than the access TTL). */
export const REUSE_GRACE_MS = 2000;

export const PASSWORD = 'correct horse battery staple';

async function freePort() {
  const server = net.createServer();
  await new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', resolve);
  });
  const address = server.address();
  await new Promise((resolve) => server.close(resolve));
  if (!address || typeof address === 'string') throw new Error('no port');
  return address.port;
}

/**
 * @typedef {object} Server
 * @property {string} url e.g. http://127.0.0.1:41234
 * @property {Record<string, string>} env the environment it runs with
 * @property {() => Promise<AuditEvent[]>} audit `tessera audit --since 10m`, parsed
 * @property {(email: string, password?: string) => Promise<any>} register
 * @property {() => Promise<void>} stop
 *
 * @typedef {object} AuditEvent
 * @property {string} time
 * @property {string} kind
 * @property {string} user
 * @property {string} session
 * @property {string} ip
 * @property {string} code
 * @property {string} actor
 */

/**
 * Start `tessera serve` on a free port with a fresh SQLite database.
 * @param {string} name used for the log file under artifacts/
 * @param {Record<string, string>} [extraEnv]
 * @returns {Promise<Server>}
 */
export async function startServer(name, extraEnv = {}) {
  await fs.mkdir(artifactsDir, { recursive: true });
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'tessera-browser-'));
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  /** @type {Record<string, string>} */
  const env = {};
  for (const [key, value] of Object.entries(process.env)) {
    if (!key.startsWith('TESSERA_') && value !== undefined) env[key] = value;
  }
  Object.assign(env, {
    TESSERA_BIND: `127.0.0.1:${port}`,
    TESSERA_DATABASE_URL: `sqlite://${dir}/tessera.db`,
    TESSERA_ISSUER: url,
    TESSERA_ACCESS_TTL: `${ACCESS_TTL_MS / 1000}s`,
    // The server insists on reuse_grace < access_ttl (the default grace is 10 s).
    TESSERA_REUSE_GRACE: `${REUSE_GRACE_MS / 1000}s`,
    // Without this the default 30 s leeway keeps accepting an expired token.
    TESSERA_CLOCK_LEEWAY: '0s',
    TESSERA_COOKIE_SECURE: 'false',
    TESSERA_LOG_FORMAT: 'json',
    ...extraEnv,
  });
  const logPath = path.join(artifactsDir, `${name}-server.log`);
  const log = createWriteStream(logPath);
  const child = spawn(binary, ['serve'], { env, cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
  child.stdout.pipe(log);
  child.stderr.pipe(log);
  /** @type {Promise<number | null>} */
  const exited = new Promise((resolve) => child.once('exit', (code) => resolve(code)));
  let running = true;
  exited.then(() => {
    running = false;
  });

  const deadline = Date.now() + 30_000;
  for (;;) {
    if (!running) {
      const text = await fs.readFile(logPath, 'utf8').catch(() => '');
      throw new Error(`tessera serve exited before it was ready:\n${text.slice(-2000)}`);
    }
    try {
      const res = await fetch(`${url}/readyz`);
      if (res.status === 200) break;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`tessera serve was not ready within 30 s (log: ${logPath})`);
    }
    await sleep(100);
  }

  return {
    url,
    env,
    async audit() {
      const { stdout } = await promisify(execFile)(binary, ['audit', '--since', '10m', '--limit', '1000'], { env });
      return stdout
        .split('\n')
        .filter((line) => line.includes('\t'))
        .map((line) => {
          const [time, kind, user, session, ip, code, actor] = line.split('\t');
          return { time, kind, user, session, ip, code, actor };
        });
    },
    async register(email, password = PASSWORD) {
      const res = await fetch(`${url}/v1/auth/register`, {
        method: 'POST',
        headers: { 'Content-Type': 'application/json' },
        body: JSON.stringify({ email, password }),
      });
      const body = await res.json();
      if (res.status !== 201) throw new Error(`register ${email}: ${res.status} ${JSON.stringify(body)}`);
      return body;
    },
    async stop() {
      if (running) {
        child.kill('SIGTERM');
        const abort = new AbortController();
        const timeout = sleep(10_000, 'timeout', { signal: abort.signal }).catch(() => 'stopped');
        if ((await Promise.race([exited, timeout])) === 'timeout') {
          child.kill('SIGKILL');
          await exited;
        }
        abort.abort();
      }
      log.end();
      await fs.rm(dir, { recursive: true, force: true });
    },
  };
}

/** Debian's Chromium, headless; never a downloaded browser. */
export function launchBrowser() {
  return chromium.launch({
    executablePath: chromiumPath,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-background-networking',
      '--disable-dev-shm-usage',
      '--no-first-run',
      '--no-default-browser-check',
    ],
  });
}

/**
 * Record a page's problems: uncaught errors and Content-Security-Policy violations.
 * @param {import('playwright-core').Page} page
 */
export function watchPage(page) {
  /** @type {string[]} */
  const problems = [];
  page.on('pageerror', (error) => problems.push(`pageerror: ${error.message}`));
  if (process.env.TESSERA_TRACE) {
    const t0 = Date.now();
    const trace = (/** @type {string} */ text) => console.error(`[${String(Date.now() - t0).padStart(6)} ms] ${text}`);
    page.on('request', (request) => trace(`> ${request.method()} ${request.url()}`));
    page.on('response', (response) => trace(`< ${response.status()} ${response.request().method()} ${response.url()}`));
    page.on('console', (message) => trace(`console.${message.type()}: ${message.text()}`));
  }
  page.on('console', (message) => {
    const text = message.text();
    if (/Content Security Policy|Refused to (load|execute|apply)/i.test(text)) problems.push(`csp: ${text}`);
  });
  return problems;
}

/**
 * Count the calls of one endpoint on the wire (page or whole context).
 * @param {import('playwright-core').Page | import('playwright-core').BrowserContext} target
 * @param {string} method
 * @param {string} pathname
 */
export function countRequests(target, method, pathname) {
  /** @type {import('playwright-core').Request[]} */
  const seen = [];
  target.on('request', (request) => {
    if (request.method() === method && new URL(request.url()).pathname === pathname) seen.push(request);
  });
  return {
    get count() {
      return seen.length;
    },
    /** requests since the given count */
    since(/** @type {number} */ mark) {
      return seen.slice(mark);
    },
    all: seen,
  };
}

/**
 * @param {import('playwright-core').Page} page
 * @param {string} name
 */
export async function screenshot(page, name) {
  await fs.mkdir(artifactsDir, { recursive: true });
  await page.screenshot({ path: path.join(artifactsDir, `${name}.png`), fullPage: true });
}

/**
 * Open the demo and log in through its form.
 * @param {import('playwright-core').Page} page
 * @param {string} baseUrl
 * @param {string} email
 * @param {string} [query] e.g. '?proactive=off'
 */
export async function loginThroughDemo(page, baseUrl, email, query = '') {
  await page.goto(`${baseUrl}/demo${query}`);
  await page.locator('#login').waitFor({ state: 'visible' });
  await page.fill('#email', email);
  await page.fill('#password', PASSWORD);
  await page.click('#login-button');
  await page.locator('#app').waitFor({ state: 'visible' });
  await page.locator('#user-email', { hasText: email }).waitFor();
  await page.locator('#sessions-body tr').first().waitFor();
}

/**
 * Click the 10-parallel-calls button and wait for the answer.
 * @param {import('playwright-core').Page} page
 * @returns {Promise<number>} how many succeeded
 */
export async function fireParallel(page) {
  await page.click('#parallel-button');
  return parallelResult(page);
}

/** @param {import('playwright-core').Page} page */
export async function parallelResult(page) {
  await page.locator('#parallel-result[data-state="done"]').waitFor({ state: 'attached', timeout: 20_000 });
  return Number(await page.getAttribute('#parallel-result', 'data-succeeded'));
}

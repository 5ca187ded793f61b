// What every browser test shares: the wsmith server it starts itself (from WSMITH_BIN) and
// Debian's Chromium it drives through playwright-core. Not a test itself: node's runner only
// runs the *.test.mjs files.
//
// WSMITH_BIN picks the server binary (default: target/release/wsmith, else target/debug/wsmith;
// a relative path is taken from the repository root). Chromium is /usr/bin/chromium (Debian's
// package; CHROMIUM_PATH overrides): if it is missing the run fails, it is never skipped.
// Screenshots go to target/browser-artifacts/.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import readline from 'node:readline';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

export const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
export const WWW = path.join(REPO, 'www');
export const ARTIFACTS = path.join(REPO, 'target', 'browser-artifacts');
export const CHROMIUM = process.env.CHROMIUM_PATH || '/usr/bin/chromium';
export const CHROMIUM_ARGS = [
  '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync',
];
const LISTENING = /^wsmith listening on http:\/\/127\.0\.0\.1:(\d+)\s*$/;
export const STARTUP_MS = 15_000;
export const STEP_MS = 10_000; // any one wait in the page

/** The chat's presence lines (www/js/chat.js), as the server words them. */
export const JOIN = (n) => `새로운 유저 접속 [현재: ${n}명]`;
export const LEAVE = (n) => `유저 연결 해제 [현재: ${n}명]`;
export const tid = (id) => `[data-testid="${id}"]`;

/** Cleanup must not hang the run either. */
export const bounded = (promise, ms) => Promise.race([promise.catch(() => {}), new Promise((r) => setTimeout(r, ms))]);

// ───────────────────────────── the server ─────────────────────────────

export function serverBinary() {
  if (process.env.WSMITH_BIN) {
    const bin = path.resolve(REPO, process.env.WSMITH_BIN);
    if (!fs.existsSync(bin)) throw new Error(`WSMITH_BIN=${process.env.WSMITH_BIN} does not exist (resolved to ${bin})`);
    return bin;
  }
  const release = path.join(REPO, 'target', 'release', 'wsmith');
  const debug = path.join(REPO, 'target', 'debug', 'wsmith');
  if (fs.existsSync(release)) return release;
  if (fs.existsSync(debug)) return debug;
  throw new Error(`no wsmith binary: run \`cargo build --release\` first, or set WSMITH_BIN (looked for ${release} and ${debug})`);
}

/**
 * Starts wsmith on `addr` (default a free loopback port) serving www/, and resolves once it
 * printed `wsmith listening on http://127.0.0.1:PORT`. Keeps the last lines of its output for
 * error messages (`tail()`).
 */
export function startServer(addr = '127.0.0.1:0') {
  const bin = serverBinary();
  const proc = spawn(bin, ['--addr', addr, '--www', WWW], { cwd: REPO, stdio: ['ignore', 'pipe', 'pipe'] });
  const output = [];
  const remember = (stream) => (line) => {
    output.push(`[${stream}] ${line}`);
    if (output.length > 200) output.shift();
  };
  const tail = () => output.slice(-30).join('\n') || '(no output)';
  readline.createInterface({ input: proc.stderr }).on('line', remember('stderr'));
  const stdout = readline.createInterface({ input: proc.stdout });
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      proc.kill('SIGKILL');
      reject(new Error(`${bin} printed no "wsmith listening on http://127.0.0.1:PORT" line on stdout within ${STARTUP_MS} ms:\n${tail()}`));
    }, STARTUP_MS);
    proc.once('error', (err) => {
      clearTimeout(timer);
      reject(new Error(`cannot start ${bin}: ${err.message}`));
    });
    proc.once('exit', (code, signal) => {
      clearTimeout(timer);
      reject(new Error(`${bin} exited (code ${code}, signal ${signal}) before listening:\n${tail()}`));
    });
    stdout.on('line', (line) => {
      remember('stdout')(line);
      const match = LISTENING.exec(line);
      if (!match) return;
      clearTimeout(timer);
      const port = Number(match[1]);
      resolve({ proc, port, base: `http://127.0.0.1:${port}`, tail });
    });
  });
}

/** Restarts on the same port; the old socket may linger a moment, so try a few times. */
export async function restartServer(port) {
  let lastError;
  for (let attempt = 0; attempt < 10; attempt += 1) {
    try {
      return await startServer(`127.0.0.1:${port}`);
    } catch (err) {
      lastError = err;
      await new Promise((r) => setTimeout(r, 300));
    }
  }
  throw lastError;
}

/** Stops a server (`{ proc }`) by its pid: `signal` first, SIGKILL if it is still there after 5 s. */
export async function stopServer(server, signal = 'SIGTERM') {
  const { proc } = server;
  if (proc.exitCode !== null || proc.signalCode !== null) return;
  const exited = new Promise((resolve) => proc.once('exit', resolve));
  process.kill(proc.pid, signal);
  const timeout = new Promise((resolve) => setTimeout(() => resolve('timeout'), 5000));
  if ((await Promise.race([exited, timeout])) === 'timeout') {
    process.kill(proc.pid, 'SIGKILL');
    await exited;
  }
}

// ───────────────────────────── the browser ─────────────────────────────

/** Fails the run (never skips it) when Debian's Chromium is not installed. */
export function requireChromium() {
  if (!fs.existsSync(CHROMIUM)) {
    throw new Error(`${CHROMIUM} is missing: install Debian's Chromium (apt-get install -y chromium) to run the browser tests`);
  }
}

/**
 * Launches Chromium headless with a fresh profile in a temporary folder named after `prefix`;
 * every wait in its pages defaults to STEP_MS. Resolves with `{ context, userDataDir }`.
 */
export async function launchChromium(prefix, viewport) {
  requireChromium();
  const userDataDir = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  const context = await chromium.launchPersistentContext(userDataDir, {
    executablePath: CHROMIUM,
    headless: true,
    args: CHROMIUM_ARGS,
    viewport,
    timeout: 30_000,
  });
  context.setDefaultTimeout(STEP_MS);
  return { context, userDataDir };
}

/** Closes what launchChromium opened, bounded, and removes its profile. */
export async function closeChromium(context, userDataDir) {
  if (context) await bounded(context.close(), 10_000);
  if (userDataDir) fs.rmSync(userDataDir, { recursive: true, force: true });
}

// ───────────────────────────── the session ─────────────────────────────

/**
 * What a test file's `before` sets up and its `after` takes down: a wsmith server (unless
 * `{ server: false }`: the tutorials start their own), Chromium (launchChromium), and the
 * uncaught errors of its pages, which the tests assert there were none of. Resolves with
 * `{ server, context, pageErrors, watch, open, close }`:
 *
 * - `server` is startServer's; a test that restarts the server puts the new one here, for close();
 * - `context` opens pages whose errors are not watched (status.test.mjs's load);
 * - `pageErrors` gets `"URL: message"` for each uncaught error in a watched page;
 * - `watch(page)` watches a page opened otherwise (a popup); `open(url)` opens a watched one at
 *   `url`, a path being taken from the server (`'/#lab'`);
 * - `close()` closes Chromium, then stops the server, each bounded.
 *
 * If Chromium does not start, the server is stopped before the error is passed on.
 */
export async function startSession(prefix, viewport, { server: withServer = true } = {}) {
  requireChromium();
  const server = withServer ? await startServer() : undefined;
  let browser;
  try {
    browser = await launchChromium(prefix, viewport);
  } catch (err) {
    if (server) await bounded(stopServer(server), 10_000);
    throw err;
  }
  const session = {
    server,
    context: browser.context,
    pageErrors: [],
    watch(page) {
      page.on('pageerror', (err) => session.pageErrors.push(`${page.url()}: ${err.message}`));
      return page;
    },
    async open(url) {
      const page = session.watch(await session.context.newPage());
      await page.goto(new URL(url, session.server?.base).href);
      return page;
    },
    async close() {
      await closeChromium(session.context, browser.userDataDir);
      if (session.server) await bounded(stopServer(session.server), 10_000);
    },
  };
  return session;
}

/** Brings `page` to the front and saves a screenshot as target/browser-artifacts/`name`. */
export async function screenshot(page, name, options = {}) {
  fs.mkdirSync(ARTIFACTS, { recursive: true });
  await page.bringToFront();
  await page.screenshot({ path: path.join(ARTIFACTS, name), ...options });
}

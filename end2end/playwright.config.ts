import { defineConfig } from '@playwright/test';
import { execFileSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

// The config is evaluated in the runner and again in each worker; pick the
// port and data directory once and hand them down through the environment.
if (!process.env.VITRINE_E2E_PORT) {
  process.env.VITRINE_E2E_PORT = execFileSync('python3', [
    '-c',
    'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])',
  ])
    .toString()
    .trim();
}
if (!process.env.VITRINE_E2E_DATA_DIR) {
  process.env.VITRINE_E2E_DATA_DIR = mkdtempSync(join(tmpdir(), 'vitrine-e2e-'));
}

const port = process.env.VITRINE_E2E_PORT;
const root = resolve(__dirname, '..');
const serverBin =
  process.env.VITRINE_SERVER_BIN ?? join(process.env.HOME ?? '', '.cache/vitrine/target/debug/vitrine');

export default defineConfig({
  testDir: './tests',
  timeout: 60_000,
  expect: { timeout: 10_000 },
  fullyParallel: false,
  workers: 1,
  retries: 0,
  reporter: process.env.CI ? [['list']] : [['list'], ['html', { open: 'never' }]],
  use: {
    baseURL: `http://127.0.0.1:${port}`,
    trace: 'retain-on-failure',
    launchOptions: {
      // Debian's Chromium; Playwright never downloads a browser here.
      executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
      args: ['--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
    },
  },
  projects: [{ name: 'chromium', use: { browserName: 'chromium' } }],
  webServer: {
    // The real server: it starts its own nats-server and embedded SurrealDB
    // in a fresh data directory, with the demo catalog.
    command: serverBin,
    cwd: root,
    url: `http://127.0.0.1:${port}/health`,
    reuseExistingServer: false,
    timeout: 60_000,
    stdout: 'ignore',
    stderr: 'pipe',
    env: {
      VITRINE_ADDR: `127.0.0.1:${port}`,
      VITRINE_DATA_DIR: process.env.VITRINE_E2E_DATA_DIR,
      LEPTOS_SITE_ROOT: join(root, 'target/site'),
      VITRINE_ADMIN_EMAIL: 'admin@e2e.example',
      VITRINE_ADMIN_PASSWORD: 'e2e-admin-password',
      RUST_LOG: 'warn',
    },
  },
});

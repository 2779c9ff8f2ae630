// Test helpers: a real djira server (the example project under uvicorn) and event waiting.
import { spawn } from "node:child_process";
import { once } from "node:events";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { delimiter, dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..", "..");
// The project's own environment (`make test` creates it), whose Python has djira's
// dependencies; a bare `python3` on PATH usually has none of them.
const VENV_PYTHON = join(root, ".venv", "bin", "python");
export const PYTHON = process.env.DJIRA_PYTHON ?? (existsSync(VENV_PYTHON) ? VENV_PYTHON : "python3");
const START_TIMEOUT = 30_000;

/**
 * The built bundle, as browsers get it. Node 20 has no global WebSocket (Node 22 has), so
 * the `ws` package stands in for it before the bundle reads the global.
 * @returns {Promise<typeof import("../../djira/static/djira/js/client.js")>}
 */
export async function loadClient() {
  if (typeof globalThis.WebSocket === "undefined") {
    const { WebSocket } = await import("ws");
    globalThis.WebSocket = /** @type {any} */ (WebSocket);
  }
  return import("../../djira/static/djira/js/client.js");
}

/** A TCP port nobody listens on right now. */
export async function freePort() {
  const server = createServer();
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  const address = server.address();
  const port = typeof address === "object" && address ? address.port : 0;
  server.close();
  await once(server, "close");
  return port;
}

/**
 * Reject with a clear message if `promise` takes longer than `ms`.
 * @template T
 * @param {number} ms
 * @param {Promise<T>} promise
 * @returns {Promise<T>}
 */
export function within(ms, promise, what = "the event") {
  /** @type {ReturnType<typeof setTimeout> | undefined} */
  let timer;
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`Timed out after ${ms} ms waiting for ${what}.`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/**
 * A queue of values pushed by callbacks, taken by tests with a deadline.
 * @template T
 */
export class Inbox {
  constructor() {
    /** @type {T[]} */
    this.items = [];
    /** @type {((item: T) => void)[]} */
    this.waiters = [];
    this.put = this.put.bind(this);
  }

  /** @param {T} item */
  put(item) {
    const waiter = this.waiters.shift();
    if (waiter) waiter(item);
    else this.items.push(item);
  }

  /**
   * The next value, or a rejection after `ms`.
   * @param {number} [ms]
   * @param {string} [what]
   * @returns {Promise<T>}
   */
  take(ms = 5000, what = "a value") {
    if (this.items.length) return Promise.resolve(/** @type {T} */ (this.items.shift()));
    /** @type {(item: T) => void} */
    let waiter = () => undefined;
    const next = new Promise((resolve) => {
      waiter = resolve;
      this.waiters.push(resolve);
    });
    return within(ms, next, what).catch((error) => {
      this.waiters = this.waiters.filter((w) => w !== waiter);
      throw error;
    });
  }
}

/**
 * Wait until `client` reaches `state` (resolves at once if it is there already).
 * @param {import("../../djira/static/djira/js/client.js").Client} client
 * @param {import("../../djira/static/djira/js/client.js").ConnectionState} state
 * @returns {Promise<import("../../djira/static/djira/js/client.js").StateChange>}
 */
export function reach(client, state, ms = 10_000) {
  if (client.state === state) return Promise.resolve({ state });
  /** @type {() => void} */
  let off = () => undefined;
  const reached = new Promise((resolve) => {
    off = client.onState((change) => {
      if (change.state === state) resolve(change);
    });
  });
  return within(ms, reached, `state "${state}"`).finally(() => off());
}

/**
 * The example project served by uvicorn on a free port, with its own SQLite file.
 * `restart()` kills the process and starts a new one on the same port and database.
 */
export class ExampleServer {
  constructor() {
    this.dir = mkdtempSync(join(tmpdir(), "djira-client-test-"));
    this.port = 0;
    /** @type {{admin: string, demo: string}} */
    this.tokens = { admin: "", demo: "" };
    /** @type {import("node:child_process").ChildProcess | null} */
    this.process = null;
    this.log = "";
  }

  get url() {
    return `http://127.0.0.1:${this.port}`;
  }

  /** The server's port, chosen (but not listened on) before the first start. */
  async ensurePort() {
    if (!this.port) this.port = await freePort();
    return this.port;
  }

  async start() {
    await this.ensurePort();
    const child = spawn(
      PYTHON,
      ["-u", join(root, "example", "manage.py"), "demo", "--host", "127.0.0.1", "--port", String(this.port)],
      {
        cwd: root,
        env: {
          ...process.env,
          DJIRA_EXAMPLE_DB: join(this.dir, "db.sqlite3"),
          DJANGO_DEBUG: "0",
          // djira from this checkout, installed or not.
          PYTHONPATH: [root, process.env.PYTHONPATH].filter(Boolean).join(delimiter),
          PYTHONUNBUFFERED: "1",
        },
        stdio: ["ignore", "pipe", "pipe"],
      },
    );
    this.process = child;
    let output = "";
    const ready = new Promise((resolve, reject) => {
      /** @param {Buffer} chunk */
      const read = (chunk) => {
        output += chunk.toString();
        this.log += chunk.toString();
        // "    admin / admin  token <key>  ..." per account (or, older, "tokens: admin=<key> demo=<key>").
        const tokens = /tokens:\s+admin=(\w+)\s+demo=(\w+)/.exec(output);
        if (tokens) this.tokens = { admin: tokens[1], demo: tokens[2] };
        for (const [, user, key] of output.matchAll(/^\s+(\w+) \/ \S+\s+token (\w+)/gm)) {
          if (user === "admin" || user === "demo") this.tokens[user] = key;
        }
        if (/Uvicorn running on/.test(output)) resolve(undefined);
      };
      child.stdout?.on("data", read);
      child.stderr?.on("data", read);
      child.once("exit", (code) => reject(new Error(`The example server exited (${code}):\n${output}`)));
    });
    await within(START_TIMEOUT, ready, `the example server to listen on ${this.port}`).catch((error) => {
      child.kill("SIGKILL");
      throw error;
    });
  }

  /** Stop the server process and wait for it to exit. */
  async stop(signal = /** @type {NodeJS.Signals} */ ("SIGTERM")) {
    const child = this.process;
    this.process = null;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    const exited = once(child, "exit");
    child.kill(signal);
    await within(10_000, exited, "the example server to exit").catch(async () => {
      child.kill("SIGKILL");
      await exited;
    });
  }

  async restart() {
    await this.stop("SIGKILL");
    await this.start();
  }

  /** Stop the server and remove its database. */
  async dispose() {
    await this.stop();
    rmSync(this.dir, { recursive: true, force: true });
  }
}

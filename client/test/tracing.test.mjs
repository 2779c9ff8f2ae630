// Trace context from the client: a request made while an OpenTelemetry span is active carries
// its `traceparent`, and the server's span of the request is that span's child. The server is
// djira's test project with TRACING on and the Python SDK recording into memory
// (tests/asgi_telemetry.py); its `spans` hook returns what the server's SDK finished.
import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import { once } from "node:events";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { delimiter, dirname, join } from "node:path";
import { after, before, describe, it } from "node:test";
import { fileURLToPath } from "node:url";

import { context, propagation, trace } from "@opentelemetry/api";
import { AsyncLocalStorageContextManager } from "@opentelemetry/context-async-hooks";
import { W3CTraceContextPropagator } from "@opentelemetry/core";
import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor } from "@opentelemetry/sdk-trace-base";

import { freePort, loadClient, PYTHON, within } from "./helpers.mjs";

const { connect } = await loadClient();
const root = join(dirname(fileURLToPath(import.meta.url)), "..", "..");
const OPTIONS = { transports: /** @type {"websocket"[]} */ (["websocket"]), requestTimeout: 10_000 };

/**
 * The test project under uvicorn with tracing on, over a SQLite file of its own.
 * @param {string} dir
 * @param {number} port
 */
async function startTracedServer(dir, port) {
  const env = {
    ...process.env,
    DJANGO_SETTINGS_MODULE: "tests.settings",
    DJIRA_TEST_DATABASE: "sqlite",
    DJIRA_TEST_DB: join(dir, "db.sqlite3"),
    DJIRA_TEST_SETTINGS: JSON.stringify({ TRACING: true }),
    PYTHONPATH: [root, process.env.PYTHONPATH].filter(Boolean).join(delimiter),
    PYTHONUNBUFFERED: "1",
  };
  const migrate = "import django; django.setup(); from django.core.management import call_command; "
    + "call_command('migrate', verbosity=0, run_syncdb=True)";
  const migrated = spawnSync(PYTHON, ["-c", migrate], { cwd: root, env, encoding: "utf8" });
  assert.equal(migrated.status, 0, `migrate failed:\n${migrated.stderr}`);
  const args = ["-m", "uvicorn", "tests.asgi_telemetry:application", "--host", "127.0.0.1"];
  const child = spawn(PYTHON, [...args, "--port", String(port)], { cwd: root, env, stdio: ["ignore", "pipe", "pipe"] });
  let output = "";
  const ready = new Promise((resolve, reject) => {
    /** @param {Buffer} chunk */
    const read = (chunk) => {
      output += chunk.toString();
      if (/Uvicorn running on/.test(output)) resolve(undefined);
    };
    child.stdout?.on("data", read);
    child.stderr?.on("data", read);
    child.once("exit", (code) => reject(new Error(`The traced server exited (${code}):\n${output}`)));
  });
  await within(60_000, ready, `the traced server to listen on ${port}`).catch((error) => {
    child.kill("SIGKILL");
    throw error;
  });
  return child;
}

/**
 * The server's span of the request `requestId`, as its SDK finished it.
 * @param {import("../../djira/static/djira/js/client.js").Client} client
 * @param {string} requestId
 */
async function serverSpan(client, requestId) {
  const reply = await client.request("spans", { namespace: "finished" });
  const found = reply.data.filter(
    /** @param {any} span */ (span) => span.kind === "SERVER" && span.attributes["djira.request_id"] === requestId,
  );
  assert.equal(found.length, 1, `one server span for ${requestId}, got ${JSON.stringify(reply.data)}`);
  return found[0];
}

describe("trace context", { timeout: 120_000 }, () => {
  const dir = mkdtempSync(join(tmpdir(), "djira-client-tracing-"));
  /** @type {import("node:child_process").ChildProcess | undefined} */
  let server;
  /** @type {string} */
  let url;
  // The page's OpenTelemetry set-up, as a WebTracerProvider's register() does it in a browser.
  const exporter = new InMemorySpanExporter();
  const provider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] });
  const tracer = provider.getTracer("djira-client-test");

  before(async () => {
    const port = await freePort();
    url = `http://127.0.0.1:${port}`;
    server = await startTracedServer(dir, port);
    trace.setGlobalTracerProvider(provider);
    context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
    propagation.setGlobalPropagator(new W3CTraceContextPropagator());
  });

  after(async () => {
    trace.disable();
    context.disable();
    propagation.disable();
    if (server && server.exitCode === null) {
      const exited = once(server, "exit");
      server.kill("SIGTERM");
      await exited;
    }
    rmSync(dir, { recursive: true, force: true });
  });

  it("makes the server span of a request the child of the span active where it was made", async () => {
    const client = connect(url, OPTIONS);
    try {
      const { clientSpan, reply } = await tracer.startActiveSpan("click", async (span) => {
        const result = await client.request("books", { namespace: "count" });
        span.end();
        return { clientSpan: span, reply: result };
      });
      assert.equal(reply.status, 200);
      const { traceId, spanId } = clientSpan.spanContext();
      const span = await serverSpan(client, String(reply.requestId));
      assert.equal(span.trace_id, traceId);
      assert.equal(span.parent_id, spanId);
      assert.equal(span.name, "books/count GET");
      assert.deepEqual(exporter.getFinishedSpans().map((s) => s.name), ["click"]);
    } finally {
      client.close();
    }
  });

  it("sends no trace context outside a span, nor with traceContext: false", async () => {
    const client = connect(url, OPTIONS);
    const untraced = connect(url, { ...OPTIONS, traceContext: false });
    try {
      const outside = await client.request("books", { namespace: "count" });
      const opted = await tracer.startActiveSpan("opted-out", async (span) => {
        const result = await untraced.request("books", { namespace: "count" });
        span.end();
        return result;
      });
      for (const reply of [outside, opted]) {
        const span = await serverSpan(client, String(reply.requestId));
        assert.equal(span.parent_id, null);
      }
    } finally {
      client.close();
      untraced.close();
    }
  });

  it("takes the traceparent a traceContext function returns, and ignores a malformed one", async () => {
    const given = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01";
    const explicit = connect(url, { ...OPTIONS, traceContext: () => given });
    const malformed = connect(url, { ...OPTIONS, traceContext: () => "00-nope-01" });
    try {
      const reply = await explicit.request("books", { namespace: "count" });
      const span = await serverSpan(explicit, String(reply.requestId));
      assert.equal(span.trace_id, "0af7651916cd43dd8448eb211c80319c");
      assert.equal(span.parent_id, "b7ad6b7169203331");
      const ignored = await malformed.request("books", { namespace: "count" });
      assert.equal((await serverSpan(explicit, String(ignored.requestId))).parent_id, null);
    } finally {
      explicit.close();
      malformed.close();
    }
  });
});

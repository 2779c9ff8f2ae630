// Connection life cycle: queueing while disconnected, timeouts, lost connections, state events.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { after, describe, it } from "node:test";
import { runInNewContext } from "node:vm";
import { ExampleServer, loadClient, reach } from "./helpers.mjs";

const { connect, DjiraError } = await loadClient();
const OPTIONS = {
  transports: /** @type {"websocket"[]} */ (["websocket"]),
  reconnectionDelay: 50,
  reconnectionDelayMax: 200,
  requestTimeout: 5000,
};

describe("connection", { timeout: 90_000 }, () => {
  const server = new ExampleServer();
  after(() => server.dispose());

  it("times a request out with 408 while the server cannot be reached", async () => {
    const offline = connect(`http://127.0.0.1:${await server.ensurePort()}`, OPTIONS);
    try {
      await assert.rejects(offline.request("articles", {}, { timeout: 200 }), (error) => {
        assert.ok(error instanceof DjiraError);
        assert.equal(error.status, 408);
        assert.equal(error.kind, "timeout");
        assert.match(error.data.detail, /200 ms/);
        return true;
      });
      assert.notEqual(offline.state, "connected");
    } finally {
      offline.close();
    }
  });

  it("reports connect errors with status 0 while it keeps trying", async () => {
    const offline = connect(`http://127.0.0.1:${await server.ensurePort()}`, OPTIONS);
    try {
      const change = await new Promise((resolve) => offline.onState(resolve));
      assert.equal(change.state, "connecting");
      assert.equal(change.error?.status, 0);
    } finally {
      offline.close();
    }
  });

  it("queues requests made before the connection and sends them once connected", async () => {
    const client = connect(`http://127.0.0.1:${await server.ensurePort()}`, OPTIONS);
    try {
      const states = /** @type {string[]} */ ([]);
      client.onState((change) => states.push(change.state));
      const queued = client.request("articles", {}, { timeout: 30_000 });
      await server.start();
      const reply = await queued;
      assert.equal(reply.status, 200);
      assert.equal(client.state, "connected");
      assert.equal(states.at(-1), "connected");
    } finally {
      client.close();
    }
  });

  it("rejects a request in flight with status 0 when the connection drops, then reconnects", async () => {
    if (!server.process) await server.start();
    const client = connect(server.url, { ...OPTIONS, auth: { token: server.tokens.admin } });
    try {
      await reach(client, "connected");
      const reconnecting = reach(client, "reconnecting");
      // Over the server's 1 MB limit: the server closes the connection instead of replying.
      const big = client.request("articles", { action: "POST", data: { title: "big", body: "x".repeat(1_100_000) } });
      await assert.rejects(big, (error) => {
        assert.ok(error instanceof DjiraError);
        assert.ok(error.status === 413 || error.status === 0, `status ${error.status}`);
        return true;
      });
      await reconnecting;
      await reach(client, "connected");
      assert.equal((await client.request("users", { namespace: "me" })).data.username, "admin");
    } finally {
      client.close();
    }
  });

  it("reports every state change in order, ending with disconnected on close()", async () => {
    if (!server.process) await server.start();
    const client = connect(server.url, OPTIONS);
    const states = /** @type {string[]} */ ([]);
    client.onState((change) => states.push(change.state));
    await reach(client, "connected");
    client.close();
    assert.deepEqual(states, ["connected", "disconnected"]);
    assert.equal(client.connected, false);
  });

  it("ships a classic-script build that defines window.djira", async () => {
    if (!server.process) await server.start();
    const file = new URL("../../djira/static/djira/js/client.iife.js", import.meta.url);
    const window = /** @type {Record<string, any>} */ ({ WebSocket: globalThis.WebSocket, setTimeout, clearTimeout });
    window.window = window;
    runInNewContext(readFileSync(file, "utf8"), window);
    const classic = /** @type {typeof import("../../djira/static/djira/js/client.js")} */ (window.djira);
    assert.equal(typeof classic.connect, "function");
    const client = classic.connect(server.url, { ...OPTIONS, auth: { token: server.tokens.demo } });
    try {
      assert.equal((await client.request("users", { namespace: "me" })).data.username, "demo");
    } finally {
      client.close();
    }
  });
});

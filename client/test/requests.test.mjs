// Requests and their replies, against the example project: success and every error status.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { ExampleServer, loadClient, reach } from "./helpers.mjs";

const { connect, DjiraError } = await loadClient();
const OPTIONS = { transports: /** @type {"websocket"[]} */ (["websocket"]), requestTimeout: 5000 };

/**
 * Assert that `promise` rejects with a DjiraError of `status`; return the error.
 * @param {Promise<unknown>} promise
 * @param {number} status
 */
async function rejectsWith(promise, status) {
  /** @type {import("../../djira/static/djira/js/client.js").DjiraError | undefined} */
  let caught;
  await assert.rejects(promise, (error) => {
    assert.ok(error instanceof DjiraError, `expected a DjiraError, got ${error}`);
    assert.equal(error.status, status, `expected ${status}, got ${error.status}: ${error.message}`);
    caught = error;
    return true;
  });
  return /** @type {import("../../djira/static/djira/js/client.js").DjiraError} */ (caught);
}

describe("requests", { timeout: 60_000 }, () => {
  const server = new ExampleServer();
  /** @type {import("../../djira/static/djira/js/client.js").Client} */
  let admin;
  /** @type {import("../../djira/static/djira/js/client.js").Client} */
  let anonymous;

  before(async () => {
    await server.start();
    admin = connect(server.url, { ...OPTIONS, auth: { token: server.tokens.admin } });
    anonymous = connect(server.url, OPTIONS);
  });

  after(async () => {
    admin?.close();
    anonymous?.close();
    await server.dispose();
  });

  it("resolves with the reply envelope, matched to its request", async () => {
    const reply = await admin.request("users", { namespace: "me" });
    assert.equal(reply.status, 200);
    assert.equal(reply.event, "users");
    assert.equal(reply.namespace, "me");
    assert.equal(reply.action, "GET");
    assert.equal(typeof reply.requestId, "string");
    assert.equal(reply.data.username, "admin");
  });

  it("keeps concurrent replies apart", async () => {
    const [me, list, one] = await Promise.all([
      admin.request("users", { namespace: "me" }),
      admin.request("users", { query: { ordering: "username" } }),
      admin.request("users", { pk: 1 }),
    ]);
    assert.equal(me.namespace, "me");
    const names = list.data.results.map((/** @type {{username: string}} */ u) => u.username);
    assert.deepEqual(names, [...names].sort());
    assert.ok(names.includes("admin") && names.includes("demo"), names.join(", "));
    assert.equal(one.data.id, 1);
    assert.equal(new Set([me.requestId, list.requestId, one.requestId]).size, 3);
  });

  it("creates, updates and deletes (201, 200, 204)", async () => {
    const created = await admin.request("articles", { action: "POST", data: { title: "Hello", body: "x" } });
    assert.equal(created.status, 201);
    const pk = created.data.id;
    const patched = await admin.request("articles", { action: "PATCH", pk, data: { title: "Hi" } });
    assert.equal(patched.status, 200);
    assert.equal(patched.data.title, "Hi");
    const deleted = await admin.request("articles", { action: "DELETE", pk });
    assert.equal(deleted.status, 204);
    assert.equal(deleted.data, null);
  });

  it("rejects invalid data with 400 and DRF's field errors", async () => {
    const error = await rejectsWith(admin.request("articles", { action: "POST", data: { body: "no title" } }), 400);
    assert.equal(error.kind, "reply");
    assert.ok(Array.isArray(error.data.title), JSON.stringify(error.data));
    assert.equal(error.envelope?.status, 400);
    assert.equal(error.envelope?.event, "articles");
  });

  it("rejects a field of the wrong type with 400 naming it", async () => {
    const fields = /** @type {any} */ ({ pk: { id: 1 } });
    const error = await rejectsWith(admin.request("users", fields), 400);
    assert.match(error.data.detail, /pk/);
  });

  it("rejects an anonymous request to a private hook with 401", async () => {
    const error = await rejectsWith(anonymous.request("users", { namespace: "me" }), 401);
    assert.equal(typeof error.data.detail, "string");
  });

  it("rejects an anonymous write with 401", async () => {
    await rejectsWith(anonymous.request("articles", { action: "POST", data: { title: "t" } }), 401);
  });

  it("rejects a forbidden request with 403", async () => {
    // The demo user may not touch an article of the admin's.
    const demo = connect(server.url, { ...OPTIONS, auth: { token: server.tokens.demo } });
    try {
      const created = await admin.request("articles", { action: "POST", data: { title: "Admin's" } });
      const pk = created.data.id;
      await rejectsWith(demo.request("articles", { action: "PATCH", pk, data: { title: "Mine" } }), 403);
    } finally {
      demo.close();
    }
  });

  it("rejects an unknown hook with 404", async () => {
    await rejectsWith(admin.request("no_such_hook"), 404);
  });

  it("rejects an unknown namespace with 404", async () => {
    await rejectsWith(admin.request("users", { namespace: "no_such_namespace" }), 404);
  });

  it("rejects a missing object with 404", async () => {
    const error = await rejectsWith(admin.request("articles", { pk: 987654 }), 404);
    assert.equal(typeof error.data.detail, "string");
  });

  it("rejects a verb the route does not accept with 405 and data.allowed", async () => {
    const error = await rejectsWith(admin.request("users", { namespace: "me", action: "POST" }), 405);
    assert.deepEqual(error.data.allowed, ["GET"]);
    const crud = await rejectsWith(admin.request("users", { action: "DELETE", pk: 1 }), 405);
    assert.ok(Array.isArray(crud.data.allowed) && crud.data.allowed.includes("GET"), JSON.stringify(crud.data));
  });

  it("refuses a connection with a bad token: connect_error carries {message, status: 401}", async () => {
    const intruder = connect(server.url, { ...OPTIONS, auth: { token: "not-a-token" } });
    try {
      const change = await reach(intruder, "disconnected");
      assert.equal(change.error?.status, 401);
      assert.equal(typeof change.error?.message, "string");
      // Requests on a refused client fail at once with the refusal's status.
      const error = await rejectsWith(intruder.request("users", { namespace: "me" }), 401);
      assert.equal(error.kind, "refused");
    } finally {
      intruder.close();
    }
  });

  it("rejects queued requests with the refusal's status", async () => {
    const intruder = connect(server.url, { ...OPTIONS, auth: { token: "not-a-token" } });
    try {
      const error = await rejectsWith(intruder.request("users", { namespace: "me" }), 401);
      assert.equal(error.kind, "refused");
    } finally {
      intruder.close();
    }
  });

  it("rejects a request on a reserved event name without sending it", async () => {
    const error = await rejectsWith(admin.request("disconnect"), 0);
    assert.equal(error.kind, "invalid");
    assert.equal(admin.state, "connected");
  });

  it("rejects requests on a closed client with status 0", async () => {
    const client = connect(server.url, OPTIONS);
    const inFlight = client.request("articles");
    client.close();
    const error = await rejectsWith(inFlight, 0);
    assert.equal(error.kind, "closed");
    await rejectsWith(client.request("articles"), 0);
    assert.equal(client.state, "disconnected");
  });
});

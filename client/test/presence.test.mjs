// Presence: `client.presence(hook, fields)` against the example's `articles` hook, whose
// `presence` route returns `await self.article_changes.presence_of(scope)`.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { ExampleServer, loadClient } from "./helpers.mjs";

/** @typedef {import("../../djira/static/djira/js/client.js").Client} Client */
/** @typedef {import("../../djira/static/djira/js/client.js").Presence} Presence */

const djira = await loadClient();
const { connect } = djira;
const OPTIONS = {
  transports: /** @type {"websocket"[]} */ (["websocket"]),
  reconnectionDelay: 50,
  reconnectionDelayMax: 250,
  requestTimeout: 5000,
};
const HOOK = "articles";

describe("presence", { timeout: 120_000 }, () => {
  const server = new ExampleServer();
  /** @type {Client[]} */
  const clients = [];

  /** @param {Record<string, unknown>} [auth] */
  function client(auth) {
    const made = connect(server.url, { ...OPTIONS, ...(auth ? { auth } : {}) });
    clients.push(made);
    return made;
  }

  before(async () => {
    await server.start();
  });

  after(async () => {
    for (const made of clients) made.close();
    await server.dispose();
  });

  it("tells who is subscribed to a room, by user and connection, and follows leaving", async () => {
    const admin = client({ token: server.tokens.admin });
    const article = (await admin.request(HOOK, { action: "POST", data: { title: "Present", body: "" } })).data;
    const fields = { namespace: "subscribe", pk: article.id };
    const demoTabs = [client({ token: server.tokens.demo }), client({ token: server.tokens.demo })];
    const anonymous = client();
    const subscriptions = [...demoTabs, anonymous].map((c) => c.subscribe(HOOK, fields, () => {}));
    await Promise.all(subscriptions.map((s) => s.ready));

    /** @type {Presence[]} */
    const [room] = await anonymous.presence(HOOK, { pk: article.id });
    assert.equal(room.room, `article__${article.id}`);
    assert.equal(room.connections, 3);
    assert.equal(room.anonymous, 1);
    assert.deepEqual(
      room.users.map((u) => [u.username, u.connections]),
      [["demo", 2]],
    );
    assert.equal(typeof room.users[0].id, "number");

    await subscriptions[0].unsubscribe();
    demoTabs[1].close();
    // The close is seen by the server after the socket is gone: ask until it is.
    let seen = room;
    for (let tries = 0; tries < 100 && seen.users.length > 0; tries++) {
      [seen] = await admin.presence(HOOK, { pk: article.id });
      if (seen.users.length > 0) await new Promise((resolve) => setTimeout(resolve, 50));
    }
    assert.deepEqual(seen, { room: `article__${article.id}`, connections: 1, users: [], anonymous: 1 });
  });

  it("answers for the rooms the fields allow, like subscribing", async () => {
    const demo = client({ token: server.tokens.demo });
    const rooms = await demo.presence(HOOK);
    assert.deepEqual(
      rooms.map((r) => r.room),
      ["article"],
    );
    const missing = await demo.presence(HOOK, { pk: 999_999 }).catch((error) => error);
    assert.equal(missing.status, 404);
  });
});

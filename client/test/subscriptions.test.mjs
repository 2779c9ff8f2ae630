// Subscriptions and pushes, against the example's `articles` hook and its `subscribe` route.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { ExampleServer, Inbox, loadClient, reach } from "./helpers.mjs";

/** @typedef {import("../../djira/static/djira/js/client.js").Push} Push */
/** @typedef {import("../../djira/static/djira/js/client.js").Envelope} Envelope */
/** @typedef {import("../../djira/static/djira/js/client.js").Client} Client */

const djira = await loadClient();
const { connect, DjiraError } = djira;
const OPTIONS = {
  transports: /** @type {"websocket"[]} */ (["websocket"]),
  reconnectionDelay: 50,
  reconnectionDelayMax: 250,
  requestTimeout: 5000,
};
const HOOK = "articles";
const ROUTE = { namespace: "subscribe" };

describe("subscriptions", { timeout: 120_000 }, () => {
  const server = new ExampleServer();
  /** The default client: the first one connected. @type {Client} */
  let reader;
  /** Makes the changes. @type {Client} */
  let writer;

  before(async () => {
    await server.start();
    reader = connect(server.url, { ...OPTIONS, auth: { token: server.tokens.demo } });
    writer = connect(server.url, { ...OPTIONS, auth: { token: server.tokens.admin } });
  });

  after(async () => {
    reader?.close();
    writer?.close();
    await server.dispose();
  });

  /** @param {string} title */
  async function createArticle(title) {
    return (await writer.request(HOOK, { action: "POST", data: { title, body: "" } })).data;
  }

  it("joins rooms and receives create, update and delete pushes", async () => {
    /** @type {Inbox<Push>} */
    const pushes = new Inbox();
    const subscription = reader.subscribe(HOOK, ROUTE, pushes.put);
    const reply = await subscription.ready;
    assert.ok(reply.status === 200 || reply.status === 201, `status ${reply.status}`);
    assert.equal(reply.action, "SUBSCRIPTION");
    assert.ok(subscription.rooms.length > 0, `rooms named in ${JSON.stringify(reply.data)}`);
    try {
      const article = await createArticle("Pushed");
      const created = await pushes.take(5000, "the create push");
      assert.equal(created.type, "create");
      assert.equal(created.event, HOOK);
      assert.equal(created.namespace, ROUTE.namespace);
      assert.equal(created.action, "SUBSCRIPTION");
      assert.ok(subscription.rooms.includes(created.room), `${created.room} in ${subscription.rooms}`);
      assert.equal(created.data.id, article.id);
      assert.equal(created.data.title, "Pushed");

      await writer.request(HOOK, { action: "PATCH", pk: article.id, data: { title: "Edited" } });
      const updated = await pushes.take(5000, "the update push");
      assert.equal(updated.type, "update");
      assert.equal(updated.data.title, "Edited");

      await writer.request(HOOK, { action: "DELETE", pk: article.id });
      const deleted = await pushes.take(5000, "the delete push");
      assert.equal(deleted.type, "delete");
      assert.equal(deleted.data.id, article.id);
    } finally {
      await subscription.unsubscribe();
    }
  });

  it("routes each push to the subscriptions that joined its room", async () => {
    const article = await createArticle("Watched");
    /** @type {Inbox<Push>} */
    const all = new Inbox();
    /** @type {Inbox<Push>} */
    const one = new Inbox();
    const list = reader.subscribe(HOOK, ROUTE, all.put);
    const detail = reader.subscribe(HOOK, { ...ROUTE, pk: article.id }, one.put);
    await Promise.all([list.ready, detail.ready]);
    assert.notDeepEqual(list.rooms, detail.rooms);
    try {
      await writer.request(HOOK, { action: "PATCH", pk: article.id, data: { title: "Watched closely" } });
      const [fromList, fromDetail] = await Promise.all([all.take(5000, "the list push"), one.take(5000, "the detail push")]);
      assert.ok(list.rooms.includes(fromList.room));
      assert.ok(detail.rooms.includes(fromDetail.room));
      // The server sent one push per room; each subscription got its own and no other.
      await reader.request(HOOK, { query: { page_size: 1 } });
      assert.equal(all.items.length + one.items.length, 0);
    } finally {
      await Promise.all([list.unsubscribe(), detail.unsubscribe()]);
    }
  });

  it("keeps a sibling on the same route when one subscription leaves", async () => {
    const left = await createArticle("Left");
    const kept = await createArticle("Kept");
    /** @type {Inbox<Push>} */
    const leftPushes = new Inbox();
    /** @type {Inbox<Push>} */
    const keptPushes = new Inbox();
    const leaving = reader.subscribe(HOOK, { ...ROUTE, pk: left.id }, leftPushes.put);
    const staying = reader.subscribe(HOOK, { ...ROUTE, pk: kept.id }, keptPushes.put);
    await Promise.all([leaving.ready, staying.ready]);
    try {
      await leaving.unsubscribe();
      await writer.request(HOOK, { action: "PATCH", pk: left.id, data: { title: "Left, edited" } });
      await writer.request(HOOK, { action: "PATCH", pk: kept.id, data: { title: "Kept, edited" } });
      const push = await keptPushes.take(5000, "the sibling's push");
      assert.equal(push.data.title, "Kept, edited");
      await reader.request(HOOK, { query: { page_size: 1 } });
      assert.equal(leftPushes.items.length, 0);
    } finally {
      await staying.unsubscribe();
    }
  });

  it("shares one server subscription between identical subscriptions", async () => {
    /** @type {Inbox<Push>} */
    const first = new Inbox();
    /** @type {Inbox<Push>} */
    const second = new Inbox();
    const one = reader.subscribe(HOOK, ROUTE, first.put);
    const two = reader.subscribe(HOOK, { ...ROUTE }, second.put);
    const [replyOne, replyTwo] = await Promise.all([one.ready, two.ready]);
    // One SUBSCRIPTION was sent: both got its reply.
    assert.equal(replyOne.requestId, replyTwo.requestId);
    try {
      await one.unsubscribe();
      const article = await createArticle("Shared");
      assert.equal((await second.take(5000, "the push after the sibling left")).data.id, article.id);
      // A third one joining later gets the shared reply at once.
      const three = reader.subscribe(HOOK, ROUTE, () => undefined);
      assert.equal((await three.ready).requestId, replyOne.requestId);
      await three.unsubscribe();
      await reader.request(HOOK, { query: { page_size: 1 } });
      assert.equal(first.items.length, 0);
    } finally {
      await two.unsubscribe();
    }
  });

  it("retries a subscription that timed out, telling onError; no push reaches it before", async () => {
    const watched = await createArticle("Watched after a timeout");
    const client = connect(server.url, { ...OPTIONS, auth: { token: server.tokens.demo } });
    // The network loses the first SUBSCRIPTION for this pk: no reply ever comes for it.
    const socket = /** @type {any} */ (client)["socket"];
    const emit = socket.emit.bind(socket);
    let lost = 0;
    socket.emit = (/** @type {string} */ event, /** @type {any} */ payload, /** @type {any[]} */ ...rest) => {
      if (payload?.action === "SUBSCRIPTION" && payload.pk === watched.id && lost++ === 0) return socket;
      return emit(event, payload, ...rest);
    };
    /** @type {Inbox<Push>} */
    const listPushes = new Inbox();
    /** @type {Inbox<Push>} */
    const detailPushes = new Inbox();
    /** @type {Inbox<import("../../djira/static/djira/js/client.js").DjiraError>} */
    const errors = new Inbox();
    /** @type {Inbox<boolean>} */
    const subscribed = new Inbox();
    const list = client.subscribe(HOOK, ROUTE, listPushes.put);
    await list.ready;
    const detail = client.subscribe(HOOK, { ...ROUTE, pk: watched.id }, detailPushes.put, {
      timeout: 300,
      onError: errors.put,
      onSubscribed: (_reply, resubscribed) => subscribed.put(resubscribed),
    });
    try {
      const error = await errors.take(5000, "onError after the timeout");
      assert.equal(error.kind, "timeout");
      assert.equal(error.status, 408);
      await assert.rejects(detail.ready, (e) => e instanceof DjiraError && e.kind === "timeout");
      assert.equal(detail.active, true);
      assert.deepEqual(detail.rooms, []);
      // Its rooms are unknown: the list room's push is not its business.
      const other = await createArticle("Not for the detail");
      assert.equal((await listPushes.take(5000, "the list push")).data.id, other.id);
      assert.equal(detailPushes.items.length, 0);
      // Sent again after a second; this time it is answered.
      assert.equal(await subscribed.take(5000, "the retried subscription"), false);
      assert.equal(lost, 2);
      assert.ok(detail.rooms.length > 0);
      await writer.request(HOOK, { action: "PATCH", pk: watched.id, data: { title: "Seen" } });
      assert.equal((await detailPushes.take(5000, "the detail push")).data.title, "Seen");
    } finally {
      client.close();
    }
  });

  it("stops pushes after unsubscribe(), which sends UNSUBSCRIPTION", async () => {
    /** @type {Inbox<Push>} */
    const gone = new Inbox();
    /** @type {Inbox<Push>} */
    const witness = new Inbox();
    /** @type {Inbox<Envelope>} */
    const raw = new Inbox();
    const subscription = reader.subscribe(HOOK, ROUTE, gone.put);
    await subscription.ready;
    const watching = writer.subscribe(HOOK, ROUTE, witness.put);
    await watching.ready;
    const off = reader.on(HOOK, raw.put);
    try {
      await subscription.unsubscribe();
      assert.equal(subscription.active, false);
      await createArticle("Unseen");
      // The writer's push left in the same server emit; a round trip by the reader after it
      // would be answered after any push to the reader.
      assert.equal((await witness.take(5000, "the witness push")).type, "create");
      await reader.request(HOOK, { query: { page_size: 1 } });
      assert.equal(gone.items.length, 0, "no push after unsubscribe");
      assert.equal(raw.items.length, 0, "nothing on the hook after unsubscribe");
      // Unsubscribing twice is not an error.
      await subscription.unsubscribe();
    } finally {
      off();
      await watching.unsubscribe();
    }
  });

  it("hands every message on a hook to on(), until its off function is called", async () => {
    /** @type {Inbox<Envelope>} */
    const raw = new Inbox();
    const subscription = reader.subscribe(HOOK, ROUTE, () => undefined);
    await subscription.ready;
    const off = reader.on(HOOK, raw.put);
    try {
      await createArticle("Raw");
      const message = await raw.take(5000, "the raw push");
      assert.equal(/** @type {Push} */ (message).type, "create");
      // Replies are acknowledgements: they never show up as events.
      await reader.request(HOOK, { query: { page_size: 1 } });
      assert.equal(raw.items.length, 0);
    } finally {
      off();
      await subscription.unsubscribe();
    }
  });

  it("rejects `ready` and ends the subscription when the server refuses it", async () => {
    /** @type {Inbox<import("../../djira/static/djira/js/client.js").DjiraError>} */
    const errors = new Inbox();
    const subscription = reader.subscribe(HOOK, { namespace: "no_such_route" }, () => undefined, {
      onError: errors.put,
    });
    await assert.rejects(subscription.ready, (error) => error instanceof DjiraError && error.status === 404);
    assert.equal((await errors.take(1000, "onError")).status, 404);
    assert.equal(subscription.active, false);
  });

  it("works through the module-level functions on the default client", async () => {
    // `reader` was connected first, so it is the default client.
    assert.equal(djira.getClient(), reader);
    /** @type {Inbox<Push>} */
    const pushes = new Inbox();
    const subscription = djira.subscribe(HOOK, ROUTE, pushes.put);
    await subscription.ready;
    try {
      const article = await createArticle("Module-level");
      assert.equal((await pushes.take(5000, "the push")).data.id, article.id);
      const reply = await djira.request(HOOK, { pk: article.id });
      assert.equal(reply.data.title, "Module-level");
    } finally {
      await subscription.unsubscribe();
    }
  });

  it("resubscribes after the server restarts and receives pushes again", async () => {
    /** @type {Inbox<Push>} */
    const pushes = new Inbox();
    /** @type {Inbox<boolean>} */
    const subscribed = new Inbox();
    const subscription = reader.subscribe(HOOK, ROUTE, pushes.put, {
      onSubscribed: (_reply, resubscribed) => subscribed.put(resubscribed),
    });
    assert.equal(await subscribed.take(5000, "the subscription"), false);
    try {
      const reconnecting = reach(reader, "reconnecting", 15_000);
      await server.restart();
      await reconnecting;
      assert.equal(await subscribed.take(20_000, "the resubscription"), true);
      assert.equal(reader.state, "connected");
      // The writer's request waits in its queue until it has reconnected too.
      const article = await createArticle("After restart");
      const push = await pushes.take(5000, "a push after the restart");
      assert.equal(push.type, "create");
      assert.equal(push.data.id, article.id);
    } finally {
      await subscription.unsubscribe();
    }
  });
});

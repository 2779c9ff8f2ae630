// No push lost across a network drop: the shipped client resubscribes with the last position it
// saw, gets the missed pushes once each, in order, drops duplicates, and is told when they are gone.
// The client reaches the example server through a TCP forwarder this test owns (`Proxy`).
import assert from "node:assert/strict";
import { once } from "node:events";
import { createConnection, createServer } from "node:net";
import { after, before, describe, it } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { ExampleServer, Inbox, loadClient, reach } from "./helpers.mjs";

/** @typedef {import("../../djira/static/djira/js/client.js").Push} Push */
/** @typedef {import("../../djira/static/djira/js/client.js").Envelope} Envelope */
/** @typedef {import("../../djira/static/djira/js/client.js").Client} Client */
/** @typedef {import("node:net").Socket} NetSocket */

const { connect } = await loadClient();
const OPTIONS = {
  transports: /** @type {"websocket"[]} */ (["websocket"]),
  reconnectionDelay: 100,
  reconnectionDelayMax: 300,
  requestTimeout: 10_000,
};
const HOOK = "articles";
const ROUTE = { namespace: "subscribe" };
/** How long the network stays cut. */
const DROP = 4000;
/** The example server's HISTORY_SIZE (the default). */
const HISTORY_SIZE = 100;

/**
 * Length of the complete WebSocket frame at the start of `buffer`, or 0 if it is not all there.
 * @param {Buffer} buffer
 */
function frameLength(buffer) {
  if (buffer.length < 2) return 0;
  let length = buffer[1] & 0x7f;
  let offset = 2;
  if (length === 126) {
    if (buffer.length < 4) return 0;
    length = buffer.readUInt16BE(2);
    offset = 4;
  } else if (length === 127) {
    if (buffer.length < 10) return 0;
    length = Number(buffer.readBigUInt64BE(2));
    offset = 10;
  }
  if (buffer[1] & 0x80) offset += 4; // masked (client to server only)
  return buffer.length >= offset + length ? offset + length : 0;
}

/**
 * A TCP forwarder between the client and the server. `cut()` drops its connections and refuses
 * new ones until `restore()`. Server-to-client WebSocket frames are forwarded whole, so that
 * `replay()` can send the client the last push frame again: a duplicate on the wire, as a
 * retransmitting middlebox would make. (Compression is not offered to the server, so frames
 * can be read and repeated.)
 */
class Proxy {
  /** @param {number} target */
  constructor(target) {
    this.target = target;
    this.open = true;
    /** @type {Set<NetSocket>} */
    this.sockets = new Set();
    /** @type {NetSocket | null} */
    this.client = null;
    /** @type {Buffer | null} */
    this.lastPush = null;
    this.server = createServer((socket) => this.accept(socket));
    this.port = 0;
  }

  get url() {
    return `http://127.0.0.1:${this.port}`;
  }

  async listen() {
    this.server.listen(0, "127.0.0.1");
    await once(this.server, "listening");
    const address = this.server.address();
    this.port = typeof address === "object" && address ? address.port : 0;
  }

  /** @param {NetSocket} client */
  accept(client) {
    if (!this.open) {
      client.destroy();
      return;
    }
    const upstream = createConnection(this.target, "127.0.0.1");
    for (const socket of [client, upstream]) {
      this.sockets.add(socket);
      socket.on("error", () => undefined);
      socket.on("close", () => {
        this.sockets.delete(socket);
        client.destroy();
        upstream.destroy();
      });
    }
    this.client = client;
    let request = Buffer.alloc(0);
    let requestDone = false;
    client.on("data", (chunk) => {
      if (requestDone) return void upstream.write(chunk);
      request = Buffer.concat([request, chunk]);
      const end = request.indexOf("\r\n\r\n");
      if (end < 0) return;
      requestDone = true;
      const head = request.subarray(0, end + 4).toString("latin1").replace(/^Sec-WebSocket-Extensions:.*\r\n/gim, "");
      upstream.write(Buffer.concat([Buffer.from(head, "latin1"), request.subarray(end + 4)]));
    });
    let response = Buffer.alloc(0);
    let upgraded = false;
    upstream.on("data", (chunk) => {
      response = Buffer.concat([response, chunk]);
      if (!upgraded) {
        const end = response.indexOf("\r\n\r\n");
        if (end < 0) return;
        upgraded = true;
        client.write(response.subarray(0, end + 4));
        response = response.subarray(end + 4);
      }
      for (let length = frameLength(response); length > 0; length = frameLength(response)) {
        const frame = response.subarray(0, length);
        response = response.subarray(length);
        if (frame.includes('"offset":')) this.lastPush = Buffer.from(frame);
        client.write(frame);
      }
    });
  }

  cut() {
    this.open = false;
    for (const socket of this.sockets) socket.destroy();
  }

  restore() {
    this.open = true;
  }

  /** Send the last push frame to the client once more. */
  replay() {
    assert.ok(this.client && this.lastPush, "a push went through the proxy");
    this.client.write(this.lastPush);
  }

  async close() {
    this.cut();
    this.server.close();
  }
}

describe("catching up after a network drop", { timeout: 180_000 }, () => {
  const server = new ExampleServer();
  /** @type {Proxy} */
  let proxy;
  /** Makes the changes, straight to the server. @type {Client} */
  let writer;

  before(async () => {
    await server.start();
    proxy = new Proxy(server.port);
    await proxy.listen();
    writer = connect(server.url, { ...OPTIONS, auth: { token: server.tokens.admin } });
  });

  after(async () => {
    writer?.close();
    await proxy?.close();
    await server.dispose();
  });

  /** @param {string} title */
  async function createArticle(title) {
    return (await writer.request(HOOK, { action: "POST", data: { title, body: "" } })).data;
  }

  /** Cut the network for DROP ms; run `during` meanwhile; restore it. @param {() => Promise<void>} during */
  async function drop(/** @type {Client} */ reader, during) {
    const started = Date.now();
    proxy.cut();
    await reach(reader, "reconnecting");
    await during();
    await sleep(Math.max(0, DROP - (Date.now() - started)));
    proxy.restore();
  }

  it("drops a push it has seen, resubscribes from its last position and gets each missed push once, in order", async () => {
    const reader = connect(proxy.url, { ...OPTIONS, auth: { token: server.tokens.demo } });
    /** @type {Inbox<Push>} */
    const pushes = new Inbox();
    /** @type {Inbox<{reply: Envelope, resubscribed: boolean}>} */
    const replies = new Inbox();
    /** Every push that reached the client, duplicates included. @type {Push[]} */
    const wire = [];
    reader.on(HOOK, (message) => {
      if ("type" in message) wire.push(/** @type {Push} */ (message));
    });
    /** @type {Envelope[]} */
    const resets = [];
    const subscription = reader.subscribe(HOOK, ROUTE, pushes.put, {
      onSubscribed: (reply, resubscribed) => replies.put({ reply, resubscribed }),
      onReset: (reply) => resets.push(reply),
    });
    try {
      const first = (await replies.take(10_000, "the subscription reply")).reply;
      const [room] = subscription.rooms;
      assert.ok(first.positions?.[room], `positions in ${JSON.stringify(first)}`);
      const start = /** @type {number} */ (first.positions?.[room].offset);

      await createArticle("before");
      const before = await pushes.take(5000, "the push before the drop");
      assert.equal(before.offset, start + 1);
      assert.equal(before.epoch, first.positions?.[room].epoch);
      proxy.replay(); // the same push frame again
      await createArticle("after the duplicate");
      assert.equal((await pushes.take(5000, "the next push")).data.title, "after the duplicate");
      assert.equal(wire.filter((p) => p.offset === start + 1).length, 2, "the duplicate reached the client");

      await drop(reader, async () => {
        for (const title of ["missed 1", "missed 2", "missed 3"]) await createArticle(title);
      });
      const missed = [await pushes.take(15_000, "missed 1"), await pushes.take(5000), await pushes.take(5000)];
      assert.deepEqual(
        missed.map((p) => [p.data.title, p.offset]),
        [
          ["missed 1", start + 3],
          ["missed 2", start + 4],
          ["missed 3", start + 5],
        ],
      );
      const again = await replies.take(5000, "the resubscription reply");
      assert.equal(again.resubscribed, true);
      assert.equal(again.reply.recovered, true);
      assert.deepEqual(resets, []);

      await createArticle("live again");
      const live = await pushes.take(5000, "the live push");
      assert.deepEqual([live.data.title, live.offset], ["live again", start + 6]);
      assert.equal(pushes.items.length, 0, `nothing else: ${JSON.stringify(pushes.items)}`);
    } finally {
      reader.close();
    }
  });

  it("tells onReset when more was pushed during the drop than the server keeps", async () => {
    const reader = connect(proxy.url, { ...OPTIONS, auth: { token: server.tokens.demo } });
    /** @type {Inbox<Envelope>} */
    const resets = new Inbox();
    /** @type {Inbox<Push>} */
    const pushes = new Inbox();
    const subscription = reader.subscribe(HOOK, ROUTE, pushes.put, { onReset: resets.put });
    try {
      await subscription.ready;
      await drop(reader, async () => {
        for (let i = 0; i <= HISTORY_SIZE; i++) await createArticle(`flood ${i}`);
      });
      const reply = await resets.take(15_000, "the reset");
      assert.equal(reply.recovered, false);
      assert.equal(pushes.items.length, 0, "nothing partial is replayed");
      await createArticle("after the reset");
      const live = await pushes.take(5000, "the live push after the reset");
      assert.equal(live.data.title, "after the reset");
      assert.equal(live.offset, /** @type {number} */ (reply.positions?.[live.room].offset) + 1);
    } finally {
      reader.close();
    }
  });
});

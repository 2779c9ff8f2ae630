// Writes applied once: a write in flight when the connection drops is sent again, with the
// same idempotency key, and gets the reply the server kept for it (docs/client.md,
// "Idempotent requests"), against the example project through a TCP proxy the test controls.
import assert from "node:assert/strict";
import { once } from "node:events";
import { readFileSync } from "node:fs";
import { createConnection, createServer } from "node:net";
import { after, before, describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { ExampleServer, loadClient, reach, within } from "./helpers.mjs";

const { connect } = await loadClient();
const OPTIONS = { transports: /** @type {"websocket"[]} */ (["websocket"]) };

/** Forwards to `target`; can hold back what the server sends and cut every link. */
class ReplyCatcher {
  /** @param {number} target */
  constructor(target) {
    this.target = target;
    this.holding = false;
    /** @type {Set<import("node:net").Socket>} */
    this.sockets = new Set();
    this.server = createServer((down) => {
      const up = createConnection(this.target, "127.0.0.1");
      for (const socket of [down, up]) {
        this.sockets.add(socket);
        socket.on("error", () => undefined);
        socket.on("close", () => {
          this.sockets.delete(socket);
          down.destroy();
          up.destroy();
        });
      }
      down.on("data", (chunk) => up.write(chunk));
      up.on("data", (chunk) => {
        if (!this.holding) down.write(chunk);
      });
    });
  }

  async start() {
    this.server.listen(0, "127.0.0.1");
    await once(this.server, "listening");
    const address = this.server.address();
    this.port = typeof address === "object" && address ? address.port : 0;
    return this;
  }

  get url() {
    return `http://127.0.0.1:${this.port}`;
  }

  /** Drop every connection (a reset); new ones go through, no longer held back. */
  cut() {
    this.holding = false;
    for (const socket of this.sockets) socket.resetAndDestroy();
  }

  async stop() {
    this.cut();
    this.server.close();
  }
}

describe("idempotent requests", { timeout: 60_000 }, () => {
  const server = new ExampleServer();
  /** @type {ReplyCatcher} */
  let proxy;

  before(async () => {
    await server.start();
    proxy = await new ReplyCatcher(server.port).start();
  });

  after(async () => {
    await proxy?.stop();
    await server.dispose();
  });

  it("sends a write in flight again after a drop, with its key, and it is applied once", async () => {
    const auth = { token: server.tokens.admin };
    const client = connect(proxy.url, { ...OPTIONS, auth, reconnectionDelay: 100, reconnectionDelayMax: 200 });
    const direct = connect(server.url, { ...OPTIONS, auth });
    const title = `once ${Date.now()}`;
    /** The ids of the articles titled `title`, read past the proxy. */
    const ids = async () => {
      const found = await direct.request("articles", { query: { search: title } });
      return found.data.results.map((/** @type {{id: number}} */ a) => a.id);
    };
    try {
      await reach(client, "connected");
      proxy.holding = true; // the server's reply will be lost with the connection
      // A generous timeout: it counts from the call, and a loaded machine is slow to write.
      const fields = { action: /** @type {const} */ ("POST"), data: { title, body: "written once" } };
      const write = client.request("articles", fields, { timeout: 30_000 });
      while ((await ids()).length === 0) await new Promise((resolve) => setTimeout(resolve, 10));
      const reconnected = reach(client, "reconnecting").then(() => reach(client, "connected"));
      proxy.cut();
      const reply = await within(30_000, write, "the reply to the write sent again").catch((error) => {
        throw new Error(`${error.message}\nThe server said:\n${server.log.slice(-4000)}`);
      });
      await reconnected;
      assert.equal(reply.status, 201);
      assert.equal(reply.replayed, true); // the first reply, kept under the same key
      assert.equal(reply.data.title, title);
      assert.deepEqual(await ids(), [reply.data.id]);
    } finally {
      client.close();
      direct.close();
    }
  });

  it("runs the samples of docs/client.md's 'Idempotent requests'", async () => {
    const page = readFileSync(fileURLToPath(new URL("../../docs/client.md", import.meta.url)), "utf8");
    const section = page.split("## Idempotent requests")[1].split("\n## ")[0];
    const samples = [...section.matchAll(/```js\n([\s\S]*?)```/g)].map((match) => match[1]);
    assert.equal(samples.length, 2);
    const AsyncFunction = Object.getPrototypeOf(async () => undefined).constructor;
    const client = connect(server.url, { ...OPTIONS, auth: { token: server.tokens.admin } });
    try {
      for (const sample of samples) await new AsyncFunction("client", sample)(client);
      for (const title of ["Hi", "Once"]) {
        const found = await client.request("articles", { query: { search: title, page_size: 100 } });
        const same = found.data.results.filter((/** @type {{title: string}} */ a) => a.title === title);
        assert.equal(same.length, 1, `one article titled ${title}`);
      }
    } finally {
      client.close();
    }
  });

  it("replays a write sent again by the application with the same key", async () => {
    const client = connect(server.url, { ...OPTIONS, auth: { token: server.tokens.admin } });
    const fields = { action: /** @type {const} */ ("POST"), data: { title: `again ${Date.now()}`, body: "b" } };
    try {
      const first = await client.request("articles", { ...fields, idempotencyKey: "order-42" });
      const again = await client.request("articles", { ...fields, idempotencyKey: "order-42" });
      assert.equal(first.replayed, undefined);
      assert.equal(again.replayed, true);
      assert.deepEqual(again.data, first.data);
    } finally {
      client.close();
    }
  });
});

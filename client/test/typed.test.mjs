// The typed facade's run time (src/typed.ts): buildApi's routes against the example server,
// and the JSON Schema checks behind `validate: true`, on the shapes the generator emits.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { ExampleServer, Inbox, loadClient } from "./helpers.mjs";

/** @typedef {import("../../djira/static/djira/js/client.js").Client} Client */
/** @typedef {import("../../djira/static/djira/js/client.js").ApiSpec} ApiSpec */

const djira = await loadClient();
const { buildApi, connect, DjiraError, problem } = djira;
const OPTIONS = { transports: /** @type {"websocket"[]} */ (["websocket"]), requestTimeout: 5000 };

/** @type {Record<string, import("../../djira/static/djira/js/client.js").JsonSchema>} */
const SCHEMAS = {
  Task: {
    type: "object",
    properties: {
      id: { type: "integer" },
      title: { type: "string", maxLength: 5 },
      priority: { enum: [0, 1, 2], type: "integer" },
      completed_at: { type: ["string", "null"] },
      tags: { type: "array", items: { type: "string" } },
    },
    required: ["id", "title"],
    additionalProperties: false,
  },
};
const REF = { $ref: "#/components/schemas/Task" };

describe("problem(): the checks behind validate", () => {
  it("accepts what matches, nullable fields and choices included", () => {
    const task = { id: 1, title: "milk", priority: 2, completed_at: null, tags: ["a"] };
    assert.equal(problem(REF, task, SCHEMAS), null);
    assert.equal(problem({ anyOf: [REF, { type: "null" }] }, null, SCHEMAS), null);
  });

  it("names the first difference, with its path", () => {
    const cases = [
      [{ id: 1.5, title: "a" }, "$.id is not integer"],
      [{ id: 1, title: "a", priority: 5 }, "$.priority is 5, not one of [0,1,2]"],
      [{ id: 1 }, "$.title is missing"],
      [{ id: 1, title: "too long" }, "$.title is longer than 5"],
      [{ id: 1, title: "a", tags: ["x", 2] }, "$.tags[1] is not string"],
      [{ id: 1, title: "a", colour: "red" }, "$.colour is not expected"],
      [[], "$ is not object"],
    ];
    for (const [value, expected] of cases) assert.equal(problem(REF, value, SCHEMAS), expected);
    assert.equal(problem({ const: 200 }, 201, SCHEMAS), "$ is 201, not 200");
    assert.equal(problem({ $ref: "#/components/schemas/Nope" }, 1, SCHEMAS), "$: unknown schema #/components/schemas/Nope");
  });
});

describe("buildApi over a real client", { timeout: 120_000 }, () => {
  const server = new ExampleServer();
  /** @type {Client} */
  let client;

  before(async () => {
    await server.start();
    client = connect(server.url, { ...OPTIONS, auth: { token: server.tokens.demo } });
  });

  after(async () => {
    client.close();
    await server.dispose();
  });

  /** @type {ApiSpec} */
  const spec = {
    hooks: {
      projects: { list: { action: "GET", reply: { properties: { status: { const: 200 }, data: { type: "array" } } } } },
      tasks: {
        create: { action: "POST" },
        subscribe: { action: "SUBSCRIPTION", namespace: "subscribe", push: { properties: { data: { properties: { done: { const: true } } } } } },
        complete: { post: { action: "POST", namespace: "complete" } },
      },
    },
    schemas: {},
  };

  it("refuses validate without the schemas of a --validators module", () => {
    assert.throws(() => buildApi(client, { hooks: {} }, { validate: true }), /--validators/);
  });

  it("sends each route's verb and namespace, and checks pushes against their schema", async () => {
    /** @type {any} */
    const api = buildApi(client, spec, { validate: true });
    const projects = await api.projects.list();
    const pushes = new Inbox();
    const invalid = new Inbox();
    const title = `typed ${Date.now()}`;
    const live = api.tasks.subscribe({}, (/** @type {any} */ push) => pushes.put(push), {
      onError: (/** @type {any} */ error) => invalid.put(error),
    });
    await live.ready;
    const created = await api.tasks.create({ data: { project: projects.data[0].id, title } });
    assert.equal(created.status, 201);
    // Created not done: its push breaks the (deliberately strict) schema and is held back.
    const error = await invalid.take();
    assert.ok(error instanceof DjiraError && error.kind === "invalid", String(error));
    assert.match(error.data.detail, /\$\.data\.done is false, not true/);
    const done = await api.tasks.complete.post({ pk: created.data.id });
    assert.equal(done.data.done, true);
    const push = await pushes.take();
    assert.equal(push.type, "update");
    assert.equal(push.data.id, created.data.id);
    await live.unsubscribe();
  });
});

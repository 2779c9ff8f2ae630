// The page of e2e/test_typed_client.py: the generated facade (./api) against the example.
import { buildApi, connect, DjiraError } from "djira-client";
import { createApi, type TasksPush } from "./api";

const params = new URLSearchParams(location.search);
const client = connect(params.get("server")!, { auth: { token: params.get("token")! } });
const api = createApi(client, { validate: true });
client.onState((change) => show("state", change));
const show = (key: string, value: unknown) => {
  document.body.dataset[key] = JSON.stringify(value);
};

const title = `typed facade ${Date.now()}`;
const pushed = new Promise<TasksPush>((resolve) => {
  const live = api.tasks.subscribe({}, (push) => {
    if (push.data.title === title && push.type === "create") resolve(push);
  });
  live.ready.then(() => show("subscribed", live.rooms.length));
});
const projects = await api.projects.list();
const created = await api.tasks.create({ data: { project: projects.data[0]!.id, title } });
const push = await pushed;
show("created", { status: created.status, title: created.data.title, priority: created.data.priority });
show("push", { type: push.type, id: push.data.id === created.data.id });
const done = await api.tasks.complete.post({ pk: created.data.id });
show("complete", { status: done.status, done: (done.data as { done: boolean }).done });
const page = await api.tasks.list({ query: { search: title, done: true } });
show("list", { count: page.data.count, ids: page.data.results.map((t) => t.id === created.data.id) });
try {
  await api.tasks.create({ data: { project: projects.data[0]!.id, title: "" } });
} catch (error) {
  if (error instanceof DjiraError) show("refused", { status: error.status, kind: error.kind });
}
// A schema the server's reply does not match: validation rejects it.
const strict = buildApi<{ tasks: { list(): Promise<unknown> } }>(
  client,
  { hooks: { tasks: { list: { action: "GET", reply: { properties: { status: { const: 201 } } } } } }, schemas: {} },
  { validate: true },
);
try {
  await strict.tasks.list();
} catch (error) {
  if (error instanceof DjiraError) show("invalid", { kind: error.kind, detail: error.data.detail });
}
show("done", true);

// Correct uses of the module generated for example/ (tests/test_typescript.py compiles them
// with `tsc --strict`): each line must compile, and the types it reads must be the ones below.
import { DjiraError, type Subscription } from "djira-client";
import { createApi, type Api, type ApiError, type Task, type TaskInput, type TasksPush } from "./api";

export async function uses(api: Api = createApi()): Promise<void> {
  const page = await api.tasks.list({ query: { done: false, search: "milk", ordering: "-priority", page: 2 } });
  const status: 200 = page.status;
  const count: number = page.data.count;
  const next: number | null = page.data.next;
  const first: Task | undefined = page.data.results[0];
  const priority: 0 | 1 | 2 | undefined = first?.priority;
  const completed: string | null | undefined = first?.completed_at;

  const input: TaskInput = { project: 1, title: "Buy milk" }; // notes, priority, done optional
  const created = await api.tasks.create({ data: input });
  const createdStatus: 201 = created.status;
  const id: number = created.data.id;
  await api.tasks.partial_update({ pk: id, data: { done: true } });
  await api.tasks.update({ pk: id, data: { project: 1, title: "Milk", priority: 2 } });
  const gone = await api.tasks.destroy({ pk: id });
  const nothing: null = gone.data;
  const done = await api.tasks.complete.post({ pk: id, data: { done: false } });
  const anything: unknown = done.data;

  const projects = await api.projects.list(); // not paginated: a plain array
  const name: string | undefined = projects.data[0]?.name;
  await api.articles.presence.get({ pk: 7 });
  await api.users.me.get();

  const subscription: Subscription = api.tasks.subscribe({}, (push: TasksPush) => {
    const kind: "create" | "update" | "delete" = push.type;
    const title: string = push.data.title;
    const room: string = push.room;
    void [kind, title, room];
  });
  await subscription.ready;
  await subscription.unsubscribe();

  try {
    await api.tasks.create({ data: { project: 1, title: "" } });
  } catch (error) {
    if (error instanceof DjiraError) {
      const failed = error as ApiError;
      const detail = failed.data;
      void detail;
    }
  }
  void [status, count, next, priority, completed, createdStatus, nothing, anything, name];
}

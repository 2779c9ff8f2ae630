// Wrong uses of the module generated for example/: each must fail to compile, which
// `// @ts-expect-error` asserts (tsc reports a directive whose line compiles).
import { createApi, type Task } from "./api";

export async function wrong(): Promise<void> {
  const api = createApi();
  // @ts-expect-error: no such hook
  await api.tickets.list();
  // @ts-expect-error: no such route on tasks
  await api.tasks.archive.post({ pk: 1 });
  // @ts-expect-error: complete accepts POST only
  await api.tasks.complete.get({ pk: 1 });
  // @ts-expect-error: retrieve needs a pk
  await api.tasks.retrieve({});
  // @ts-expect-error: create needs data
  await api.tasks.create({});
  // @ts-expect-error: title is required on create
  await api.tasks.create({ data: { project: 1 } });
  // @ts-expect-error: a renamed serializer field (name -> title) breaks the build
  await api.tasks.create({ data: { project: 1, name: "Milk" } });
  // @ts-expect-error: priority is a choice of 0, 1, 2
  await api.tasks.partial_update({ pk: 1, data: { priority: 5 } });
  // @ts-expect-error: created is read-only: not in the input
  await api.tasks.partial_update({ pk: 1, data: { created: "2026-01-01" } });
  // @ts-expect-error: owner is a hidden field: never in a reply
  const owner = (await api.tasks.retrieve({ pk: 1 })).data.owner;
  // @ts-expect-error: not a declared filter of tasks
  await api.tasks.list({ query: { colour: "red" } });
  const page = await api.tasks.list();
  // @ts-expect-error: a page is not an array
  page.data.map((task: Task) => task.id);
  // @ts-expect-error: completed_at may be null
  const when: string = page.data.results[0]!.completed_at;
  // @ts-expect-error: projects are not paginated
  const count = (await api.projects.list()).data.count;
  // @ts-expect-error: a task push carries a task, not a project
  api.tasks.subscribe({}, (push) => push.data.name);
  // @ts-expect-error: users push nothing: no subscription route
  api.users.subscribe({}, () => undefined);
  void [owner, when, count];
}

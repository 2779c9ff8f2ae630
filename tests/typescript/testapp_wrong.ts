// Wrong uses of the module generated for the test project: each must fail to compile.
import { createApi } from "./api";

export async function wrong(): Promise<void> {
  const api = createApi();
  // @ts-expect-error: owner is read-only
  await api.books.create({ data: { title: "Title", owner: 1 } });
  // @ts-expect-error: year is an integer
  await api.books.partial_update({ pk: 1, data: { year: "1969" } });
  // @ts-expect-error: readonly serves no create
  await api.readonly.create({ data: { title: "Title" } });
  // @ts-expect-error: limit/offset paging has no page parameter
  await api.readonly.list({ query: { page: 2 } });
  // @ts-expect-error: echo-both accepts POST and PATCH, not PUT
  await api.books["echo-both"].put({});
  // @ts-expect-error: UNSUBSCRIPTION is the subscription's unsubscribe(), not a method
  api.observed.subscribe.unsubscribe;
  // @ts-expect-error: a subscription needs a callback
  api.observed.subscribe({});
}

// Correct uses of the module generated for the test project, whose hooks tests/asgi.py
// registers by hand (tests/test_typescript.py compiles them with `tsc --strict`).
import { connect } from "djira-client";
import { createApi, type Book, type ObservedPush } from "./api";

export async function uses(): Promise<void> {
  const api = createApi(connect("http://localhost:8000", { auth: { token: "t" } }));
  const page = await api.books.list({ query: { author: "Le Guin", year: [1969, 1974], ordering: "-year" } });
  const books: Book[] = page.data.results;
  const owner: number | null | undefined = books[0]?.owner; // read-only, nullable
  await api.books.create({ data: { title: "The Dispossessed" } });
  await api.books["echo-both"].patch({ data: { any: "thing" } });
  await api.books.owned.delete({ pk: 3 });
  const limited = await api.readonly.list({ query: { limit: 10, offset: 20 } }); // LimitOffsetPagination
  const previous: number | null = limited.data.previous;
  await api.private.retrieve({ pk: "7" }); // a pk may be a string
  await api.db.state.get();
  const live = api.observed.subscribe_mine({ pk: 1 }, (push: ObservedPush) => {
    const kind: "create" | "update" | "delete" = push.type;
    void kind;
  });
  await live.unsubscribe();
  void [owner, previous];
}

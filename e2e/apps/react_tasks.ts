// The app of e2e/test_react.py: the example's tasks with djira-client/react and the module
// `manage.py djira_typescript` generated (./api), built by Vite from the packed tarball.
// Without JSX (createElement), so that it needs no Vite plugin.
import { createElement as h, StrictMode, useState } from "react";
import { createRoot } from "react-dom/client";
import {
  DjiraProvider,
  useApi,
  useConnectionStatus,
  usePresence,
  useRequest,
  useSubscription,
} from "djira-client/react";
import { createApi, type Task } from "./api";

const params = new URLSearchParams(location.search);
const server = params.get("server")!;
const token = params.get("token")!;
// Each test run's tasks start with its marker, so that other tests' tasks stay out.
const marker = params.get("marker")!;

function Status() {
  const { state, connected } = useConnectionStatus();
  return h("p", { id: "status", "data-state": state, "data-connected": String(connected) }, state);
}

function Tasks() {
  const api = useApi(createApi);
  const projects = useRequest(() => api.projects.list(), []);
  const live = useSubscription(
    api.tasks.subscribe,
    {},
    {
      load: () => api.tasks.list({ query: { search: marker, page_size: 100 } }),
      filter: (task: Task) => task.title.startsWith(marker),
    },
  );
  const [title, setTitle] = useState("");
  const project = projects.data?.[0]?.id;
  const add = () => {
    if (project !== undefined) void api.tasks.create({ data: { project, title: `${marker} ${title}` } });
    setTitle("");
  };
  return h(
    "section",
    { id: "tasks", "data-status": live.status, "data-recovered": String(live.recovered) },
    h("input", { id: "title", value: title, onChange: (e: { target: { value: string } }) => setTitle(e.target.value) }),
    h("button", { id: "add", disabled: project === undefined, onClick: add }, "Add"),
    h(
      "ul",
      null,
      live.data.map((task) =>
        h(
          "li",
          { key: task.id, "data-title": task.title.slice(marker.length + 1), "data-done": String(task.done) },
          h("span", null, task.title.slice(marker.length + 1)),
          h(
            "button",
            { className: "toggle", onClick: () => void api.tasks.complete.post({ pk: task.id, data: { done: !task.done } }) },
            task.done ? "Undo" : "Done",
          ),
        ),
      ),
    ),
  );
}

function Articles() {
  const api = useApi(createApi);
  const live = useSubscription(api.articles.subscribe, {}, { load: () => api.articles.list() });
  const presence = usePresence("articles", {}, { subscribe: api.articles.subscribe });
  const connections = presence.data?.[0]?.connections;
  return h(
    "section",
    { id: "articles", "data-status": live.status, "data-connections": String(connections ?? "") },
    `${live.data.length} articles`,
  );
}

function App() {
  const [articles, setArticles] = useState(true);
  return h(
    DjiraProvider,
    { url: server, options: { auth: { token } } },
    h(Status),
    h(Tasks),
    h("button", { id: "toggle-articles", onClick: () => setArticles(!articles) }, articles ? "Hide articles" : "Show articles"),
    articles ? h(Articles) : null,
  );
}

createRoot(document.getElementById("root")!).render(h(StrictMode, null, h(App)));

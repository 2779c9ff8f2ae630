// The task board: lists through requests, live through subscriptions, writes through the API.
//
// Every tab of a user subscribes to the "tasks" and "projects" hooks; the server pushes each
// committed change to the owner's room only, so every tab of that user (and no other user)
// sees it. The session cookie authenticates the socket: no token in the page script.
import { connect, DjiraError } from "djira-client";

const PAGE_SIZE = 10;
const $ = (id) => document.getElementById(id);

// The script runs: take down the "script did not load" notice.
$("board-offline").hidden = true;

const client = connect();
const projects = new Map(); // id -> project
const progress = new Map(); // project id -> {open, done}
const filters = { project: "", done: "false", priority: "", search: "" };
let page = 1;
let lastPage = 1;

// -- connection state -------------------------------------------------------------------

const stateBadge = $("board-state");
function showState(state, detail) {
  stateBadge.dataset.state = state;
  stateBadge.textContent = state === "connected" ? "live" : detail ? `${state}: ${detail}` : state;
}
client.onState((change) => showState(change.state, change.error && change.error.message));
if (client.connected) showState("connected");

// -- errors -----------------------------------------------------------------------------

function describe(error) {
  if (!(error instanceof DjiraError)) return String(error);
  const data = error.data;
  if (data && typeof data === "object" && !Array.isArray(data)) {
    if (data.detail) return String(data.detail);
    return Object.entries(data).map(([field, messages]) => `${field}: ${[].concat(messages).join(" ")}`).join("; ");
  }
  return `${error.status} ${error.kind}`;
}

function showError(node, error) {
  node.textContent = error ? describe(error) : "";
  node.hidden = !error;
}

// -- projects ---------------------------------------------------------------------------

function renderProjects() {
  const sorted = [...projects.values()].sort((a, b) => a.name.localeCompare(b.name) || a.id - b.id);
  const list = $("project-list");
  const all = list.firstElementChild;
  const items = sorted.map((project) => {
    const counts = progress.get(project.id) || { open: 0, done: 0 };
    const total = counts.open + counts.done;
    const button = document.createElement("button");
    button.type = "button";
    button.className = "project-filter";
    button.dataset.project = String(project.id);
    const name = document.createElement("span");
    name.className = "project-name";
    name.textContent = project.name;
    name.title = project.name;
    const count = document.createElement("span");
    count.className = "project-count";
    count.textContent = `${counts.done}/${total}`;
    const bar = document.createElement("meter");
    bar.min = 0;
    bar.max = Math.max(total, 1);
    bar.value = counts.done;
    bar.setAttribute("aria-label", `${project.name}: ${counts.done} of ${total} done`);
    button.append(name, count, bar);
    const item = document.createElement("li");
    item.dataset.project = String(project.id);
    item.append(button);
    return item;
  });
  list.replaceChildren(all, ...items);
  for (const button of list.querySelectorAll(".project-filter")) {
    button.setAttribute("aria-pressed", String(button.dataset.project === filters.project));
  }
  const select = $("new-task-project");
  const chosen = select.value || filters.project;
  select.replaceChildren(...sorted.map((p) => new Option(p.name, String(p.id))));
  if (chosen && projects.has(Number(chosen))) select.value = chosen;
  for (const name of document.querySelectorAll(".task-project")) {
    const project = projects.get(Number(name.dataset.project));
    name.textContent = project ? project.name : "";
  }
}

async function loadProjects() {
  const [list, counts] = await Promise.all([
    client.request("projects"),
    client.request("projects", { namespace: "progress" }),
  ]);
  projects.clear();
  for (const project of list.data) projects.set(project.id, project);
  progress.clear();
  for (const [id, value] of Object.entries(counts.data)) progress.set(Number(id), value);
  renderProjects();
}

$("project-list").addEventListener("click", (event) => {
  const button = event.target.closest(".project-filter");
  if (!button) return;
  filters.project = button.dataset.project;
  page = 1;
  renderProjects();
  refreshTasks();
});

$("new-project").addEventListener("submit", async (event) => {
  event.preventDefault();
  const input = $("new-project-name");
  try {
    const reply = await client.request("projects", { action: "POST", data: { name: input.value } });
    showError($("new-project-error"), null);
    input.value = "";
    projects.set(reply.data.id, reply.data);
    renderProjects();
    $("new-task-project").value = String(reply.data.id);
  } catch (error) {
    showError($("new-project-error"), error);
  }
});

// -- tasks ------------------------------------------------------------------------------

const PRIORITIES = ["low", "normal", "high"];

function renderTask(task, item = $("task-template").content.firstElementChild.cloneNode(true)) {
  item.dataset.id = String(task.id);
  item.classList.toggle("is-done", task.done);
  item.dataset.priority = PRIORITIES[task.priority];
  item.querySelector(".task-done").checked = task.done;
  const title = item.querySelector(".task-title");
  title.textContent = task.title;
  title.title = task.title;
  const project = item.querySelector(".task-project");
  project.dataset.project = String(task.project);
  project.textContent = projects.get(task.project)?.name || "";
  item.querySelector(".task-priority").textContent = PRIORITIES[task.priority];
  const notes = item.querySelector(".task-notes");
  notes.textContent = task.notes;
  notes.hidden = !task.notes;
  item.task = task;
  return item;
}

function taskQuery() {
  const query = { page, page_size: PAGE_SIZE };
  for (const [key, value] of Object.entries(filters)) if (value !== "") query[key] = value;
  return query;
}

async function loadTasks() {
  let reply;
  try {
    reply = await client.request("tasks", { query: taskQuery() });
  } catch (error) {
    // The page emptied under us (tasks done or deleted elsewhere): step back.
    if (error instanceof DjiraError && error.status === 404 && page > 1) {
      page -= 1;
      return loadTasks();
    }
    throw error;
  }
  const { count, results } = reply.data;
  lastPage = Math.max(1, Math.ceil(count / PAGE_SIZE));
  $("task-list").replaceChildren(...results.map((task) => renderTask(task)));
  $("task-empty").hidden = results.length > 0;
  $("page-info").textContent = `Page ${page} of ${lastPage} · ${count} task${count === 1 ? "" : "s"}`;
  $("page-prev").disabled = page <= 1;
  $("page-next").disabled = page >= lastPage;
}

// One list request at a time; changes arriving meanwhile ask for one more afterwards.
let loading = null;
let again = false;
function refreshTasks() {
  if (loading) {
    again = true;
    return loading;
  }
  loading = loadTasks()
    .catch((error) => console.error("djira example: could not load tasks", error))
    .finally(() => {
      loading = null;
      if (again) {
        again = false;
        refreshTasks();
      }
    });
  return loading;
}

function matchesFilters(task) {
  if (filters.project && String(task.project) !== filters.project) return false;
  if (filters.done && String(task.done) !== filters.done) return false;
  if (filters.priority && String(task.priority) !== filters.priority) return false;
  const needle = filters.search.toLowerCase();
  return !needle || `${task.title} ${task.notes}`.toLowerCase().includes(needle);
}

function onTaskPush(push) {
  const item = document.querySelector(`#task-list .task[data-id="${push.data.id}"]`);
  // An edit of a row on screen that still belongs here is patched in place (keeps an open
  // editor and the scroll position); anything else may move rows between pages: refetch.
  if (push.type === "update" && item && matchesFilters(push.data) && !item.querySelector(".task-editor")) {
    renderTask(push.data, item);
  } else {
    refreshTasks();
  }
}

$("new-task").addEventListener("submit", async (event) => {
  event.preventDefault();
  const title = $("new-task-title");
  const data = {
    title: title.value,
    project: Number($("new-task-project").value) || null,
    priority: Number($("new-task-priority").value),
  };
  try {
    await client.request("tasks", { action: "POST", data });
    showError($("new-task-error"), null);
    title.value = "";
    title.focus();
  } catch (error) {
    showError($("new-task-error"), error);
  }
});

$("task-list").addEventListener("change", async (event) => {
  if (!event.target.classList.contains("task-done")) return;
  const item = event.target.closest(".task");
  try {
    await client.request("tasks", {
      namespace: "complete",
      action: "POST",
      pk: Number(item.dataset.id),
      data: { done: event.target.checked },
    });
  } catch (error) {
    event.target.checked = !event.target.checked;
    alert(describe(error));
  }
});

$("task-list").addEventListener("click", async (event) => {
  const item = event.target.closest(".task");
  if (!item) return;
  if (event.target.classList.contains("task-delete")) {
    try {
      await client.request("tasks", { action: "DELETE", pk: Number(item.dataset.id) });
    } catch (error) {
      alert(describe(error));
    }
  } else if (event.target.classList.contains("task-edit")) {
    openEditor(item);
  }
});

function openEditor(item) {
  if (item.querySelector(".task-editor")) return;
  const form = $("edit-template").content.firstElementChild.cloneNode(true);
  form.elements.title.value = item.task.title;
  form.elements.notes.value = item.task.notes;
  form.elements.priority.value = String(item.task.priority);
  const close = () => {
    form.remove();
    item.classList.remove("is-editing");
  };
  form.querySelector(".task-cancel").addEventListener("click", close);
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    try {
      const reply = await client.request("tasks", {
        action: "PATCH",
        pk: item.task.id,
        data: {
          title: form.elements.title.value,
          notes: form.elements.notes.value,
          priority: Number(form.elements.priority.value),
        },
      });
      close();
      renderTask(reply.data, item);
    } catch (error) {
      showError(form.querySelector(".error"), error);
    }
  });
  item.classList.add("is-editing");
  item.querySelector(".task-body").append(form);
  form.elements.title.focus();
}

// -- filters and pages ------------------------------------------------------------------

let searchTimer;
$("task-filters").addEventListener("input", (event) => {
  const { name, value } = event.target;
  if (!(name in filters)) return;
  filters[name] = value;
  page = 1;
  clearTimeout(searchTimer);
  searchTimer = setTimeout(refreshTasks, name === "search" ? 250 : 0);
});
$("task-filters").addEventListener("submit", (event) => event.preventDefault());
$("page-prev").addEventListener("click", () => { page = Math.max(1, page - 1); refreshTasks(); });
$("page-next").addEventListener("click", () => { page = Math.min(lastPage, page + 1); refreshTasks(); });

// -- live -------------------------------------------------------------------------------

// Pushes sent while disconnected are lost: reload everything after a resubscription.
const reloadAfterReconnect = (reply, resubscribed) => {
  if (resubscribed) loadProjects().then(refreshTasks);
};
const tasksLive = client.subscribe("tasks", { namespace: "subscribe" }, onTaskPush, {
  onSubscribed: reloadAfterReconnect,
});
const projectsLive = client.subscribe("projects", { namespace: "subscribe" }, (push) => {
  if (push.type === "delete") projects.delete(push.data.id);
  else projects.set(push.data.id, push.data);
  if (push.type === "delete" && filters.project === String(push.data.id)) filters.project = "";
  renderProjects();
  if (push.type === "delete") refreshTasks();
});
// The dispatcher in board/signals.py: per-project counts, after each task change.
client.on("progress", ({ data: counts }) => {
  progress.set(counts.project, { open: counts.open, done: counts.done });
  renderProjects();
});

await Promise.all([tasksLive.ready, projectsLive.ready]);
await loadProjects();
await refreshTasks();
document.body.dataset.ready = "true";

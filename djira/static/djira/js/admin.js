// djira admin console: keeps the live traffic log usable (pause, clear, open payloads) and
// drives the inspector through the shipped client (djira/js/client.js), so requests take
// the real authentication, permission, middleware and throttle path as the logged-in user.

// -- live traffic ------------------------------------------------------------------------

window.djiraPaused = false;
const openPayloads = new Set();

function setupTraffic() {
  const pause = document.getElementById("djira-pause");
  const clear = document.getElementById("djira-clear");
  const since = document.getElementById("djira-since");
  if (pause) {
    pause.addEventListener("click", () => {
      window.djiraPaused = !window.djiraPaused;
      pause.setAttribute("aria-pressed", String(window.djiraPaused));
      pause.textContent = window.djiraPaused ? "Resume" : "Pause";
    });
  }
  if (clear && since) {
    clear.addEventListener("click", () => {
      // Hide what is recorded so far for this page only: other viewers keep their log.
      const table = document.querySelector("#djira-live-traffic .djira-traffic");
      const newest = table ? table.dataset.newest : "";
      since.value = newest || String(Date.now() / 1000);
      openPayloads.clear();
      if (window.htmx) window.htmx.trigger("#djira-traffic-filters", "submit");
    });
  }
  // Polling replaces the rows each second: keep open payloads open.
  document.addEventListener("toggle", (event) => {
    const details = event.target;
    if (!(details instanceof HTMLDetailsElement) || !details.dataset.key) return;
    if (details.open) openPayloads.add(details.dataset.key);
    else openPayloads.delete(details.dataset.key);
  }, true);
  // Traces: a traced row opens its trace (htmx, on click); Enter does the same; Close empties.
  document.addEventListener("click", (event) => {
    if (!(event.target instanceof Element) || !event.target.closest(".djira-trace-close")) return;
    const panel = document.getElementById("djira-trace");
    if (!panel) return;
    // A trace opened on its own page: closing it goes to the traffic log.
    if (panel.dataset.closeUrl) { window.location.assign(panel.dataset.closeUrl); return; }
    panel.replaceChildren();
    panel.dataset.closed = "true";  // a refresh still in flight must not reopen it
  });
  document.body.addEventListener("htmx:beforeSwap", (event) => {
    const target = event.detail.target;
    if (!target || target.id !== "djira-trace") return;
    const fromRow = event.detail.requestConfig && event.detail.requestConfig.elt
      && event.detail.requestConfig.elt.closest && event.detail.requestConfig.elt.closest(".djira-has-trace");
    if (fromRow) delete target.dataset.closed;
    else if (target.dataset.closed) event.detail.shouldSwap = false;
  });
  document.addEventListener("keydown", (event) => {
    const row = event.target instanceof Element ? event.target.closest(".djira-has-trace") : null;
    if (row && event.key === "Enter") row.click();
  });
  document.body.addEventListener("htmx:afterSwap", (event) => {
    if (event.target && event.target.id === "djira-trace") {
      event.target.scrollIntoView({ block: "nearest" });
    }
    for (const key of openPayloads) {
      const details = document.querySelector(`details[data-key="${CSS.escape(key)}"]`);
      if (details) details.open = true;
    }
  });
}

// -- inspector ---------------------------------------------------------------------------

const CRUD = { "GET": "list/retrieve", "POST": "create", "PUT": "update", "PATCH": "partial update", "DELETE": "destroy" };

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (key === "class") node.className = value;
    else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else if (value !== undefined && value !== null) node.setAttribute(key, value);
  }
  for (const child of children) node.append(child);
  return node;
}

function parseJSON(text, name) {
  const trimmed = text.trim();
  if (!trimmed) return undefined;
  try {
    return JSON.parse(trimmed);
  } catch (error) {
    throw new Error(`${name} is not valid JSON: ${error.message}`);
  }
}

function pyLiteral(value) {
  return JSON.stringify(value, null, 4)
    .replace(/\btrue\b/g, "True").replace(/\bfalse\b/g, "False").replace(/\bnull\b/g, "None");
}

class Inspector {
  constructor(root) {
    this.root = root;
    this.catalog = JSON.parse(document.getElementById("djira-catalog").textContent);
    this.hookSelect = document.getElementById("djira-req-hook");
    this.namespaceSelect = document.getElementById("djira-namespace");
    this.actionSelect = document.getElementById("djira-action");
    this.pk = document.getElementById("djira-pk");
    this.data = document.getElementById("djira-data");
    this.query = document.getElementById("djira-query");
    this.headers = document.getElementById("djira-headers");
    this.fields = document.getElementById("djira-fields");
    this.error = document.getElementById("djira-form-error");
    this.history = [];
    this.subscriptions = new Map();
    this.counter = 0;
  }

  async start() {
    this.connectModule = await import(this.root.dataset.clientUrl);
    this.actAs = document.getElementById("djira-act-as");
    this.connectAs("");
    if (this.actAs) this.actAs.addEventListener("change", () => this.connectAs(this.actAs.value));
    this.fillHooks();
    this.hookSelect.addEventListener("change", () => { this.fillNamespaces(); this.reset(true); });
    this.namespaceSelect.addEventListener("change", () => { this.fillActions(); this.reset(true); });
    this.actionSelect.addEventListener("change", () => { this.fillFields(); this.reset(false); });
    document.getElementById("djira-request-form").addEventListener("submit", (event) => {
      event.preventDefault();
      this.send();
    });
    document.getElementById("djira-copy-js").addEventListener("click", () => this.copy("js"));
    document.getElementById("djira-copy-py").addEventListener("click", () => this.copy("py"));
  }

  // One socket per identity: acting as another user is a handshake ({actAs: pk}) the server
  // accepts from a superuser's session only, so switching user means a new connection.
  connectAs(pk) {
    for (const id of [...this.subscriptions.keys()]) this.unsubscribe(id);
    if (this.client) this.client.close();
    const options = { path: this.root.dataset.socketioPath };
    if (pk) options.auth = { actAs: /^\d+$/.test(pk) ? Number(pk) : pk };
    this.client = this.connectModule.connect(options);
    this.actingAs = pk ? this.actAs.selectedOptions[0].textContent : "";
    document.getElementById("djira-acting-user").textContent = pk
      ? this.actingAs : this.root.dataset.username;
    const state = document.getElementById("djira-state");
    state.dataset.state = "connecting";
    state.textContent = "connecting";
    const client = this.client;
    client.onState((change) => {
      if (client !== this.client) return;
      state.dataset.state = change.state;
      state.textContent = change.error ? `${change.state}: ${change.error.message}` : change.state;
    });
    if (client.connected) { state.dataset.state = "connected"; state.textContent = "connected"; }
  }

  hook() { return this.catalog.find((h) => h.name === this.hookSelect.value); }

  route() {
    const hook = this.hook();
    return hook && hook.routes[Number(this.namespaceSelect.value)];
  }

  fillHooks() {
    this.hookSelect.replaceChildren(...this.catalog.map((h) => el("option", { value: h.name }, h.name)));
    this.fillNamespaces();
  }

  fillNamespaces() {
    const hook = this.hook();
    const routes = hook ? hook.routes : [];
    this.namespaceSelect.replaceChildren(...routes.map((r, i) => el("option", { value: String(i) }, r.label)));
    this.fillActions();
  }

  fillActions() {
    const route = this.route();
    const actions = route ? route.actions : [];
    this.actionSelect.replaceChildren(...actions.map((a) => el("option", { value: a },
      route.name ? a : `${a} (${route.detail && a === "GET" ? "retrieve" : CRUD[a] || a})`)));
    this.fillFields();
  }

  fillFields() {
    const route = this.route();
    const action = this.actionSelect.value;
    this.pk.required = Boolean(route && route.detail);
    const writable = ["POST", "PUT", "PATCH"].includes(action);
    const fields = route && route.serializer && writable
      ? route.serializer.fields.filter((f) => !f.read_only) : [];
    this.fields.replaceChildren();
    for (const field of fields) {
      const id = `djira-field-${field.name}`;
      let input;
      if (field.input === "select") {
        input = el("select", { id, name: field.name }, el("option", { value: "" }, "—"),
          ...field.choices.map(([value, label]) => el("option", { value }, label)));
      } else if (field.input === "checkbox") {
        input = el("input", { id, name: field.name, type: "checkbox" });
      } else if (field.input === "json") {
        input = el("textarea", { id, name: field.name, rows: "2", placeholder: "JSON" });
      } else {
        input = el("input", { id, name: field.name, type: field.input });
      }
      input.dataset.kind = field.input;
      input.addEventListener("input", () => this.formToJSON());
      input.addEventListener("change", () => this.formToJSON());
      const label = `${field.name}${field.required ? " *" : ""}`;
      this.fields.append(el("div", { class: "form-row" },
        el("label", { for: id, title: `${field.type}${field.help_text ? ": " + field.help_text : ""}` }, label), input));
    }
    this.fields.closest("fieldset").hidden = fields.length === 0;
  }

  // Empty what the chosen route and verb do not take, so that nothing stale is sent: the
  // body of another route, a body on a read, a pk on a list, filters on a create.
  reset(routeChanged) {
    const route = this.route();
    const action = this.actionSelect.value;
    const crud = Boolean(route && !route.name);
    if (routeChanged || !["POST", "PUT", "PATCH"].includes(action)) {
      this.data.value = "{}";
      this.formToJSON();
    }
    if (crud && !route.detail) this.pk.value = "";
    if (crud && action === "POST") this.query.value = "{}";
  }

  formToJSON() {
    // The form writes into the raw JSON, which stays the source of truth for sending.
    let data;
    try { data = parseJSON(this.data.value, "data") || {}; } catch { data = {}; }
    for (const input of this.fields.querySelectorAll("input, select, textarea")) {
      const kind = input.dataset.kind;
      if (kind === "checkbox") data[input.name] = input.checked;
      else if (input.value === "") delete data[input.name];
      else if (kind === "number") data[input.name] = Number(input.value);
      else if (kind === "json") { try { data[input.name] = JSON.parse(input.value); } catch { data[input.name] = input.value; } }
      else data[input.name] = input.value;
    }
    this.data.value = JSON.stringify(data, null, 2);
  }

  fields_() {
    const route = this.route();
    const fields = { action: this.actionSelect.value };
    if (route && route.name) fields.namespace = route.name;
    const pk = this.pk.value.trim();
    if (pk) fields.pk = /^\d+$/.test(pk) ? Number(pk) : pk;
    const data = parseJSON(this.data.value, "data");
    if (data !== undefined && !(typeof data === "object" && data !== null && !Array.isArray(data) && Object.keys(data).length === 0 && !["POST", "PUT", "PATCH"].includes(fields.action))) fields.data = data;
    const query = parseJSON(this.query.value, "query");
    if (query && Object.keys(query).length) fields.query = query;
    const headers = parseJSON(this.headers.value, "headers");
    if (headers && Object.keys(headers).length) fields.headers = headers;
    return fields;
  }

  showError(message) {
    this.error.textContent = message;
    this.error.hidden = !message;
  }

  async send(entry) {
    let hook, fields;
    try {
      hook = entry ? entry.hook : this.hookSelect.value;
      fields = entry ? entry.fields : this.fields_();
      this.showError("");
    } catch (error) {
      this.showError(error.message);
      return;
    }
    if (!hook) { this.showError("Choose a hook."); return; }
    if (fields.action === "SUBSCRIPTION") { this.subscribe(hook, fields); return; }
    const started = performance.now();
    let envelope;
    try {
      envelope = await this.client.request(hook, fields, { timeout: 10000 });
    } catch (error) {
      envelope = error.envelope || { status: error.status, data: error.data };
    }
    this.showReply(envelope, performance.now() - started);
    this.record(hook, fields, envelope.status);
    if (fields.action === "UNSUBSCRIPTION") this.endSubscriptions(hook, fields.namespace);
  }

  showReply(envelope, rtt) {
    const status = document.getElementById("djira-status");
    status.textContent = String(envelope.status);
    status.dataset.status = String(envelope.status);
    status.className = `djira-status djira-status-${Math.floor(envelope.status / 100)}xx`;
    document.getElementById("djira-rtt").textContent = `${rtt.toFixed(1)} ms`;
    document.getElementById("djira-reply").textContent = JSON.stringify(envelope, null, 2);
  }

  subscribe(hook, fields) {
    const id = ++this.counter;
    const started = performance.now();
    const pushes = el("ol", { class: "djira-pushes", reversed: "" });
    const { action, ...subscribeFields } = fields;
    const subscription = this.client.subscribe(hook, subscribeFields, (push) => {
      pushes.prepend(el("li", { class: "djira-push" }, el("pre", {}, JSON.stringify(push, null, 2))));
    }, { onError: (error) => this.showReply(error.envelope || { status: error.status, data: error.data }, performance.now() - started) });
    const pane = el("div", { class: "djira-subscription", "data-hook": hook, "data-namespace": fields.namespace || "" },
      el("h3", {}, `${hook}${fields.namespace ? ":" + fields.namespace : ""} `,
        el("button", { type: "button", class: "button", onclick: () => this.unsubscribe(id) }, "Unsubscribe")),
      pushes);
    this.subscriptions.set(id, { subscription, pane, hook, namespace: fields.namespace });
    const container = document.getElementById("djira-subscriptions");
    container.querySelector(".djira-empty")?.remove();
    container.prepend(pane);
    subscription.ready.then(
      (envelope) => { this.showReply(envelope, performance.now() - started); this.record(hook, fields, envelope.status); },
      (error) => { pane.remove(); this.subscriptions.delete(id); this.record(hook, fields, error.status); },
    );
  }

  async unsubscribe(id) {
    const entry = this.subscriptions.get(id);
    if (!entry) return;
    this.subscriptions.delete(id);
    entry.pane.remove();
    try { await entry.subscription.unsubscribe(); } catch (error) { this.showError(error.message); }
  }

  endSubscriptions(hook, namespace) {
    for (const [id, entry] of this.subscriptions) {
      if (entry.hook === hook && entry.namespace === namespace) this.unsubscribe(id);
    }
  }

  record(hook, fields, status) {
    const entry = { hook, fields, status };
    this.history.unshift(entry);
    const list = document.getElementById("djira-history");
    const item = el("li", { class: "djira-history-item" },
      el("span", { class: `djira-status djira-status-${Math.floor(status / 100)}xx` }, String(status)), " ",
      el("code", {}, `${fields.action} ${hook}${fields.namespace ? ":" + fields.namespace : ""}${fields.pk !== undefined ? " #" + fields.pk : ""}`), " ",
      this.actingAs ? el("span", { class: "djira-history-as" }, `as ${this.actingAs} `) : "",
      el("button", { type: "button", class: "button", onclick: () => this.edit(entry) }, "Edit"), " ",
      el("button", { type: "button", class: "button", onclick: () => this.send(entry) }, "Resend"));
    list.prepend(item);
    while (list.children.length > 50) list.lastChild.remove();
  }

  edit(entry) {
    this.hookSelect.value = entry.hook;
    this.fillNamespaces();
    const routes = this.hook().routes;
    const index = routes.findIndex((r) => (r.name || null) === (entry.fields.namespace || null)
      && r.actions.includes(entry.fields.action) && (r.name || r.detail === (entry.fields.pk !== undefined)));
    this.namespaceSelect.value = String(Math.max(0, index));
    this.fillActions();
    this.actionSelect.value = entry.fields.action;
    this.fillFields();
    this.pk.value = entry.fields.pk ?? "";
    this.data.value = JSON.stringify(entry.fields.data ?? {}, null, 2);
    this.query.value = JSON.stringify(entry.fields.query ?? {}, null, 2);
    this.headers.value = JSON.stringify(entry.fields.headers ?? {}, null, 2);
  }

  copy(language) {
    let text;
    try {
      const hook = this.hookSelect.value;
      const fields = this.fields_();
      if (language === "js") {
        text = `import { connect } from "${new URL(this.root.dataset.clientUrl, location.href)}";\n\nconst client = connect();\n`
          + `const reply = await client.request(${JSON.stringify(hook)}, ${JSON.stringify(fields, null, 2)});\nconsole.log(reply.status, reply.data);\n`;
      } else {
        text = `import socketio\n\nwith socketio.SimpleClient() as sio:\n    sio.connect("${location.origin}", auth={"token": "<token>"})\n`
          + `    reply = sio.call(${JSON.stringify(hook)}, ${pyLiteral(fields).replace(/\n/g, "\n    ")})\n    print(reply["status"], reply["data"])\n`;
      }
    } catch (error) {
      this.showError(error.message);
      return;
    }
    const snippet = document.getElementById("djira-snippet");
    snippet.hidden = false;
    snippet.value = text;
    snippet.dataset.language = language;
    navigator.clipboard?.writeText(text).catch(() => {});
  }
}

// The page says it is not live until this script runs; the polling parts also need htmx.
function announceLive() {
  const notice = document.getElementById("djira-script-notice");
  if (!notice) return;
  if (window.htmx) {
    notice.hidden = true;
  } else {
    notice.textContent = "This page is not live: htmx did not load, so nothing here updates. "
      + "Are static files served? See djira's docs/admin.md.";
  }
}

function setup() {
  announceLive();
  setupTraffic();
  const root = document.getElementById("djira-inspector-root");
  if (root) {
    const inspector = new Inspector(root);
    window.djiraInspector = inspector;
    inspector.start().catch((error) => {
      const state = document.getElementById("djira-state");
      state.dataset.state = "error";
      state.textContent = `cannot load the client: ${error.message}`;
    });
  }
}

if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", setup);
else setup();

// Live admin pages (djira.admin.live): a changelist whose rows follow the database, and a
// change form that shows who else has the row open and says when someone else saved it.
//
// Pushes carry only a row's pk. What the page shows of a row is asked of the admin itself
// (the changelist's own rendering, under this user's session and the page's filters), so
// this script never builds a cell, and a user never sees a row their changelist would hide.
const HOOK = "djira-admin-live";
const BATCH = 100; // rows asked for in one request (the server's MAX_PKS)

const root = document.getElementById("djira-live");
const configNode = document.getElementById("djira-live-config");

function setState(text, state) {
  const node = root.querySelector(".djira-live-state");
  node.textContent = text;
  node.dataset.state = state;
}

// While a page is open its model's saves push (djira.admin.live.watching): the server is
// told every `config.renew` ms; a closed page stops costing anything a little later.
function keepWatching(client, config, models) {
  const renew = () => {
    for (const model of models) {
      client.request(HOOK, { namespace: "watching", data: { model } }).catch(() => {});
    }
  };
  setInterval(renew, config.renew || 10000);
}

// A save whose process read "nobody watches" just before this page said it does pushes
// nothing: `config.settle` ms after subscribing, such a save has committed and `reload`
// asks for what the page shows again.
function afterSettling(config, reload) {
  setTimeout(reload, config.settle || 2000);
}

async function start() {
  const config = JSON.parse(configNode.textContent);
  const { connect } = await import(config.client);
  const client = connect({ path: config.path });
  client.onState(({ state }) => {
    if (state === "connected") setState("live", "live");
    else if (state === "reconnecting" || state === "connecting") setState("reconnecting…", state);
    else setState("offline", state);
  });
  if (root.dataset.page === "changelist") changelist(client, config);
  else if (root.dataset.page === "cards") cards(client, config);
  else changeForm(client, config);
  root.dataset.ready = "true";
}

// -- changelist -------------------------------------------------------------------------

function changelist(client, config) {
  const rows = new Map(); // pk -> <tr> on this page
  const table = document.getElementById("result_list");
  const trs = table ? table.querySelectorAll("tbody > tr") : [];
  (config.pks || []).forEach((pk, index) => { if (trs[index]) rows.set(pk, trs[index]); });
  const fresh = new Set(); // rows not on the page that now match it: announced, not shown
  const waiting = new Map(); // pk -> last push type, until the admin is asked
  let asking = false;
  const newLink = root.querySelector(".djira-live-new");
  newLink.addEventListener("click", (event) => { event.preventDefault(); location.reload(); });

  function announce() {
    newLink.hidden = fresh.size === 0;
    newLink.textContent = `${fresh.size} new — show`;
  }

  function strike(tr, deleted) {
    tr.classList.remove("djira-live-updated");
    tr.classList.add(deleted ? "djira-live-deleted" : "djira-live-gone");
    tr.title = deleted ? "Deleted" : "No longer matches this list";
  }

  function replace(tr, html, editable) {
    tr.classList.remove("djira-live-deleted", "djira-live-gone");
    tr.removeAttribute("title");
    if (editable) {
      // list_editable inputs belong to the page's formset: say so rather than swap them.
      tr.classList.add("djira-live-stale");
      tr.title = "Changed since this page loaded: reload to edit";
      return;
    }
    const template = document.createElement("template");
    template.innerHTML = `<table><tbody><tr>${html}</tr></tbody></table>`;
    const cells = template.content.querySelector("tr").children;
    const old = Array.from(tr.children);
    Array.from(cells).forEach((cell, index) => {
      const current = old[index];
      // The action checkbox keeps its element: Django's actions.js holds it (and its state).
      if (!current || current.classList.contains("action-checkbox")) return;
      current.replaceWith(cell);
    });
    tr.classList.remove("djira-live-updated");
    void tr.offsetWidth; // restart the highlight
    tr.classList.add("djira-live-updated");
  }

  async function ask() {
    if (asking || waiting.size === 0) return;
    asking = true;
    try {
      while (waiting.size) {
        const batch = Array.from(waiting.entries()).slice(0, BATCH);
        batch.forEach(([pk]) => waiting.delete(pk));
        const params = new URLSearchParams(location.search);
        params.set("_djira_pks", batch.map(([pk]) => pk).join(","));
        const response = await fetch(`${root.dataset.rowsUrl}?${params}`, {
          credentials: "same-origin", headers: { Accept: "application/json" },
        });
        if (!response.ok) { setState(`error ${response.status}`, "error"); continue; }
        const reply = await response.json();
        const types = new Map(batch);
        for (const [pk, html] of Object.entries(reply.rows)) {
          const tr = rows.get(pk);
          if (tr) replace(tr, html, reply.editable);
          else fresh.add(pk);
        }
        for (const pk of reply.missing) {
          fresh.delete(pk);
          const tr = rows.get(pk);
          if (tr) strike(tr, types.get(pk) === "delete");
        }
        announce();
      }
    } finally {
      asking = false;
    }
  }

  client.subscribe(HOOK, { namespace: "changelist", data: { model: config.model } }, (push) => {
    if (push.type === "join" || push.type === "leave") return;
    if (push.type === "reset") { onReset(); return; }
    waiting.set(String(push.data.pk), push.type);
    ask();
  }, {
    onReset,
    onSubscribed: () => afterSettling(config, onReset),
    onError: (error) => setState(error.status === 403 ? "not live" : `error ${error.status}`, "error"),
  });
  keepWatching(client, config, [config.model]);

  function onReset() {
    // Pushes may have been missed: ask for every row on the page again.
    rows.forEach((tr, pk) => waiting.set(pk, "update"));
    ask();
  }
}

// -- change form ------------------------------------------------------------------------

function changeForm(client, config) {
  const fields = { namespace: "object", pk: config.pk, data: { model: config.model } };
  const banner = document.querySelector(".djira-live-banner");
  const presenceNode = root.querySelector(".djira-live-presence");
  let submitting = false;
  document.querySelectorAll("form").forEach((form) => {
    form.addEventListener("submit", () => { submitting = true; });
  });

  function show(text) {
    if (submitting) return; // our own save, on its way
    banner.querySelector(".djira-live-banner-text").textContent = text;
    banner.querySelector(".djira-live-banner-link").hidden = text.includes("deleted");
    banner.querySelector(".djira-live-banner-link").href = location.href;
    banner.hidden = false;
  }

  async function refreshPresence() {
    let rooms;
    try {
      rooms = await client.presence(HOOK, { pk: config.pk, data: { model: config.model } });
    } catch (error) {
      return;
    }
    const others = [];
    let myTabs = 0;
    for (const room of rooms) {
      for (const user of room.users) {
        if (String(user.id) === config.user) myTabs = user.connections;
        else others.push(user.connections > 1 ? `${user.username} (${user.connections} tabs)` : user.username);
      }
    }
    const parts = [];
    if (others.length) parts.push(`Also open by ${others.join(", ")}`);
    if (myTabs > 1) parts.push(`open in ${myTabs - 1} other tab${myTabs > 2 ? "s" : ""} of yours`);
    presenceNode.textContent = parts.join("; ");
    presenceNode.hidden = parts.length === 0;
  }

  const saved = `Someone else saved this ${config.name}; saving now will ask before overwriting their changes.`;
  const version = document.querySelector(`input[name="${config.versionField}"]`);

  async function compareVersion() {
    // The page again, as the admin renders it now: another version means a save was missed.
    if (!version) return;
    const response = await fetch(location.href, { credentials: "same-origin" });
    if (response.status === 404) { show(`This ${config.name} was deleted by someone else.`); return; }
    if (!response.ok) return;
    const page = new DOMParser().parseFromString(await response.text(), "text/html");
    const now = page.querySelector(`input[name="${config.versionField}"]`);
    if (now && now.value !== version.value) show(saved);
  }

  client.subscribe(HOOK, fields, (push) => {
    if (push.type === "join" || push.type === "leave") { refreshPresence(); return; }
    if (push.type === "delete") show(`This ${config.name} was deleted by someone else.`);
    else if (push.type === "update") show(saved);
  }, {
    onSubscribed: () => { refreshPresence(); afterSettling(config, compareVersion); },
    onError: (error) => setState(error.status === 403 ? "not live" : `error ${error.status}`, "error"),
  });
  keepWatching(client, config, [config.model]);
}

// -- cards on the admin index -------------------------------------------------------------

function cards(client, config) {
  // One subscription per model with live cards; a change asks that model's admin for its
  // cards again (at most one request at a time per model, and one more if pushes came meanwhile).
  for (const [model, url] of Object.entries(config.models || {})) {
    let busy = false;
    let again = false;
    const refresh = async () => {
      if (busy) { again = true; return; }
      busy = true;
      try {
        do {
          again = false;
          const response = await fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } });
          if (!response.ok) { setState(`error ${response.status}`, "error"); break; }
          const reply = await response.json();
          for (const [id, html] of Object.entries(reply.cards)) {
            const card = document.getElementById(id);
            if (!card) continue;
            card.outerHTML = html;
            document.getElementById(id).classList.add("djira-live-updated");
          }
        } while (again);
      } finally {
        busy = false;
      }
    };
    client.subscribe(HOOK, { namespace: "changelist", data: { model } }, (push) => {
      if (push.type !== "join" && push.type !== "leave") refresh();
    }, { onReset: refresh, onSubscribed: () => afterSettling(config, refresh), onError: () => {} });
  }
  keepWatching(client, config, Object.keys(config.models || {}));
}

if (root && configNode) start();

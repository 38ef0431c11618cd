// Settings → API Keys, the docs' flow: Generate API key → name → Generate → pop-up with the
// full key once; list with masked keys; Rotate and Revoke behind confirmation windows.
import { api, auth, confirmDialog, el, formatDate, initHeader, makeDialog, openDialog, showSecretDialog, signedOut } from "./common.js";

const MAX_NAME = 255;
const generateButton = document.getElementById("generate");
const table = document.getElementById("keys-table");
const tbody = document.getElementById("keys-body");
const empty = document.getElementById("keys-empty");
const errorBanner = document.getElementById("keys-error");
const statusLine = document.getElementById("keys-status");
const notice = document.getElementById("auth-notice");
let me = null;
let keys = [];

function keyStatus(key) {
  if (key.removed) return "revoked";
  if (!key.enabled) return "disabled";
  if (key.expiration_date && new Date(key.expiration_date) <= new Date()) return "expired";
  return "active";
}

const STATUS_LABEL = { active: "Active", disabled: "Disabled", revoked: "Revoked", expired: "Expired" };

function cell(label, ...children) {
  return el("td", { "data-label": label }, ...children);
}

function renderKeys() {
  tbody.replaceChildren();
  table.hidden = !keys.length;
  empty.hidden = Boolean(keys.length) || !me;
  for (const key of keys) {
    const status = keyStatus(key);
    const actions = el("div", { className: "row-actions" });
    if (status !== "revoked") {
      actions.append(
        el("button", {
          type: "button",
          className: "button small",
          "aria-label": `Rotate ${key.name}`,
          text: "Rotate",
          onclick: () => rotate(key),
        }),
        el("button", {
          type: "button",
          className: "button small danger",
          "aria-label": `Revoke ${key.name}`,
          text: "Revoke",
          onclick: () => revoke(key),
        }),
      );
    }
    const current = me && me.key_id === key.id ? el("span", { className: "tag", text: "this session" }) : null;
    tbody.append(
      el(
        "tr",
        { "data-key-id": key.id },
        cell("Name", el("span", { className: "name", text: key.name }), current),
        cell("Key", el("code", { "data-testid": "masked-key", text: key.api_key })),
        cell("Created", formatDate(key.created_at)),
        cell("Last used", key.last_used_at ? formatDate(key.last_used_at, true) : "Never"),
        cell("Status", el("span", { className: `status ${status}`, text: STATUS_LABEL[status] })),
        cell("Expires", key.expiration_date ? formatDate(key.expiration_date) : "Never"),
        el("td", {}, actions),
      ),
    );
  }
}

async function load() {
  errorBanner.textContent = "";
  if (!me) {
    keys = [];
    renderKeys();
    return;
  }
  try {
    const body = await api("/v1/user/api_keys");
    keys = Array.isArray(body) ? body : body.api_keys || body.items || body.data || [];
    renderKeys();
  } catch (error) {
    handleError(error);
  }
}

function handleError(error) {
  if (error.status === 401) {
    signedOut();
    me = null;
    render();
    errorBanner.textContent = "Your API key is no longer valid. Sign in again.";
  } else {
    errorBanner.textContent = error.message;
  }
}

/** Step 1–3 of the docs: ask for a name, validate, generate, show the key once. */
function generate() {
  const { dialog, body, actions, id } = makeDialog("Generate API key");
  const form = el("form", { id: `${id}-form`, novalidate: true });
  const name = el("input", {
    id: `${id}-name`,
    name: "name",
    type: "text",
    autocomplete: "off",
    required: true,
    placeholder: "Production",
    "aria-describedby": `${id}-hint ${id}-error`,
  });
  const expires = el("input", { id: `${id}-expires`, name: "expiration_date", type: "date", "aria-describedby": `${id}-expires-hint` });
  const error = el("p", { id: `${id}-error`, className: "field-error", role: "alert", "data-testid": "name-error" });
  form.append(
    el(
      "div",
      { className: "field" },
      el("label", { for: `${id}-name`, text: "Name" }),
      name,
      el("p", { id: `${id}-hint`, className: "hint", text: "Enter a name so you can recognize it later, for example “Production” or “My app”." }),
      error,
    ),
    el(
      "div",
      { className: "field" },
      el("label", { for: `${id}-expires`, text: "Expiration date (optional)" }),
      expires,
      el("p", { id: `${id}-expires-hint`, className: "hint", text: "Leave empty for a key that does not expire." }),
    ),
  );
  body.append(form);
  const cancel = el("button", { type: "button", className: "button", text: "Cancel", onclick: () => dialog.close() });
  const submit = el("button", { type: "submit", form: `${id}-form`, className: "button primary", text: "Generate" });
  actions.append(cancel, submit);
  let created = null;
  const invalid = (message) => {
    error.textContent = message;
    name.setAttribute("aria-invalid", "true");
    name.focus();
  };
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const value = name.value.trim();
    if (!value) return invalid("Enter a name for the key.");
    if (value.length > MAX_NAME) return invalid(`The name is too long: use at most ${MAX_NAME} characters (this one has ${value.length}).`);
    const payload = { name: value };
    if (expires.value) payload.expiration_date = new Date(`${expires.value}T23:59:59Z`).toISOString();
    submit.disabled = true;
    try {
      created = await api("/v1/user/api_keys", { method: "POST", body: payload });
      dialog.close();
    } catch (err) {
      if (err.status === 409) invalid(`A key named “${value}” already exists. Choose another name.`);
      else if (err.status === 400 || err.status === 422) invalid(err.message);
      else if (err.status === 401) {
        dialog.close();
        handleError(err);
      } else invalid(err.message);
    } finally {
      submit.disabled = false;
    }
  });
  name.addEventListener("input", () => {
    error.textContent = "";
    name.removeAttribute("aria-invalid");
  });
  openDialog(dialog, {
    initialFocus: name,
    onClose: () => {
      dialog.remove();
      if (created) revealOnce(created, "Save your API key");
    },
  });
}

/** The pop-up with the full key; afterwards only the masked form remains anywhere. */
function revealOnce(record, title) {
  const secret = record.api_key;
  record.api_key = "";
  statusLine.textContent = `API key “${record.name}” is ready.`;
  showSecretDialog({
    title,
    name: record.name,
    secret,
    onClose: () => {
      statusLine.textContent = "";
      load();
    },
  });
}

/** Step 5: confirmation window, then the new key once in the same kind of pop-up. */
async function rotate(key) {
  const ok = await confirmDialog({
    title: "Rotate API key?",
    message: `The current key “${key.name}” (${key.api_key}) will be permanently disabled and replaced with a new one. Apps using it stop working until you give them the new key.`,
    confirmLabel: "Rotate",
  });
  if (!ok) return;
  try {
    const record = await api(`/v1/user/api_keys/${encodeURIComponent(key.id)}/rotate`, { method: "POST" });
    if (me && me.key_id === key.id) {
      // The key this tab signed in with is gone; keep the session on its replacement.
      auth.set(record.api_key);
      me = { ...me, key_id: record.id };
    }
    revealOnce(record, "Save your new API key");
  } catch (error) {
    handleError(error);
  }
}

async function revoke(key) {
  const ok = await confirmDialog({
    title: "Revoke API key?",
    message: `The key “${key.name}” (${key.api_key}) will stop working immediately. This cannot be undone.`,
    confirmLabel: "Revoke",
    danger: true,
  });
  if (!ok) return;
  try {
    await api(`/v1/user/api_keys/${encodeURIComponent(key.id)}`, { method: "DELETE" });
    statusLine.textContent = `API key “${key.name}” (${key.api_key}) was revoked: it no longer works.`;
    if (me && me.key_id === key.id) {
      signedOut();
      me = null;
      render();
      return;
    }
    await load();
  } catch (error) {
    handleError(error);
  }
}

function render() {
  generateButton.disabled = !me;
  notice.textContent = me ? "" : "Sign in with an API key to see and manage your keys.";
  if (!me) {
    keys = [];
    renderKeys();
  }
}

generateButton.addEventListener("click", generate);
me = await initHeader((who) => {
  me = who;
  render();
  load();
});
render();
await load();

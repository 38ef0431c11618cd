// Shared helpers of the docsagent pages: DOM building, the signed-in key, the API client,
// accessible dialogs and the page header. Data is only ever written with textContent.

const KEY_STORAGE = "docsagent.api_key";

/** Build an element: attrs are set with setAttribute / properties, children become text nodes. */
export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (value === undefined || value === null || value === false) continue;
    if (name === "text") node.textContent = String(value);
    else if (name === "className") node.className = value;
    else if (name.startsWith("on") && typeof value === "function") {
      node.addEventListener(name.slice(2).toLowerCase(), value);
    } else node.setAttribute(name, value === true ? "" : String(value));
  }
  for (const child of children.flat()) {
    if (child === undefined || child === null || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

const THUMB = "M14 9V5a3 3 0 0 0-3-3l-4 9v11h11.28a2 2 0 0 0 2-1.7l1.38-9a2 2 0 0 0-2-2.3zM7 22H4a2 2 0 0 1-2-2v-7a2 2 0 0 1 2-2h3";

/** A decorative thumbs-up / thumbs-down icon (SVG, no icon font or emoji needed). */
export function thumbIcon(down = false) {
  const ns = "http://www.w3.org/2000/svg";
  const icon = document.createElementNS(ns, "svg");
  for (const [k, v] of Object.entries({ viewBox: "0 0 24 24", width: "16", height: "16", "aria-hidden": "true", focusable: "false", class: "icon" })) {
    icon.setAttribute(k, v);
  }
  const path = document.createElementNS(ns, "path");
  path.setAttribute("d", THUMB);
  if (down) path.setAttribute("transform", "rotate(180 12 12)");
  icon.append(path);
  return icon;
}

export const auth = {
  key() {
    return sessionStorage.getItem(KEY_STORAGE) || "";
  },
  set(key) {
    sessionStorage.setItem(KEY_STORAGE, key);
  },
  clear() {
    sessionStorage.removeItem(KEY_STORAGE);
  },
};

export class ApiError extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

/** The headers every API call sends: the signed-in key, if any. */
export function authHeaders(extra = {}) {
  const headers = { ...extra };
  const key = auth.key();
  if (key) headers.Authorization = `Bearer ${key}`;
  return headers;
}

/** Turn a failed response into an ApiError carrying the server's error shape. */
export async function errorFrom(response) {
  let code = "http_" + response.status;
  let message = response.statusText || "Request failed";
  try {
    const body = await response.json();
    if (body && body.error) {
      code = body.error.code || code;
      message = body.error.message || message;
    } else if (body && typeof body.detail === "string") {
      message = body.detail;
    }
  } catch (_) {
    /* not JSON: keep the status text */
  }
  return new ApiError(response.status, code, message);
}

/** Call the JSON API; resolves to the parsed body (null for 204), rejects with ApiError. */
export async function api(path, { method = "GET", body, key, headers: extra = {} } = {}) {
  const headers = { ...(key ? { Authorization: `Bearer ${key}` } : authHeaders()), ...extra };
  headers.Accept = "application/json";
  if (body !== undefined) headers["Content-Type"] = "application/json";
  const response = await fetch(path, {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  if (!response.ok) throw await errorFrom(response);
  if (response.status === 204) return null;
  const text = await response.text();
  return text ? JSON.parse(text) : null;
}

/** Human date for an ISO string ("—" when absent). */
export function formatDate(iso, withTime = false) {
  if (!iso) return "—";
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) return String(iso);
  const options = { year: "numeric", month: "short", day: "numeric" };
  if (withTime) Object.assign(options, { hour: "2-digit", minute: "2-digit" });
  return date.toLocaleString(undefined, options);
}

/** Copy text to the clipboard; falls back to selecting a node and execCommand. */
export async function copyText(text, node) {
  try {
    await navigator.clipboard.writeText(text);
    return true;
  } catch (_) {
    if (!node) return false;
    const range = document.createRange();
    range.selectNodeContents(node);
    const selection = window.getSelection();
    selection.removeAllRanges();
    selection.addRange(range);
    const ok = document.execCommand("copy");
    selection.removeAllRanges();
    return ok;
  }
}

const FOCUSABLE =
  'a[href], button:not([disabled]), input:not([disabled]), textarea:not([disabled]), select:not([disabled]), [tabindex]:not([tabindex="-1"])';

/**
 * Open a modal <dialog>: focus stays inside (Tab wraps), Escape closes, focus returns to
 * the element that opened it; onClose runs once after it closes.
 */
export function openDialog(dialog, { onClose, initialFocus } = {}) {
  const opener = document.activeElement;
  if (!dialog.isConnected) document.body.append(dialog);
  const trap = (event) => {
    if (event.key !== "Tab") return;
    const items = [...dialog.querySelectorAll(FOCUSABLE)].filter((n) => n.offsetParent !== null);
    if (!items.length) return;
    const first = items[0];
    const last = items[items.length - 1];
    if (event.shiftKey && document.activeElement === first) {
      event.preventDefault();
      last.focus();
    } else if (!event.shiftKey && document.activeElement === last) {
      event.preventDefault();
      first.focus();
    }
  };
  dialog.addEventListener("keydown", trap);
  dialog.addEventListener(
    "close",
    () => {
      dialog.removeEventListener("keydown", trap);
      if (onClose) onClose();
      if (opener && opener.isConnected && typeof opener.focus === "function") opener.focus();
    },
    { once: true },
  );
  dialog.showModal();
  const target = initialFocus || dialog.querySelector("[autofocus]") || dialog.querySelector(FOCUSABLE);
  if (target) target.focus();
  return dialog;
}

/** A dialog skeleton: titled, labelled, with a body and an actions row. */
export function makeDialog(title, { className = "", describedBy } = {}) {
  const id = "dlg-" + Math.random().toString(36).slice(2, 9);
  const heading = el("h2", { id: id + "-title", text: title });
  const body = el("div", { className: "dialog-body" });
  const actions = el("div", { className: "dialog-actions" });
  const dialog = el(
    "dialog",
    { className: ("dialog " + className).trim(), "aria-labelledby": id + "-title", "aria-describedby": describedBy },
    heading,
    body,
    actions,
  );
  return { dialog, body, actions, id };
}

/**
 * Show a freshly issued secret once: full key, Copy, and the warning. When the dialog
 * closes the key is wiped from the DOM and the dialog removed.
 */
export function showSecretDialog({ title = "Save your API key", name, secret, onClose }) {
  const { dialog, body, actions, id } = makeDialog(title, { className: "secret-dialog" });
  const warning = el("p", {
    id: id + "-warning",
    className: "warning",
    text: "Copy it and save it somewhere secure right away. You will not be able to see the full key again after you close this pop-up.",
  });
  dialog.setAttribute("aria-describedby", id + "-warning");
  const code = el("code", { className: "secret-value", "data-testid": "secret-value", text: secret });
  const status = el("span", { className: "copy-status", role: "status", "aria-live": "polite" });
  const copy = el("button", { type: "button", className: "button", text: "Copy" });
  copy.addEventListener("click", async () => {
    const ok = await copyText(code.textContent, code);
    status.textContent = ok ? "Copied to clipboard" : "Copy failed: select the key and copy it by hand";
  });
  const close = el("button", { type: "button", className: "button primary", text: "I saved it, close" });
  close.addEventListener("click", () => dialog.close());
  if (name) body.append(el("p", {}, "Key name: ", el("strong", { text: name })));
  body.append(warning, el("div", { className: "secret-box" }, code, copy), status);
  actions.append(close);
  openDialog(dialog, {
    initialFocus: copy,
    onClose: () => {
      code.textContent = "";
      dialog.remove();
      if (onClose) onClose();
    },
  });
  return dialog;
}

/** A confirmation window; resolves true when confirmed, false on cancel / Escape. */
export function confirmDialog({ title, message, confirmLabel, danger = false }) {
  return new Promise((resolve) => {
    const { dialog, body, actions, id } = makeDialog(title, { className: "confirm-dialog" });
    const text = el("p", { id: id + "-desc", text: message });
    dialog.setAttribute("aria-describedby", id + "-desc");
    body.append(text);
    let confirmed = false;
    const cancel = el("button", { type: "button", className: "button", text: "Cancel" });
    const ok = el("button", {
      type: "button",
      className: "button " + (danger ? "danger" : "primary"),
      text: confirmLabel,
    });
    cancel.addEventListener("click", () => dialog.close());
    ok.addEventListener("click", () => {
      confirmed = true;
      dialog.close();
    });
    actions.append(cancel, ok);
    openDialog(dialog, {
      initialFocus: cancel,
      onClose: () => {
        dialog.remove();
        resolve(confirmed);
      },
    });
  });
}

/** The signed-in principal from GET /v1/me, or null. */
export async function whoAmI() {
  if (!auth.key()) return null;
  try {
    return await api("/v1/me");
  } catch (error) {
    if (error.status === 401) auth.clear();
    return null;
  }
}

function signInDialog() {
  return new Promise((resolve) => {
    const { dialog, body, actions, id } = makeDialog("Sign in with an API key");
    const form = el("form", { id: id + "-form", novalidate: true });
    const input = el("input", {
      id: id + "-key",
      name: "api_key",
      type: "password",
      autocomplete: "off",
      spellcheck: "false",
      required: true,
      "aria-describedby": id + "-help " + id + "-error",
    });
    const error = el("p", { id: id + "-error", className: "field-error", role: "alert" });
    form.append(
      el("label", { for: id + "-key", text: "API key" }),
      input,
      el("p", {
        id: id + "-help",
        className: "hint",
        text: "Paste a key, for instance the bootstrap key the server printed. It is kept only in this browser tab.",
      }),
      error,
    );
    body.append(form);
    let me = null;
    const cancel = el("button", { type: "button", className: "button", text: "Cancel" });
    cancel.addEventListener("click", () => dialog.close());
    const submit = el("button", { type: "submit", form: id + "-form", className: "button primary", text: "Sign in" });
    actions.append(cancel, submit);
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      const key = input.value.trim();
      if (!key) {
        error.textContent = "Paste an API key to sign in.";
        input.setAttribute("aria-invalid", "true");
        input.focus();
        return;
      }
      try {
        me = await api("/v1/me", { key });
        auth.set(key);
        dialog.close();
      } catch (err) {
        error.textContent = err.status === 401 ? "That key was not accepted." : err.message;
        input.setAttribute("aria-invalid", "true");
        input.focus();
      }
    });
    openDialog(dialog, {
      initialFocus: input,
      onClose: () => {
        input.value = "";
        dialog.remove();
        resolve(me);
      },
    });
  });
}

/**
 * Fill the header's account area and mark the current nav link. Resolves to the
 * principal (or null); `onChange(me)` runs after every sign in / sign out.
 */
let renderAccount = () => {};
let startSignIn = async () => null;

/** Open the sign-in dialog from anywhere on the page (the header's button does the same). */
export function openSignIn() {
  return startSignIn();
}

/** Show the header as signed out (after the server rejected the key). */
export function signedOut() {
  auth.clear();
  renderAccount(null);
}

export async function initHeader(onChange = () => {}) {
  const area = document.getElementById("account");
  const path = location.pathname;
  for (const link of document.querySelectorAll(".site-nav a")) {
    if (link.getAttribute("href") === path) link.setAttribute("aria-current", "page");
  }
  const render = (me) => {
    area.replaceChildren();
    if (me) {
      const who = el("span", { className: "who", "data-testid": "signed-in-as" }, el("span", { className: "who-label", text: "Signed in as " }), el("strong", { text: me.owner }));
      if (me.is_admin) who.append(el("span", { className: "tag", text: "admin" }));
      const out = el("button", { type: "button", className: "button small", text: "Sign out" });
      out.addEventListener("click", () => {
        auth.clear();
        render(null);
        onChange(null);
      });
      area.append(who, out);
    } else {
      const signIn = el("button", { type: "button", className: "button small primary", text: "Sign in" });
      signIn.addEventListener("click", () => startSignIn());
      area.append(signIn);
    }
  };
  renderAccount = render;
  startSignIn = async () => {
    const result = await signInDialog();
    if (result) {
      render(result);
      await onChange(result);
    }
    return result;
  };
  const me = await whoAmI();
  render(me);
  return me;
}

// The chat page: streams answers over SSE, renders them safely, keeps the conversation
// across reloads, and handles key actions (approve / reject, secrets shown once).
import { api, auth, authHeaders, el, errorFrom, initHeader, openSignIn, showSecretDialog, signedOut, thumbIcon } from "./common.js";
import { linkTo, renderMarkdown } from "./markdown.js";

const CONVERSATION = "docsagent.conversation_id";
const CONVERSATION_TOKEN = "docsagent.conversation_token";
const MODES = { local: "Local docs", fallback: "Docs site", none: "Not found", action: "Key action" };
const SUGGESTIONS = [
  "How do I generate an API key?",
  "How do I rotate my API key?",
  "What happens to the old key when I rotate it?",
];

const log = document.getElementById("log");
const form = document.getElementById("composer");
const input = document.getElementById("question");
const send = document.getElementById("send");
const errorBanner = document.getElementById("chat-error");
const notice = document.getElementById("auth-notice");
const counter = document.getElementById("composer-count");
const shownSecrets = new Set();
let busy = false;
let maxChars = Number(input.getAttribute("maxlength")) || 512;

// The server mints conversation ids; an anonymous conversation also comes with a token
// (handed to its creator once) without which nobody can read or continue it.
const conversation = {
  get id() {
    return sessionStorage.getItem(CONVERSATION) || "";
  },
  set id(value) {
    if (value !== this.id) sessionStorage.removeItem(CONVERSATION_TOKEN);
    if (value) sessionStorage.setItem(CONVERSATION, value);
    else sessionStorage.removeItem(CONVERSATION);
  },
  get token() {
    return sessionStorage.getItem(CONVERSATION_TOKEN) || "";
  },
  set token(value) {
    if (value) sessionStorage.setItem(CONVERSATION_TOKEN, value);
  },
};

/** Yield {event, data} from a text/event-stream response body. */
async function* sseEvents(response) {
  const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = "";
  const parse = (block) => {
    let event = "message";
    const data = [];
    for (const line of block.split("\n")) {
      if (!line || line.startsWith(":")) continue;
      const colon = line.indexOf(":");
      const field = colon === -1 ? line : line.slice(0, colon);
      let value = colon === -1 ? "" : line.slice(colon + 1);
      if (value.startsWith(" ")) value = value.slice(1);
      if (field === "event") event = value;
      else if (field === "data") data.push(value);
    }
    return data.length ? { event, data: data.join("\n") } : null;
  };
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    buffer += value;
    let held = "";
    if (buffer.endsWith("\r")) {
      held = "\r";
      buffer = buffer.slice(0, -1);
    }
    buffer = buffer.replace(/\r\n?/g, "\n");
    let cut;
    while ((cut = buffer.indexOf("\n\n")) !== -1) {
      const item = parse(buffer.slice(0, cut));
      buffer = buffer.slice(cut + 2);
      if (item) yield item;
    }
    buffer += held;
  }
  const last = parse(buffer.replace(/\r\n?/g, "\n"));
  if (last) yield last;
}

function modeBadge(mode) {
  return el("span", { className: `badge mode-${mode}`, "data-testid": "mode", text: MODES[mode] || mode });
}

function renderSources(sources) {
  if (!sources || !sources.length) return null;
  const list = el("ul");
  for (const source of sources) {
    const label = source.section && source.section !== source.title ? `${source.title} — ${source.section}` : source.title || source.url;
    const link = linkTo(source.url, label);
    list.append(el("li", {}, link || label));
  }
  return el("div", { className: "sources", "data-testid": "sources" }, el("h3", { text: "Sources" }), list);
}

function renderFollowups(followups) {
  if (!followups || !followups.length) return null;
  const chips = el("div", { className: "chips" });
  for (const question of followups) {
    chips.append(el("button", { type: "button", className: "chip", text: question, onclick: () => ask(question) }));
  }
  return el("div", { className: "followups" }, el("h3", { text: "Follow-up questions" }), chips);
}

const OUTCOMES = {
  approved: "Approved.",
  rejected: "Rejected.",
  cancelled: "Cancelled: you asked something else, so nothing was changed.",
  expired: "Expired: nothing was changed.",
  superseded: "Replaced by a newer request: nothing was changed.",
};
const VERBS = { rotate_api_key: "Rotate", revoke_api_key: "Revoke" };

/** Turn a pending action's card into its outcome: no longer clickable. */
function settle(card, status) {
  card.dataset.status = status;
  card.setAttribute("aria-label", "Key action, decided");
  card.querySelector(".actions")?.remove();
  card.querySelector(".outcome").textContent = OUTCOMES[status] || `${status}.`;
}

/** The card of the action decided by this turn (a typed yes/no, a button, moving on). */
function settleDecided(decided) {
  if (!decided) return;
  for (const card of log.querySelectorAll('[data-testid="pending-action"]')) {
    if (card.dataset.pendingId === decided.id) settle(card, decided.status);
  }
}

// The preview itself is in the answer above the card: the card only names the action.
function renderPending(action) {
  const outcome = el("p", { className: "outcome", role: "status" });
  const approve = el("button", { type: "button", className: "button primary", text: "Approve" });
  const reject = el("button", { type: "button", className: "button", text: "Reject" });
  const name = (action.args && action.args.name) || "";
  const card = el(
    "div",
    { className: "pending", "data-testid": "pending-action", role: "group", "aria-label": "Key action waiting for your approval" },
    el("p", { className: "pending-title", text: `${VERBS[action.tool] || "Change"} the key “${name}”?` }),
    el("div", { className: "actions" }, approve, reject),
    outcome,
  );
  card.dataset.pendingId = action.id;
  card.dataset.status = "pending";
  const decide = async (decision) => {
    approve.disabled = true;
    reject.disabled = true;
    outcome.textContent = decision === "approve" ? "Approving…" : "Rejecting…";
    const ok = await converse({ conversation_id: conversation.id, [decision]: action.id });
    if (ok) settle(card, decision === "approve" ? "approved" : "rejected");
    else {
      outcome.textContent = "Not done.";
      approve.disabled = false;
      reject.disabled = false;
    }
  };
  approve.addEventListener("click", () => decide("approve"));
  reject.addEventListener("click", () => decide("reject"));
  if (action.status && action.status !== "pending") settle(card, action.status);
  return card;
}

function renderFeedback(article) {
  const status = el("span", { role: "status" });
  const up = el("button", { type: "button", className: "button small thumb", "aria-label": "Helpful", "aria-pressed": "false" }, thumbIcon());
  const down = el("button", { type: "button", className: "button small thumb", "aria-label": "Not helpful", "aria-pressed": "false" }, thumbIcon(true));
  const box = el("div", { className: "feedback" }, el("span", { text: "Was this helpful?" }), up, down, status);
  const post = async (rating, comment) => {
    const body = { conversation_id: conversation.id, turn: Number(article.dataset.turn), rating };
    if (comment) body.comment = comment;
    try {
      await api("/v1/feedback", { method: "POST", body });
      status.textContent = "Thanks for the feedback.";
      up.setAttribute("aria-pressed", String(rating === "up"));
      down.setAttribute("aria-pressed", String(rating === "down"));
    } catch (error) {
      status.textContent = `Feedback not sent: ${error.message}`;
    }
  };
  up.addEventListener("click", () => post("up"));
  down.addEventListener("click", async () => {
    await post("down"); // recorded now; the comment is optional and replaces it when sent
    if (box.querySelector("form")) return;
    const id = `comment-${Math.random().toString(36).slice(2, 8)}`;
    const comment = el("input", { id, type: "text", maxlength: "1000", placeholder: "What was missing or wrong? (optional)" });
    const commentForm = el(
      "form",
      { "aria-label": "Feedback comment" },
      el("label", { for: id, className: "visually-hidden", text: "Comment (optional)" }),
      comment,
      el("button", { type: "submit", className: "button small primary", text: "Add comment" }),
    );
    commentForm.addEventListener("submit", async (event) => {
      event.preventDefault();
      await post("down", comment.value.trim());
      commentForm.remove();
    });
    box.append(commentForm);
    comment.focus();
  });
  return box;
}

/** Scroll so a new answer is in view above the sticky input box (its top first when it
 * is taller than the space there). */
function reveal(node) {
  const box = form.getBoundingClientRect().height + 12;
  node.style.scrollMarginBottom = `${box}px`;
  const fits = node.getBoundingClientRect().height + box < window.innerHeight - 16;
  node.scrollIntoView({ block: fits ? "end" : "start" });
}

function userTurn(text) {
  const node = el("div", { className: "turn user", "data-testid": "user-turn", text });
  log.append(node);
  return node;
}

function assistantTurn() {
  const meta = el("div", { className: "turn-meta" });
  const body = el("div", { className: "answer streaming typing" });
  const extras = el("div");
  const article = el("article", { className: "turn assistant", "data-testid": "assistant-turn", "aria-busy": "true" }, meta, body, extras);
  log.append(article);
  return { article, meta, body, extras };
}

function showSecret(secret) {
  if (!secret || shownSecrets.has(secret.key_id + secret.api_key.slice(-6))) return;
  shownSecrets.add(secret.key_id + secret.api_key.slice(-6));
  showSecretDialog({ title: "Save your new API key", name: secret.name, secret: secret.api_key });
}

/** Turn "[n]" markers in the answer's text into links to the n-th source. */
function linkCitations(root, sources) {
  if (!sources.length) return;
  const walker = document.createTreeWalker(root, NodeFilter.SHOW_TEXT);
  const nodes = [];
  while (walker.nextNode()) {
    const node = walker.currentNode;
    if (/\[\d{1,2}\]/.test(node.nodeValue) && !node.parentElement.closest("a, code, pre")) nodes.push(node);
  }
  for (const node of nodes) {
    const parts = node.nodeValue.split(/(\[\d{1,2}\])/);
    const replacement = parts.map((part) => {
      const match = /^\[(\d{1,2})\]$/.exec(part);
      const source = match && sources[Number(match[1]) - 1];
      const link = source && linkTo(source.url, part);
      if (!link) return document.createTextNode(part);
      link.setAttribute("title", source.section || source.title || source.url);
      return el("sup", { className: "cite" }, link);
    });
    node.replaceWith(...replacement);
  }
}

/** Fill an assistant turn with a finished answer (from `done` or from history). */
function finish(turn, answer, { live }) {
  turn.meta.replaceChildren(modeBadge(answer.mode), el("span", { text: "Assistant" }));
  turn.body.className = "answer";
  turn.body.replaceChildren(renderMarkdown(answer.answer || answer.content || ""));
  linkCitations(turn.body, answer.sources || []);
  turn.extras.replaceChildren();
  for (const part of [
    renderSources(answer.sources),
    live ? renderFollowups(answer.followups) : null,
    answer.pending_action ? renderPending(answer.pending_action) : null,
    renderFeedback(turn.article),
  ]) {
    if (part) turn.extras.append(part);
  }
  turn.article.removeAttribute("aria-busy");
  if (live) settleDecided(answer.decided_action);
}

/** POST /v1/chat (streamed); renders the answer; resolves true on success. */
async function converse(body) {
  busy = true;
  send.disabled = true;
  errorBanner.textContent = "";
  const turn = assistantTurn();
  turn.meta.append(el("span", { text: "Thinking…" }));
  // Feedback names an answer by its 0-based index among the conversation's answers.
  turn.article.dataset.turn = String(log.querySelectorAll(".turn.assistant").length - 1);
  reveal(turn.article);
  let answer = null;
  try {
    const response = await fetch("/v1/chat", {
      method: "POST",
      headers: authHeaders({ "Content-Type": "application/json", Accept: "text/event-stream" }),
      body: JSON.stringify(body),
    });
    if (!response.ok) throw await errorFrom(response);
    if (!(response.headers.get("content-type") || "").includes("text/event-stream")) {
      answer = await response.json();
    } else {
      let streamed = "";
      for await (const { event, data } of sseEvents(response)) {
        const payload = data ? JSON.parse(data) : null;
        if (event === "delta") {
          streamed += payload.text || "";
          turn.body.textContent = streamed;
          reveal(turn.article);
        } else if (event === "reset") {
          streamed = ""; // the finished answer replaces what the model streamed
          turn.body.textContent = "";
        } else if (event === "sources") {
          const sources = renderSources(payload);
          if (sources) turn.extras.replaceChildren(sources);
        } else if (event === "decided_action") {
          settleDecided(payload);
        } else if (event === "secret") {
          showSecret(payload);
        } else if (event === "done") {
          answer = payload;
        } else if (event === "error") {
          const err = payload && payload.error ? payload.error : { message: "The answer failed." };
          throw Object.assign(new Error(err.message), { code: err.code });
        }
      }
    }
    if (!answer) throw new Error("The answer stream ended early.");
    if (answer.conversation_id) conversation.id = answer.conversation_id;
    if (answer.conversation_token) conversation.token = answer.conversation_token;
    finish(turn, answer, { live: true });
    reveal(turn.article);
    showSecret(answer.secret);
    return true;
  } catch (error) {
    turn.article.remove();
    if (error.status === 401) {
      signedOut();
      errorBanner.textContent = "Your API key is no longer valid. Sign in again.";
    } else {
      errorBanner.textContent = error.message || "Something went wrong.";
    }
    return false;
  } finally {
    busy = false;
    send.disabled = false;
  }
}

async function ask(question) {
  const text = question.trim();
  if (!text || busy) return;
  if (text.length > maxChars) {
    errorBanner.textContent = `Questions are limited to ${maxChars} characters; this one has ${text.length}.`;
    return;
  }
  log.querySelector(".empty-state")?.remove();
  const asked = userTurn(text);
  const typed = input.value;
  input.value = "";
  count();
  const body = { message: text };
  if (conversation.id) body.conversation_id = conversation.id;
  if (conversation.token) body.conversation_token = conversation.token;
  const ok = await converse(body);
  if (!ok) {
    asked.remove(); // nothing was answered: the question goes back into the box
    if (!input.value) input.value = typed;
    count();
  }
  input.focus();
}

/** The characters left, shown under the box (the server's limit, also the box's maxlength). */
function count() {
  const used = input.value.length;
  counter.textContent = `${used} / ${maxChars}`;
  counter.classList.toggle("near", used > maxChars * 0.9);
}

function emptyState() {
  if (log.children.length) return;
  const chips = el("div", { className: "suggestions" });
  for (const question of SUGGESTIONS) {
    chips.append(el("button", { type: "button", className: "chip", text: question, onclick: () => ask(question) }));
  }
  log.append(el("div", { className: "empty-state" }, el("p", { text: "Ask anything about the docs. Answers cite the sections they come from." }), chips));
}

async function restore() {
  // Turns already on the page are this conversation as it goes on (a question asked while
  // the page was still starting up): restoring it on top would show every turn twice.
  if (!conversation.id || log.querySelector(".turn")) return;
  try {
    const token = conversation.token;
    const history = await api(`/v1/conversations/${encodeURIComponent(conversation.id)}`, {
      headers: token ? { "X-Conversation-Token": token } : {},
    });
    let answers = 0;
    for (const item of history.turns || []) {
      if (item.role === "user") {
        userTurn(item.content);
        continue;
      }
      const turn = assistantTurn();
      turn.article.dataset.turn = String(answers);
      answers += 1;
      finish(turn, { ...item, mode: item.mode || "local" }, { live: false });
    }
  } catch (error) {
    if (error.status === 404 || error.status === 403 || error.status === 401) conversation.id = "";
    else errorBanner.textContent = `Could not load the conversation: ${error.message}`;
  }
}

function renderNotice(me) {
  notice.textContent = me
    ? ""
    : "You are not signed in: the assistant answers questions about the docs only. Sign in with an API key to manage your keys from the chat.";
}

/** After signing in: the conversation this tab started signed out becomes the user's. */
async function keepConversation() {
  if (!conversation.id) return;
  try {
    const token = conversation.token; // what opens an anonymous conversation: its id alone does not
    await api(`/v1/conversations/${encodeURIComponent(conversation.id)}/claim`, {
      method: "POST",
      headers: token ? { "X-Conversation-Token": token } : {},
    });
    sessionStorage.removeItem(CONVERSATION_TOKEN); // now the user's: the token opens it no more
  } catch (error) {
    conversation.id = "";
    log.replaceChildren();
    emptyState();
  }
}

// A link that needs the user signed in first: an approval link from MCP or /v1/tools
// (?conversation=…&approve=…) or a new key's one-time link (#secret=…). Nothing is
// approved until the signed-in user clicks Approve; a secret opens once, for its owner.
const params = new URLSearchParams(location.search);
const linked = {
  conversation: params.get("conversation"),
  pending: params.get("approve"),
  secret: new URLSearchParams(location.hash.slice(1)).get("secret"),
};
if (linked.conversation || linked.secret || params.get("q")) history.replaceState(null, "", location.pathname);

async function openSecret() {
  const ticket = linked.secret;
  if (!ticket || !auth.key()) return;
  linked.secret = null;
  try {
    const secret = await api("/v1/secrets/claim", { method: "POST", body: { ticket } });
    showSecret(secret);
  } catch (error) {
    errorBanner.textContent = `This key link cannot be opened: ${error.message}`;
  }
}

function focusPending() {
  if (!linked.pending) return false;
  const box = [...document.querySelectorAll('[data-testid="pending-action"]')].find(
    (card) => card.dataset.pendingId === linked.pending && card.dataset.status === "pending",
  );
  if (!box) {
    errorBanner.textContent = "That approval link is not pending in this conversation (used, expired, or not yours).";
    return false;
  }
  box.scrollIntoView({ block: "center" });
  box.querySelector("button")?.focus();
  return true;
}

function askToSignIn(what) {
  const button = el("button", { type: "button", className: "button small primary", text: "Sign in" });
  button.addEventListener("click", () => openSignIn());
  notice.replaceChildren(el("span", { text: `Sign in with your API key to ${what}. ` }), button);
}

async function openLinked(me) {
  if (linked.conversation) {
    if (!me) {
      askToSignIn("see the action waiting for your approval");
      return;
    }
    conversation.id = linked.conversation;
    linked.conversation = null;
    log.replaceChildren();
    await restore();
    emptyState();
    if (focusPending()) return;
  }
  if (linked.secret) {
    if (!me) {
      askToSignIn("see your new API key (the link works once)");
      return;
    }
    await openSecret();
  }
}

form.addEventListener("submit", (event) => {
  event.preventDefault();
  ask(input.value);
});
input.addEventListener("keydown", (event) => {
  if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
    event.preventDefault();
    ask(input.value);
  }
});
input.addEventListener("input", count);
document.getElementById("new-chat").addEventListener("click", () => {
  conversation.id = "";
  log.replaceChildren();
  emptyState();
  input.focus();
});

const me = await initHeader(async (who) => {
  renderNotice(who);
  if (!who) {
    conversation.id = "";
    log.replaceChildren();
    emptyState();
    return;
  }
  await keepConversation();
  await openLinked(who);
});
renderNotice(me);
try {
  const config = await api("/ui/config.json");
  maxChars = Number(config.max_question_chars) || maxChars;
} catch (_) {
  /* keep the page's own limit */
}
input.setAttribute("maxlength", String(maxChars));
await restore();
emptyState();
const prefill = params.get("q");
if (prefill) input.value = prefill.slice(0, maxChars);
count();
await openLinked(me);
if (!document.activeElement || document.activeElement === document.body) input.focus();

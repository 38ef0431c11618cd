// A small, safe markdown renderer for answers. It never parses HTML: the text is split
// into blocks and inline spans and written as DOM nodes with textContent, so every
// character of the input is escaped. Only a whitelist becomes markup: paragraphs,
// headings (as bold lines), bullet and numbered lists, fenced and inline code, bold,
// italics, and links whose href is http(s) or relative.

const SCHEME = /^[a-z][a-z0-9+.-]*:/i;

/** The href if it is safe to link (http, https or relative), else null. */
export function safeHref(raw) {
  if (typeof raw !== "string") return null;
  const href = raw.trim();
  if (!href || /[\s\\\u0000-\u001f\u007f]/.test(href)) return null;
  if (SCHEME.test(href) && !/^https?:/i.test(href)) return null;
  try {
    const url = new URL(href, window.location.origin);
    if (url.protocol !== "http:" && url.protocol !== "https:") return null;
  } catch (_) {
    return null;
  }
  return href;
}

/** A link element for a safe href (external links open in a new tab), or null. */
export function linkTo(rawHref, label) {
  const href = safeHref(rawHref);
  if (!href) return null;
  const a = document.createElement("a");
  a.setAttribute("href", href);
  a.textContent = label;
  const url = new URL(href, window.location.origin);
  if (url.origin !== window.location.origin) {
    a.setAttribute("target", "_blank");
    a.setAttribute("rel", "noopener noreferrer");
  }
  return a;
}

const LINK = /^\[([^\]\n]{1,500})\]\(\s*<?([^()<>\s]{1,2000})>?(?:\s+"[^"\n]*")?\s*\)/;
const AUTOLINK = /^<(https?:\/\/[^<>\s]{1,2000})>/i;
const BARE_URL = /^https?:\/\/[^\s<>()[\]]{1,2000}[^\s<>()[\].,;:!?'"]/i;

function closing(text, marker, from) {
  const at = text.indexOf(marker, from);
  return at > from ? at : -1;
}

/** Append the inline spans of `text` to `parent`. */
export function renderInline(text, parent, depth = 0) {
  let buffer = "";
  const flush = () => {
    if (buffer) parent.append(document.createTextNode(buffer));
    buffer = "";
  };
  let i = 0;
  while (i < text.length) {
    const rest = text.slice(i);
    const ch = text[i];
    if (ch === "\\" && i + 1 < text.length && /[\\`*_[\]()#>!-]/.test(text[i + 1])) {
      buffer += text[i + 1];
      i += 2;
      continue;
    }
    if (ch === "`") {
      const end = text.indexOf("`", i + 1);
      if (end > i + 1) {
        flush();
        const code = document.createElement("code");
        code.textContent = text.slice(i + 1, end);
        parent.append(code);
        i = end + 1;
        continue;
      }
    }
    if (depth < 4 && (rest.startsWith("**") || rest.startsWith("__"))) {
      const marker = rest.slice(0, 2);
      const end = closing(text, marker, i + 2);
      if (end > i + 2 && !/\s/.test(text[i + 2])) {
        flush();
        const strong = document.createElement("strong");
        renderInline(text.slice(i + 2, end), strong, depth + 1);
        parent.append(strong);
        i = end + 2;
        continue;
      }
    }
    if (depth < 4 && (ch === "*" || ch === "_") && text[i + 1] && !/\s/.test(text[i + 1])) {
      const end = closing(text, ch, i + 1);
      const wordInside = ch === "_" && i > 0 && /\w/.test(text[i - 1]);
      if (end > i + 1 && !wordInside && !/\s/.test(text[end - 1])) {
        flush();
        const em = document.createElement("em");
        renderInline(text.slice(i + 1, end), em, depth + 1);
        parent.append(em);
        i = end + 1;
        continue;
      }
    }
    if (ch === "[") {
      const match = LINK.exec(rest);
      if (match) {
        const a = linkTo(match[2], "");
        flush();
        if (a) {
          renderInline(match[1], a, depth + 1);
          parent.append(a);
        } else {
          renderInline(match[1], parent, depth + 1);
        }
        i += match[0].length;
        continue;
      }
    }
    if (ch === "<") {
      const match = AUTOLINK.exec(rest);
      const a = match && linkTo(match[1], match[1]);
      if (a) {
        flush();
        parent.append(a);
        i += match[0].length;
        continue;
      }
    }
    if ((ch === "h" || ch === "H") && (i === 0 || /[\s(]/.test(text[i - 1]))) {
      const match = BARE_URL.exec(rest);
      const a = match && linkTo(match[0], match[0]);
      if (a) {
        flush();
        parent.append(a);
        i += match[0].length;
        continue;
      }
    }
    buffer += ch;
    i += 1;
  }
  flush();
}

const FENCE = /^\s{0,3}(```|~~~)/;
const HEADING = /^\s{0,3}(#{1,6})\s+(.*?)\s*#*\s*$/;
const BULLET = /^\s{0,3}[-*+]\s+(.*)$/;
const NUMBERED = /^\s{0,3}(\d{1,9})[.)]\s+(.*)$/;
const QUOTE = /^\s{0,3}>\s?(.*)$/;
const RULE = /^\s{0,3}([-*_])(\s*\1){2,}\s*$/;

/** Render markdown to a DocumentFragment of whitelisted elements only. */
export function renderMarkdown(source) {
  const fragment = document.createDocumentFragment();
  const lines = String(source ?? "").replace(/\r\n?/g, "\n").split("\n");
  let paragraph = [];
  let list = null; // { node, ordered }
  const endParagraph = () => {
    if (!paragraph.length) return;
    const p = document.createElement("p");
    renderInline(paragraph.join("\n"), p);
    fragment.append(p);
    paragraph = [];
  };
  const endList = () => {
    list = null;
  };
  for (let i = 0; i < lines.length; i += 1) {
    const line = lines[i];
    const fence = FENCE.exec(line);
    if (fence) {
      endParagraph();
      endList();
      const body = [];
      i += 1;
      while (i < lines.length && !lines[i].trimStart().startsWith(fence[1])) {
        body.push(lines[i]);
        i += 1;
      }
      const pre = document.createElement("pre");
      const code = document.createElement("code");
      code.textContent = body.join("\n");
      pre.append(code);
      fragment.append(pre);
      continue;
    }
    if (!line.trim()) {
      endParagraph();
      if (list && !(BULLET.test(lines[i + 1] || "") || NUMBERED.test(lines[i + 1] || ""))) endList();
      continue;
    }
    if (RULE.test(line) && !paragraph.length) {
      endList();
      fragment.append(document.createElement("hr"));
      continue;
    }
    const heading = HEADING.exec(line);
    if (heading) {
      endParagraph();
      endList();
      const p = document.createElement("p");
      p.className = "md-heading";
      const strong = document.createElement("strong");
      renderInline(heading[2], strong);
      p.append(strong);
      fragment.append(p);
      continue;
    }
    const bullet = BULLET.exec(line);
    const numbered = bullet ? null : NUMBERED.exec(line);
    if (bullet || numbered) {
      endParagraph();
      const ordered = Boolean(numbered);
      if (!list || list.ordered !== ordered) {
        const node = document.createElement(ordered ? "ol" : "ul");
        if (ordered && numbered[1] !== "1") node.setAttribute("start", String(Number(numbered[1])));
        fragment.append(node);
        list = { node, ordered };
      }
      const li = document.createElement("li");
      renderInline(bullet ? bullet[1] : numbered[2], li);
      list.node.append(li);
      continue;
    }
    if (list && /^\s{2,}\S/.test(line)) {
      const li = list.node.lastElementChild;
      li.append(document.createTextNode(" "));
      renderInline(line.trim(), li);
      continue;
    }
    const quote = QUOTE.exec(line);
    if (quote) {
      endParagraph();
      endList();
      const block = document.createElement("blockquote");
      const p = document.createElement("p");
      renderInline(quote[1], p);
      block.append(p);
      fragment.append(block);
      continue;
    }
    endList();
    paragraph.push(line.trim());
  }
  endParagraph();
  return fragment;
}

// Tiny DOM helpers: h() builds elements, so no page ever assigns innerHTML from data.

export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (key.startsWith("on")) el.addEventListener(key.slice(2), value);
    else if (key === "class") el.className = value;
    else if (key === "style") el.style.cssText = value; // CSSOM: allowed by the CSP, unlike a style attribute
    else if (key === "dataset") Object.assign(el.dataset, value);
    else if (key in el && typeof value !== "string") el[key] = value;
    else el.setAttribute(key, value === true ? "" : value);
  }
  for (const child of children.flat(Infinity)) {
    if (child === undefined || child === null || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return el;
}

export function mount(...children) {
  const main = document.getElementById("main");
  return fill(main, children);
}

export function badge(text) {
  return h("span", { class: `badge ${text}`, dataset: { status: text } }, String(text).replace(/_/g, " "));
}

export function when(value) {
  if (!value) return "—";
  const d = new Date(value);
  const pad = (n) => String(n).padStart(2, "0");
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${pad(d.getHours())}:${pad(d.getMinutes())}`;
}

/** A moment to the second, for what is minutes away (a cool-down's end). */
export function whenExact(value) {
  if (!value) return "—";
  const d = new Date(value);
  return `${when(value)}:${String(d.getSeconds()).padStart(2, "0")}`;
}

/** "3 min ago" / "in 40 s" for a timestamp, from now. */
export function relative(value) {
  if (!value) return "";
  const seconds = (new Date(value).getTime() - Date.now()) / 1000;
  return seconds >= 0 ? `in ${ago(seconds)}` : `${ago(-seconds)} ago`;
}

export function ago(seconds) {
  if (seconds === null || seconds === undefined) return "—";
  if (seconds < 90) return `${Math.round(seconds)} s`;
  if (seconds < 5400) return `${Math.round(seconds / 60)} min`;
  if (seconds < 172800) return `${Math.round(seconds / 3600)} h`;
  return `${Math.round(seconds / 86400)} days`;
}

export function num(value) {
  return value === undefined || value === null ? "—" : Number(value).toLocaleString();
}

let toastTimer;
export function toast(message, bad = false) {
  const el = document.getElementById("toast");
  el.textContent = message;
  el.className = bad ? "toast bad" : "toast";
  el.hidden = false;
  clearTimeout(toastTimer);
  toastTimer = setTimeout(() => { el.hidden = true; }, bad ? 8000 : 3500);
}

export function errorText(err) {
  return err && err.code ? `${err.message} (${err.code})` : String(err && err.message ? err.message : err);
}

/** A button that shows it is busy while its action runs, and reports a failure. */
export function action(label, run, attrs = {}) {
  const button = h("button", attrs, label);
  button.addEventListener("click", async () => {
    button.disabled = true;
    try { await run(); } catch (err) { toast(errorText(err), true); } finally { button.disabled = false; }
  });
  return button;
}

/** Replace an element's children (arrays flattened, empty values skipped, like h()). */
export function fill(el, ...children) {
  el.replaceChildren(...children.flat(Infinity).filter((c) => c !== undefined && c !== null && c !== false)
    .map((c) => (c instanceof Node ? c : document.createTextNode(String(c)))));
  return el;
}

/** Keyset pages (a cursor per page, kept so Previous goes back): `fetchPage(cursor)` answers
 * { content, next } (next: the cursor of the following page, or null at the end). Buttons are
 * `${prefix}-prev`, `${prefix}-next`, and the label `${prefix}-page`. */
export function keysetPager(prefix, fetchPage, { prev = "Previous", next = "Next" } = {}) {
  const cursors = [null];
  let page = 0;
  const el = h("div", { id: prefix });
  async function show() {
    let answer;
    try { answer = await fetchPage(cursors[page]); } catch (err) {
      fill(el, h("p", { class: "error", id: `${prefix}-error` }, errorText(err)));
      return;
    }
    cursors[page + 1] = answer.next;
    const go = (step) => () => { page += step; show(); };
    fill(el, answer.content, h("div", { class: "row pager" },
      h("button", { id: `${prefix}-prev`, disabled: page === 0, onclick: go(-1) }, prev),
      h("span", { class: "muted small", id: `${prefix}-page` }, `page ${page + 1}`),
      h("button", { id: `${prefix}-next`, disabled: !answer.next, onclick: go(1) }, next)));
  }
  return { el, reload: () => { cursors.length = 1; page = 0; return show(); } };
}

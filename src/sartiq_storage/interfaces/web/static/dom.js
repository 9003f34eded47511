// Small DOM helpers shared by every view: the h() builder, formatting, toasts, buttons.
// Every string from the API reaches the page as text (textContent), never as HTML.

export const $ = (selector, root = document) => root.querySelector(selector);

export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs ?? {})) {
    if (value === null || value === undefined || value === false) continue;
    if (name === "class") el.className = value;
    else if (name === "dataset") Object.assign(el.dataset, value);
    else if (name.startsWith("on")) el.addEventListener(name.slice(2), value);
    else if (value === true) el.setAttribute(name, "");
    else el.setAttribute(name, String(value));
  }
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    el.append(child instanceof Node ? child : String(child));
  }
  return el;
}

export function uuid4() {
  // crypto.randomUUID needs a secure context; getRandomValues does not.
  const b = crypto.getRandomValues(new Uint8Array(16));
  b[6] = (b[6] & 0x0f) | 0x40;
  b[8] = (b[8] & 0x3f) | 0x80;
  const hex = [...b].map((x) => x.toString(16).padStart(2, "0")).join("");
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

export function bytes(n) {
  if (n === null || n === undefined) return "—";
  const units = ["B", "KB", "MB", "GB", "TB"];
  let value = n;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit += 1;
  }
  if (unit === 0) return `${value} B`;
  return `${value < 10 && !Number.isInteger(value) ? value.toFixed(1) : Math.round(value)} ${units[unit]}`;
}

export function when(value) {
  if (value === null || value === undefined || value === "") return "—";
  const date = typeof value === "number" ? new Date(value * 1000) : new Date(value);
  if (Number.isNaN(date.getTime())) return String(value);
  return date.toLocaleString(undefined, { dateStyle: "medium", timeStyle: "short" });
}

// Text with `code` spans (the service's notes name commands that way), safely as DOM nodes.
export function richText(text) {
  return String(text ?? "").split("`").map((part, i) => (i % 2 ? h("code", {}, part) : part));
}

export function age(seconds) {
  if (seconds === null || seconds === undefined) return "—";
  if (seconds < 90) return `${Math.round(seconds)} s`;
  if (seconds < 5400) return `${Math.round(seconds / 60)} min`;
  if (seconds < 172800) return `${Math.round(seconds / 3600)} h`;
  return `${Math.round(seconds / 86400)} d`;
}

export function short(id, n = 8) {
  return String(id ?? "").slice(0, n);
}

// A new ask for what `element` shows (a list, a log, a listing): the check it returns says
// whether this ask is still the latest one for that element, so that an answer arriving
// after a later ask (another ref, folder, branch or page) is dropped instead of shown.
export function latest(element) {
  const asked = Symbol("asked");
  element.asked = asked;
  return () => element.asked === asked;
}

// The toast's two live regions are in the page from the start (index.html): a region that
// appears with its text is not announced by every screen reader. News is polite (role
// status), an error is assertive (role alert); the other region is emptied.
export function toast(message, isError = false) {
  const box = $("#toast");
  $("#toast-status").textContent = isError ? "" : message;
  $("#toast-alert").textContent = isError ? message : "";
  box.classList.toggle("err", isError);
  box.classList.add("shown");
  clearTimeout(toast.timer);
  toast.timer = setTimeout(() => {
    box.classList.remove("shown");
    $("#toast-status").textContent = "";
    $("#toast-alert").textContent = "";
  }, isError ? 6000 : 3500);
}

// Move the keyboard focus to an element that is not focusable itself (a heading, a region):
// it takes tabindex -1 and the browser scrolls it clear of the sticky top bar
// (scroll-padding-top in console.css).
export function focusOn(element) {
  if (!element || !element.isConnected) return;
  if (!element.matches("a[href], button, input, select, textarea, [tabindex]")) element.tabIndex = -1;
  element.focus();
}

export async function copyText(text) {
  try {
    if (navigator.clipboard && window.isSecureContext) {
      await navigator.clipboard.writeText(text);
      return true;
    }
  } catch {
    // no permission (or no focus): fall back to a selection
  }
  const area = h("textarea", { class: "offscreen", readonly: true, "aria-hidden": "true" });
  area.value = text;
  document.body.append(area);
  area.select();
  let copied = false;
  try {
    copied = document.execCommand("copy");
  } catch {
    copied = false;
  }
  area.remove();
  return copied;
}

// `of`: what the URL belongs to, so that each button on a page has its own name
// ("Copy URL of PNG 120 × 90 1a2b3c4d"), beginning with the words it shows.
export function copyButton(text, label = "Copy URL", of = null) {
  return h("button", {
    class: "button small",
    type: "button",
    title: text,
    "aria-label": of ? `${label} of ${of}` : null,
    onclick: async () => {
      const copied = await copyText(text);
      toast(copied ? "Public URL copied" : `Copy failed: ${text}`, !copied);
    },
  }, label);
}

// Two clicks to act: the first arms the button for a few seconds. `what` completes its name
// for assistive technology ("Detach from PRODUCT 1a2b3c4d gallery #0", then "Confirm: detach
// from …"), so that a row of such buttons is not a row of identical names.
export function confirmButton(label, armedLabel, action, what = null) {
  const button = h("button", { class: "button small danger", type: "button" }, label);
  const name = (shown) => {
    if (what) button.setAttribute("aria-label", shown === label ? `${label} ${what}` : `${shown}: ${label.toLowerCase()} ${what}`);
  };
  name(label);
  let timer = null;
  const disarm = () => {
    button.classList.remove("armed");
    button.textContent = label;
    name(label);
  };
  // Busy: aria-disabled, not disabled, which would drop the keyboard focus to the page and
  // leave it there when the action fails and the button stays.
  button.addEventListener("click", async () => {
    if (button.getAttribute("aria-disabled") === "true") return;
    if (!button.classList.contains("armed")) {
      button.classList.add("armed");
      button.textContent = armedLabel;
      name(armedLabel);
      timer = setTimeout(disarm, 4000);
      return;
    }
    clearTimeout(timer);
    button.setAttribute("aria-disabled", "true");
    try {
      await action();
    } catch (error) {
      toast(error.message, true);
      button.removeAttribute("aria-disabled");
      disarm();
    }
  });
  return button;
}

export function emptyNote(text) {
  return h("p", { class: "empty" }, richText(text));
}

export function errorNote(error) {
  return h("p", { class: "form-error" }, error.message ?? String(error));
}

// A table wider than its card scrolls sideways inside its wrap (tables are two-dimensional:
// reflow does not apply). While it does, the wrap is a named region the keyboard can focus and
// scroll with the arrow keys; a table that fits adds no tab stop.
const sideways = new ResizeObserver((entries) => {
  for (const entry of entries) {
    const wrap = entry.target.closest(".table-wrap");
    if (!wrap) continue;
    if (wrap.scrollWidth > wrap.clientWidth + 1) {
      wrap.tabIndex = 0;
      wrap.setAttribute("role", "region");
      wrap.setAttribute("aria-label", wrap.dataset.name);
    } else {
      wrap.removeAttribute("tabindex");
      wrap.removeAttribute("role");
      wrap.removeAttribute("aria-label");
    }
  }
});

export function table(headers, rows) {
  const inner = h("table", {},
    h("thead", {}, h("tr", {}, headers.map((name) => h("th", {}, name)))),
    h("tbody", {}, rows));
  const wrap = h("div", { class: "table-wrap", dataset: { name: `Table of ${headers.join(", ")}` } }, inner);
  sideways.observe(wrap);
  sideways.observe(inner);
  return wrap;
}

export function stat(label, value, alert = false) {
  return h("div", { class: alert ? "stat alert" : "stat" },
    h("div", { class: "value" }, value ?? "—"),
    h("div", { class: "label" }, label));
}

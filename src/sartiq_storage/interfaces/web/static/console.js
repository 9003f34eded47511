// The storage console: plain modern JavaScript, no build step, no dependencies.
// It calls the service's own JSON API with the bearer token the operator signs in with
// (docs/console.md). Every string from the API reaches the page as text, never as HTML.

const TOKEN_KEY = "sartiq-storage.console.token";
const PAGE_SIZE = 24;
const UPLOAD_CONCURRENCY = 3;
const ENRICH_CONCURRENCY = 6;
// Headers a page may not set itself: the browser derives them (Content-Length from the body).
const FORBIDDEN_HEADERS = new Set(["content-length", "host", "connection", "expect", "origin", "referer"]);
const EXTENSION_ALIASES = { jpeg: "jpg", jpe: "jpg", tif: "tiff", qt: "mov" };

const BASE = new URL("..", document.baseURI); // the service root, whatever prefix serves it
const $ = (selector, root = document) => root.querySelector(selector);

const state = {
  token: null,
  scopes: [],
  config: null,
  view: null,
  uploadQueue: [],
  activeUploads: 0,
  media: { offset: 0, total: 0, type: "", id: "", generation: 0 },
  datasets: { repo: null, refs: null, mode: "log", prefix: "", ref: "" },
};

// --- small helpers ----------------------------------------------------------------------

function h(tag, attrs = {}, ...children) {
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

function url(path, query) {
  const target = new URL(path.replace(/^\//, ""), BASE);
  for (const [name, value] of Object.entries(query ?? {})) {
    if (value !== undefined && value !== null && value !== "") target.searchParams.set(name, value);
  }
  return target;
}

function uuid4() {
  // crypto.randomUUID needs a secure context; getRandomValues does not.
  const b = crypto.getRandomValues(new Uint8Array(16));
  b[6] = (b[6] & 0x0f) | 0x40;
  b[8] = (b[8] & 0x3f) | 0x80;
  const hex = [...b].map((x) => x.toString(16).padStart(2, "0")).join("");
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

function bytes(n) {
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

function when(value) {
  if (value === null || value === undefined || value === "") return "—";
  const date = typeof value === "number" ? new Date(value * 1000) : new Date(value);
  if (Number.isNaN(date.getTime())) return String(value);
  return date.toLocaleString(undefined, { dateStyle: "medium", timeStyle: "short" });
}

// Text with `code` spans (the service's notes name commands that way), safely as DOM nodes.
function richText(text) {
  return String(text ?? "").split("`").map((part, i) => (i % 2 ? h("code", {}, part) : part));
}

function age(seconds) {
  if (seconds === null || seconds === undefined) return "—";
  if (seconds < 90) return `${Math.round(seconds)} s`;
  if (seconds < 5400) return `${Math.round(seconds / 60)} min`;
  if (seconds < 172800) return `${Math.round(seconds / 3600)} h`;
  return `${Math.round(seconds / 86400)} d`;
}

function short(id, n = 8) {
  return String(id ?? "").slice(0, n);
}

function toast(message, isError = false) {
  const el = $("#toast");
  el.textContent = message;
  el.classList.toggle("err", isError);
  el.hidden = false;
  clearTimeout(toast.timer);
  toast.timer = setTimeout(() => {
    el.hidden = true;
  }, isError ? 6000 : 3500);
}

async function copyText(text) {
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

function copyButton(text, label = "Copy URL") {
  return h("button", {
    class: "button small",
    type: "button",
    title: text,
    onclick: async () => {
      const copied = await copyText(text);
      toast(copied ? "Public URL copied" : `Copy failed: ${text}`, !copied);
    },
  }, label);
}

// Two clicks to act: the first arms the button for a few seconds.
function confirmButton(label, armedLabel, action) {
  const button = h("button", { class: "button small danger", type: "button" }, label);
  let timer = null;
  const disarm = () => {
    button.classList.remove("armed");
    button.textContent = label;
  };
  button.addEventListener("click", async () => {
    if (!button.classList.contains("armed")) {
      button.classList.add("armed");
      button.textContent = armedLabel;
      timer = setTimeout(disarm, 4000);
      return;
    }
    clearTimeout(timer);
    button.disabled = true;
    try {
      await action();
    } catch (error) {
      toast(error.message, true);
      button.disabled = false;
      disarm();
    }
  });
  return button;
}

function emptyNote(text) {
  return h("p", { class: "empty" }, richText(text));
}

function errorNote(error) {
  return h("p", { class: "form-error" }, error.message ?? String(error));
}

function table(headers, rows) {
  return h("div", { class: "table-wrap" },
    h("table", {},
      h("thead", {}, h("tr", {}, headers.map((name) => h("th", {}, name)))),
      h("tbody", {}, rows)));
}

function stat(label, value, alert = false) {
  return h("div", { class: alert ? "stat alert" : "stat" },
    h("div", { class: "value" }, value ?? "—"),
    h("div", { class: "label" }, label));
}

// --- the API ------------------------------------------------------------------------------

class ApiError extends Error {
  constructor(status, detail) {
    super(detail);
    this.status = status;
  }
}

function formatDetail(detail) {
  if (typeof detail === "string") return detail;
  if (Array.isArray(detail)) {
    return detail
      .map((d) => `${(d.loc ?? []).filter((p) => p !== "body").join(".")}: ${d.msg}`)
      .join("; ");
  }
  return JSON.stringify(detail);
}

async function api(path, { method = "GET", body, query } = {}) {
  const headers = { Accept: "application/json", Authorization: `Bearer ${state.token}` };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  const response = await fetch(url(path, query), {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
    cache: "no-store",
  });
  if (response.status === 204) return null;
  const text = await response.text();
  let data = text;
  try {
    data = text ? JSON.parse(text) : null;
  } catch {
    // not JSON: keep the text
  }
  if (!response.ok) {
    const detail = formatDetail(data?.detail ?? data ?? response.statusText);
    if (response.status === 401) signOut(`Signed out: the token was refused (${detail}).`);
    throw new ApiError(response.status, detail);
  }
  return data;
}

function describeError(error) {
  if (!(error instanceof ApiError)) return error.message ?? String(error);
  const prefix = {
    400: "Invalid",
    403: "Refused by the store",
    404: "Not found",
    409: "Conflict",
    410: "The upload is gone",
    412: "Already uploaded",
    413: "Too large",
    415: "Not an accepted image or video",
    422: "Refused",
    503: "The store is unavailable",
  }[error.status] ?? `Error ${error.status}`;
  return `${prefix}: ${error.message}`;
}

// --- sign in ------------------------------------------------------------------------------

function claims(token) {
  try {
    const part = token.split(".")[1].replace(/-/g, "+").replace(/_/g, "/");
    return JSON.parse(atob(part.padEnd(Math.ceil(part.length / 4) * 4, "=")));
  } catch {
    return {};
  }
}

function showSignIn(message) {
  $("#app").hidden = true;
  $("#signin").hidden = false;
  const error = $("#signin-error");
  error.textContent = message ?? "";
  error.hidden = !message;
  $("#token-input").focus();
}

function signOut(message) {
  state.token = null;
  sessionStorage.removeItem(TOKEN_KEY);
  showSignIn(message);
}

async function signIn(token) {
  state.token = token.trim().replace(/^Bearer\s+/i, "");
  let info;
  try {
    info = await api("api/v1/token"); // 401 unless the token is good; what it may do
  } catch (error) {
    if (!(error instanceof ApiError && error.status === 401)) {
      state.token = null;
      showSignIn(describeError(error));
    }
    return false;
  }
  state.scopes = info.scopes;
  if (!Object.keys(VIEWS).some(allowed)) {
    state.token = null;
    const scopes = info.scopes.length ? info.scopes.join(", ") : "none";
    showSignIn(`This token allows none of the console's sections (its scopes: ${scopes}).`);
    return false;
  }
  sessionStorage.setItem(TOKEN_KEY, state.token);
  for (const tab of document.querySelectorAll(".tabs a")) tab.hidden = !allowed(tab.dataset.tab);
  $("#view-uploaded").hidden = !allowed("media");
  const who = claims(state.token);
  $("#who").textContent = `signed in as ${info.subject}`;
  $("#who").title = who.exp ? `token valid until ${when(who.exp)}` : "";
  $("#signin").hidden = true;
  $("#app").hidden = false;
  route();
  return true;
}

// --- views and routing ------------------------------------------------------------------

// Each view shows only to a token with the scopes its calls need (a token without a scope
// claim has them all: GET /api/v1/token says).
const VIEWS = {
  upload: { title: "Upload", needs: ["uploads", "media:write"], load: () => {} },
  media: { title: "Media", needs: ["media:read"], load: (params) => openMedia(params) },
  operations: { title: "Operations", needs: ["ops"], load: () => loadOperations() },
  datasets: { title: "Datasets", needs: ["datasets:read"], load: () => loadDatasets() },
};

function may(scope) {
  return state.scopes.includes(scope);
}

function allowed(view) {
  return VIEWS[view].needs.every(may);
}

function route() {
  if (!state.token) return;
  const [, name = "upload", query = ""] = location.hash.match(/^#\/(\w+)\??(.*)$/) ?? [];
  const view = VIEWS[name] && allowed(name) ? name : Object.keys(VIEWS).find(allowed);
  state.view = view;
  for (const key of Object.keys(VIEWS)) $(`#view-${key}`).hidden = key !== view;
  for (const tab of document.querySelectorAll(".tabs a")) {
    if (tab.dataset.tab === view) tab.setAttribute("aria-current", "page");
    else tab.removeAttribute("aria-current");
  }
  document.title = `${VIEWS[view].title} · Sartiq Storage`;
  VIEWS[view].load(new URLSearchParams(query));
}

// --- upload ------------------------------------------------------------------------------

function acceptedType(file) {
  const types = state.config.accepted_types;
  let type = (file.type || "").toLowerCase();
  if (type === "image/jpg" || type === "image/pjpeg") type = "image/jpeg";
  if (types[type]) return type;
  if (!file.type) {
    // The browser did not recognise it: the extension may still name an accepted type.
    const extension = file.name.includes(".") ? file.name.split(".").pop().toLowerCase() : "";
    const wanted = EXTENSION_ALIASES[extension] ?? extension;
    for (const [contentType, info] of Object.entries(types)) {
      if (info.extension === wanted) return contentType;
    }
  }
  return null;
}

function acceptedList() {
  return [...new Set(Object.values(state.config.accepted_types).map((t) => t.extension.toUpperCase()))].join(", ");
}

function readTarget() {
  const form = $("#target-form");
  if (!form.reportValidity()) return null;
  const position = $("#position").value;
  return {
    entity_type: $("#entity-type").value.trim(),
    entity_id: $("#entity-id").value.trim().toLowerCase(),
    slot: $("#slot").value.trim(),
    first: position === "" ? null : Number(position),
  };
}

function uploadRow(file, contentType) {
  let thumb;
  if (contentType?.startsWith("image/")) {
    thumb = h("img", { class: "thumb", alt: "", src: URL.createObjectURL(file) });
    thumb.addEventListener("load", () => URL.revokeObjectURL(thumb.src), { once: true });
    thumb.addEventListener("error", () => {
      URL.revokeObjectURL(thumb.src);
      thumb.replaceWith(h("div", { class: "thumb other" }, "IMG"));
    }, { once: true });
  } else {
    thumb = h("div", { class: contentType ? "thumb video" : "thumb other" }, contentType ? "VIDEO" : "FILE");
  }
  const status = h("div", { class: "status" }, "Waiting…");
  const progress = h("progress", { max: "1", value: "0" });
  const row = h("li", { class: "upload", dataset: { state: "queued", name: file.name } },
    thumb,
    h("div", { class: "main" },
      h("div", { class: "name", title: file.name }, file.name),
      h("div", { class: "meta" }, `${bytes(file.size)} · ${contentType ?? (file.type || "unknown type")}`),
      progress,
      status));
  $("#uploads").prepend(row);
  $("#uploads-head").hidden = false;
  return {
    element: row,
    set(stateName, text) {
      row.dataset.state = stateName;
      status.textContent = text;
    },
    progress(fraction) {
      progress.value = String(fraction);
    },
  };
}

function enqueueFiles(fileList) {
  const files = [...fileList];
  if (!files.length) return;
  const target = readTarget();
  if (!target) return;
  const accepted = [];
  for (const file of files) {
    const contentType = acceptedType(file);
    const row = uploadRow(file, contentType);
    if (contentType === null) {
      row.progress(1);
      row.set("error", `Refused file type: ${file.type || "unknown"} is not an accepted image or video (accepted: ${acceptedList()}).`);
    } else if (file.size > state.config.max_file_size) {
      row.progress(1);
      row.set("error", `Too large: ${bytes(file.size)} is over the ${bytes(state.config.max_file_size)} upload limit.`);
    } else if (file.size === 0) {
      row.progress(1);
      row.set("error", "Refused: the file is empty.");
    } else {
      accepted.push({ file, contentType, row });
    }
  }
  accepted.forEach((item, index) => {
    item.target = {
      entity_type: target.entity_type,
      entity_id: target.entity_id,
      slot: target.slot,
      position: target.first === null ? null : target.first + index,
    };
    state.uploadQueue.push(item);
  });
  if (target.first !== null) $("#position").value = String(target.first + accepted.length);
  $("#view-uploaded").href = `#/media?entity_type=${encodeURIComponent(target.entity_type)}&entity_id=${encodeURIComponent(target.entity_id)}`;
  pumpUploads();
}

function pumpUploads() {
  while (state.activeUploads < UPLOAD_CONCURRENCY && state.uploadQueue.length) {
    const item = state.uploadQueue.shift();
    state.activeUploads += 1;
    uploadOne(item).finally(() => {
      state.activeUploads -= 1;
      pumpUploads();
    });
  }
}

function storeError(xhr) {
  const text = xhr.responseText ?? "";
  try {
    const detail = JSON.parse(text).detail;
    if (detail) return formatDetail(detail);
  } catch {
    // S3 answers XML
  }
  const code = text.match(/<Code>([^<]*)<\/Code>/)?.[1];
  const message = text.match(/<Message>([^<]*)<\/Message>/)?.[1];
  return [code, message].filter(Boolean).join(": ") || xhr.statusText || "no detail";
}

function putFile(presigned, file, onProgress) {
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open(presigned.upload_method || "PUT", presigned.upload_url);
    for (const [name, value] of Object.entries(presigned.upload_headers ?? {})) {
      if (!FORBIDDEN_HEADERS.has(name.toLowerCase())) xhr.setRequestHeader(name, value);
    }
    xhr.upload.addEventListener("progress", (event) => {
      if (event.lengthComputable) onProgress(event.loaded / event.total);
    });
    xhr.addEventListener("load", () => {
      if (xhr.status >= 200 && xhr.status < 300) resolve();
      else reject(new ApiError(xhr.status, storeError(xhr)));
    });
    xhr.addEventListener("error", () => {
      const target = new URL(presigned.upload_url).origin;
      const hint = target === location.origin
        ? "the service did not answer"
        : `the store at ${target} refused this page's origin (CORS): add ${location.origin} to WEB_APP_ORIGINS and run \`sartiq-storage lifecycle apply\``;
      reject(new Error(`Upload failed: ${hint}.`));
    });
    xhr.addEventListener("timeout", () => reject(new Error("Upload timed out.")));
    xhr.send(file);
  });
}

async function uploadOne({ file, contentType, target, row }) {
  try {
    row.set("working", "Requesting an upload URL…");
    const presigned = await api("api/v1/uploads/presigned-url", {
      method: "POST",
      body: { filename: file.name, content_type: contentType, size: file.size },
    });
    const host = new URL(presigned.upload_url).host;
    row.set("uploading", `Uploading to ${host}…`);
    await putFile(presigned, file, (fraction) => {
      row.progress(fraction);
      row.set("uploading", `Uploading to ${host}… ${Math.round(fraction * 100)}%`);
    });
    row.progress(1);
    row.set("working", "Ingesting…");
    const result = await api("api/v1/media-resources/ingest", {
      method: "POST",
      body: { media: { url: presigned.file_url }, ...target },
    });
    const resource = result.media_resource;
    const size = resource.width && resource.height ? ` · ${resource.width} × ${resource.height}` : "";
    const where = `${target.slot}${target.position === null ? "" : ` #${target.position}`}`;
    Object.assign(row.element.dataset, {
      resourceId: resource.id,
      created: String(result.created),
      width: String(resource.width ?? ""),
      height: String(resource.height ?? ""),
    });
    row.set("done", result.created
      ? `Done: new resource ${short(resource.id)}${size} in ${where}`
      : `Done: duplicate, reused resource ${short(resource.id)}${size} in ${where}`);
  } catch (error) {
    row.progress(1);
    row.set("error", describeError(error));
  }
}

function setUpUpload() {
  $("#entity-id").value = uuid4();
  $("#new-entity").addEventListener("click", () => {
    $("#entity-id").value = uuid4();
    $("#position").value = "0";
  });
  $("#target-form").addEventListener("submit", (event) => event.preventDefault());
  const input = $("#file-input");
  input.addEventListener("change", () => {
    enqueueFiles(input.files);
    input.value = "";
  });
  const zone = $("#dropzone");
  zone.addEventListener("click", (event) => {
    if (event.target.closest("label")) return; // the label opens the picker itself
    input.click();
  });
  zone.addEventListener("keydown", (event) => {
    if (event.key === "Enter" || event.key === " ") {
      event.preventDefault();
      input.click();
    }
  });
  zone.addEventListener("dragover", (event) => {
    event.preventDefault();
    zone.classList.add("over");
  });
  zone.addEventListener("dragleave", () => zone.classList.remove("over"));
  zone.addEventListener("drop", (event) => {
    event.preventDefault();
    zone.classList.remove("over");
    enqueueFiles(event.dataTransfer.files);
  });
  $("#clear-uploads").addEventListener("click", () => {
    for (const row of [...$("#uploads").children]) {
      if (row.dataset.state === "done" || row.dataset.state === "error") row.remove();
    }
    $("#uploads-head").hidden = $("#uploads").children.length === 0;
  });
}

// --- media -------------------------------------------------------------------------------

function fileKey(resource) {
  // The public URL ends with the key; /files/{key} is the platform's stable URL for it.
  const path = new URL(resource.url).pathname;
  const match = path.match(/\/(media\/[0-9a-f-]{36}\/file\.[A-Za-z0-9]+)$/i)
    ?? path.match(/\/((?:images|shooting_looks)\/.+)$/);
  return match ? decodeURIComponent(match[1]) : null;
}

function previewOf(resource) {
  if (resource.resource_type === "VIDEO") {
    return h("video", { src: resource.url, muted: true, preload: "metadata", playsinline: true });
  }
  const key = fileKey(resource);
  const src = key ? url(`files/${key}`, { type: "webp" }) : resource.url;
  return h("img", {
    src: String(src),
    alt: resource.alt_text ?? "",
    loading: "lazy",
    decoding: "async",
    width: resource.width ?? undefined,
    height: resource.height ?? undefined,
  });
}

function dims(resource) {
  return resource.width && resource.height ? `${resource.width} × ${resource.height}` : "size unknown";
}

function swatch(color) {
  const el = h("span", { class: "swatch", title: color ?? "no dominant colour" });
  if (color) el.style.backgroundColor = color; // CSSOM: allowed by the CSP, unlike style=""
  return el;
}

function kindBadge(resource) {
  if (resource.resource_type === "VIDEO") {
    return `VIDEO${resource.duration ? ` · ${resource.duration.toFixed(1)} s` : ""}`;
  }
  return resource.extension.toUpperCase();
}

function attachmentItems(resource, attachments, onChange) {
  if (!attachments.length) {
    return [h("li", { class: "muted" }, "Not attached: the orphan scan removes it after the grace period.")];
  }
  return attachments.map((a) => h("li", { class: "attachment", dataset: { attachmentId: a.id } },
    h("span", { class: "where", title: `${a.entity_type} ${a.entity_id} · ${a.slot}${a.position === null ? "" : ` #${a.position}`}` },
      h("b", {}, a.entity_type), ` · ${short(a.entity_id)} · ${a.slot}${a.position === null ? "" : ` #${a.position}`}`),
    may("media:write") ? confirmButton("Detach", "Confirm", async () => {
      await api(`api/v1/media-resources/attachments/${a.id}`, { method: "DELETE" });
      toast(`Detached from ${a.entity_type} ${short(a.entity_id)} (${a.slot})`);
      await onChange();
    }) : null));
}

function tagChips(tags) {
  if (!tags.length) return [h("span", { class: "muted small" }, "No tags")];
  return tags.map((t) => h("span", { class: "tag", title: t.description ?? "" }, t.name));
}

function tile(resource) {
  const attachments = h("ul", { class: "attachments" }, h("li", { class: "muted" }, "Loading attachments…"));
  const tags = h("div", { class: "tags" });
  const element = h("article", { class: "tile", dataset: { resourceId: resource.id } },
    h("button", { class: "preview", type: "button", title: "Details", onclick: () => openDetail(resource.id) },
      previewOf(resource),
      h("span", { class: "badge kind" }, kindBadge(resource))),
    h("div", { class: "body" },
      h("div", { class: "line" },
        h("span", { class: "dims" }, dims(resource)),
        resource.orientation && h("span", { class: "badge" }, resource.orientation),
        h("span", { class: "spacer" }),
        h("span", { class: "muted small" }, bytes(resource.file_size))),
      h("div", { class: "line" },
        swatch(resource.dominant_color),
        h("span", { class: "mono small" }, resource.dominant_color ?? "no colour"),
        h("span", { class: "spacer" }),
        h("span", { class: "hash", title: `content hash (MD5) ${resource.content_hash}` }, `md5 ${short(resource.content_hash, 10)}`)),
      attachments,
      tags,
      h("div", { class: "actions" },
        copyButton(resource.url),
        h("button", { class: "button small ghost", type: "button", onclick: () => openDetail(resource.id) }, "Details"))));
  return { element, attachments, tags };
}

async function fillTile(entry, resource) {
  try {
    const [detail, tags] = await Promise.all([
      api(`api/v1/media-resources/${resource.id}`),
      api(`api/v1/media-resources/${resource.id}/tags/`),
    ]);
    entry.attachments.replaceChildren(...attachmentItems(resource, detail.attachments, () => loadMedia()));
    entry.tags.replaceChildren(...tagChips(tags.tags));
  } catch (error) {
    entry.attachments.replaceChildren(h("li", { class: "form-error" }, describeError(error)));
  }
}

async function inBatches(items, size, work) {
  const queue = [...items];
  const workers = Array.from({ length: Math.min(size, queue.length) }, async () => {
    while (queue.length) await work(queue.shift());
  });
  await Promise.all(workers);
}

function openMedia(params) {
  if (params.has("entity_type") || params.has("entity_id")) {
    state.media.type = params.get("entity_type") ?? "";
    state.media.id = params.get("entity_id") ?? "";
    state.media.offset = 0;
  }
  $("#filter-type").value = state.media.type;
  $("#filter-id").value = state.media.id;
  loadMedia();
}

async function loadMedia() {
  const generation = ++state.media.generation;
  const grid = $("#media-grid");
  grid.setAttribute("aria-busy", "true");
  let page;
  try {
    page = await api("api/v1/media-resources", {
      query: {
        limit: PAGE_SIZE,
        offset: state.media.offset,
        entity_type: state.media.type,
        entity_id: state.media.id,
      },
    });
  } catch (error) {
    if (generation === state.media.generation) grid.replaceChildren(errorNote({ message: describeError(error) }));
    return;
  } finally {
    grid.removeAttribute("aria-busy");
  }
  if (generation !== state.media.generation) return;
  if (page.total > 0 && page.offset >= page.total) {
    state.media.offset = Math.max(0, Math.floor((page.total - 1) / PAGE_SIZE) * PAGE_SIZE);
    loadMedia();
    return;
  }
  state.media.total = page.total;
  const filtered = state.media.type || state.media.id;
  $("#media-count").textContent = `${page.total} resource${page.total === 1 ? "" : "s"}${filtered ? " attached to the filtered entity" : ""}`;
  const first = page.total ? page.offset + 1 : 0;
  $("#page-info").textContent = `${first}–${page.offset + page.items.length} of ${page.total}`;
  $("#page-prev").disabled = page.offset === 0;
  $("#page-next").disabled = page.offset + page.items.length >= page.total;
  if (!page.items.length) {
    grid.replaceChildren(emptyNote(filtered ? "Nothing is attached to this entity." : "No media yet: upload some."));
    return;
  }
  const entries = page.items.map((resource) => ({ resource, ...tile(resource) }));
  grid.replaceChildren(...entries.map((e) => e.element));
  await inBatches(entries, ENRICH_CONCURRENCY, (entry) => fillTile(entry, entry.resource));
}

function setUpMedia() {
  $("#media-filter").addEventListener("submit", (event) => {
    event.preventDefault();
    if (!event.target.reportValidity()) return;
    state.media.type = $("#filter-type").value.trim();
    state.media.id = $("#filter-id").value.trim().toLowerCase();
    state.media.offset = 0;
    loadMedia();
  });
  $("#filter-clear").addEventListener("click", () => {
    state.media.type = "";
    state.media.id = "";
    state.media.offset = 0;
    $("#filter-type").value = "";
    $("#filter-id").value = "";
    if (location.hash !== "#/media") history.replaceState(null, "", "#/media");
    loadMedia();
  });
  $("#media-refresh").addEventListener("click", () => loadMedia());
  $("#page-prev").addEventListener("click", () => {
    state.media.offset = Math.max(0, state.media.offset - PAGE_SIZE);
    loadMedia();
  });
  $("#page-next").addEventListener("click", () => {
    state.media.offset += PAGE_SIZE;
    loadMedia();
  });
}

// --- the detail dialog -------------------------------------------------------------------

async function openDetail(id) {
  const dialog = $("#detail");
  const body = $("#detail-body");
  body.replaceChildren(h("p", { class: "muted" }, "Loading…"));
  if (!dialog.open) dialog.showModal();
  try {
    const [resource, tags] = await Promise.all([
      api(`api/v1/media-resources/${id}`),
      api(`api/v1/media-resources/${id}/tags/`),
    ]);
    renderDetail(resource, tags.tags);
  } catch (error) {
    body.replaceChildren(errorNote({ message: describeError(error) }));
  }
}

function renderDetail(resource, tags) {
  $("#detail-title").textContent = `${resource.resource_type === "VIDEO" ? "Video" : "Image"} ${short(resource.id)}`;
  const props = [
    ["Id", h("span", { class: "mono" }, resource.id)],
    ["Public URL", h("a", { href: resource.url, target: "_blank", rel: "noopener noreferrer" }, resource.url)],
    ["Dimensions", dims(resource)],
    ["Aspect ratio", resource.aspect_ratio ?? "—"],
    ["Orientation", resource.orientation ?? "—"],
    ["Dominant colour", h("span", { class: "line" }, swatch(resource.dominant_color), ` ${resource.dominant_color ?? "—"}`)],
    ["Content hash", h("span", { class: "mono" }, resource.content_hash)],
    ["Type", `${resource.resource_type} · .${resource.extension}`],
    ["File size", `${bytes(resource.file_size)} (${resource.file_size.toLocaleString()} bytes)`],
    ["Colour profile", resource.color_profile ?? "—"],
    ["Duration", resource.duration === null ? "—" : `${resource.duration} s`],
    ["Protected", resource.protected ? "yes" : "no"],
    ["Alt text", resource.alt_text ?? "—"],
    ["Caption", resource.caption ?? "—"],
    ["Created", when(resource.created_at)],
  ];
  const refresh = async () => {
    await openDetail(resource.id);
    await loadMedia();
  };
  $("#detail-body").replaceChildren(
    h("div", { class: "section" },
      h("div", { class: "detail-preview" }, previewOf(resource)),
      h("div", { class: "line" }, copyButton(resource.url))),
    h("div", { class: "section" },
      h("dl", { class: "props" }, props.map(([name, value]) => [h("dt", {}, name), h("dd", {}, value)])),
      h("h3", {}, "Attachments"),
      h("ul", { class: "attachments" }, attachmentItems(resource, resource.attachments, refresh)),
      h("h3", {}, "Tags"),
      h("div", { class: "tags" }, tagChips(tags))));
}

function setUpDetail() {
  const dialog = $("#detail");
  dialog.addEventListener("click", (event) => {
    if (event.target === dialog || event.target.closest("[data-close]")) dialog.close();
  });
}

// --- operations --------------------------------------------------------------------------

function cardBody(id) {
  return $(`#${id} .body`);
}

function renderHealth(health) {
  const letters = health.dead_letters;
  const sweep = health.last_sweep;
  const badge = { ok: "badge ok", degraded: "badge warn" }[health.status] ?? "badge err";
  cardBody("health-card").replaceChildren(
    h("div", { class: "line" },
      h("span", { class: badge, id: "health-status" }, health.status),
      h("span", { class: "muted small" }, `store: ${health.backend}`)),
    (health.reasons ?? []).length
      ? h("p", { class: "small", id: "health-reasons" }, health.reasons.join("; "))
      : null,
    h("div", { class: "stats" },
      stat("dead letters", letters.count, letters.count > 0),
      stat("past automatic retries", letters.exhausted, letters.exhausted > 0),
      stat("oldest dead letter", age(letters.oldest_age_seconds)),
      stat("deletions pending", health.outbox_pending),
      stat("uploads awaiting ingest", health.unclaimed_uploads.url_valid),
      stat("uploads never ingested", health.unclaimed_uploads.url_expired),
      stat("temp/ past retention", health.temp_past_retention),
      stat("deleted by this process", health.deletions.done),
      stat("failed in this process", health.deletions.failed, health.deletions.failed > 0)),
    h("p", { class: "muted small" }, sweep ? `Last sweep: ${when(sweep._finished_at)}${sweep._applied ? "" : " (dry run)"}` : "No sweep recorded yet."));
}

function renderDeadLetters(data) {
  $("#retry-all").disabled = data.total === 0;
  if (!data.items.length) {
    cardBody("deadletters-card").replaceChildren(h("p", { class: "line" }, h("span", { class: "badge ok" }, "none"), " No failed deletions waiting."));
    return;
  }
  const items = data.items.map((letter) => h("li", { class: "letter", dataset: { key: letter.storage_key } },
    h("div", { class: "letter-head" },
      h("span", { class: "key" }, letter.storage_key),
      h("button", { class: "button small", type: "button", onclick: () => retry([letter.storage_key]) }, "Retry")),
    h("div", { class: "line muted small" },
      `${letter.attempts} attempt${letter.attempts === 1 ? "" : "s"}`,
      letter.exhausted ? h("span", { class: "badge err" }, "exhausted") : null,
      h("span", {}, `next attempt ${when(letter.next_attempt_at)}`),
      h("span", {}, `first failed ${when(letter.created_at)}`)),
    h("div", { class: "error small" }, letter.error_message)));
  cardBody("deadletters-card").replaceChildren(
    h("p", { class: "muted small" }, `${data.total} failed deletion${data.total === 1 ? "" : "s"}, oldest first.`),
    h("ul", { class: "letters" }, items));
}

async function retry(keys) {
  try {
    const report = await api("api/v1/operations/dead-letters/retry", {
      method: "POST",
      body: { storage_keys: keys },
    });
    const failed = Object.keys(report.failed).length;
    toast(`Retried: ${report.deleted.length} deleted, ${report.kept_referenced.length} kept (in use), ${failed} still failing`, failed > 0);
  } catch (error) {
    toast(describeError(error), true);
  }
  await loadOperations();
}

function renderOrphans(data) {
  const report = data.report;
  if (!report) {
    cardBody("orphans-card").replaceChildren(emptyNote("No orphan scan recorded yet. Run `sartiq-storage orphans scan` (or let the worker run it)."));
    return;
  }
  const samples = [];
  if (report.orphan_object_sample?.length) {
    samples.push(h("details", {}, h("summary", {}, `Orphan objects (${report.orphan_object_sample.length} shown)`),
      h("ul", {}, report.orphan_object_sample.map((key) => h("li", {}, key)))));
  }
  if (report.missing_object_sample?.length) {
    samples.push(h("details", {}, h("summary", {}, `Rows whose object is missing (${report.missing_object_sample.length} shown)`),
      h("ul", {}, report.missing_object_sample.map((m) => h("li", {}, `${m.key} (${m.id})`)))));
  }
  cardBody("orphans-card").replaceChildren(
    h("div", { class: "line" },
      h("span", { class: report._applied ? "badge accent" : "badge" }, report._applied ? "applied" : "dry run"),
      h("span", { class: "muted small" }, `${when(report._finished_at)} · grace ${report.grace_hours} h`)),
    h("div", { class: "stats" },
      stat("objects scanned", report.objects_scanned),
      stat("rows scanned", report.rows_scanned),
      stat("orphan objects", `${report.orphan_objects} · ${bytes(report.orphan_bytes)}`, report.orphan_objects > 0),
      stat("too young to judge", report.orphan_objects_too_young),
      stat("missing objects", report.missing_objects, report.missing_objects > 0),
      stat("unattached resources", `${report.unattached_resources} (${report.unattached_deleted} deleted)`)),
    ...samples);
}

function renderLifecycle(plan) {
  const policyRows = plan.policy.rules.map((rule) => h("tr", {},
    h("td", { class: "prefix" }, rule.prefix),
    h("td", {}, rule.expire_days === null ? "permanent" : `${rule.expire_days} d`),
    h("td", {}, rule.description)));
  const parts = [
    h("div", { class: "line" },
      h("span", { class: plan.in_sync ? "badge ok" : "badge warn", id: "lifecycle-status" }, plan.in_sync ? "in sync" : "drift"),
      h("span", { class: "muted small" }, `${plan.store} · ${plan.environment} policy (${plan.policy_source})`)),
  ];
  if (!plan.lifecycle_engine) parts.push(h("p", { class: "muted small" }, richText(plan.note)));
  if (plan.drift.length) {
    parts.push(h("ul", { class: "drift" }, plan.drift.map((line) => h("li", {}, richText(line)))),
      h("p", { class: "muted small" }, richText("`sartiq-storage lifecycle apply` writes the policy and the CORS rule to the bucket.")));
  }
  const cors = plan.cors?.desired;
  if (cors) parts.push(h("p", { class: "muted small" }, `CORS for the web app: ${cors.origins.join(", ")} · ${cors.methods.join(", ")}`));
  parts.push(table(["prefix", "retention", "what"], policyRows));
  cardBody("lifecycle-card").replaceChildren(...parts);
}

async function loadOperations() {
  const loads = [
    ["health-card", fetch(url("api/v1/storage/health"), { cache: "no-store" }).then((r) => r.json()), renderHealth],
    ["deadletters-card", api("api/v1/operations/dead-letters"), renderDeadLetters],
    ["orphans-card", api("api/v1/operations/orphans"), renderOrphans],
    ["lifecycle-card", api("api/v1/operations/lifecycle"), renderLifecycle],
  ];
  await Promise.all(loads.map(async ([id, promise, render]) => {
    try {
      render(await promise);
    } catch (error) {
      cardBody(id).replaceChildren(errorNote({ message: describeError(error) }));
    }
  }));
}

function setUpOperations() {
  $("#ops-refresh").addEventListener("click", () => loadOperations());
  $("#retry-all").addEventListener("click", () => retry(null));
}

// --- datasets ----------------------------------------------------------------------------

async function loadDatasets() {
  const list = $("#repo-list");
  let repos;
  try {
    repos = await api("api/v1/datasets/repositories");
  } catch (error) {
    list.replaceChildren(h("li", {}, errorNote({ message: describeError(error) })));
    return;
  }
  if (!repos.length) {
    list.replaceChildren(h("li", { class: "muted small" }, richText("No repositories yet: `sartiq-storage datasets repo create`.")));
    return;
  }
  list.replaceChildren(...repos.map((repo) => h("li", {},
    h("button", {
      type: "button",
      dataset: { repo: repo.name },
      "aria-current": state.datasets.repo?.name === repo.name ? "true" : "false",
      onclick: () => selectRepo(repo),
    },
    h("span", { class: "name" }, repo.name),
    h("span", { class: "ns", title: repo.storage_namespace }, `${repo.default_branch} · ${repo.storage_namespace}`)))));
  const current = repos.find((r) => r.name === state.datasets.repo?.name) ?? repos[0];
  await selectRepo(current);
}

function refOptions() {
  const { refs } = state.datasets;
  return h("datalist", { id: "ref-options" },
    refs.branches.map((b) => h("option", { value: b.name }, "branch")),
    refs.tags.map((t) => h("option", { value: t.name }, "tag")));
}

async function selectRepo(repo) {
  const panel = $("#repo-panel");
  for (const button of document.querySelectorAll("#repo-list button")) {
    button.setAttribute("aria-current", button.dataset.repo === repo.name ? "true" : "false");
  }
  if (state.datasets.repo?.name !== repo.name) {
    state.datasets.prefix = "";
    state.datasets.ref = repo.default_branch;
  }
  state.datasets.repo = repo;
  try {
    state.datasets.refs = await api(`api/v1/datasets/repositories/${encodeURIComponent(repo.name)}/refs`);
  } catch (error) {
    panel.replaceChildren(errorNote({ message: describeError(error) }));
    return;
  }
  const modes = [["log", "Log"], ["diff", "Diff"], ["browse", "Browse"], ["refs", "Branches"]];
  const content = h("div", { class: "repo-content" });
  const segmented = h("div", { class: "segmented", role: "group", "aria-label": "View" },
    modes.map(([mode, label]) => h("button", {
      type: "button",
      dataset: { mode },
      "aria-pressed": String(state.datasets.mode === mode),
      onclick: () => {
        state.datasets.mode = mode;
        for (const b of segmented.children) b.setAttribute("aria-pressed", String(b.dataset.mode === mode));
        renderRepoMode(content);
      },
    }, label)));
  panel.replaceChildren(
    h("div", { class: "repo-head" },
      h("h2", {}, repo.name),
      h("span", { class: "badge accent" }, `default ${repo.default_branch}`),
      repo.read_only && h("span", { class: "badge warn" }, "read-only"),
      h("span", { class: "spacer" }),
      segmented),
    refOptions(),
    content);
  await renderRepoMode(content);
}

function refInput(id, value, label) {
  return h("label", {}, label, h("input", { id, value, list: "ref-options", spellcheck: "false", required: true }));
}

async function renderRepoMode(content) {
  const mode = state.datasets.mode;
  if (mode === "refs") return renderRefs(content);
  if (mode === "diff") return renderDiffForm(content);
  const form = h("form", { class: "toolbar" },
    refInput("ds-ref", state.datasets.ref, "Ref (branch, tag or commit)"),
    h("button", { class: "button", type: "submit" }, mode === "log" ? "Show log" : "Browse"));
  const results = h("div", { class: "results" });
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    state.datasets.ref = $("#ds-ref").value.trim();
    state.datasets.prefix = "";
    (mode === "log" ? showLog : showObjects)(results);
  });
  content.replaceChildren(form, results);
  await (mode === "log" ? showLog : showObjects)(results);
}

function renderRefs(content) {
  const { refs, repo } = state.datasets;
  const branchRows = refs.branches.map((b) => h("tr", {},
    h("td", {}, b.name, b.name === repo.default_branch ? h("span", { class: "badge accent" }, " default") : null),
    h("td", { class: "commit-id" }, short(b.commit_id, 16))));
  const tagRows = refs.tags.map((t) => h("tr", {}, h("td", {}, t.name), h("td", { class: "commit-id" }, short(t.commit_id, 16))));
  content.replaceChildren(
    h("h3", {}, "Branches"),
    table(["branch", "commit"], branchRows),
    h("h3", {}, "Tags"),
    tagRows.length ? table(["tag", "commit"], tagRows) : h("p", { class: "muted small" }, "No tags."));
}

async function showLog(results) {
  const { repo, ref } = state.datasets;
  results.replaceChildren(h("p", { class: "muted" }, "Loading…"));
  try {
    const commits = await api(`api/v1/datasets/repositories/${encodeURIComponent(repo.name)}/log`, { query: { ref, amount: 100 } });
    const rows = commits.map((c) => h("tr", {},
      h("td", { class: "commit-id", title: c.id }, short(c.id, 12)),
      h("td", {}, c.message || h("span", { class: "muted" }, "(no message)")),
      h("td", {}, c.committer),
      h("td", {}, when(c.creation_date))));
    results.replaceChildren(
      h("p", { class: "muted small" }, `${commits.length} commit${commits.length === 1 ? "" : "s"} reachable from ${ref}${commits.length === 100 ? " (newest 100)" : ""}.`),
      table(["commit", "message", "committer", "date"], rows));
  } catch (error) {
    results.replaceChildren(errorNote({ message: describeError(error) }));
  }
}

function renderDiffForm(content) {
  const { refs, repo } = state.datasets;
  const other = refs.branches.find((b) => b.name !== repo.default_branch)?.name ?? repo.default_branch;
  const mode = h("select", { id: "ds-diff-mode", title: "three-dot: what To changed since the merge base; two-dot: From against To directly" },
    h("option", { value: "three_dot" }, "Since merge base"),
    h("option", { value: "two_dot" }, "Direct"));
  const form = h("form", { class: "toolbar" },
    refInput("ds-left", repo.default_branch, "From"),
    refInput("ds-right", other, "To"),
    h("label", {}, "Mode", mode),
    h("button", { class: "button primary", type: "submit" }, "Compare"));
  const results = h("div", { class: "results" });
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const left = $("#ds-left").value.trim();
    const right = $("#ds-right").value.trim();
    results.replaceChildren(h("p", { class: "muted" }, "Comparing…"));
    try {
      const entries = await api(`api/v1/datasets/repositories/${encodeURIComponent(repo.name)}/diff`, {
        query: { left, right, mode: mode.value, amount: 1000 },
      });
      if (!entries.length) {
        results.replaceChildren(emptyNote(`No differences between ${left} and ${right}.`));
        return;
      }
      const rows = entries.map((e) => h("tr", { dataset: { type: e.type } },
        h("td", { class: `type-${e.type}` }, e.type),
        h("td", { class: "path" }, e.path),
        h("td", { class: "num" }, e.size_bytes === null ? "" : bytes(e.size_bytes))));
      results.replaceChildren(
        h("p", { class: "muted small" }, `${entries.length} change${entries.length === 1 ? "" : "s"} from ${left} to ${right}.`),
        table(["change", "path", "size"], rows));
    } catch (error) {
      results.replaceChildren(errorNote({ message: describeError(error) }));
    }
  });
  content.replaceChildren(form, results);
}

async function showObjects(results, after = "", append = false) {
  const { repo, ref, prefix } = state.datasets;
  if (!append) results.replaceChildren(h("p", { class: "muted" }, "Loading…"));
  let listing;
  try {
    listing = await api(`api/v1/datasets/repositories/${encodeURIComponent(repo.name)}/objects`, {
      query: { ref, prefix, after, amount: 200 },
    });
  } catch (error) {
    results.replaceChildren(errorNote({ message: describeError(error) }));
    return;
  }
  const enter = (path) => {
    state.datasets.prefix = path;
    showObjects(results);
  };
  const rows = listing.items.map((item) => (item.path_type === "common_prefix"
    ? h("tr", { class: "clickable", onclick: () => enter(item.path) },
      h("td", { class: "path" }, `${item.path.slice(prefix.length)}`), h("td", {}, "folder"), h("td", {}), h("td", {}), h("td", {}))
    : h("tr", {},
      h("td", { class: "path", title: item.path }, item.path.slice(prefix.length)),
      h("td", {}, item.content_type),
      h("td", { class: "num" }, bytes(item.size)),
      h("td", { class: "commit-id", title: `MD5 ${item.checksum}` }, short(item.checksum, 10)),
      h("td", {}, when(item.mtime)))));
  if (append) {
    results.querySelector("tbody").append(...rows);
    results.querySelector(".more")?.remove();
  } else {
    const crumbs = [h("button", { type: "button", onclick: () => enter("") }, `${repo.name}@${ref}`)];
    let walked = "";
    for (const part of prefix.split("/").filter(Boolean)) {
      walked += `${part}/`;
      const target = walked;
      crumbs.push(" / ", h("button", { type: "button", onclick: () => enter(target) }, part));
    }
    results.replaceChildren(
      h("div", { class: "crumbs" }, crumbs),
      rows.length ? table(["name", "type", "size", "checksum", "modified"], rows) : emptyNote("Nothing here."));
  }
  if (listing.has_more) {
    results.append(h("button", {
      class: "button small more",
      type: "button",
      onclick: () => showObjects(results, listing.next_offset, true),
    }, "Load more"));
  }
}

// --- start -------------------------------------------------------------------------------

async function loadEnvironment() {
  try {
    const health = await (await fetch(url("healthz"), { cache: "no-store" })).json();
    const badge = $("#env-badge");
    badge.replaceChildren(health.environment, h("span", { class: "backend" }, ` · ${health.backend}`));
    badge.classList.add(health.environment === "production" ? "warn" : "accent");
  } catch {
    // the badge stays empty
  }
}

async function start() {
  state.config = await (await fetch(new URL("config.json", document.baseURI), { cache: "no-store" })).json();
  $("#file-input").accept = Object.keys(state.config.accepted_types).join(",");
  $("#accept-hint").textContent = `${acceptedList()} · up to ${bytes(state.config.max_file_size)} each`;
  setUpUpload();
  setUpMedia();
  setUpDetail();
  setUpOperations();
  $("#signout").addEventListener("click", () => signOut());
  $("#signin-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    const button = $("#signin-button");
    button.disabled = true;
    await signIn($("#token-input").value);
    button.disabled = false;
  });
  window.addEventListener("hashchange", route);
  loadEnvironment();

  // `serve` prints a link with the development token in the fragment (never sent to a server).
  const fragment = location.hash.match(/^#token=([^&]+)/);
  if (fragment) history.replaceState(null, "", `${location.pathname}#/upload`);
  const token = fragment ? decodeURIComponent(fragment[1]) : sessionStorage.getItem(TOKEN_KEY);
  if (!token || !(await signIn(token))) {
    if (!state.token && $("#signin").hidden) showSignIn();
  }
}

start();

// The Upload view: each file gets a presigned URL, goes straight to the store, then is
// ingested into the chosen entity, slot and position, as the web app does it. Big videos go
// in parts (PartUpload below): paused, resumed, and continued after a drop or a reload.

import { api, ApiError, describeError, formatDetail, session } from "./api.js";
import { $, bytes, focusOn, h, short, uuid4 } from "./dom.js";

const UPLOAD_CONCURRENCY = 3;
// Headers a page may not set itself: the browser derives them (Content-Length from the body).
const FORBIDDEN_HEADERS = new Set(["content-length", "host", "connection", "expect", "origin", "referer"]);
const EXTENSION_ALIASES = { jpeg: "jpg", jpe: "jpg", tif: "tiff", qt: "mov" };

const uploads = { queue: [], active: 0, done: 0, failed: 0, resuming: new Set() };
// Videos over the single upload's limit (or the multipart threshold) go in parts.
const MULTIPART_ROOT = "api/v1/uploads/s3/multipart";
const PART_CONCURRENCY = 3;
// Failures in a row of one part before the upload pauses itself (the operator resumes).
const PART_RETRY_LIMIT = 8;
const RETRY_MAX_DELAY_MS = 8000;
const RESUME_PREFIX = "sartiq-multipart:";
const RESUME_LIFETIME_MS = 24 * 3600 * 1000; // the service keeps an unfinished upload a day

// Screen readers hear each batch start and finish (a polite live region rendered from the
// start), not every percent of every file: the rows themselves are not a live region.
function announce(text) {
  $("#upload-announcer").textContent = text;
}

function plural(n, word) {
  return `${n} ${word}${n === 1 ? "" : "s"}`;
}

function acceptedType(file) {
  const types = session.config.accepted_types;
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

export function acceptedList() {
  return [...new Set(Object.values(session.config.accepted_types).map((t) => t.extension.toUpperCase()))].join(", ");
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
  const aside = h("div", { class: "aside" });
  const progress = h("progress", { max: "1", value: "0", "aria-label": `Upload of ${file.name}` });
  const row = h("li", { class: "upload", dataset: { state: "queued", name: file.name } },
    thumb,
    h("div", { class: "main" },
      h("div", { class: "name", title: file.name }, file.name),
      h("div", { class: "meta" }, `${bytes(file.size)} · ${contentType ?? (file.type || "unknown type")}`),
      progress,
      status),
    aside);
  $("#uploads").prepend(row);
  $("#uploads-head").hidden = false;
  return {
    element: row,
    statusElement: status,
    set(stateName, text) {
      row.dataset.state = stateName;
      status.textContent = text;
    },
    progress(fraction) {
      progress.value = String(fraction);
    },
    // A button on the row (Pause/Resume), named after its file.
    control(text, label, onclick) {
      const button = h("button", { class: "button small ghost", type: "button", "aria-label": label, onclick }, text);
      aside.append(button);
      return button;
    },
    // Once ingested, a video's row shows its poster frame instead of the word VIDEO.
    poster(src) {
      const img = h("img", { class: "thumb", alt: "", src });
      img.addEventListener("error", () => img.replaceWith(thumb), { once: true });
      thumb.replaceWith(img);
    },
  };
}

function enqueueFiles(fileList) {
  const files = [...fileList];
  if (!files.length) return;
  const target = readTarget();
  if (!target) return;
  const accepted = [];
  const refused = [];
  for (const file of files) {
    const contentType = acceptedType(file);
    const row = uploadRow(file, contentType);
    const limit = contentType?.startsWith("video/") ? session.config.max_video_size ?? session.config.max_file_size : session.config.max_file_size;
    if (contentType === null || file.size > limit || file.size === 0) refused.push(file.name);
    if (contentType === null) {
      row.progress(1);
      row.set("error", `Refused file type: ${file.type || "unknown"} is not an accepted image or video (accepted: ${acceptedList()}).`);
    } else if (file.size > limit) {
      row.progress(1);
      row.set("error", `Too large: ${bytes(file.size)} is over the ${bytes(limit)} upload limit.`);
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
    uploads.queue.push(item);
  });
  if (target.first !== null) $("#position").value = String(target.first + accepted.length);
  const where = `${target.entity_type} ${short(target.entity_id)} ${target.slot}`;
  announce([
    accepted.length ? `Uploading ${plural(accepted.length, "file")} to ${where}.` : "",
    refused.length ? `Refused: ${refused.join(", ")} (see the list).` : "",
  ].join(" ").trim());
  $("#view-uploaded").href = `#/media?entity_type=${encodeURIComponent(target.entity_type)}&entity_id=${encodeURIComponent(target.entity_id)}`;
  pumpUploads();
}

function pumpUploads() {
  while (uploads.active < UPLOAD_CONCURRENCY && uploads.queue.length) {
    const item = uploads.queue.shift();
    uploads.active += 1;
    uploadOne(item).then((ok) => {
      if (ok) uploads.done += 1;
      else uploads.failed += 1;
    }).finally(() => {
      uploads.active -= 1;
      pumpUploads();
      if (uploads.active === 0 && uploads.queue.length === 0) {
        const failed = uploads.failed ? `, ${uploads.failed} failed (see the list)` : "";
        announce(`Uploads finished: ${uploads.done} done${failed}.`);
        uploads.done = 0;
        uploads.failed = 0;
      }
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

// Uploads that finish while an ingest call is in flight wait and go together in the next
// call to ingest-batch (one transaction for all of them); the first one goes at once.
const ingests = { pending: [], flushing: false };
const INGEST_BATCH_MAX = 100;

function ingestSoon(body) {
  return new Promise((resolve, reject) => {
    ingests.pending.push({ body, resolve, reject });
    flushIngests();
  });
}

async function flushIngests() {
  if (ingests.flushing || !ingests.pending.length) return;
  ingests.flushing = true;
  const batch = ingests.pending.splice(0, INGEST_BATCH_MAX);
  try {
    const answer = await api("api/v1/media-resources/ingest-batch", {
      method: "POST",
      body: { items: batch.map((entry) => entry.body) },
    });
    answer.results.forEach((result, index) => {
      if (result.status === 201) batch[index].resolve(result);
      else batch[index].reject(new ApiError(result.status, formatDetail(result.detail)));
    });
  } catch (error) {
    for (const entry of batch) entry.reject(error);
  } finally {
    ingests.flushing = false;
    flushIngests();
  }
}

// -- multipart: parts in parallel, paused and resumed, continued after a dropped network or a
// reload (docs/uploads.md). What a reload needs (the key and the upload id) is kept in
// localStorage under the file's name, size and date; the store's list of parts says the rest.

function resumeKey(file) {
  return `${RESUME_PREFIX}${file.name}|${file.size}|${file.lastModified}`;
}

function savedUploads() {
  const found = [];
  for (let i = 0; i < localStorage.length; i += 1) {
    const name = localStorage.key(i);
    if (!name?.startsWith(RESUME_PREFIX) || uploads.resuming.has(name)) continue;
    try {
      const saved = JSON.parse(localStorage.getItem(name));
      if (Date.now() - (saved.savedAt ?? 0) < RESUME_LIFETIME_MS) found.push({ name, saved });
      else localStorage.removeItem(name); // the service has dropped it by now
    } catch {
      localStorage.removeItem(name);
    }
  }
  return found;
}

// The unfinished uploads a reload left behind, named so that the operator drops them again.
function showResumable() {
  const note = $("#resumable");
  const names = savedUploads().map(({ saved }) => `${saved.filename} (${bytes(saved.size)})`);
  note.hidden = names.length === 0;
  note.textContent = names.length
    ? `Unfinished: ${names.join(", ")}. Drop the same file again to continue where it stopped.`
    : "";
}

function networkError(message) {
  return Object.assign(new Error(message), { network: true });
}

function putPart(url, blob, xhrs, onProgress) {
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhrs.add(xhr);
    const settle = (fn, value) => {
      xhrs.delete(xhr);
      fn(value);
    };
    xhr.open("PUT", url);
    xhr.upload.addEventListener("progress", (event) => onProgress(event.loaded));
    xhr.addEventListener("load", () => {
      const etag = xhr.getResponseHeader("ETag");
      if (xhr.status >= 200 && xhr.status < 300 && etag) settle(resolve, etag);
      else if (xhr.status >= 500) settle(reject, networkError(`the store answered ${xhr.status}`));
      else settle(reject, new ApiError(xhr.status, storeError(xhr)));
    });
    xhr.addEventListener("error", () => settle(reject, networkError("the network dropped")));
    xhr.addEventListener("timeout", () => settle(reject, networkError("timed out")));
    xhr.addEventListener("abort", () => settle(reject, Object.assign(new Error("paused"), { paused: true })));
    xhr.send(blob);
  });
}

// A call to the API that a dropped network fails with a TypeError, not an answer.
async function apiOrNetwork(path, options) {
  try {
    return await api(path, options);
  } catch (error) {
    if (error instanceof ApiError) {
      if (error.status >= 500) throw networkError(error.message);
      throw error;
    }
    throw networkError("the network dropped");
  }
}

function listParts(upload) {
  return apiOrNetwork(`${MULTIPART_ROOT}/${encodeURIComponent(upload.uploadId)}`, { query: { key: upload.key } });
}

async function startOrResume(file, contentType) {
  const saved = JSON.parse(localStorage.getItem(resumeKey(file)) ?? "null");
  if (saved) {
    try {
      const parts = await listParts(saved);
      return { ...saved, done: new Map(parts.map((p) => [p.PartNumber, { etag: p.ETag, size: p.Size }])) };
    } catch (error) {
      if (!(error instanceof ApiError)) throw error;
      localStorage.removeItem(resumeKey(file)); // gone (completed, aborted, expired): anew
    }
  }
  const created = await apiOrNetwork(MULTIPART_ROOT, {
    method: "POST",
    body: { filename: file.name, type: contentType, metadata: {}, size: file.size },
  });
  const upload = {
    key: created.key,
    uploadId: created.uploadId,
    partSize: created.partSize,
    fileUrl: created.fileUrl,
    filename: file.name,
    size: file.size,
    savedAt: Date.now(),
  };
  localStorage.setItem(resumeKey(file), JSON.stringify(upload));
  return { ...upload, done: new Map() };
}

// One file's parts: PART_CONCURRENCY at a time, each signed just before it goes. Pause aborts
// the parts in flight (the ones stored stay); a dropped network waits, then asks the store
// which parts it holds (an answer lost on the way back is not sent again) and goes on.
class PartUpload {
  constructor(file, contentType, row) {
    Object.assign(this, { file, contentType, row });
    this.xhrs = new Set();
    this.paused = false;
    this.offline = false;
    this.wakers = [];
    this.button = row.control("Pause", `Pause upload of ${file.name}`, () => this.toggle());
  }

  toggle() {
    if (this.paused) this.resume();
    else this.pause(`Paused ${this.file.name}`);
  }

  pause(reason) {
    if (this.paused) return;
    this.paused = true;
    for (const xhr of [...this.xhrs]) xhr.abort();
    this.button.textContent = "Resume";
    this.button.setAttribute("aria-label", `Resume upload of ${this.file.name}`);
    this.row.element.dataset.paused = "true";
    const stored = `${this.upload?.done.size ?? 0} of ${this.count ?? "?"} parts stored`;
    this.row.set("paused", `${reason}: ${stored}.`);
    announce(`${reason}: ${stored}.`);
  }

  // A part refused for good (not the network): stop every part, keep what is stored.
  halt() {
    this.halted = true;
    this.pending.length = 0;
    for (const xhr of [...this.xhrs]) xhr.abort();
  }

  resume() {
    if (!this.paused) return;
    this.paused = false;
    this.button.textContent = "Pause";
    this.button.setAttribute("aria-label", `Pause upload of ${this.file.name}`);
    delete this.row.element.dataset.paused;
    announce(`Resuming ${this.file.name}.`);
    this.show();
    for (const wake of this.wakers.splice(0)) wake();
  }

  untilResumed() {
    return this.paused ? new Promise((resolve) => this.wakers.push(resolve)) : Promise.resolve();
  }

  show() {
    if (this.paused || !this.upload) return;
    const total = [...this.sent.values()].reduce((a, b) => a + b, 0);
    this.row.progress(total / this.file.size);
    const note = this.resumed ? `, continued from ${this.resumed} stored` : "";
    const waiting = this.offline ? " Waiting for the network…" : "";
    this.row.element.dataset.partsDone = String(this.upload.done.size);
    this.row.set(this.offline ? "waiting" : "uploading",
      `Uploading in ${this.count} parts (${this.upload.done.size} stored${note})… ${Math.round((100 * total) / this.file.size)}%${waiting}`);
  }

  // After a network failure: wait (for the browser to be online again, or a growing delay),
  // then take the store's word for what it holds. One such wait at a time for all workers.
  recover(attempt) {
    if (!this.recovering) {
      this.offline = true;
      this.show();
      if (attempt === 1) announce(`${this.file.name}: the network dropped; the upload continues when it is back.`);
      this.recovering = (async () => {
        await networkBack(Math.min(RETRY_MAX_DELAY_MS, 250 * 2 ** attempt));
        const parts = await listParts(this.upload).catch(() => null);
        for (const p of parts ?? []) {
          if (!this.upload.done.has(p.PartNumber)) {
            this.upload.done.set(p.PartNumber, { etag: p.ETag, size: p.Size });
            this.sent.set(p.PartNumber, p.Size);
          }
        }
        if (parts) this.offline = false;
        this.show();
      })().finally(() => {
        this.recovering = null;
      });
    }
    return this.recovering;
  }

  async sendPart(n) {
    const { file, upload } = this;
    const blob = file.slice((n - 1) * upload.partSize, Math.min(n * upload.partSize, file.size));
    let failures = 0;
    for (;;) {
      await this.untilResumed();
      if (this.halted || upload.done.has(n)) return; // listed by the store after a drop
      try {
        const signed = await apiOrNetwork(`${MULTIPART_ROOT}/${encodeURIComponent(upload.uploadId)}/${n}`, { query: { key: upload.key } });
        if (this.paused) continue;
        const etag = await putPart(signed.url, blob, this.xhrs, (loaded) => {
          this.sent.set(n, loaded);
          this.show();
        });
        this.sent.set(n, blob.size);
        upload.done.set(n, { etag, size: blob.size });
        if (this.offline && !this.recovering) this.offline = false;
        this.show();
        return;
      } catch (error) {
        this.sent.set(n, upload.done.get(n)?.size ?? 0);
        if (error.paused && this.halted) return;
        if (error.paused) continue;
        if (!error.network) throw error;
        failures += 1;
        if (failures >= PART_RETRY_LIMIT) {
          this.pause(`Paused ${file.name}, the network is down (Resume to try again)`);
          failures = 0;
          continue;
        }
        await this.recover(failures);
      }
    }
  }

  async run() {
    const mine = resumeKey(this.file);
    if (uploads.resuming.has(mine)) {
      this.button.remove();
      throw new Error("Already uploading on this page: the same file is in the list above.");
    }
    uploads.resuming.add(mine);
    showResumable();
    try {
      return await this.send();
    } finally {
      uploads.resuming.delete(mine);
      // The button goes with the parts; a focus on it moves to its row's status, not the page.
      const focused = document.activeElement === this.button;
      this.button.remove();
      if (focused) focusOn(this.row.statusElement);
    }
  }

  async send() {
    const { file, row } = this;
    row.set("working", "Starting a multipart upload…");
    this.upload = await startOrResume(file, this.contentType);
    const upload = this.upload;
    this.count = Math.max(1, Math.ceil(file.size / upload.partSize));
    this.sent = new Map([...upload.done].map(([n, p]) => [n, p.size]));
    this.resumed = upload.done.size;
    Object.assign(row.element.dataset, { parts: String(this.count), resumedParts: String(this.resumed) });
    if (this.resumed) announce(`Continuing ${file.name}: ${this.resumed} of ${this.count} parts were already stored.`);
    this.show();
    const pending = [];
    for (let n = 1; n <= this.count; n += 1) if (!upload.done.has(n)) pending.push(n);
    this.pending = pending;
    const workers = Array.from({ length: Math.min(PART_CONCURRENCY, pending.length) }, async () => {
      while (pending.length) await this.sendPart(pending.shift());
    });
    try {
      await Promise.all(workers);
    } catch (error) {
      this.halt(); // the other workers stop too; the stored parts stay resumable
      throw error;
    }
    if (this.paused) this.resume(); // nothing was left to send when it was paused
    row.set("working", "Assembling the parts…");
    const parts = [...upload.done.entries()].sort((a, b) => a[0] - b[0]).map(([n, p]) => ({ PartNumber: n, ETag: p.etag }));
    await apiOrNetwork(`${MULTIPART_ROOT}/${encodeURIComponent(upload.uploadId)}/complete`, {
      method: "POST",
      query: { key: upload.key },
      body: { parts },
    });
    localStorage.removeItem(resumeKey(file));
    return upload.fileUrl;
  }
}

// Resolves when the browser is online again and ``delay`` has passed.
function networkBack(delay) {
  return new Promise((resolve) => {
    const later = () => setTimeout(resolve, delay);
    if (navigator.onLine) later();
    else window.addEventListener("online", later, { once: true });
  });
}

function useParts(file, contentType) {
  const config = session.config;
  return contentType.startsWith("video/")
    && (file.size > config.max_file_size || file.size >= (config.multipart_threshold ?? Infinity));
}

async function uploadOne({ file, contentType, target, row }) {
  try {
    let fileUrl;
    if (useParts(file, contentType)) {
      fileUrl = await new PartUpload(file, contentType, row).run();
    } else {
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
      fileUrl = presigned.file_url;
    }
    row.progress(1);
    row.set("working", "Ingesting…");
    const result = await ingestSoon({ media: { url: fileUrl }, ...target });
    const resource = result.media_resource;
    const size = resource.width && resource.height ? ` · ${resource.width} × ${resource.height}` : "";
    const where = `${target.slot}${target.position === null ? "" : ` #${target.position}`}`;
    const length = resource.duration ? ` · ${resource.duration.toFixed(1)} s` : "";
    Object.assign(row.element.dataset, {
      resourceId: resource.id,
      created: String(result.created),
      width: String(resource.width ?? ""),
      height: String(resource.height ?? ""),
      duration: String(resource.duration ?? ""),
    });
    if (resource.poster_url) row.poster(resource.poster_url);
    row.set("done", result.created
      ? `Done: new resource ${short(resource.id)}${size}${length} in ${where}`
      : `Done: duplicate, reused resource ${short(resource.id)}${size}${length} in ${where}`);
    return true;
  } catch (error) {
    row.progress(1);
    row.set("error", describeError(error));
    return false;
  }
}

export function setUpUpload() {
  showResumable();
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

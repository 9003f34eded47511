// The Upload view's multipart client: parts in parallel, paused and resumed, continued after
// a dropped network or a reload (docs/uploads.md). What a reload needs (the key and the upload
// id) is kept in localStorage under the file's name, size and date; the store's list of parts
// says the rest.

import { api, ApiError, formatDetail, session } from "./api.js";
import { $, bytes, focusOn } from "./dom.js";

// Videos over the single upload's limit (or the multipart threshold) go in parts.
const MULTIPART_ROOT = "api/v1/uploads/s3/multipart";
const PART_CONCURRENCY = 3;
// Failures in a row of one part before the upload pauses itself (the operator resumes).
const PART_RETRY_LIMIT = 8;
const RETRY_MAX_DELAY_MS = 8000;
const RESUME_PREFIX = "sartiq-multipart:";
const RESUME_LIFETIME_MS = 24 * 3600 * 1000; // the service keeps an unfinished upload a day

// The files being sent in parts on this page (their resume keys): one upload each.
const resuming = new Set();

// What the store said when it refused a PUT: our JSON detail, or S3's XML code and message.
export function storeError(xhr) {
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

function resumeKey(file) {
  return `${RESUME_PREFIX}${file.name}|${file.size}|${file.lastModified}`;
}

function savedUploads() {
  const found = [];
  for (let i = 0; i < localStorage.length; i += 1) {
    const name = localStorage.key(i);
    if (!name?.startsWith(RESUME_PREFIX) || resuming.has(name)) continue;
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
export function showResumable() {
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
export class PartUpload {
  constructor(file, contentType, row, announce) {
    Object.assign(this, { file, contentType, row, announce });
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
    this.announce(`${reason}: ${stored}.`);
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
    this.announce(`Resuming ${this.file.name}.`);
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
      if (attempt === 1) this.announce(`${this.file.name}: the network dropped; the upload continues when it is back.`);
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
    if (resuming.has(mine)) {
      this.button.remove();
      throw new Error("Already uploading on this page: the same file is in the list above.");
    }
    resuming.add(mine);
    showResumable();
    try {
      return await this.send();
    } finally {
      resuming.delete(mine);
      this.dropButton();
    }
  }

  // The button goes with the parts: once they are all stored, nothing is left to pause (a
  // Pause pressed while they are assembled marked a finished upload paused). A focus on it
  // moves to its row's status, not the page.
  dropButton() {
    if (!this.button.isConnected) return;
    const focused = document.activeElement === this.button;
    this.button.remove();
    if (focused) focusOn(this.row.statusElement);
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
    if (this.resumed) this.announce(`Continuing ${file.name}: ${this.resumed} of ${this.count} parts were already stored.`);
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
    this.dropButton();
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

export function useParts(file, contentType) {
  const config = session.config;
  return contentType.startsWith("video/")
    && (file.size > config.max_file_size || file.size >= (config.multipart_threshold ?? Infinity));
}

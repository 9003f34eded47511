// The Upload view: each file gets a presigned URL, goes straight to the store, then is
// ingested into the chosen entity, slot and position, as the web app does it.

import { api, ApiError, describeError, formatDetail, session } from "./api.js";
import { $, bytes, h, short, uuid4 } from "./dom.js";

const UPLOAD_CONCURRENCY = 3;
// Headers a page may not set itself: the browser derives them (Content-Length from the body).
const FORBIDDEN_HEADERS = new Set(["content-length", "host", "connection", "expect", "origin", "referer"]);
const EXTENSION_ALIASES = { jpeg: "jpg", jpe: "jpg", tif: "tiff", qt: "mov" };

const uploads = { queue: [], active: 0, done: 0, failed: 0 };
// Videos over the single upload's limit go in parts (docs/uploads.md), resumable.
const MULTIPART_ROOT = "api/v1/uploads/s3/multipart";
const PART_CONCURRENCY = 3;
const PART_RETRY_LIMIT = 8;
const RESUME_PREFIX = "sartiq-multipart:";


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
  const progress = h("progress", { max: "1", value: "0", "aria-label": `Upload of ${file.name}` });
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
  const refused = [];
  for (const file of files) {
    const contentType = acceptedType(file);
    const row = uploadRow(file, contentType);
    if (contentType === null || file.size > session.config.max_file_size || file.size === 0) refused.push(file.name);
    if (contentType === null) {
      row.progress(1);
      row.set("error", `Refused file type: ${file.type || "unknown"} is not an accepted image or video (accepted: ${acceptedList()}).`);
    } else if (file.size > session.config.max_file_size && !contentType.startsWith("video/")) {
      row.progress(1);
      row.set("error", `Too large: ${bytes(file.size)} is over the ${bytes(session.config.max_file_size)} upload limit.`);
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

// -- multipart: parts in parallel, retried, resumable after a dropped network or a reload ----

function resumeKey(file) {
  return `${RESUME_PREFIX}${file.name}|${file.size}|${file.lastModified}`;
}

function putPart(url, blob, onProgress) {
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open("PUT", url);
    xhr.upload.addEventListener("progress", (event) => onProgress(event.loaded));
    xhr.addEventListener("load", () => {
      const etag = xhr.getResponseHeader("ETag");
      if (xhr.status >= 200 && xhr.status < 300 && etag) resolve(etag);
      else reject(Object.assign(new ApiError(xhr.status, storeError(xhr)), { retry: xhr.status >= 500 }));
    });
    xhr.addEventListener("error", () => reject(Object.assign(new Error("the network dropped"), { retry: true })));
    xhr.addEventListener("timeout", () => reject(Object.assign(new Error("timed out"), { retry: true })));
    xhr.send(blob);
  });
}

async function startOrResume(file, contentType) {
  const saved = JSON.parse(localStorage.getItem(resumeKey(file)) ?? "null");
  if (saved) {
    try {
      const parts = await api(`${MULTIPART_ROOT}/${encodeURIComponent(saved.uploadId)}`, { query: { key: saved.key } });
      return { ...saved, done: new Map(parts.map((p) => [p.PartNumber, { etag: p.ETag, size: p.Size }])) };
    } catch (error) {
      if (!(error instanceof ApiError) || error.status >= 500) throw error;
      localStorage.removeItem(resumeKey(file)); // gone (completed, aborted, expired): anew
    }
  }
  const created = await api(MULTIPART_ROOT, {
    method: "POST",
    body: { filename: file.name, type: contentType, metadata: {}, size: file.size },
  });
  const upload = { key: created.key, uploadId: created.uploadId, partSize: created.partSize, fileUrl: created.fileUrl };
  localStorage.setItem(resumeKey(file), JSON.stringify(upload));
  return { ...upload, done: new Map() };
}

async function uploadInParts(file, contentType, row) {
  row.set("working", "Starting a multipart upload…");
  const upload = await startOrResume(file, contentType);
  const { key, uploadId, partSize } = upload;
  const count = Math.max(1, Math.ceil(file.size / partSize));
  const sent = new Map([...upload.done].map(([n, p]) => [n, p.size]));
  const resumed = upload.done.size;
  const show = () => {
    const total = [...sent.values()].reduce((a, b) => a + b, 0);
    row.progress(total / file.size);
    const note = resumed ? ` (resumed: ${resumed} of ${count} parts were stored)` : "";
    row.set("uploading", `Uploading in ${count} parts… ${Math.round((100 * total) / file.size)}%${note}`);
  };
  show();
  const pending = [];
  for (let n = 1; n <= count; n += 1) if (!upload.done.has(n)) pending.push(n);
  const sendPart = async (n) => {
    const blob = file.slice((n - 1) * partSize, Math.min(n * partSize, file.size));
    for (let attempt = 1; ; attempt += 1) {
      try {
        const signed = await api(`${MULTIPART_ROOT}/${encodeURIComponent(uploadId)}/${n}`, { query: { key } });
        const etag = await putPart(signed.url, blob, (loaded) => {
          sent.set(n, loaded);
          show();
        });
        sent.set(n, blob.size);
        upload.done.set(n, { etag, size: blob.size });
        show();
        return;
      } catch (error) {
        sent.set(n, 0);
        if (!error.retry || attempt >= PART_RETRY_LIMIT) throw error;
        row.set("uploading", `Part ${n}: ${error.message}; retrying…`);
        await new Promise((resolve) => setTimeout(resolve, Math.min(8000, 250 * 2 ** attempt)));
      }
    }
  };
  const workers = Array.from({ length: Math.min(PART_CONCURRENCY, pending.length) }, async () => {
    while (pending.length) await sendPart(pending.shift());
  });
  await Promise.all(workers);
  row.set("working", "Assembling the parts…");
  const parts = [...upload.done.entries()].sort((a, b) => a[0] - b[0]).map(([n, p]) => ({ PartNumber: n, ETag: p.etag }));
  await api(`${MULTIPART_ROOT}/${encodeURIComponent(uploadId)}/complete`, {
    method: "POST",
    query: { key },
    body: { parts },
  });
  localStorage.removeItem(resumeKey(file));
  row.element.dataset.parts = String(count);
  row.element.dataset.resumedParts = String(resumed);
  return upload.fileUrl;
}

async function uploadOne({ file, contentType, target, row }) {
  try {
    let fileUrl;
    if (file.size > session.config.max_file_size) {
      fileUrl = await uploadInParts(file, contentType, row);
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
    Object.assign(row.element.dataset, {
      resourceId: resource.id,
      created: String(result.created),
      width: String(resource.width ?? ""),
      height: String(resource.height ?? ""),
    });
    row.set("done", result.created
      ? `Done: new resource ${short(resource.id)}${size} in ${where}`
      : `Done: duplicate, reused resource ${short(resource.id)}${size} in ${where}`);
    return true;
  } catch (error) {
    row.progress(1);
    row.set("error", describeError(error));
    return false;
  }
}

export function setUpUpload() {
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

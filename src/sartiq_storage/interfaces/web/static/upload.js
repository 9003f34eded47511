// The Upload view: each file gets a presigned URL, goes straight to the store, then is
// ingested into the chosen entity, slot and position, as the web app does it. Big videos go
// in parts (`upload-parts.js`): paused, resumed, and continued after a drop or a reload.

import { api, ApiError, describeError, formatDetail, session } from "./api.js";
import { $, bytes, h, short, uuid4 } from "./dom.js";
import { PartUpload, showResumable, storeError, useParts } from "./upload-parts.js";

const UPLOAD_CONCURRENCY = 3;
// Headers a page may not set itself: the browser derives them (Content-Length from the body).
const FORBIDDEN_HEADERS = new Set(["content-length", "host", "connection", "expect", "origin", "referer"]);
const EXTENSION_ALIASES = { jpeg: "jpg", jpe: "jpg", tif: "tiff", qt: "mov" };

const uploads = { queue: [], active: 0, done: 0, failed: 0 };

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

async function uploadOne({ file, contentType, target, row }) {
  try {
    let fileUrl;
    if (useParts(file, contentType)) {
      fileUrl = await new PartUpload(file, contentType, row, announce).run();
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

// The Media view: a paginated grid of media resources with their attachments and tags,
// and the detail dialog with every field.

import { api, describeError, may, session, url } from "./api.js";
import { $, bytes, confirmButton, copyButton, emptyNote, errorNote, focusOn, h, latest, short, toast, when } from "./dom.js";

const PAGE_SIZE = 24;
const ENRICH_CONCURRENCY = 6;

const media = { offset: 0, total: 0, type: "", id: "", generation: 0, detailId: null };

function fileKey(resource) {
  // The public URL ends with the key; /files/{key} is the platform's stable URL for it.
  const path = new URL(resource.url).pathname;
  const match = path.match(/\/(media\/[0-9a-f-]{36}\/file\.[A-Za-z0-9]+)$/i)
    ?? path.match(/\/((?:images|shooting_looks)\/.+)$/);
  return match ? decodeURIComponent(match[1]) : null;
}

function previewOf(resource) {
  if (resource.resource_type === "VIDEO") {
    // The poster frame (the video's ?type=webp derivative) shows without loading the video.
    return h("video", {
      src: resource.url,
      poster: resource.poster_url ?? undefined,
      muted: true,
      preload: resource.poster_url ? "none" : "metadata",
      playsinline: true,
    });
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

// What a control acts on, in words, so that the buttons of 24 tiles have 24 different names
// ("Details of PNG 120 × 90 · 1a2b3c4d"): the badge, the size and the id's first characters.
function nameOf(resource) {
  return `${kindBadge(resource)} ${dims(resource)} · ${short(resource.id)}`;
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
    }, `${nameOf(resource)} from ${a.entity_type} ${short(a.entity_id)} ${a.slot}${a.position === null ? "" : ` #${a.position}`}`) : null));
}

function tagChips(tags) {
  if (!tags.length) return [h("span", { class: "muted small" }, "No tags")];
  return tags.map((t) => h("span", { class: "tag", title: t.description ?? "" }, t.name));
}

function tile(resource) {
  const name = nameOf(resource);
  const attachments = h("ul", { class: "attachments", "aria-label": `Attachments of ${name}` },
    h("li", { class: "muted" }, "Loading attachments…"));
  const tags = h("div", { class: "tags" });
  const element = h("article", { class: "tile", dataset: { resourceId: resource.id }, "aria-label": name },
    h("button", {
      class: "preview",
      type: "button",
      title: "Details",
      "aria-label": `${name}: details`,
      onclick: () => openDetail(resource.id),
    },
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
        copyButton(resource.url, "Copy URL", name),
        h("button", {
          class: "button small ghost",
          type: "button",
          "aria-label": `Details of ${name}`,
          onclick: () => openDetail(resource.id),
        }, "Details"))));
  return { element, attachments, tags };
}

async function fillTile(entry, resource) {
  try {
    const [detail, tags] = await Promise.all([
      api(`api/v1/media-resources/${resource.id}`),
      api(`api/v1/media-resources/${resource.id}/tags/`),
    ]);
    entry.attachments.replaceChildren(...attachmentItems(resource, detail.attachments, () => afterDetach(resource.id)));
    entry.tags.replaceChildren(...tagChips(tags.tags));
  } catch (error) {
    entry.attachments.replaceChildren(h("li", { class: "form-error" }, describeError(error)));
  }
}

// After a Detach the grid is drawn anew: the focus goes to the same tile's attachments (what
// is left), or, when the filter no longer shows the tile, to the tile now in its place, else
// to the count; never back to the top of the page.
async function afterDetach(id) {
  const before = [...document.querySelectorAll("#media-grid .tile")];
  const index = before.findIndex((t) => t.dataset.resourceId === id);
  await loadMedia();
  const same = $(`#media-grid .tile[data-resource-id="${CSS.escape(id)}"]`);
  if (same) {
    focusOn($(".attachments", same));
    return;
  }
  const tiles = document.querySelectorAll("#media-grid .tile");
  const instead = tiles[Math.min(index, tiles.length - 1)];
  focusOn(instead ? $(".preview", instead) : $("#media-count"));
}

async function inBatches(items, size, work) {
  const queue = [...items];
  const workers = Array.from({ length: Math.min(size, queue.length) }, async () => {
    while (queue.length) await work(queue.shift());
  });
  await Promise.all(workers);
}

export function openMedia(params) {
  if (params.has("entity_type") || params.has("entity_id")) {
    media.type = params.get("entity_type") ?? "";
    media.id = params.get("entity_id") ?? "";
    media.offset = 0;
  }
  $("#filter-type").value = media.type;
  $("#filter-id").value = media.id;
  loadMedia();
}

async function loadMedia() {
  const generation = ++media.generation;
  const token = session.token;
  const grid = $("#media-grid");
  grid.setAttribute("aria-busy", "true");
  let page;
  try {
    page = await api("api/v1/media-resources", {
      query: {
        limit: PAGE_SIZE,
        offset: media.offset,
        entity_type: media.type,
        entity_id: media.id,
      },
    });
  } catch (error) {
    if (generation === media.generation) grid.replaceChildren(errorNote({ message: describeError(error) }));
    return;
  } finally {
    if (generation === media.generation) grid.removeAttribute("aria-busy"); // else a later load is on its way
  }
  if (generation !== media.generation) return;
  if (page.total > 0 && page.offset >= page.total) {
    media.offset = Math.max(0, Math.floor((page.total - 1) / PAGE_SIZE) * PAGE_SIZE);
    loadMedia();
    return;
  }
  media.total = page.total;
  const filtered = media.type || media.id;
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
  // A later load, or a sign-out or sign-in meanwhile, stops the tiles still to fill.
  const current = () => generation === media.generation && session.token === token;
  await inBatches(entries, ENRICH_CONCURRENCY, (entry) => current() && fillTile(entry, entry.resource));
}

export function setUpMedia() {
  $("#media-filter").addEventListener("submit", (event) => {
    event.preventDefault();
    if (!event.target.reportValidity()) return;
    media.type = $("#filter-type").value.trim();
    media.id = $("#filter-id").value.trim().toLowerCase();
    media.offset = 0;
    loadMedia();
  });
  $("#filter-clear").addEventListener("click", () => {
    media.type = "";
    media.id = "";
    media.offset = 0;
    $("#filter-type").value = "";
    $("#filter-id").value = "";
    if (location.hash !== "#/media") history.replaceState(null, "", "#/media");
    loadMedia();
  });
  $("#media-refresh").addEventListener("click", () => loadMedia());
  $("#page-prev").addEventListener("click", () => {
    media.offset = Math.max(0, media.offset - PAGE_SIZE);
    loadMedia();
  });
  $("#page-next").addEventListener("click", () => {
    media.offset += PAGE_SIZE;
    loadMedia();
  });
}

// --- the detail dialog -------------------------------------------------------------------

async function openDetail(id) {
  media.detailId = id;
  const dialog = $("#detail");
  const body = $("#detail-body");
  const current = latest(body); // details opened again meanwhile (another resource): this answer is dropped
  body.replaceChildren(h("p", { class: "muted" }, "Loading…"));
  if (!dialog.open) dialog.showModal();
  try {
    const [resource, tags] = await Promise.all([
      api(`api/v1/media-resources/${id}`),
      api(`api/v1/media-resources/${id}/tags/`),
    ]);
    if (current()) renderDetail(resource, tags.tags);
  } catch (error) {
    if (current()) body.replaceChildren(errorNote({ message: describeError(error) }));
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
    ...(resource.resource_type === "VIDEO"
      ? [["Codec", resource.codec ?? "—"], ["Frame rate", resource.frame_rate ? `${resource.frame_rate} fps` : "—"]]
      : []),
    ["Protected", resource.protected ? "yes" : "no"],
    ["Alt text", resource.alt_text ?? "—"],
    ["Caption", resource.caption ?? "—"],
    ["Created", when(resource.created_at)],
  ];
  const refresh = async () => {
    await openDetail(resource.id);
    await loadMedia();
    focusOn($("#detail-attachments")); // what is left, not the dialog's first button
  };
  $("#detail-body").replaceChildren(
    h("div", { class: "section" },
      h("div", { class: "detail-preview" }, previewOf(resource)),
      h("div", { class: "line" }, copyButton(resource.url, "Copy URL", nameOf(resource)))),
    h("div", { class: "section" },
      h("dl", { class: "props" }, props.map(([name, value]) => [h("dt", {}, name), h("dd", {}, value)])),
      h("h3", { id: "detail-attachments-title" }, "Attachments"),
      h("ul", { class: "attachments", id: "detail-attachments", "aria-labelledby": "detail-attachments-title" },
        attachmentItems(resource, resource.attachments, refresh)),
      h("h3", {}, "Tags"),
      h("div", { class: "tags" }, tagChips(tags))));
}

export function setUpDetail() {
  const dialog = $("#detail");
  dialog.addEventListener("click", (event) => {
    if (event.target === dialog || event.target.closest("[data-close]")) dialog.close();
  });
  // The dialog gives the focus back to what opened it; when the grid was drawn anew meanwhile
  // (a Detach inside), that button is gone and the focus stays in the closed dialog, then
  // falls to the page: the resource's tile takes it instead, or the view's heading.
  dialog.addEventListener("close", () => {
    requestAnimationFrame(() => {
      const active = document.activeElement;
      if (active && active !== document.body && !dialog.contains(active)) return;
      const tile = $(`#media-grid .tile[data-resource-id="${CSS.escape(media.detailId ?? "")}"]`);
      focusOn(tile ? $(".preview", tile) : $("#view-media h1"));
    });
  });
}

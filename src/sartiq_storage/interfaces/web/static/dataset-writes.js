// The Datasets view's writes: branches, tags and protection rules, uploads, uncommitted
// changes and commits, merges (every conflict listed, a strategy to resolve them), reverts.
// Only a token with `datasets:write` sees these controls; the service decides anyway (403).
//
// Accessibility: real buttons, every control's accessible name starts with its visible text and
// names its row ("Delete branch dev"), modal dialogs trap focus and give it back, progress bars
// are named, one polite announcement per operation and errors assertive (the two live regions
// below exist before anything is written into them).

import { api, ApiError, describeError, may, session, url } from "./api.js";
import { $, bytes, emptyNote, h, latest, short, table } from "./dom.js";

export function writable() {
  return may("datasets:write");
}

const repoPath = (repo) => `api/v1/datasets/repositories/${encodeURIComponent(repo.name)}`;
const branchPath = (repo, branch) => `${repoPath(repo)}/branches/${encodeURIComponent(branch)}`;

// --- announcements ------------------------------------------------------------------------

function regions() {
  let status = $("#ds-status");
  if (!status) {
    status = h("div", { id: "ds-status", class: "ds-live", role: "status", "aria-live": "polite" });
    const alert = h("div", { id: "ds-alert", class: "ds-live", role: "alert", "aria-live": "assertive" });
    $("#view-datasets").append(status, alert);
  }
  return { status, alert: $("#ds-alert") };
}

// Call once when the view loads, so the regions are in the tree before their first message.
export function setUpAnnouncements() {
  regions();
}

export function announce(message) {
  const { status, alert } = regions();
  alert.textContent = "";
  status.textContent = message;
}

// An error, said at once (assertive) and also shown where it happened (`where`, optional).
export function announceError(message, where) {
  const { status, alert } = regions();
  status.textContent = "";
  alert.textContent = message;
  if (where) where.replaceChildren(message);
}

// What a failed write says: a missing scope names the fix, other errors keep describeError's.
export function explain(error) {
  if (error instanceof ApiError && error.status === 403 && /scope/.test(error.message)) {
    return `Not allowed: this token may read datasets but not change them (${error.message}). Sign in with a token that has datasets:write.`;
  }
  // A protected branch or a read-only repository: the dataset's rule, not the object store.
  if (error instanceof ApiError && error.status === 403) return `Refused: ${error.message}`;
  return describeError(error);
}

// A table whose wrapper scrolls sideways on a narrow screen: focusable and named, so the
// keyboard can scroll it too.
// A table named `label`: while it is wider than its card it scrolls in its own focusable
// region of that name (dom.js `table`); one that fits adds no tab stop.
export function dataTable(label, headers, rows) {
  const wrap = table(headers, rows);
  wrap.dataset.name = label;
  wrap.querySelector("table").setAttribute("aria-label", label);
  return wrap;
}

// --- dialogs ------------------------------------------------------------------------------

let dialogCount = 0;

// A modal dialog that traps Tab inside it and gives focus back to `opener` when it closes
// (or to `fallback()` when the opener is gone, as after deleting its row).
// `confirm` runs on the primary button; its errors stay in the dialog, announced.
export function confirmDialog({ title, text, confirmLabel, danger = false, opener, fallback, confirm }) {
  dialogCount += 1;
  const id = `ds-dialog-${dialogCount}`;
  const error = h("p", { class: "form-error ds-dialog-error", role: "alert" });
  const cancel = h("button", { class: "button", type: "button" }, "Cancel");
  const primary = h("button", { class: danger ? "button danger" : "button primary", type: "submit" }, confirmLabel);
  const form = h("form", { method: "dialog", class: "ds-dialog-body" },
    h("h2", { id: `${id}-title` }, title),
    h("p", { id: `${id}-text` }, text),
    error,
    h("div", { class: "ds-dialog-actions" }, cancel, primary));
  const dialog = h("dialog", { class: "ds-dialog", "aria-labelledby": `${id}-title`, "aria-describedby": `${id}-text` }, form);
  let done = false;
  const close = () => {
    dialog.close();
  };
  dialog.addEventListener("close", () => {
    dialog.remove();
    const target = opener?.isConnected ? opener : fallback?.();
    target?.focus();
  });
  dialog.addEventListener("keydown", (event) => {
    if (event.key !== "Tab") return;
    const focusable = [...dialog.querySelectorAll("button:not([disabled]), input, select, textarea")];
    const first = focusable[0];
    const last = focusable[focusable.length - 1];
    if (event.shiftKey && document.activeElement === first) {
      event.preventDefault();
      last.focus();
    } else if (!event.shiftKey && document.activeElement === last) {
      event.preventDefault();
      first.focus();
    }
  });
  cancel.addEventListener("click", close);
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    if (done) return;
    primary.disabled = true;
    cancel.disabled = true;
    try {
      await confirm();
      done = true;
      close();
    } catch (failure) {
      announceError(explain(failure), error);
      primary.disabled = false;
      cancel.disabled = false;
      primary.focus();
    }
  });
  document.body.append(dialog);
  dialog.showModal();
  cancel.focus(); // the safe choice first
  return dialog;
}

// --- small form pieces --------------------------------------------------------------------

function field(label, control, hint) {
  return h("label", { class: "ds-field" }, label, control, hint ? h("span", { class: "muted small" }, hint) : null);
}

function textInput(name, attrs = {}) {
  return h("input", { name, spellcheck: "false", autocomplete: "off", ...attrs });
}

function busy(form, on) {
  for (const el of form.querySelectorAll("button, input, select, textarea")) el.disabled = on;
}

// Run one form's write: the button is disabled meanwhile; success is one polite status;
// a failure is assertive and shown under the form. `then` (the view drawn anew after the
// write) runs first, the form still busy: the news comes with the view it speaks of, and
// nothing is typed into a form about to be replaced.
async function run(form, errorSlot, action, then) {
  errorSlot.replaceChildren();
  busy(form, true);
  try {
    const message = await action();
    await then?.();
    if (message) announce(message);
    return true;
  } catch (failure) {
    announceError(explain(failure), errorSlot);
    return false;
  } finally {
    busy(form, false);
  }
}

function errorSlot() {
  return h("p", { class: "form-error ds-inline-error" });
}

// --- branches, tags, protection ---------------------------------------------------------------

// The Branches view: each branch a row with its own named Delete, the forms to create a
// branch and a tag, and the branch protection rules. After a write (`wrote`: its form, if
// any) the whole view is drawn anew from the store, keeping what was typed into the others.
export async function renderBranches(content, ctx, focusAfter, wrote) {
  const { repo } = ctx;
  // Branches chosen again (or written) meanwhile: the later drawing wins, and an earlier
  // answer does not draw the view anew over what the user has typed since.
  const current = latest(content);
  let refs;
  let rules = [];
  try {
    [refs, { patterns: rules }] = await Promise.all([
      api(`${repoPath(repo)}/refs`),
      api(`${repoPath(repo)}/branch-protection`),
    ]);
  } catch (failure) {
    if (ctx.mode === "refs" && ctx.repo === repo && current()) announceError(explain(failure), content);
    return;
  }
  if (ctx.repo !== repo || !current()) return; // another repository was chosen meanwhile
  ctx.refs = refs;
  if (ctx.mode !== "refs") return; // another view was chosen meanwhile
  const canWrite = writable();
  const rerender = (selector, form) => renderBranches(content, ctx, selector, form);
  const heading = h("h3", { id: "ds-branches-heading", tabindex: "-1" }, `Branches (${refs.branches.length})`);
  const protectedBy = (name) => rules.some((pattern) => globMatch(pattern, name));

  const branchRows = refs.branches.map((b) => h("li", { class: "ds-row", dataset: { branch: b.name } },
    h("span", { class: "ds-row-name" }, b.name),
    b.name === repo.default_branch ? h("span", { class: "badge accent" }, "default") : null,
    protectedBy(b.name) ? h("span", { class: "badge warn" }, "protected") : null,
    h("code", { class: "commit-id", title: b.commit_id }, short(b.commit_id, 12)),
    canWrite && b.name !== repo.default_branch
      ? h("button", {
        class: "button small danger",
        type: "button",
        "aria-label": `Delete branch ${b.name}`,
        onclick: (event) => confirmDialog({
          title: `Delete branch ${b.name}?`,
          text: `Its uncommitted changes are lost. Commits stay reachable from other branches and tags.`,
          confirmLabel: "Delete branch",
          danger: true,
          opener: event.currentTarget,
          fallback: () => $("#ds-branches-heading"),
          confirm: async () => {
            await api(branchPath(repo, b.name), { method: "DELETE" });
            await rerender("#ds-branches-heading");
            announce(`Deleted branch ${b.name}.`);
          },
        }),
      }, "Delete")
      : null));

  const tagRows = refs.tags.map((t) => h("li", { class: "ds-row" },
    h("span", { class: "ds-row-name" }, t.name),
    h("code", { class: "commit-id", title: t.commit_id }, short(t.commit_id, 12))));

  const sections = [
    heading,
    h("ul", { class: "ds-rows", "aria-labelledby": "ds-branches-heading" }, branchRows),
  ];
  if (canWrite) sections.push(createBranchForm(ctx, rerender));
  sections.push(
    h("h3", { id: "ds-tags-heading", tabindex: "-1" }, `Tags (${refs.tags.length})`),
    tagRows.length
      ? h("ul", { class: "ds-rows", "aria-labelledby": "ds-tags-heading" }, tagRows)
      : h("p", { class: "muted small" }, "No tags."));
  if (canWrite) sections.push(createTagForm(ctx, rerender));
  sections.push(protectionSection(ctx, rules, canWrite, rerender));
  const typed = keepTyped(content, wrote);
  content.replaceChildren(...sections);
  if (!typed(content) && focusAfter) content.querySelector(focusAfter)?.focus();
}

// What the user typed into the view's fields (matched by id), and the field being typed in
// with its caret, carried into the view drawn anew: a user typing a tag name while a branch
// is created keeps it, and the focus. The form the write came from (`wrote`) starts afresh.
// `typed(content)` puts them back and says whether the focus stayed in a field.
function keepTyped(content, wrote) {
  const fields = [...content.querySelectorAll("input[id]")].filter((input) => !wrote?.contains(input));
  const changed = fields.filter((input) => input.value !== input.defaultValue);
  const active = fields.find((input) => input === document.activeElement);
  return (drawn) => {
    for (const old of changed) {
      const input = drawn.querySelector(`#${old.id}`);
      if (input) input.value = old.value;
    }
    const again = active && drawn.querySelector(`#${active.id}`);
    if (!again) return false;
    again.focus();
    if (active.selectionStart !== null) again.setSelectionRange(active.selectionStart, active.selectionEnd, active.selectionDirection);
    return true;
  };
}

// lakeFS's branch protection patterns are globs (`*` any run, `?` one character).
function globMatch(pattern, name) {
  const source = pattern.replace(/[.+^${}()|[\]\\]/g, "\\$&").replace(/\*/g, ".*").replace(/\?/g, ".");
  return new RegExp(`^${source}$`).test(name);
}

function createBranchForm(ctx, rerender) {
  const { repo } = ctx;
  const name = textInput("name", { id: "ds-new-branch", required: true, placeholder: "e.g. relabel-tops", pattern: "[A-Za-z0-9_][A-Za-z0-9_\\-]*" });
  const source = textInput("source", { id: "ds-new-branch-source", required: true, list: "ref-options", value: repo.default_branch });
  const error = errorSlot();
  const form = h("form", { class: "toolbar ds-form", "aria-label": "Create branch" },
    field("Branch name", name),
    field("From ref", source),
    h("button", { class: "button primary", type: "submit" }, "Create branch"),
    error);
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const branch = name.value.trim();
    const ok = await run(form, error, async () => {
      await api(`${repoPath(repo)}/branches`, { method: "POST", body: { name: branch, source: source.value.trim() } });
      return `Created branch ${branch} from ${source.value.trim()}.`;
    }, () => rerender("#ds-new-branch", form));
    if (!ok) name.focus();
  });
  return form;
}

function createTagForm(ctx, rerender) {
  const { repo } = ctx;
  const name = textInput("name", { id: "ds-new-tag", required: true, placeholder: "e.g. v1.0" });
  const ref = textInput("ref", { id: "ds-new-tag-ref", required: true, list: "ref-options", value: repo.default_branch });
  const error = errorSlot();
  const form = h("form", { class: "toolbar ds-form", "aria-label": "Create tag" },
    field("Tag name", name),
    field("At ref", ref),
    h("button", { class: "button primary", type: "submit" }, "Create tag"),
    error);
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const tag = name.value.trim();
    const ok = await run(form, error, async () => {
      const made = await api(`${repoPath(repo)}/tags`, { method: "POST", body: { name: tag, ref: ref.value.trim() } });
      return `Created tag ${tag} at ${short(made.commit_id, 12)}.`;
    }, () => rerender("#ds-new-tag", form));
    if (!ok) name.focus();
  });
  return form;
}

function protectionSection(ctx, rules, canWrite, rerender) {
  const { repo } = ctx;
  const section = h("section", { class: "ds-section", "aria-labelledby": "ds-protection-heading" });
  // Each change sends the whole list. While one is on its way, and until the section is drawn
  // anew from the store, its controls wait: a second click would send a list made before the
  // first change, and undo it. A failure gives them back.
  const change = async (patterns, message, focusAfter, form) => {
    busy(section, true);
    await api(`${repoPath(repo)}/branch-protection`, { method: "PUT", body: { patterns } });
    await rerender(focusAfter, form);
    announce(message);
  };
  const heading = h("h3", { id: "ds-protection-heading", tabindex: "-1" }, "Branch protection");
  const note = h("p", { class: "muted small" }, "Nobody may upload, commit or reset on a protected branch directly: changes reach it by merge.");
  const rows = rules.map((pattern) => h("li", { class: "ds-row" },
    h("code", { class: "ds-row-name" }, pattern),
    canWrite ? h("button", {
      class: "button small danger",
      type: "button",
      "aria-label": `Remove rule ${pattern}`,
      onclick: async () => {
        try {
          await change(rules.filter((p) => p !== pattern), `Removed the protection rule ${pattern}.`, "#ds-protection-heading");
        } catch (failure) {
          busy(section, false);
          announceError(explain(failure));
        }
      },
    }, "Remove") : null));
  const parts = [heading, note,
    rows.length ? h("ul", { class: "ds-rows", "aria-labelledby": "ds-protection-heading" }, rows)
      : h("p", { class: "muted small" }, "No branch is protected.")];
  if (canWrite) {
    const pattern = textInput("pattern", { id: "ds-new-rule", required: true, placeholder: "e.g. main", value: rules.length ? "" : repo.default_branch });
    const error = errorSlot();
    const form = h("form", { class: "toolbar ds-form", "aria-label": "Add protection rule" },
      field("Branch name pattern", pattern, "a name or a glob such as release-*"),
      h("button", { class: "button primary", type: "submit" }, "Add rule"),
      error);
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      const value = pattern.value.trim();
      error.replaceChildren();
      try {
        await change([...rules, value], `Protected ${value}.`, "#ds-new-rule", form);
      } catch (failure) {
        busy(section, false);
        announceError(explain(failure), error);
      }
    });
    parts.push(form);
  }
  section.append(...parts);
  return section;
}

// --- uncommitted changes, uploads, commit -----------------------------------------------------

function branchSelect(id, ctx, chosen) {
  const names = ctx.refs.branches.map((b) => b.name);
  const selected = names.includes(chosen) ? chosen : ctx.repo.default_branch;
  return h("select", { id, name: "branch" },
    names.map((name) => h("option", { value: name, selected: name === selected }, name)));
}

// The Changes view: a branch's uncommitted changes, files uploaded onto it, and the commit.
// All of it acts on the repository shown when the view was drawn: an upload still going when
// another repository is chosen goes on into this one.
export async function renderChanges(content, ctx) {
  const { repo } = ctx;
  const select = branchSelect("ds-changes-branch", ctx, ctx.ref);
  const list = h("div", { class: "ds-changes", id: "ds-changes-list" });
  const picker = h("div", { class: "toolbar" }, field("Branch", select));
  const branch = () => select.value;
  const refresh = () => showChanges(list, repo, branch());
  select.addEventListener("change", () => {
    ctx.ref = branch();
    refresh();
  });
  const parts = [picker, h("h3", { id: "ds-changes-heading", tabindex: "-1" }, "Uncommitted changes"), list];
  if (writable()) parts.push(uploadSection(repo, branch, refresh), commitSection(repo, branch, refresh));
  content.replaceChildren(...parts);
  await refresh();
}

async function showChanges(list, repo, branch) {
  list.replaceChildren(h("p", { class: "muted" }, "Loading…"));
  const current = latest(list); // a later choice of branch wins over an earlier answer still on its way
  try {
    const entries = await api(`${branchPath(repo, branch)}/changes`);
    if (!current()) return;
    if (!entries.length) {
      list.replaceChildren(emptyNote(`No uncommitted changes on ${branch}.`));
      return;
    }
    list.replaceChildren(
      h("p", { class: "muted small" }, `${entries.length} uncommitted change${entries.length === 1 ? "" : "s"} on ${branch}.`),
      dataTable(`Uncommitted changes on ${branch}`, ["change", "path", "size"], entries.map((e) => h("tr", { dataset: { type: e.type } },
        h("td", { class: `type-${e.type}` }, e.type),
        h("td", { class: "path" }, e.path),
        h("td", { class: "num" }, e.size_bytes === null || e.type === "removed" ? "" : bytes(e.size_bytes))))));
  } catch (failure) {
    if (current()) announceError(explain(failure), list);
  }
}

// The one place the console sends a dataset object's bytes: the direct upload route, with
// progress. (A pre-signed path can replace this function alone.)
// The pre-signed path: an address and a URL from the service, the bytes PUT by the browser
// straight to the store (or the embedded store's signed route), then a link. Behind a real
// lakeFS (501) the bytes go through the service's own upload route instead.
export async function uploadObject(repo, branch, path, file, onProgress) {
  const base = branchPath(repo, branch);
  let target;
  try {
    target = await api(`${base}/objects/presign`, { method: "POST", query: { path } });
  } catch (error) {
    if (error instanceof ApiError && error.status === 501) {
      return sendFile("PUT", url(`${base}/objects`, { path }), {
        Authorization: `Bearer ${session.token}`,
        "Content-Type": file.type || "application/octet-stream",
      }, file, onProgress).then((xhr) => JSON.parse(xhr.responseText));
    }
    throw error;
  }
  const xhr = await sendFile(target.upload_method, target.upload_url, target.upload_headers, file, onProgress);
  const etag = xhr.getResponseHeader("ETag");
  if (!etag) throw new Error("The store did not say what it stored (no ETag): check its CORS rules.");
  return api(`${base}/objects/link`, {
    method: "POST",
    query: { path },
    body: {
      physical_address: target.physical_address,
      size_bytes: file.size,
      checksum: etag,
      content_type: file.type || "application/octet-stream",
    },
  });
}

function sendFile(method, to, headers, file, onProgress) {
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open(method, to);
    for (const [name, value] of Object.entries(headers ?? {})) {
      if (name.toLowerCase() !== "content-length") xhr.setRequestHeader(name, value);
    }
    xhr.upload.addEventListener("progress", (event) => {
      if (event.lengthComputable) onProgress(event.loaded / event.total);
    });
    xhr.addEventListener("load", () => {
      if (xhr.status >= 200 && xhr.status < 300) {
        resolve(xhr);
        return;
      }
      let detail = xhr.statusText;
      try {
        detail = JSON.parse(xhr.responseText).detail ?? detail;
      } catch {
        detail = xhr.responseText.match(/<Message>([^<]*)<\/Message>/)?.[1] ?? detail;
      }
      reject(new ApiError(xhr.status, detail));
    });
    xhr.addEventListener("error", () => reject(new Error("The upload failed: the connection broke.")));
    xhr.send(file);
  });
}

function uploadSection(repo, branch, refresh) {
  const folder = textInput("folder", { id: "ds-upload-folder", placeholder: "e.g. images/tops/" });
  const files = h("input", { id: "ds-upload-files", name: "files", type: "file", multiple: true });
  const error = errorSlot();
  const rows = h("ul", { class: "ds-uploads", "aria-label": "Files uploaded" });
  const form = h("form", { class: "ds-form ds-upload", "aria-labelledby": "ds-upload-heading" },
    h("h3", { id: "ds-upload-heading" }, "Upload files"),
    h("div", { class: "toolbar" },
      field("Folder (optional)", folder),
      field("Files", files),
      h("button", { class: "button primary", type: "submit" }, "Upload")),
    error, rows);
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const chosen = [...files.files];
    if (!chosen.length) {
      announceError("Choose one or more files first.", error);
      files.focus();
      return;
    }
    const target = branch();
    let prefix = folder.value.trim().replace(/^\/+/, "");
    if (prefix && !prefix.endsWith("/")) prefix += "/";
    const items = chosen.map((file) => {
      const bar = h("progress", { max: "1", value: "0", "aria-label": `Upload of ${file.name}` });
      const state = h("span", { class: "ds-upload-state" }, "waiting");
      const row = h("li", { class: "ds-upload-row" },
        h("span", { class: "ds-row-name" }, `${prefix}${file.name}`),
        h("span", { class: "muted small" }, bytes(file.size)),
        bar, state);
      return { file, bar, state, row, path: `${prefix}${file.name}` };
    });
    rows.replaceChildren(...items.map((i) => i.row));
    error.replaceChildren();
    busy(form, true);
    let next = 0;
    const failures = [];
    const worker = async () => {
      while (next < items.length) {
        const item = items[next];
        next += 1;
        item.state.textContent = "uploading";
        try {
          await uploadObject(repo, target, item.path, item.file, (fraction) => {
            item.bar.value = fraction;
          });
          item.bar.value = 1;
          item.state.textContent = "uploaded";
          item.row.dataset.state = "done";
        } catch (failure) {
          item.state.textContent = explain(failure);
          item.row.dataset.state = "error";
          failures.push(`${item.path}: ${explain(failure)}`);
        }
      }
    };
    await Promise.all([worker(), worker(), worker()]);
    busy(form, false);
    const done = items.length - failures.length;
    if (failures.length) {
      announceError(`Uploaded ${done} of ${items.length} files to ${target}; ${failures.length} failed. ${failures.join(" ")}`, error);
    } else {
      announce(`Uploaded ${items.length} file${items.length === 1 ? "" : "s"} to ${target}: uncommitted until you commit.`);
    }
    files.value = "";
    await refresh();
  });
  return form;
}

function metadataRow(list) {
  const index = list.children.length + 1;
  const key = textInput("key", { "aria-label": `Key ${index}`, placeholder: "key" });
  const value = textInput("value", { "aria-label": `Value ${index}`, placeholder: "value" });
  const row = h("li", { class: "ds-meta-row" }, key, value);
  row.append(h("button", {
    class: "button small ghost",
    type: "button",
    "aria-label": `Remove metadata ${index}`,
    onclick: () => {
      const after = row.nextElementSibling ?? row.previousElementSibling;
      row.remove();
      relabel(list);
      (after?.querySelector("input") ?? list.closest("fieldset").querySelector(".ds-add-meta")).focus();
    },
  }, "Remove"));
  return row;
}

function relabel(list) {
  [...list.children].forEach((row, i) => {
    const [key, value, remove] = row.querySelectorAll("input, button");
    key.setAttribute("aria-label", `Key ${i + 1}`);
    value.setAttribute("aria-label", `Value ${i + 1}`);
    remove.setAttribute("aria-label", `Remove metadata ${i + 1}`);
  });
}

function commitSection(repo, branch, refresh) {
  const message = h("textarea", { id: "ds-commit-message", name: "message", rows: "2", required: true, class: "ds-textarea", placeholder: "What changed and why" });
  const list = h("ul", { class: "ds-meta" });
  const add = h("button", {
    class: "button small ds-add-meta",
    type: "button",
    onclick: () => {
      const row = metadataRow(list);
      list.append(row);
      row.querySelector("input").focus();
    },
  }, "Add metadata");
  const error = errorSlot();
  const form = h("form", { class: "ds-form ds-commit", "aria-labelledby": "ds-commit-heading" },
    h("h3", { id: "ds-commit-heading" }, "Commit"),
    field("Message", message),
    h("fieldset", { class: "ds-fieldset" }, h("legend", {}, "Metadata (key and value)"), list, add),
    h("div", { class: "toolbar" }, h("button", { class: "button primary", type: "submit" }, "Commit changes")),
    error);
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const metadata = {};
    for (const row of list.children) {
      const [key, value] = row.querySelectorAll("input");
      if (key.value.trim()) metadata[key.value.trim()] = value.value;
    }
    const target = branch();
    const ok = await run(form, error, async () => {
      const made = await api(`${branchPath(repo, target)}/commits`, {
        method: "POST",
        body: { message: message.value.trim(), metadata },
      });
      return `Committed ${short(made.id, 12)} on ${target}.`;
    });
    if (ok) {
      message.value = "";
      list.replaceChildren();
      await refresh();
      $("#ds-changes-heading")?.focus();
    } else {
      message.focus();
    }
  });
  return form;
}

// --- merge ------------------------------------------------------------------------------------

async function mergeCall(repo, into, body) {
  // Not api(): a 409 carries `conflicts`, every conflicting path, besides the detail.
  const response = await fetch(url(`${branchPath(repo, into)}/merge`), {
    method: "POST",
    headers: { Accept: "application/json", "Content-Type": "application/json", Authorization: `Bearer ${session.token}` },
    body: JSON.stringify(body),
    cache: "no-store",
  });
  const data = await response.json().catch(() => null);
  if (response.ok) return { commit: data };
  if (response.status === 409 && Array.isArray(data?.conflicts)) return { conflicts: data.conflicts };
  throw new ApiError(response.status, typeof data?.detail === "string" ? data.detail : response.statusText);
}

export function renderMerge(content, ctx) {
  const { repo, refs } = ctx;
  const other = refs.branches.find((b) => b.name !== repo.default_branch)?.name ?? repo.default_branch;
  const source = textInput("source", { id: "ds-merge-source", required: true, list: "ref-options", value: other });
  const into = branchSelect("ds-merge-into", ctx, repo.default_branch);
  const message = textInput("message", { id: "ds-merge-message", placeholder: "Merge … into …" });
  const strategy = h("select", { id: "ds-merge-strategy", name: "strategy" },
    h("option", { value: "" }, "None: stop and list conflicts"),
    h("option", { value: "dest-wins" }, "Destination wins (dest-wins)"),
    h("option", { value: "source-wins" }, "Source wins (source-wins)"));
  const error = errorSlot();
  const result = h("div", { class: "results", id: "ds-merge-result" });
  const form = h("form", { class: "toolbar ds-form", "aria-label": "Merge" },
    field("Source ref", source),
    field("Into branch", into),
    field("Message (optional)", message),
    field("Conflict strategy", strategy),
    h("button", { class: "button primary", type: "submit" }, "Run merge"),
    error);
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    error.replaceChildren();
    result.replaceChildren();
    const from = source.value.trim();
    const target = into.value;
    busy(form, true);
    try {
      const outcome = await mergeCall(repo, target, {
        source: from,
        message: message.value.trim() || null,
        strategy: strategy.value || null,
      });
      if (outcome.conflicts) {
        const n = outcome.conflicts.length;
        const heading = h("h3", { id: "ds-conflicts-heading", tabindex: "-1" }, `${n} conflict${n === 1 ? "" : "s"}`);
        result.replaceChildren(
          heading,
          h("p", {}, `${from} and ${target} both changed these paths since their merge base. Nothing was merged: choose a conflict strategy and merge again.`),
          h("ul", { class: "ds-conflicts", "aria-labelledby": "ds-conflicts-heading" },
            outcome.conflicts.map((path) => h("li", { class: "path" }, path))));
        busy(form, false);
        announceError(`Merge stopped: ${n} conflict${n === 1 ? "" : "s"} between ${from} and ${target}. Nothing was merged.`);
        heading.focus();
        return;
      }
      busy(form, false);
      const id = short(outcome.commit.id, 12);
      result.replaceChildren(h("p", { class: "ds-ok" }, `Merged ${from} into ${target}: commit ${id}.`));
      announce(`Merged ${from} into ${target}: commit ${id}.`);
    } catch (failure) {
      busy(form, false);
      announceError(explain(failure), error);
      source.focus();
    }
  });
  content.replaceChildren(form, result);
}

// --- revert -------------------------------------------------------------------------------

// The Revert button of one commit in the log of `branch`; `after` reloads the log.
export function revertButton(ctx, commit, branch, after) {
  const id = short(commit.id, 12);
  return h("button", {
    class: "button small",
    type: "button",
    "aria-label": `Revert commit ${id}`,
    onclick: (event) => confirmDialog({
      title: `Revert commit ${id} on ${branch}?`,
      text: `A new commit on ${branch} undoes what ${id} changed ("${commit.message || "no message"}"). The branch must have no uncommitted changes.`,
      confirmLabel: "Revert commit",
      opener: event.currentTarget,
      fallback: () => $("#ds-log-summary"),
      confirm: async () => {
        const made = await api(`${branchPath(ctx.repo, branch)}/revert`, { method: "POST", body: { ref: commit.id } });
        announce(`Reverted ${id} on ${branch}: commit ${short(made.id, 12)}.`);
        await after();
      },
    }),
  }, "Revert");
}

// The Datasets view: repositories, branches and tags, the log at a ref, a diff between two
// refs, and the objects at a ref, folder by folder. With `datasets:write`, the writes of
// dataset-writes.js too: branches, tags, protection, uploads, commits, merges, reverts.

import { api, describeError } from "./api.js";
import {
  dataTable, renderBranches, renderChanges, renderMerge, revertButton, setUpAnnouncements, writable,
} from "./dataset-writes.js";
import { $, bytes, emptyNote, errorNote, focusOn, h, latest, richText, short, table, when } from "./dom.js";

const datasets = { repo: null, refs: null, mode: "log", prefix: "", ref: "" };
// `chosen` names the latest choice of repository from the click on (datasets.repo follows
// with its panel): the view opened again keeps it, even while its panel is still on its way.
let chosen = null;

export async function loadDatasets() {
  setUpAnnouncements();
  const list = $("#repo-list");
  const latestList = latest(list); // the view opened again meanwhile: its own list is on its way
  let repos;
  try {
    repos = await api("api/v1/datasets/repositories");
  } catch (error) {
    if (latestList()) list.replaceChildren(h("li", {}, errorNote({ message: describeError(error) })));
    return;
  }
  if (!latestList()) return;
  if (!repos.length) {
    list.replaceChildren(h("li", { class: "muted small" }, richText("No repositories yet: `sartiq-storage datasets repo create`.")));
    return;
  }
  list.replaceChildren(...repos.map((repo) => h("li", {},
    h("button", {
      type: "button",
      dataset: { repo: repo.name },
      "aria-current": chosen === repo.name ? "true" : "false",
      onclick: () => selectRepo(repo),
    },
    h("span", { class: "name" }, repo.name),
    h("span", { class: "ns", title: repo.storage_namespace }, `${repo.default_branch} · ${repo.storage_namespace}`)))));
  const current = repos.find((r) => r.name === chosen) ?? repos[0];
  await selectRepo(current);
}

function refOptions() {
  const { refs } = datasets;
  return h("datalist", { id: "ref-options" },
    refs.branches.map((b) => h("option", { value: b.name }, "branch")),
    refs.tags.map((t) => h("option", { value: t.name }, "tag")));
}

// After a write changed the branches or tags: the ref suggestions follow.
function refsChanged() {
  $("#ref-options")?.replaceWith(refOptions());
}

async function selectRepo(repo) {
  const panel = $("#repo-panel");
  // An answer that comes after a later choice is dropped: a slow first load cannot replace
  // the repository the user clicked.
  const current = latest(panel);
  chosen = repo.name;
  for (const button of document.querySelectorAll("#repo-list button")) {
    button.setAttribute("aria-current", button.dataset.repo === repo.name ? "true" : "false");
  }
  let refs;
  let failure = null;
  try {
    refs = await api(`api/v1/datasets/repositories/${encodeURIComponent(repo.name)}/refs`);
  } catch (error) {
    failure = error;
  }
  if (!current()) return;
  // The repository changes with the panel, not before: until the new panel is drawn, the one
  // on screen (its views, forms and writes) still acts on the repository it shows.
  if (datasets.repo?.name !== repo.name) {
    datasets.prefix = "";
    datasets.ref = repo.default_branch;
  }
  datasets.repo = repo;
  if (failure) {
    panel.replaceChildren(errorNote({ message: describeError(failure) }));
    return;
  }
  datasets.refs = refs;
  const modes = [["log", "Log"], ["changes", "Changes"], ["diff", "Diff"],
    ...(writable() ? [["merge", "Merge"]] : []), ["browse", "Browse"], ["refs", "Branches"]];
  if (!modes.some(([mode]) => mode === datasets.mode)) datasets.mode = "log";
  const content = h("div", { class: "repo-content" });
  const segmented = h("div", { class: "segmented", role: "group", "aria-label": "View" },
    modes.map(([mode, label]) => h("button", {
      type: "button",
      dataset: { mode },
      "aria-pressed": String(datasets.mode === mode),
      onclick: () => {
        datasets.mode = mode;
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

// The view of the mode chosen; `data-rendered` names it once shown (what tests wait for).
async function renderRepoMode(content) {
  delete content.dataset.rendered;
  const mode = datasets.mode;
  await renderMode(content, mode);
  if (datasets.mode === mode) content.dataset.rendered = mode;
}

async function renderMode(content, mode) {
  if (mode === "refs") return renderBranches(content, writeContext());
  if (mode === "changes") return renderChanges(content, writeContext());
  if (mode === "merge") return renderMerge(content, writeContext());
  if (mode === "diff") return renderDiffForm(content);
  const form = h("form", { class: "toolbar" },
    refInput("ds-ref", datasets.ref, "Ref (branch, tag or commit)"),
    h("button", { class: "button", type: "submit" }, mode === "log" ? "Show log" : "Browse"));
  const results = h("div", { class: "results" });
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    datasets.ref = $("#ds-ref").value.trim();
    datasets.prefix = "";
    (mode === "log" ? showLog : showObjects)(results);
  });
  content.replaceChildren(form, results);
  await (mode === "log" ? showLog : showObjects)(results);
}

// What the write views read and change: the repository, its refs (kept in step with the
// ref suggestions) and the ref the other views show.
function writeContext() {
  return {
    get repo() { return datasets.repo; },
    get refs() { return datasets.refs; },
    set refs(refs) {
      datasets.refs = refs;
      refsChanged();
    },
    get mode() { return datasets.mode; },
    get ref() { return datasets.ref; },
    set ref(ref) { datasets.ref = ref; },
  };
}

async function showLog(results) {
  const { repo, ref } = datasets;
  const current = latest(results);
  results.replaceChildren(h("p", { class: "muted" }, "Loading…"));
  try {
    const commits = await api(`api/v1/datasets/repositories/${encodeURIComponent(repo.name)}/log`, { query: { ref, amount: 100 } });
    if (!current()) return; // another ref was asked for meanwhile
    // Revert works on a branch: offered when the log shown is a branch's.
    const branch = writable() && datasets.refs.branches.some((b) => b.name === ref) ? ref : null;
    const rows = commits.map((c) => h("tr", {},
      h("td", { class: "commit-id", title: c.id }, short(c.id, 12)),
      h("td", {}, c.message || h("span", { class: "muted" }, "(no message)"),
        Object.keys(c.metadata ?? {}).length
          ? h("span", { class: "ds-commit-meta" }, Object.entries(c.metadata).map(([k, v]) => `${k}=${v}`).join(" · "))
          : null),
      h("td", {}, c.committer),
      h("td", {}, when(c.creation_date)),
      branch && c.parents.length === 1 ? h("td", {}, revertButton(writeContext(), c, branch, () => showLog(results))) : branch ? h("td", {}) : null));
    results.replaceChildren(
      h("p", { class: "muted small", id: "ds-log-summary", tabindex: "-1" }, `${commits.length} commit${commits.length === 1 ? "" : "s"} reachable from ${ref}${commits.length === 100 ? " (newest 100)" : ""}.`),
      dataTable(`Commits reachable from ${ref}`, ["commit", "message", "committer", "date", ...(branch ? ["action"] : [])], rows));
  } catch (error) {
    if (current()) results.replaceChildren(errorNote({ message: describeError(error) }));
  }
}

function renderDiffForm(content) {
  const { refs, repo } = datasets;
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
    const current = latest(results);
    results.replaceChildren(h("p", { class: "muted" }, "Comparing…"));
    try {
      const entries = await api(`api/v1/datasets/repositories/${encodeURIComponent(repo.name)}/diff`, {
        query: { left, right, mode: mode.value, amount: 1000 },
      });
      if (!current()) return; // compared again meanwhile
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
        dataTable(`Changes from ${left} to ${right}`, ["change", "path", "size"], rows));
    } catch (error) {
      if (current()) results.replaceChildren(errorNote({ message: describeError(error) }));
    }
  });
  content.replaceChildren(form, results);
}

async function showObjects(results, after = "", append = false) {
  const { repo, ref, prefix } = datasets;
  // Another ref, folder or page asked for meanwhile (a double click on Load more too): this
  // answer is dropped.
  const current = latest(results);
  if (!append) results.replaceChildren(h("p", { class: "muted" }, "Loading…"));
  let listing;
  try {
    listing = await api(`api/v1/datasets/repositories/${encodeURIComponent(repo.name)}/objects`, {
      query: { ref, prefix, after, amount: 200 },
    });
  } catch (error) {
    if (current()) results.replaceChildren(errorNote({ message: describeError(error) }));
    return;
  }
  if (!current()) return;
  // A folder or a crumb opened: the focus goes to the listing it opened (its table, named
  // after the folder), not back to the top of the page.
  const enter = async (path) => {
    datasets.prefix = path;
    await showObjects(results);
    focusOn(results.querySelector("table") ?? results.querySelector(".empty"));
  };
  // A folder is a button (the keyboard opens it); a click anywhere on its row does too.
  const rows = listing.items.map((item) => (item.path_type === "common_prefix"
    ? h("tr", { class: "clickable", onclick: (event) => event.target.closest("button") || enter(item.path) },
      h("td", { class: "path" }, h("button", { type: "button", class: "folder", onclick: () => enter(item.path) },
        item.path.slice(prefix.length))),
      h("td", {}, "folder"), h("td", {}), h("td", {}), h("td", {}))
    : h("tr", {},
      h("td", { class: "path", title: item.path }, item.path.slice(prefix.length)),
      h("td", {}, item.content_type),
      h("td", { class: "num" }, bytes(item.size)),
      h("td", { class: "commit-id", title: `MD5 ${item.checksum}` }, short(item.checksum, 10)),
      h("td", {}, when(item.mtime)))));
  const moreHadFocus = append && document.activeElement === results.querySelector(".more");
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
    crumbs.at(-1).setAttribute("aria-current", "location");
    const listingTable = rows.length ? table(["name", "type", "size", "checksum", "modified"], rows) : null;
    listingTable?.querySelector("table").setAttribute("aria-label", `Objects in ${prefix || "/"} at ${ref}`);
    results.replaceChildren(
      h("nav", { class: "crumbs", "aria-label": "Folder path" }, crumbs),
      listingTable ?? emptyNote("Nothing here."));
  }
  if (listing.has_more) {
    results.append(h("button", {
      class: "button small more",
      type: "button",
      onclick: () => showObjects(results, listing.next_offset, true),
    }, "Load more"));
  }
  if (moreHadFocus) focusOn(results.querySelector(".more") ?? results.querySelector("table"));
}

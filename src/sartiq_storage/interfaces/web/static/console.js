// The storage console: plain modern JavaScript, no build step, no dependencies.
// It calls the service's own JSON API with the bearer token the operator signs in with
// (docs/console.md). Every string from the API reaches the page as text, never as HTML.
//
// This is the entry module (index.html loads it with <script type="module">): sign in,
// routing between the views, and start. Each view is its own module, loaded by the
// browser's own import (no bundler): api.js (the JSON API and the session), dom.js (small
// DOM helpers), upload.js (with upload-parts.js, its multipart client), media.js,
// operations.js, datasets.js and dataset-writes.js.

import { api, ApiError, describeError, may, onUnauthorized, session, url } from "./api.js";
import { loadDatasets } from "./datasets.js";
import { $, bytes, focusOn, h, when } from "./dom.js";
import { openMedia, setUpDetail, setUpMedia } from "./media.js";
import { loadOperations, setUpOperations } from "./operations.js";
import { acceptedList, setUpUpload } from "./upload.js";

const TOKEN_KEY = "sartiq-storage.console.token";

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
  session.token = null;
  sessionStorage.removeItem(TOKEN_KEY);
  showSignIn(message);
}

// The token becomes the session's once the service accepted it and it opens a section: until
// then nothing else the page asks for goes with it.
async function signIn(token) {
  const candidate = token.trim().replace(/^Bearer\s+/i, "");
  let info;
  try {
    info = await api("api/v1/token", { token: candidate }); // 401 unless the token is good; what it may do
  } catch (error) {
    if (error instanceof ApiError && error.status === 401) {
      signOut(`Signed out: the token was refused (${error.message}).`);
    } else {
      showSignIn(describeError(error));
    }
    return false;
  }
  session.scopes = info.scopes;
  if (!Object.keys(VIEWS).some(allowed)) {
    const scopes = info.scopes.length ? info.scopes.join(", ") : "none";
    showSignIn(`This token allows none of the console's sections (its scopes: ${scopes}).`);
    return false;
  }
  session.token = candidate;
  sessionStorage.setItem(TOKEN_KEY, session.token);
  for (const tab of document.querySelectorAll(".tabs a")) tab.hidden = !allowed(tab.dataset.tab);
  $("#view-uploaded").hidden = !allowed("media");
  const who = claims(session.token);
  $("#who").textContent = `signed in as ${info.subject}`;
  $("#who").title = who.exp ? `token valid until ${when(who.exp)}` : "";
  $("#signin").hidden = true;
  $("#app").hidden = false;
  const view = route();
  // The form just vanished under the focus: the view's heading takes it, not the page's top.
  focusOn($(`#view-${view} h1`));
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

function allowed(view) {
  return VIEWS[view].needs.every(may);
}

function route() {
  if (!session.token) return;
  const [, name = "upload", query = ""] = location.hash.match(/^#\/(\w+)\??(.*)$/) ?? [];
  const view = VIEWS[name] && allowed(name) ? name : Object.keys(VIEWS).find(allowed);
  for (const key of Object.keys(VIEWS)) $(`#view-${key}`).hidden = key !== view;
  for (const tab of document.querySelectorAll(".tabs a")) {
    if (tab.dataset.tab === view) tab.setAttribute("aria-current", "page");
    else tab.removeAttribute("aria-current");
  }
  document.title = `${VIEWS[view].title} · Sartiq Storage`;
  VIEWS[view].load(new URLSearchParams(query));
  return view;
}

// The sticky top bar's height, for scroll-padding-top (console.css): a control the keyboard
// reaches is scrolled clear of the bar, whatever the bar's height at this width.
function trackTopBar() {
  const bar = $(".topbar");
  const set = () => document.documentElement.style.setProperty("--topbar-height", `${bar.offsetHeight}px`);
  new ResizeObserver(set).observe(bar);
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
  onUnauthorized(signOut);
  session.config = await (await fetch(new URL("config.json", document.baseURI), { cache: "no-store" })).json();
  $("#file-input").accept = Object.keys(session.config.accepted_types).join(",");
  const videos = session.config.max_video_size ? `; videos up to ${bytes(session.config.max_video_size)}, sent in parts` : "";
  $("#accept-hint").textContent = `${acceptedList()} · up to ${bytes(session.config.max_file_size)} each${videos}`;
  setUpUpload();
  setUpMedia();
  setUpDetail();
  setUpOperations();
  trackTopBar();
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
    if (!session.token && $("#signin").hidden) showSignIn();
  }
}

start();

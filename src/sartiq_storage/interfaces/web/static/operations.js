// The Operations view: storage health, dead letters (with retry), the last orphan scan and
// the bucket's lifecycle and CORS rules against the policy.

import { api, describeError, url } from "./api.js";
import { $, age, bytes, emptyNote, errorNote, h, latest, richText, stat, table, toast, when } from "./dom.js";

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
    // Spread, not a null: replaceChildren writes a null argument as the text "null".
    ...((health.reasons ?? []).length
      ? [h("p", { class: "small", id: "health-reasons" }, health.reasons.join("; "))]
      : []),
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

export async function loadOperations() {
  const loads = [
    ["health-card", fetch(url("api/v1/storage/health"), { cache: "no-store" }).then((r) => r.json()), renderHealth],
    ["deadletters-card", api("api/v1/operations/dead-letters"), renderDeadLetters],
    ["orphans-card", api("api/v1/operations/orphans"), renderOrphans],
    ["lifecycle-card", api("api/v1/operations/lifecycle"), renderLifecycle],
  ];
  // A card shows the answer of the latest load only: one from before a retry or a refresh
  // that comes after it would show how things were.
  await Promise.all(loads.map(async ([id, promise, render]) => {
    const current = latest(cardBody(id));
    try {
      const data = await promise;
      if (current()) render(data);
    } catch (error) {
      if (current()) cardBody(id).replaceChildren(errorNote({ message: describeError(error) }));
    }
  }));
}

export function setUpOperations() {
  $("#ops-refresh").addEventListener("click", () => loadOperations());
  $("#retry-all").addEventListener("click", () => retry(null));
}

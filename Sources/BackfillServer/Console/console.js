"use strict";
// The Backfill console: lists connections, follows their progress live, and drives the HTTP API.
// Plain DOM, no framework. Cards are built once and updated in place so that a button is never
// replaced under the pointer while progress events stream in.

const TOKEN_KEY = "backfill.apiToken";
const COMPLETE_SHOWN_MS = 6000; // how long "Sync complete" stays before the card settles to Healthy
const STREAM_SILENCE_MS = 45000; // three missed heartbeats: the stream is dead, reconnect
// Browsers open at most 6 HTTP/1.1 connections per origin: stream at most 4 mailboxes (active
// backfills first), keep 2 for API calls, and poll the list for the rest.
const MAX_STREAMS = 4;
const POLL_MS = 5000;
const FINISHED = ["completed", "cancelled", "failed"];
const numbers = new Intl.NumberFormat("en-US");
const PROVIDERS = { graph: "Microsoft 365", gmail: "Gmail" };
const RANGE_PHRASES = { "30d": "last 30 days", "90d": "last 90 days", "12m": "last 12 months", all: "all time" };
const HEALTH = {
  healthy: ["Healthy", "✓"], syncing: ["Syncing", "↻"], error: ["Error", "!"],
  waiting_on_parent: ["Waiting on parent", "…"], disconnected: ["Disconnected", "○"],
};
const ERROR_TITLES = {
  token_expired: "Token expired — reconnect",
  permission_lost: "Permission lost — ask your admin",
  throttled: "Throttled by the provider",
  pacing: "Pacing to the provider's quota",
  transient: "Temporary provider failure",
  invalid_response: "The provider sent an invalid response",
  cursor_expired: "Sync position expired",
  waiting_on_parent: "Waiting on the parent mailbox",
  stalled: "Stalled",
  store_unavailable: "The message store cannot write — waiting",
};

const connections = new Map(); // id → latest Connection
const cards = new Map(); // id → card element
const streams = new Map(); // id → AbortController of its event stream
const completion = new Map(); // backfill id → "shown" | "faded"
const $ = (id) => document.getElementById(id);

// ---- Words ----

const plural = (n, word) => `${n} ${word}${n === 1 ? "" : "s"}`;
const pad = (n) => String(n).padStart(2, "0");
const clock = (iso) => { const d = new Date(iso); return `${pad(d.getHours())}:${pad(d.getMinutes())}`; };

function duration(minutes) {
  if (minutes < 60) return plural(minutes, "minute");
  const rest = minutes % 60;
  return plural(Math.floor(minutes / 60), "hour") + (rest ? ` ${plural(rest, "minute")}` : "");
}

// "about 2 minutes" for an estimated duration: rough on purpose, it is advice before the pick.
function about(seconds) {
  if (seconds < 60) return "under a minute";
  const minutes = Math.round(seconds / 60);
  if (minutes < 90) return `about ${plural(minutes, "minute")}`;
  const hours = Math.round(minutes / 60);
  return hours < 48 ? `about ${plural(hours, "hour")}` : `about ${plural(Math.round(hours / 24), "day")}`;
}

function remaining(seconds) {
  return seconds < 60 ? "less than a minute remaining" : `~${duration(Math.round(seconds / 60))} remaining`;
}

function countText(b) {
  const total = Math.max(b.estimatedTotal || 0, b.pulled);
  return total > 0 && b.state !== "completed"
    ? `${numbers.format(b.pulled)} of ~${numbers.format(total)} messages`
    : `${numbers.format(b.pulled)} messages`;
}

// ---- API ----

class ApiError extends Error {
  constructor(status, message) { super(message); this.status = status; }
}

function headers(extra) {
  const token = sessionStorage.getItem(TOKEN_KEY);
  return token ? { ...extra, Authorization: `Bearer ${token}` } : extra;
}

async function api(method, path, body) {
  let response;
  try {
    response = await fetch(path, {
      method, cache: "no-store",
      headers: headers(body === undefined ? { Accept: "application/json" } : { Accept: "application/json", "Content-Type": "application/json" }),
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  } catch {
    throw new ApiError(0, "The server cannot be reached. Check that it is running and try again.");
  }
  if (response.status === 401) showTokenForm();
  const text = await response.text();
  let json = null;
  try { json = text ? JSON.parse(text) : null; } catch { /* not JSON: fall back to the status below */ }
  if (!response.ok) throw new ApiError(response.status, json?.error?.message ?? `The server answered ${response.status}.`);
  return json;
}

const connectionPath = (id, rest = "") => `/v1/connections/${encodeURIComponent(id)}${rest}`;

async function refresh(id) {
  try {
    update(await api("GET", connectionPath(id)));
  } catch (error) {
    if (error.status === 404) remove(id); else if (error.status !== 401) showNotice(error.message);
  }
}

async function loadAll() {
  try {
    // Pages of 500, followed to the end.
    const list = [];
    let after = null;
    do {
      const page = await api("GET", "/v1/connections?limit=500" + (after ? "&after=" + encodeURIComponent(after) : ""));
      list.push(...(page.connections ?? []));
      after = page.next ?? null;
    } while (after);
    const seen = new Set(list.map((c) => c.id));
    for (const id of [...cards.keys()]) if (!seen.has(id)) remove(id);
    for (const c of list) if (!streams.has(c.id)) update(c); // a stream is fresher than this list
    fillParentChoices();
  } catch (error) {
    if (error.status !== 401) showNotice(error.message);
  } finally {
    $("connections").setAttribute("aria-busy", "false");
    $("empty").hidden = cards.size > 0;
  }
}

// ---- Live updates ----
// fetch() rather than EventSource: EventSource cannot send the Authorization header.

function planStreams() {
  const active = (c) => (c.backfill && !FINISHED.includes(c.backfill.state) ? 0 : 1);
  const wanted = [...connections.values()]
    .filter((c) => c.health !== "disconnected")
    .sort((a, b) => active(a) - active(b)) // stable: list order within each group
    .slice(0, MAX_STREAMS).map((c) => c.id);
  for (const [id, stop] of streams) if (!wanted.includes(id)) { stop.abort(); streams.delete(id); }
  wanted.forEach(follow);
}

function follow(id) {
  if (streams.has(id)) return;
  const stop = new AbortController();
  streams.set(id, stop);
  (async () => { // runs for the card's lifetime; remove() aborts it
    let delay = 1000;
    while (!stop.signal.aborted) {
      const status = await readStream(id, stop.signal, () => { delay = 1000; });
      if (status === 401 || status === 404 || stop.signal.aborted) break;
      await new Promise((resolve) => setTimeout(resolve, delay));
      delay = Math.min(delay * 2, 30000);
      if (!stop.signal.aborted) await refresh(id); // catch up on whatever the gap missed
    }
    if (streams.get(id) === stop) streams.delete(id);
  })();
}

// Reads one SSE response until it ends, fails or goes silent; returns the HTTP status (0 on failure).
async function readStream(id, stopSignal, onOpen) {
  const attempt = new AbortController();
  const abort = () => attempt.abort();
  stopSignal.addEventListener("abort", abort);
  let watchdog = setTimeout(abort, STREAM_SILENCE_MS);
  try {
    const response = await fetch(connectionPath(id, "/events"), {
      headers: headers({ Accept: "text/event-stream" }), cache: "no-store", signal: attempt.signal,
    });
    if (response.status === 401) showTokenForm();
    if (response.status === 404) remove(id);
    if (!response.ok || !response.body) return response.status;
    onOpen();
    const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
    let buffer = "", event = "message", data = [];
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return 0;
      clearTimeout(watchdog);
      watchdog = setTimeout(abort, STREAM_SILENCE_MS);
      const lines = (buffer + value).split("\n");
      buffer = lines.pop();
      for (const raw of lines) {
        const line = raw.replace(/\r$/, "");
        if (line === "") { // blank line: dispatch the event
          if (event === "connection" && data.length) update(JSON.parse(data.join("\n")));
          event = "message"; data = [];
        } else if (!line.startsWith(":")) {
          const colon = line.indexOf(":");
          const field = colon < 0 ? line : line.slice(0, colon);
          const text = colon < 0 ? "" : line.slice(colon + 1).replace(/^ /, "");
          if (field === "event") event = text; else if (field === "data") data.push(text);
        }
      }
    }
  } catch {
    return 0;
  } finally {
    clearTimeout(watchdog);
    stopSignal.removeEventListener("abort", abort);
  }
}

// ---- What a card says ----

// How new mail arrives, in words: "live" only with a push channel; a polled mailbox says so.
function syncText(c, still = false) {
  const last = c.realtime?.lastCatchUpAt ? ` (last checked ${clock(c.realtime.lastCatchUpAt)})` : "";
  if (c.realtime?.mode === "poll") return `New mail is checked on a schedule, not live${last}.`;
  return `New mail ${still ? "still " : ""}syncs live${last}.`;
}

function view(c) {
  const b = c.backfill;
  const reconnect = { href: `/oauth/${c.provider}/start`, text: "Reconnect", testid: "reconnect" };
  if (c.health === "disconnected") {
    return { tone: "muted", label: "Disconnected — stored messages are kept", actions: [reconnect], support: [] };
  }
  if (c.health === "waiting_on_parent" || b?.state === "waiting_on_parent") {
    const parent = c.parentAddress ?? "the personal mailbox";
    return {
      tone: "wait", label: `Waiting on ${parent} — reconnect it`, progress: !!b,
      detail: "This shared mailbox borrows that mailbox's sign-in.",
      actions: [{ href: "/oauth/graph/start", text: `Reconnect ${parent}`, testid: "reconnect" }],
    };
  }
  // The connection's own trouble (a token refused after the backfill, a permission lost) comes first.
  if (c.health === "error" && b?.state !== "failed") return failure(c, c.error, []);
  // Real time's passing trouble, once it has repeated (the API shows `failing` only then): new mail is late.
  const failing = c.realtime?.failing;
  if (failing && (!b || b.state === "completed" || b.state === "cancelled")) {
    const next = failing.nextTryAt ? `; the next is at ${clock(failing.nextTryAt)}` : "";
    return {
      tone: "wait", label: "New mail delayed — retrying by itself",
      detail: `${failing.message}. ${numbers.format(failing.failures)} checks in a row failed${next}.`, actions: [],
    };
  }
  if (!b) {
    return { tone: "plain", label: "Healthy", detail: `${syncText(c)} No history pulled yet.`, actions: ["start-backfill"] };
  }
  const pulled = numbers.format(b.pulled);
  const live = ["pause", "cancel"];
  if (b.stalled && !["completed", "cancelled", "failed"].includes(b.state)) {
    const since = Date.parse(b.lastProgressAt ?? b.startedAt ?? "");
    const minutes = Number.isNaN(since) ? 5 : Math.max(5, Math.floor((Date.now() - since) / 60000));
    return { tone: "wait", label: `Stalled — no progress for ${duration(minutes)}`, progress: true, actions: ["nudge", ...live] };
  }
  switch (b.state) {
    case "queued":
      return {
        tone: "running", progress: true, actions: live, detail: b.error?.message,
        label: b.retryAt ? `Retrying at ${clock(b.retryAt)}` : "Queued — starting soon",
      };
    case "running":
      return { tone: "running", label: `Syncing ${RANGE_PHRASES[b.range] ?? "history"}`, progress: true, eta: true, actions: live };
    case "paused":
      if (b.pausing) {
        return { tone: "paused", label: "Pausing…", detail: "The pages in flight finish first.", progress: true, actions: ["resume", "cancel"] };
      }
      return { tone: "paused", label: `Paused — ${pulled} messages so far`, progress: true, actions: ["resume", "cancel"] };
    case "throttled":
      if (b.error?.code === "pacing") {
        // Its own pacing, not a refusal: the quota is spent evenly and the next batch goes by itself.
        const quota = c.provider === "gmail" ? "Gmail's quota" : "the provider's quota";
        const wait = b.retryAt ? Math.max(1, Math.ceil((Date.parse(b.retryAt) - Date.now()) / 1000)) : null;
        return {
          tone: "running", progress: true, actions: live,
          label: `Pacing to ${quota}` + (wait ? ` — next batch in ${wait} s` : ""),
          detail: "Nothing is wrong: the mailbox's quota is spent evenly.",
        };
      }
      return {
        tone: "paused", progress: true, actions: live,
        label: b.retryAt ? `Throttled — retrying at ${clock(b.retryAt)}` : "Throttled — retrying soon",
        detail: "The provider asked us to slow down. This resumes by itself.",
      };
    case "completed": {
      const phrase = RANGE_PHRASES[b.range] ?? "the chosen range";
      const checked = completenessText(b);
      const actions = b.skipped > 0 ? ["retry-skipped"] : [];
      if (completion.get(b.id) === "faded") {
        return { tone: "plain", label: "Healthy", detail: `${pulled} messages from ${phrase}. ${checked}${syncText(c)}`, actions };
      }
      if (!completion.has(b.id)) settleLater(c.id, b.id);
      return { tone: "ok", label: `Sync complete — ${pulled} messages from ${phrase}`, detail: checked.trim() || undefined, progress: true, actions };
    }
    case "cancelled":
      return { tone: "plain", label: `Cancelled — ${pulled} messages kept`, detail: syncText(c, true) };
    case "failed":
      return failure(c, b.error, ["retry"]);
    default:
      return { tone: "plain", label: b.state, progress: true };
  }
}

// What the completeness audit found and what was skipped, as sentences ending in a space (or nothing).
function completenessText(b) {
  let text = "";
  if (b.audit) {
    const repaired = b.audit.repaired > 0 ? ` — ${numbers.format(b.audit.repaired)} missing messages stored` : "";
    text += `Verified with the provider at ${clock(b.audit.auditedAt)}${repaired}. `;
  }
  if (b.skipped > 0) {
    text += `${numbers.format(b.skipped)} message${b.skipped === 1 ? "" : "s"} the provider would not serve ${b.skipped === 1 ? "was" : "were"} skipped. `;
  }
  return text;
}

function failure(c, error, actions) {
  const label = ERROR_TITLES[error?.code] ?? "Backfill failed";
  const extra = error?.code === "token_expired" ? [{ href: `/oauth/${c.provider}/start`, text: "Reconnect", testid: "reconnect" }] : [];
  return { tone: "error", label, detail: error?.message, progress: !!c.backfill, actions: [...actions, ...extra] };
}

// Shows "Sync complete" for a few seconds, then fades the card into its plain Healthy state.
function settleLater(connectionId, backfillId) {
  completion.set(backfillId, "shown");
  setTimeout(() => cards.get(connectionId)?.classList.add("fading"), COMPLETE_SHOWN_MS - 800);
  setTimeout(() => {
    completion.set(backfillId, "faded");
    cards.get(connectionId)?.classList.remove("fading");
    if (connections.has(connectionId)) update(connections.get(connectionId));
  }, COMPLETE_SHOWN_MS);
}

// ---- Buttons ----

const BUTTONS = {
  "start-backfill": { text: "Start backfill", style: "primary", run: (c, button) => pickRange(c, "start", button) },
  pause: { text: "Pause", run: (c) => command(c, "/backfill/pause") },
  resume: { text: "Resume", style: "primary", run: (c) => command(c, "/backfill/resume") },
  retry: { text: "Retry", style: "primary", run: (c) => command(c, "/backfill/retry") },
  nudge: { text: "Nudge", run: (c) => command(c, "/nudge") },
  "retry-skipped": { text: "Retry skipped", run: (c) => command(c, "/skipped/retry") },
  cancel: {
    text: "Cancel",
    run: async (c) => {
      const kept = numbers.format(c.backfill?.pulled ?? 0);
      if (await confirmAction("Cancel this backfill?", `${c.address} stops pulling history for good. The ${kept} messages already pulled are kept, and new mail keeps syncing.`, "Cancel backfill", "Keep going")) {
        await command(c, "/backfill/cancel");
      }
    },
  },
  reset: { text: "Reset…", run: (c, button) => pickRange(c, "reset", button) },
  disconnect: {
    text: "Disconnect", style: "danger",
    run: async (c) => {
      if (await confirmAction(`Disconnect ${c.address}?`, "Its sign-in is removed and syncing stops. Stored messages are kept; reconnecting picks up from there.", "Disconnect", "Keep connected")) {
        await command(c, "", "DELETE");
      }
    },
  },
};

async function command(c, rest, method = "POST", body) {
  try {
    await api(method, connectionPath(c.id, rest), body);
    hideNotice();
  } catch (error) {
    if (error.status !== 401) showNotice(error.message);
  }
  await refresh(c.id);
}

function buttonsFor(c, keys, labelId) {
  return keys.map((key) => {
    if (typeof key === "object") {
      const link = element("a", { class: "button", href: key.href, "data-testid": key.testid }, key.text);
      link.setAttribute("aria-describedby", labelId);
      return link;
    }
    const spec = BUTTONS[key];
    const button = element("button", { type: "button", class: spec.style ?? "", "data-testid": key, "aria-describedby": labelId }, spec.text);
    // aria-disabled rather than disabled: a disabled button would drop focus when a dialog closes
    button.addEventListener("click", async () => {
      if (button.getAttribute("aria-disabled") === "true") return; // no double submits
      button.setAttribute("aria-disabled", "true");
      try { await spec.run(connections.get(c.id) ?? c, button); } finally { button.removeAttribute("aria-disabled"); }
    });
    return button;
  });
}

// ---- Cards ----

function element(tag, attributes = {}, text) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) if (value !== "") node.setAttribute(name, value);
  if (text !== undefined) node.textContent = text;
  return node;
}

const CARD_HTML = `
  <div class="card-head">
    <div>
      <h3 class="address" data-testid="address"></h3>
      <p class="meta"><span data-testid="provider"></span><span class="parent" data-testid="parent"></span></p>
    </div>
    <span class="badge" data-testid="health-badge"><span class="icon" aria-hidden="true"></span><span class="text"></span></span>
  </div>
  <div class="status">
    <p class="state-label" data-testid="state-label"></p>
    <p class="detail" data-testid="state-detail"></p>
    <div class="progress">
      <div class="bar" role="progressbar" aria-valuemin="0" data-testid="progress-bar"><div class="fill"></div></div>
      <p class="counts"><span data-testid="progress-count"></span><span class="eta" data-testid="eta"></span></p>
    </div>
    <div class="actions" data-testid="actions"></div>
  </div>
  <div class="actions support" data-testid="support-actions"></div>`;

function cardFor(c) {
  if (cards.has(c.id)) return cards.get(c.id);
  const card = element("li", { class: "card", "data-testid": `card-${c.id}`, tabindex: "-1" });
  card.innerHTML = CARD_HTML; // static markup only; every value below goes in through textContent
  const labelId = `address-${cards.size}-${Math.random().toString(36).slice(2, 8)}`;
  card.querySelector(".address").id = labelId;
  card.setAttribute("aria-labelledby", labelId);
  card.querySelector(".bar").setAttribute("aria-labelledby", labelId);
  cards.set(c.id, card);
  $("connections").append(card);
  $("empty").hidden = true;
  return card;
}

function update(c) {
  if (!c?.id) return;
  connections.set(c.id, c);
  const card = cardFor(c);
  const v = view(c);
  const q = (testid) => card.querySelector(`[data-testid="${testid}"]`);
  const labelId = q("address").id;
  card.className = `card tone-${v.tone}${card.classList.contains("fading") ? " fading" : ""}`;
  q("address").textContent = c.address;
  q("provider").textContent = PROVIDERS[c.provider] ?? c.provider;
  q("parent").textContent = c.parentAddress ? `Shared mailbox of ${c.parentAddress}` : "";
  const [healthText, icon] = HEALTH[c.health] ?? [c.health, "?"];
  q("health-badge").className = `badge health-${c.health}`;
  q("health-badge").querySelector(".icon").textContent = icon;
  q("health-badge").querySelector(".text").textContent = healthText;
  q("state-label").textContent = v.label;
  q("state-detail").textContent = v.detail ?? "";
  q("state-detail").hidden = !v.detail;

  const b = c.backfill;
  card.querySelector(".progress").hidden = !(v.progress && b);
  if (v.progress && b) {
    const total = Math.max(b.estimatedTotal || 0, b.pulled);
    const percent = b.state === "completed" ? 100 : total > 0 ? Math.min(100, (b.pulled / total) * 100) : 0;
    const bar = q("progress-bar");
    bar.setAttribute("aria-valuemax", String(total || 1));
    bar.setAttribute("aria-valuenow", String(b.state === "completed" ? total || 1 : b.pulled));
    bar.setAttribute("aria-valuetext", countText(b));
    bar.firstElementChild.style.width = `${percent.toFixed(1)}%`;
    q("progress-count").textContent = countText(b);
    const showEta = v.eta && b.etaSeconds != null;
    q("eta").textContent = showEta ? remaining(b.etaSeconds) : "";
    q("eta").hidden = !showEta;
  }

  const support = c.health === "disconnected" ? [] : c.backfill ? ["nudge", "reset", "disconnect"] : ["nudge", "disconnect"];
  replaceButtons(q("actions"), c, v.actions ?? [], labelId);
  replaceButtons(q("support-actions"), c, (v.support ?? support).filter((k) => !(v.actions ?? []).includes(k)), labelId);
  planStreams();
}

// Rebuilds a button row only when its set of buttons changes, keeping keyboard focus where it was.
function replaceButtons(row, c, keys, labelId) {
  const signature = JSON.stringify(keys);
  if (row.dataset.signature === signature) return;
  const focused = row.contains(document.activeElement) ? document.activeElement.dataset.testid : null;
  row.dataset.signature = signature;
  row.replaceChildren(...buttonsFor(c, keys, labelId));
  row.hidden = keys.length === 0;
  if (focused) (row.querySelector(`[data-testid="${focused}"]`) ?? row.closest(".card")).focus();
}

function remove(id) {
  streams.get(id)?.abort();
  streams.delete(id);
  cards.get(id)?.remove();
  cards.delete(id);
  connections.delete(id);
  $("empty").hidden = cards.size > 0;
}

// ---- Dialogs ----

let rangeTarget = null; // { id, mode: "start" | "reset", opener }

function pickRange(c, mode, opener) {
  rangeTarget = { id: c.id, mode, opener };
  const form = $("range-form");
  $("range-title").textContent = mode === "reset" ? "Reset the backfill" : "How much history?";
  $("range-subtitle").textContent = mode === "reset"
    ? `Start ${c.address} over with a new range. Messages already stored are kept.`
    : `Choose how far back to pull mail for ${c.address}. New mail syncs either way.`;
  $("skip-option").hidden = mode === "reset";
  form.elements.range.value = "90d";
  syncConfirmText();
  $("range-dialog").showModal();
  form.querySelector("input:checked").focus();
  loadEstimates(c.id, rangeTarget);
}

// Fills in "≈ 3,200 messages · about 2 minutes" beside each range when the estimates arrive. The picker
// never waits for them: it is open and usable already, and without them it says so quietly.
async function loadEstimates(id, target) {
  const spans = document.querySelectorAll("#range-form .estimate");
  spans.forEach((span) => { span.textContent = ""; });
  $("estimate-note").textContent = "Estimating…";
  let estimates = null;
  try {
    estimates = await api("GET", connectionPath(id, "/estimates"));
  } catch { /* no figures: the note below says so */ }
  if (rangeTarget !== target) return; // the picker was closed or opened for another mailbox meanwhile
  const ranges = estimates?.ranges ?? [];
  for (const r of ranges) {
    const span = document.querySelector(`#range-form [data-testid="estimate-${r.range}"]`);
    if (span) span.textContent = `≈ ${numbers.format(r.messages)} ${r.messages === 1 ? "message" : "messages"} · ${about(r.seconds)}`;
  }
  $("estimate-note").textContent = ranges.length ? "Estimates count Inbox and Sent." : "Estimate unavailable.";
}

function syncConfirmText() {
  const range = $("range-form").elements.range.value;
  $("range-confirm").textContent = rangeTarget?.mode === "reset" ? "Reset backfill" : range === "skip" ? "Skip history" : "Start backfill";
}

// Puts focus back where the dialog was opened from, or on the card when that button is gone.
function restoreFocus(opener, connectionId) {
  if (opener?.isConnected) opener.focus();
  else cards.get(connectionId)?.focus();
}

function confirmAction(title, text, okText, cancelText) {
  const dialog = $("confirm-dialog");
  $("confirm-title").textContent = title;
  $("confirm-text").textContent = text;
  $("confirm-ok").textContent = okText;
  $("confirm-cancel").textContent = cancelText;
  dialog.returnValue = "";
  dialog.showModal();
  $("confirm-cancel").focus(); // the safe choice has focus
  return new Promise((resolve) => dialog.addEventListener("close", () => resolve(dialog.returnValue === "ok"), { once: true }));
}

// ---- Page chrome ----

function showNotice(message) {
  const notice = $("notice");
  const dismiss = element("button", { type: "button", class: "quiet", "data-testid": "notice-dismiss" }, "Dismiss");
  dismiss.addEventListener("click", hideNotice);
  notice.replaceChildren(element("span", {}, message), dismiss);
  notice.hidden = false;
}

function hideNotice() { $("notice").hidden = true; }

function showTokenForm() {
  if (!$("token-form").hidden) return;
  $("token-form").hidden = false;
  $("token-input").focus();
}

function fillParentChoices() {
  const select = $("add-parent");
  const personal = [...connections.values()].filter((c) => c.provider === "graph" && !c.parentId);
  select.replaceChildren(select.options[0], ...personal.map((c) => element("option", { value: c.id }, c.address)));
}

function wire() {
  $("range-form").addEventListener("change", syncConfirmText);
  $("range-close").addEventListener("click", () => $("range-dialog").close());
  $("range-dialog").addEventListener("close", () => restoreFocus(rangeTarget?.opener, rangeTarget?.id));
  $("range-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    const range = $("range-form").elements.range.value;
    const target = rangeTarget;
    $("range-dialog").close();
    const c = connections.get(target.id) ?? { id: target.id };
    await command(c, target.mode === "reset" ? "/backfill/reset" : "/backfill", "POST", { range });
    restoreFocus(target.opener, target.id); // the opener may have gone with the new state
  });
  $("confirm-form").addEventListener("submit", (event) => { event.preventDefault(); $("confirm-dialog").close("ok"); });
  $("confirm-cancel").addEventListener("click", () => $("confirm-dialog").close("cancel"));

  $("token-form").addEventListener("submit", (event) => {
    event.preventDefault();
    sessionStorage.setItem(TOKEN_KEY, $("token-input").value.trim());
    $("token-input").value = "";
    $("token-form").hidden = true;
    hideNotice();
    for (const stop of streams.values()) stop.abort(); // restart streams with the token
    streams.clear();
    start();
  });

  $("add-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    const fields = Object.fromEntries(new FormData(event.target));
    if (!fields.parentId) delete fields.parentId;
    try {
      const created = await api("POST", "/v1/connections", fields);
      event.target.reset();
      hideNotice();
      update(created);
      pickRange(created, "start");
    } catch (error) {
      if (error.status !== 401) showNotice(error.message);
    }
  });
}

// Loads the list (update() starts the streams), and opens the range picker after an OAuth round trip.
async function start() {
  await loadAll();
  const connected = new URLSearchParams(location.search).get("connected");
  if (connected && $("token-form").hidden) {
    history.replaceState(null, "", location.pathname); // a reload must not reopen the picker
    if (!connections.has(connected)) await refresh(connected);
    if (connections.has(connected)) pickRange(connections.get(connected), "start");
  }
}

wire();
start();
// Leaving the page (for a provider's consent page, say) closes the event streams: otherwise a page kept in
// the back/forward cache holds its connections open, and the browser's six per host run out for the page
// that comes back. Coming back from that cache opens them again.
window.addEventListener("pagehide", () => {
  for (const stop of streams.values()) stop.abort();
  streams.clear();
});
window.addEventListener("pageshow", (event) => { if (event.persisted) start(); });
// Polls the list: often while some mailbox has no stream, rarely otherwise (to see mailboxes connected elsewhere).
let polls = 0;
setInterval(() => {
  polls += 1;
  const unstreamed = [...connections.values()].some((c) => c.health !== "disconnected" && !streams.has(c.id));
  if ($("token-form").hidden && (unstreamed || polls % 6 === 0)) loadAll();
}, POLL_MS);

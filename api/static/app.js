// The chat page: streams answers from POST /chat, shows each cited passage on click.
"use strict";

const log = document.getElementById("log");
const form = document.getElementById("ask");
const input = document.getElementById("question");
const send = document.getElementById("send");
const statusLine = document.getElementById("status");
const panel = document.getElementById("source");

let messages = []; // the conversation sent with each question, for follow-ups

function headers() {
  const h = { "Content-Type": "application/json" };
  const key = localStorage.getItem("rag-api-key");
  if (key) h["Authorization"] = "Bearer " + key;
  return h;
}

function el(tag, cls, text) {
  const e = document.createElement(tag);
  if (cls) e.className = cls;
  if (text !== undefined) e.textContent = text;
  return e;
}

async function checkReady() {
  try {
    const r = await fetch("/ready", { headers: headers() });
    if (r.status === 401) return askForKey();
    const d = await r.json();
    if (d.ready) {
      statusLine.textContent = `${d.documents} document(s), ${d.chunks} passages · model ${d.model} · runs locally`;
    } else {
      statusLine.textContent = d.error ? "Start-up failed: " + d.error : "Loading the model and index…";
      if (!d.error) setTimeout(checkReady, 2000);
    }
  } catch (e) {
    statusLine.textContent = "The server is not reachable.";
    setTimeout(checkReady, 3000);
  }
}

function askForKey() {
  const key = prompt("This server needs an API key (RAG_API_KEY):");
  if (key) { localStorage.setItem("rag-api-key", key); checkReady(); }
}

// Render an answer: text with each [n] as a button that opens the cited passage.
function renderAnswer(li, answer) {
  li.classList.remove("streaming");
  li.textContent = "";
  const byN = new Map(answer.citations.map((c) => [c.n, c]));
  if (answer.abstained) {
    li.classList.add("abstained");
    li.appendChild(el("div", "badge", "Not in the documents"));
  }
  const p = el("div", "text");
  let last = 0;
  for (const m of answer.answer.matchAll(/\[(\d+)\]/g)) {
    p.appendChild(document.createTextNode(answer.answer.slice(last, m.index)));
    const c = byN.get(Number(m[1]));
    if (c) {
      const b = el("button", "cite", `[${c.n}]`);
      b.type = "button";
      b.setAttribute("aria-pressed", "false");
      b.title = `${c.title} (characters ${c.start}–${c.end})`;
      b.addEventListener("click", () => showSource(c, b));
      p.appendChild(b);
    } else {
      p.appendChild(document.createTextNode(m[0]));
    }
    last = m.index + m[0].length;
  }
  p.appendChild(document.createTextNode(answer.answer.slice(last)));
  li.appendChild(p);
  if (answer.abstained && answer.passages && answer.passages.length) {
    // Not a dead end: the passages read, each opening in the source panel unmarked.
    const looked = el("p", "looked", "Closest passages: ");
    for (const x of answer.passages) {
      const b = el("button", "passage", `[${x.n}]`);
      b.type = "button";
      b.setAttribute("aria-pressed", "false");
      b.title = `${x.title} (characters ${x.start}–${x.end}); not cited`;
      b.addEventListener("click", () =>
        showSource({ ...x, support_start: x.start, support_end: x.start }, b, false));
      looked.appendChild(b);
    }
    li.appendChild(looked);
  }
  const t = answer.timings || {};
  const meta = `${answer.model} · ${(t.total_ms / 1000).toFixed(1)} s` +
    (answer.citations.length ? ` · ${answer.citations.length} source(s)` : "");
  li.appendChild(el("p", "meta", meta));
}

function unpress() {
  document.querySelectorAll("button.cite[aria-pressed=true], button.passage[aria-pressed=true]")
    .forEach((b) => b.setAttribute("aria-pressed", "false"));
}

// Open a passage in the side panel: a cited one with its supporting span marked, one an
// abstention only read (cited = false) unmarked and said to be so.
function showSource(c, button, cited = true) {
  unpress();
  button.setAttribute("aria-pressed", "true");
  document.getElementById("source-title").textContent = `[${c.n}] ${c.title}`;
  document.getElementById("source-meta").textContent =
    `${c.doc_id} · characters ${c.start}–${c.end}` + (cited ? "" : " · read, not cited");
  const q = document.getElementById("source-text");
  q.textContent = "";
  const lo = Math.max(0, (c.support_start ?? c.start) - c.start);
  const hi = Math.min(c.text.length, (c.support_end ?? c.end) - c.start);
  q.appendChild(document.createTextNode(c.text.slice(0, lo)));
  if (hi > lo) q.appendChild(el("mark", "", c.text.slice(lo, hi)));  // none: not cited
  q.appendChild(document.createTextNode(c.text.slice(hi)));
  panel.hidden = false;
  (q.querySelector("mark") || q).scrollIntoView({ block: "nearest" });
}

document.getElementById("source-close").addEventListener("click", () => { panel.hidden = true; unpress(); });
document.getElementById("clear").addEventListener("click", () => {
  messages = []; log.textContent = ""; panel.hidden = true; input.focus();
});

// Read server-sent events from a fetch response body.
async function* events(response) {
  const reader = response.body.getReader();
  const decoder = new TextDecoder();
  let buffer = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    buffer += decoder.decode(value, { stream: true });
    let cut;
    while ((cut = buffer.indexOf("\n\n")) >= 0) {
      const block = buffer.slice(0, cut);
      buffer = buffer.slice(cut + 2);
      let event = "message", data = "";
      for (const line of block.split("\n")) {
        if (line.startsWith("event: ")) event = line.slice(7);
        else if (line.startsWith("data: ")) data += line.slice(6);
      }
      yield { event, data: data ? JSON.parse(data) : {} };
    }
  }
}

async function ask(question) {
  log.appendChild(el("li", "user", question));
  const li = el("li", "assistant streaming");
  const text = el("div", "text", "…");
  li.appendChild(text);
  log.appendChild(li);
  li.scrollIntoView({ block: "end" });
  const body = { messages: [...messages, { role: "user", content: question }], stream: true };
  send.disabled = true;
  try {
    const r = await fetch("/chat", { method: "POST", headers: headers(), body: JSON.stringify(body) });
    if (!r.ok) {
      const d = await r.json().catch(() => ({}));
      if (r.status === 401) askForKey();
      throw new Error(d.detail || `HTTP ${r.status}`);
    }
    let streamed = "";
    for await (const { event, data } of events(r)) {
      if (event === "token") {
        streamed += data.text;
        text.textContent = streamed;
      } else if (event === "answer") {
        renderAnswer(li, data);
        messages.push({ role: "user", content: question }, { role: "assistant", content: data.answer });
      } else if (event === "error") {
        throw new Error(data.detail);
      }
    }
  } catch (e) {
    li.classList.remove("streaming");
    li.textContent = "";
    li.appendChild(el("div", "error", "Could not answer: " + e.message));
  } finally {
    send.disabled = false;
    li.scrollIntoView({ block: "end" });
  }
}

form.addEventListener("submit", (e) => {
  e.preventDefault();
  const q = input.value.trim();
  if (!q || send.disabled) return;
  input.value = "";
  ask(q);
});
input.addEventListener("keydown", (e) => {
  if (e.key === "Enter" && !e.shiftKey) { e.preventDefault(); form.requestSubmit(); }
});
checkReady();
input.focus();

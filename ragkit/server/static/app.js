// The page of `ragkit serve`: a chat over the OpenAI-compatible API, streamed, with each
// sentence's citations as links to the passage, and the documents with uploads. Everything
// it loads comes from this server: it works with no internet.
"use strict";

const $ = (id) => document.getElementById(id);
const history = [];  // the conversation sent with each question, as OpenAI messages

function headers(extra) {
  const key = sessionStorage.getItem("ragkit-key");
  return Object.assign(key ? { Authorization: "Bearer " + key } : {}, extra || {});
}

async function api(path, options) {
  const response = await fetch(path, Object.assign({}, options, { headers: headers(options && options.headers) }));
  if (response.status === 401) {
    $("key-box").hidden = false;
    $("api-key").focus();
  }
  return response;
}

$("api-key").addEventListener("change", (event) => {
  sessionStorage.setItem("ragkit-key", event.target.value);
  refresh();
});

function element(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}

function where(item) {
  const name = item.path.split("/").pop();
  if (item.page !== null && item.page !== undefined) return name + ", p. " + item.page;
  return item.heading ? name + " > " + item.heading : name;
}

function openPassage(citation) {
  $("passage-where").textContent = where(citation) + (citation.ocr ? " (OCR)" : "");
  $("passage-text").textContent = citation.text;
  $("passage").showModal();
}

// The checked answer replaces what was streamed: each sentence with links to the passages
// it cites, the unsupported ones marked, as `ragkit ask` shows them.
function renderAnswer(item, result) {
  item.textContent = "";
  item.classList.toggle("abstained", result.abstained);
  const byNumber = new Map(result.citations.map((c) => [c.n, c]));
  const text = element("p", "text");
  if (result.sentences.length && !result.abstained) {
    result.sentences.forEach((sentence) => {
      const span = element("span", sentence.supported ? "sentence" : "sentence unsupported", sentence.text);
      text.append(span);
      sentence.citations.forEach((n) => {
        const citation = byNumber.get(n);
        if (!citation) return;
        const link = element("a", "cite", "[" + n + "]");
        link.href = "#";
        link.title = where(citation);
        link.addEventListener("click", (event) => { event.preventDefault(); openPassage(citation); });
        text.append(link);
      });
      text.append(" ");
    });
  } else {
    text.textContent = result.answer;
  }
  item.append(text);
  if (result.citations.length) {
    const sources = element("ol", "sources");
    result.citations.forEach((citation) => {
      const entry = element("li");
      const link = element("a", "source", where(citation));
      link.href = "#";
      link.addEventListener("click", (event) => { event.preventDefault(); openPassage(citation); });
      entry.value = citation.n;
      entry.append(link);
      sources.append(entry);
    });
    item.append(sources);
  }
  if (result.note) item.append(element("p", "note", result.note));
  if (result.model) item.append(element("p", "note", "answered by " + result.model));
}

// Server-sent events from a fetch body: "data: {...}" lines separated by blank lines.
async function* events(response) {
  const reader = response.body.getReader();
  const decoder = new TextDecoder();
  let buffer = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    buffer += decoder.decode(value, { stream: true });
    let end;
    while ((end = buffer.indexOf("\n\n")) >= 0) {
      const block = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      for (const line of block.split("\n")) {
        if (!line.startsWith("data: ")) continue;
        const data = line.slice(6);
        if (data === "[DONE]") return;
        yield JSON.parse(data);
      }
    }
  }
}

async function ask(question) {
  const log = $("log");
  log.append(element("li", "question", question));
  const item = element("li", "answer");
  const streamed = element("p", "text", "…");
  item.append(streamed);
  log.append(item);
  item.scrollIntoView();
  $("send").disabled = true;
  let written = "";
  try {
    const response = await api("/v1/chat/completions", {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ model: $("model").value || "auto", stream: true,
                             messages: history.concat([{ role: "user", content: question }]) }),
    });
    if (!response.ok) {
      const body = await response.json();
      streamed.textContent = "Error: " + body.error.message;
      item.classList.add("error");
      return;
    }
    for await (const chunk of events(response)) {
      if (chunk.error) { streamed.textContent = "Error: " + chunk.error.message; return; }
      if (chunk.ragkit_status) item.append(element("p", "status", chunk.ragkit_status));
      if (chunk.ragkit) {
        renderAnswer(item, chunk.ragkit);
        history.push({ role: "user", content: question }, { role: "assistant", content: chunk.ragkit.answer });
        item.dataset.done = "true";
        continue;
      }
      const delta = chunk.choices && chunk.choices[0].delta.content;
      if (delta) { written += delta; streamed.textContent = written; }
    }
  } catch (error) {
    streamed.textContent = "Error: " + error;
  } finally {
    $("send").disabled = false;
  }
}

$("ask").addEventListener("submit", (event) => {
  event.preventDefault();
  const question = $("question").value.trim();
  if (!question) return;
  $("question").value = "";
  ask(question);
});

async function loadModels() {
  const response = await api("/v1/models");
  if (!response.ok) return;
  const select = $("model");
  select.textContent = "";
  (await response.json()).data.filter((m) => m.ragkit_kind !== "encoder").forEach((m) => {
    select.append(new Option(m.id, m.id));
  });
}

async function loadDocuments() {
  const response = await api("/v1/documents");
  if (!response.ok) return;
  const documents = (await response.json()).data;
  const list = $("documents");
  list.textContent = "";
  const groups = new Map();
  documents.forEach((d) => {
    const key = d.collection || "";
    if (!groups.has(key)) groups.set(key, []);
    groups.get(key).push(d);
  });
  [...groups.keys()].sort().forEach((collection) => {
    if (collection) list.append(element("li", "collection", collection));
    groups.get(collection).forEach((d) => {
      const entry = element("li", "document", d.path.split("/").pop());
      entry.title = d.path + " — " + d.chunks + " passages";
      list.append(entry);
    });
  });
  if (!documents.length) list.append(element("li", "note", "No documents yet: drop some here."));
}

// Uploads go through XMLHttpRequest: fetch reports no upload progress.
function upload(files) {
  if (!files.length) return;
  const form = new FormData();
  [...files].forEach((file) => form.append("file", file, file.name));
  const collection = $("collection").value.trim();
  if (collection) form.append("collection", collection);
  const progress = $("progress");
  const status = $("upload-status");
  progress.hidden = false;
  progress.value = 0;
  status.textContent = "Uploading " + files.length + " file(s)…";
  const request = new XMLHttpRequest();
  request.open("POST", "/v1/documents");
  Object.entries(headers()).forEach(([name, value]) => request.setRequestHeader(name, value));
  request.upload.onprogress = (event) => {
    if (event.lengthComputable) progress.value = (90 * event.loaded) / event.total;
    if (event.loaded === event.total) status.textContent = "Indexing…";
  };
  request.onload = () => {
    progress.value = 100;
    let body = {};
    try { body = JSON.parse(request.responseText); } catch (error) { /* shown below */ }
    if (request.status !== 200) {
      status.textContent = "Upload failed: " + ((body.error && body.error.message) || request.status);
    } else {
      const failed = body.failed.map((f) => f.path.split("/").pop() + ": " + f.reason);
      const done = body.added.length + body.updated.length + body.unchanged.length;
      status.textContent = "Indexed " + done + " file(s)" + (failed.length ? "; failed: " + failed.join("; ") : ".");
    }
    loadDocuments();
  };
  request.onerror = () => { status.textContent = "Upload failed: the server could not be reached."; };
  request.send(form);
}

const drop = $("drop");
drop.addEventListener("dragover", (event) => { event.preventDefault(); drop.classList.add("over"); });
drop.addEventListener("dragleave", () => drop.classList.remove("over"));
drop.addEventListener("drop", (event) => {
  event.preventDefault();
  drop.classList.remove("over");
  upload(event.dataTransfer.files);
});
$("files").addEventListener("change", (event) => { upload(event.target.files); event.target.value = ""; });

function refresh() { loadModels(); loadDocuments(); }
refresh();

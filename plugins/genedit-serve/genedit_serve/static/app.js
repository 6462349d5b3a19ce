// genedit serve's page: everything on it comes from GET /models, so every installed plugin
// appears with its tasks and typed options and no UI code of its own. Plain JS, no build step.
"use strict";

const $ = (id) => document.getElementById(id);
const state = { catalog: null, files: [], job: null, objectUrls: [] };

function token() {
  return $("token").value || sessionStorage.getItem("genedit-token") || "";
}

async function api(path, init = {}) {
  const headers = new Headers(init.headers || {});
  if (token()) headers.set("Authorization", "Bearer " + token());
  const res = await fetch(path, { ...init, headers });
  if (res.status === 401) $("token-box").hidden = false;
  if (!res.ok) {
    let message = res.status + " " + res.statusText;
    try { message = (await res.json()).error || message; } catch (e) { /* not JSON */ }
    throw new Error(message);
  }
  return res;
}

function showError(message) {
  $("error").textContent = message;
  $("error").hidden = !message;
}

function option(el, value, text) {
  const o = document.createElement("option");
  o.value = value;
  o.textContent = text === undefined ? value : text;
  el.appendChild(o);
}

function modelsOf(task) {
  return state.catalog.models.filter((m) => m.tasks.includes(task));
}

function currentModel() {
  return state.catalog.models.find((m) => m.name === $("model").value);
}

async function loadCatalog() {
  try {
    state.catalog = await (await api("/models")).json();
  } catch (e) {
    showError(e.message);
    return;
  }
  showError("");
  const task = $("task");
  task.innerHTML = "";
  for (const [name, models] of Object.entries(state.catalog.tasks)) {
    option(task, name, `${name} (${models.length})`);
  }
  if (state.catalog.tasks.upscale) task.value = "upscale";
  taskChanged();
}

function taskChanged() {
  const task = $("task").value;
  const model = $("model");
  model.innerHTML = "";
  for (const m of modelsOf(task)) option(model, m.name, m.needs_weights ? `${m.name} (needs weights)` : m.name);
  const generating = state.catalog.no_input_tasks.includes(task);
  $("seeds-box").hidden = !generating;
  $("input-box").hidden = generating;
  modelChanged();
}

function modelChanged() {
  const m = currentModel();
  const task = $("task").value;
  if (!m) return;
  $("model-summary").textContent = `${m.summary} (${m.plugin}, licence ${m.licence})`;
  const scale = $("scale");
  scale.innerHTML = "";
  for (const s of m.scales) option(scale, s, "x" + s);
  if (m.default_scale) scale.value = m.default_scale;
  $("scale-row").hidden = !(task === "upscale" && m.scales.length > 1);
  const weights = $("weights");
  weights.innerHTML = "";
  for (const w of m.weights) option(weights, w, w === m.default_weights ? `${w} (default)` : w);
  if (m.default_weights) weights.value = m.default_weights;
  $("weights-row").hidden = m.weights.length < 2;
  renderOptions(m.options[task] || []);
  updatePaint();
}

// One form field per declared Option: choices -> select, bool -> checkbox, int/float -> number
// with low/high as min/max, str -> text; an image option -> a file input, or painting on the input.
function renderOptions(options) {
  const box = $("options");
  box.innerHTML = "";
  $("options-box").hidden = options.length === 0;
  for (const o of options) {
    const label = document.createElement("label");
    label.className = "option";
    label.title = o.help;
    const name = document.createElement("span");
    name.textContent = o.name.replace(/_/g, " ");
    label.appendChild(name);
    let input;
    if (o.choices.length) {
      input = document.createElement("select");
      for (const c of o.choices) option(input, c);
      if (o.default !== null) input.value = o.default;
    } else if (o.type === "bool") {
      input = document.createElement("input");
      input.type = "checkbox";
      input.checked = o.default === true;
    } else if (o.image) {
      input = document.createElement("input");
      input.type = "file";
      input.accept = "image/*";
      input.addEventListener("change", updatePaint);
    } else {
      input = document.createElement("input");
      if (o.type === "int" || o.type === "float") {
        input.type = "number";
        input.step = o.type === "int" ? "1" : "any";
        if (o.low !== null) input.min = o.low;
        if (o.high !== null) input.max = o.high;
      }
      if (o.default !== null) input.placeholder = String(o.default);
    }
    input.name = o.name;
    input.dataset.type = o.image ? "image" : o.type;
    label.appendChild(input);
    const help = document.createElement("small");
    help.textContent = o.help;
    label.appendChild(help);
    box.appendChild(label);
  }
}

function optionValues() {
  const values = {};
  for (const input of $("options").querySelectorAll("[name]")) {
    const type = input.dataset.type;
    if (type === "image") continue;
    if (type === "bool") values[input.name] = input.checked;
    else if (input.value !== "") values[input.name] = type === "int" || type === "float" ? Number(input.value) : input.value;
  }
  return values;
}

// -- painting a mask (or hints) on the input, for an image option left without a file ----------

function paintOption() {
  for (const input of $("options").querySelectorAll("[data-type=image]")) {
    if (!input.files.length) return input.name;
  }
  return null;
}

function updatePaint() {
  const name = paintOption();
  const show = name !== null && state.files.length === 1 && !$("input-box").hidden;
  $("paint-box").hidden = !show;
  if (!show) return;
  $("paint-what").textContent = name;
  const img = $("paint-image");
  const url = URL.createObjectURL(state.files[0]);
  img.onload = () => {
    const canvas = $("paint");
    canvas.width = img.naturalWidth;
    canvas.height = img.naturalHeight;
    canvas.getContext("2d").clearRect(0, 0, canvas.width, canvas.height);
  };
  img.src = url;
}

function setupPainting() {
  // strokes, not dots: each pointer move draws a round-capped line from the last point
  const canvas = $("paint");
  let last = null;
  const at = (ev) => {
    const r = canvas.getBoundingClientRect();
    return [((ev.clientX - r.left) * canvas.width) / r.width, ((ev.clientY - r.top) * canvas.height) / r.height, r];
  };
  const draw = (ev) => {
    const [x, y, r] = at(ev);
    const ctx = canvas.getContext("2d");
    ctx.strokeStyle = "white";
    ctx.lineCap = ctx.lineJoin = "round";
    ctx.lineWidth = (Number($("brush").value) * canvas.width) / r.width;
    ctx.beginPath();
    ctx.moveTo(...(last || [x, y]));
    ctx.lineTo(x, y);
    ctx.stroke();
    last = [x, y];
  };
  canvas.addEventListener("pointerdown", (ev) => { last = null; draw(ev); canvas.setPointerCapture(ev.pointerId); });
  canvas.addEventListener("pointermove", (ev) => { if (last) draw(ev); });
  window.addEventListener("pointerup", () => { last = null; });
  $("paint-clear").addEventListener("click", () => canvas.getContext("2d").clearRect(0, 0, canvas.width, canvas.height));
}

function paintedMask() {
  // white where painted, black elsewhere, the input's size
  const canvas = $("paint");
  const out = document.createElement("canvas");
  out.width = canvas.width;
  out.height = canvas.height;
  const ctx = out.getContext("2d");
  ctx.fillStyle = "black";
  ctx.fillRect(0, 0, out.width, out.height);
  ctx.drawImage(canvas, 0, 0);
  return new Promise((resolve) => out.toBlob(resolve, "image/png"));
}

// -- upload ---------------------------------------------------------------------------------------

function setFiles(files) {
  state.files = Array.from(files).filter((f) => f.type.startsWith("image/") || /\.(png|jpe?g|webp|bmp|tiff?)$/i.test(f.name));
  $("file-name").textContent = state.files.map((f) => f.name).join(", ");
  updatePaint();
}

function setupDrop() {
  const drop = $("drop");
  $("file").addEventListener("change", (ev) => setFiles(ev.target.files));
  for (const kind of ["dragenter", "dragover"]) {
    drop.addEventListener(kind, (ev) => { ev.preventDefault(); drop.classList.add("over"); });
  }
  for (const kind of ["dragleave", "drop"]) {
    drop.addEventListener(kind, (ev) => { ev.preventDefault(); drop.classList.remove("over"); });
  }
  drop.addEventListener("drop", (ev) => setFiles(ev.dataTransfer.files));
}

// -- running a job --------------------------------------------------------------------------------

async function submit(ev) {
  ev.preventDefault();
  showError("");
  const task = $("task").value;
  const m = currentModel();
  const form = new FormData();
  form.append("task", task);
  form.append("model", m.name);
  form.append("options", JSON.stringify(optionValues()));
  if (!$("scale-row").hidden) form.append("scale", $("scale").value);
  if (!$("weights-row").hidden) form.append("weights", $("weights").value);
  if (state.catalog.no_input_tasks.includes(task)) {
    form.append("seeds", $("seeds").value);
  } else {
    if (!state.files.length) { showError("Choose or drop an image first."); return; }
    for (const f of state.files) form.append("image", f, f.name);
  }
  for (const input of $("options").querySelectorAll("[data-type=image]")) {
    if (input.files.length) form.append("file." + input.name, input.files[0], input.files[0].name);
    else if (!$("paint-box").hidden && input.name === paintOption()) form.append("file." + input.name, await paintedMask(), input.name + ".png");
  }
  $("run").disabled = true;
  resetOutput();
  try {
    const job = await (await api("/jobs", { method: "POST", body: form })).json();
    state.job = job.id;
    document.body.dataset.job = job.id;
    await follow(job.id);
  } catch (e) {
    showError(e.message);
    $("status").textContent = "";
  } finally {
    $("run").disabled = false;
  }
}

function resetOutput() {
  for (const url of state.objectUrls) URL.revokeObjectURL(url);
  state.objectUrls = [];
  $("compare").hidden = true;
  $("gallery").hidden = true;
  $("gallery").innerHTML = "";
  $("download").hidden = true;
  $("result-size").textContent = "";
  $("progress").hidden = false;
  $("progress").value = 0;
  delete document.body.dataset.done;
}

async function follow(id) {
  for (;;) {
    const job = await (await api("/jobs/" + id)).json();
    $("progress").value = job.progress;
    $("status").textContent = `${job.model} ${job.task}: ${job.state}` + (job.state === "running" ? ` ${Math.round(job.progress * 100)}%` : "");
    if (job.finished) {
      $("progress").hidden = true;
      if (job.state !== "done") throw new Error(job.error || job.state);
      await show(job);
      document.body.dataset.done = job.id;
      return;
    }
    await new Promise((r) => setTimeout(r, 250));
  }
}

async function blobUrl(url) {
  const blob = await (await api(url)).blob();
  const u = URL.createObjectURL(blob);
  state.objectUrls.push(u);
  return u;
}

async function show(job) {
  const outputs = job.outputs;
  const main = outputs.find((o) => o.name.endsWith("_grid.png")) || outputs[0];
  const mainUrl = await blobUrl(main.url);
  const link = $("download");
  link.href = mainUrl;
  link.download = main.name;
  link.textContent = "Download " + main.name;
  link.hidden = false;
  if (outputs.length === 1 && state.files.length === 1 && !state.catalog.no_input_tasks.includes(job.task)) {
    const before = URL.createObjectURL(state.files[0]);
    state.objectUrls.push(before);
    $("before").src = before;
    const result = $("result");
    result.onload = () => { $("result-size").textContent = `${result.naturalWidth}×${result.naturalHeight}`; };
    result.src = mainUrl;
    $("compare").hidden = false;
    slide();
  } else {
    // several outputs: the grid (generate with several seeds) first and large, then each image
    const gallery = $("gallery");
    for (const o of outputs) {
      const img = document.createElement("img");
      img.alt = o.name;
      img.title = o.name;
      img.src = o === main ? mainUrl : await blobUrl(o.url);
      if (o === main) {
        img.className = "main";
        img.onload = () => { $("result-size").textContent = `${img.naturalWidth}×${img.naturalHeight}`; };
        gallery.prepend(img);
      } else {
        gallery.appendChild(img);
      }
    }
    gallery.hidden = false;
  }
}

function slide() {
  $("after-clip").style.clipPath = `inset(0 0 0 ${$("slider").value}%)`;
}

document.addEventListener("DOMContentLoaded", () => {
  const fromHash = new URLSearchParams(location.hash.slice(1)).get("token");
  if (fromHash) sessionStorage.setItem("genedit-token", fromHash);
  $("token").value = sessionStorage.getItem("genedit-token") || "";
  $("token").addEventListener("change", () => { sessionStorage.setItem("genedit-token", $("token").value); loadCatalog(); });
  $("task").addEventListener("change", taskChanged);
  $("model").addEventListener("change", modelChanged);
  $("slider").addEventListener("input", slide);
  $("job-form").addEventListener("submit", submit);
  setupDrop();
  setupPainting();
  loadCatalog();
});

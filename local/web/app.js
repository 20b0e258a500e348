// Image Analyzer web page: request an upload, PUT the file to S3 with progress, poll the job, show the result.
// No build step, no dependencies.

import { PRESETS } from "./presets.js";

const TYPES = {
  dcm: "application/dicom", dicom: "application/dicom", jpg: "image/jpeg", jpeg: "image/jpeg", png: "image/png",
  gif: "image/gif", webp: "image/webp", bmp: "image/bmp", tif: "image/tiff", tiff: "image/tiff",
};
const STATUS_TEXT = { requested: "requesting…", uploading: "uploading…", pending: "queued", processing: "processing…", complete: "complete", error: "error" };
const STATUS_PROGRESS = { requested: 5, pending: 70, processing: 85, complete: 100, error: 100 };

// Which API the page talks to is the user's choice, never a link's: a link's ?api= is only offered, and files
// and tokens go to it once the user confirms it. Tokens are kept per API origin and sent to their own only.
const apiInput = document.getElementById("api-url");
const tokenInput = document.getElementById("api-token");
const apiShown = document.getElementById("api-origin");

function originOf(url) {
  try { return new URL(url || location.origin).origin; } catch { return null; }
}

function apiBase() {
  const value = (localStorage.getItem("imageAnalyzerApi") || "").trim().replace(/\/+$/, "");
  return originOf(value) ? value || location.origin : location.origin;
}

const tokenKey = () => `imageAnalyzerToken:${originOf(apiBase())}`;

function showApi() {
  apiInput.value = localStorage.getItem("imageAnalyzerApi") || "";
  tokenInput.value = localStorage.getItem(tokenKey()) || "";
  apiShown.textContent = originOf(apiBase());
}

function chooseApi(url) {
  localStorage.setItem("imageAnalyzerApi", url.trim());
  showApi();
}

apiInput.addEventListener("change", () => chooseApi(apiInput.value));
tokenInput.addEventListener("change", () => localStorage.setItem(tokenKey(), tokenInput.value.trim()));
localStorage.removeItem("imageAnalyzerToken"); // the one-for-all-APIs token of earlier versions
showApi();

const offered = new URLSearchParams(location.search).get("api");
if (offered && originOf(offered) && originOf(offered) !== originOf(apiBase())) {
  const banner = document.getElementById("api-offer");
  banner.querySelector(".offered-api").textContent = originOf(offered);
  banner.hidden = false;
  banner.querySelector(".use-offered-api").addEventListener("click", () => { chooseApi(offered); banner.hidden = true; });
  banner.querySelector(".ignore-offered-api").addEventListener("click", () => { banner.hidden = true; });
}

function fileType(file) {
  const extension = file.name.split(".").pop().toLowerCase();
  if (file.type && file.type !== "application/octet-stream") return file.type;
  return TYPES[extension] || file.type || "";
}

async function api(path, options = {}) {
  const token = tokenInput.value.trim();
  const headers = { ...(options.headers || {}), ...(token ? { Authorization: `Bearer ${token}` } : {}) };
  const response = await fetch(apiBase() + path, { ...options, headers });
  let body = {};
  try { body = await response.json(); } catch { body = { message: `HTTP ${response.status}` }; }
  if (response.status === 401) {
    throw new Error(token ? "the access token was refused (expired or not for this stack): paste a new one in Settings"
                          : "this stack needs an access token: paste one in Settings");
  }
  if (!response.ok) throw new Error(body.message || body.error || `HTTP ${response.status}`);
  return body;
}

function putWithProgress(url, headers, file, onProgress) {
  return new Promise((resolve, reject) => {
    const request = new XMLHttpRequest();
    request.open("PUT", url);
    for (const [name, value] of Object.entries(headers)) request.setRequestHeader(name, value);
    request.upload.onprogress = (event) => { if (event.lengthComputable) onProgress(event.loaded / event.total); };
    request.onload = () => (request.status < 300 ? resolve() : reject(new Error(`upload failed (HTTP ${request.status})`)));
    request.onerror = () => reject(new Error("upload failed: storage could not be reached (check CORS and the URL)"));
    request.send(file);
  });
}

function setStatus(card, status, detail) {
  card.dataset.status = status;
  card.querySelector(".status").textContent = STATUS_TEXT[status] || status;
  if (STATUS_PROGRESS[status] !== undefined) card.querySelector(".job-progress").value = STATUS_PROGRESS[status];
  if (detail) card.querySelector(".job-progress").setAttribute("aria-valuetext", detail);
}

function showError(card, message) {
  setStatus(card, "error");
  card.querySelector(".job-progress").hidden = true; // a full bar would read as success
  const error = card.querySelector(".error");
  error.textContent = message;
  error.hidden = false;
}

function renderLabels(card, labels, imageFrame) {
  const list = card.querySelector(".labels");
  list.replaceChildren();
  if (!labels.length) {
    const item = document.createElement("li");
    item.textContent = "No label reached the minimum confidence.";
    list.append(item);
  }
  for (const label of labels) {
    const confidence = Number(label.Confidence);
    const item = document.createElement("li");
    item.className = "label-row";
    const parents = (label.Parents || []).map((p) => p.Name).join(", ");
    item.innerHTML = `<span class="label-name"></span><span class="bar" role="img"><span></span></span><span class="label-value"></span>`;
    item.querySelector(".label-name").textContent = label.Name;
    item.querySelector(".label-name").title = parents ? `${label.Name} (${parents})` : label.Name;
    item.querySelector(".bar").setAttribute("aria-label", `${label.Name}: ${confidence.toFixed(1)} percent`);
    item.querySelector(".bar > span").style.width = `${Math.max(0, Math.min(100, confidence))}%`;
    item.querySelector(".label-value").textContent = `${confidence.toFixed(1)}%`;
    list.append(item);
    for (const instance of label.Instances || []) {
      const box = instance.BoundingBox;
      const outline = document.createElement("div");
      outline.className = "box";
      Object.assign(outline.style, { left: `${box.Left * 100}%`, top: `${box.Top * 100}%`, width: `${box.Width * 100}%`, height: `${box.Height * 100}%` });
      outline.innerHTML = "<span></span>";
      outline.firstChild.textContent = label.Name;
      imageFrame.append(outline);
    }
  }
}

// What was redacted: a count and a share of the picture (the text itself is never stored).
function redactionSummary(redaction) {
  if (!redaction || redaction.method === "none") return "not searched";
  if (!redaction.regions) return "none found";
  const share = (100 * Number(redaction.areaFraction)).toFixed(1);
  return `${redaction.regions} region${redaction.regions === 1 ? "" : "s"} redacted (${share} % of the picture)`;
}

// What a window's source means, as a reader of the page would say it.
const WINDOW_SOURCES = {
  file: "the file's window", voi_lut: "the file's VOI LUT", auto: "automatic", override: "custom",
};

function describeWindow(window_) {
  if (!window_ || !window_.source) return "colour, not windowed";
  const source = WINDOW_SOURCES[window_.source] || window_.source.replace("preset:", "preset ");
  if (window_.center === null || window_.center === undefined) return source;
  return `${window_.center} / ${window_.width} (${source})`;
}

function renderDicom(card, dicom, redaction) {
  if (!dicom) return;
  const rows = [
    ["Modality", dicom.modality], ["Body part", dicom.bodyPart], ["Size", `${dicom.columns} × ${dicom.rows}`],
    ["Frame", `${dicom.frameRendered} of ${dicom.frames}`], ["Photometric", dicom.photometric],
    ["Bits stored", dicom.bitsStored], ["Transfer syntax", dicom.transferSyntax],
    ["Window", describeWindow(dicom.window)],
    ["Burned-in text", redactionSummary(redaction)],
  ];
  const list = card.querySelector(".dicom-meta");
  list.replaceChildren();
  for (const [name, value] of rows) {
    const term = document.createElement("dt");
    term.textContent = name;
    const data = document.createElement("dd");
    data.textContent = value ?? "–";
    data.dataset.field = name.toLowerCase();
    list.append(term, data);
  }
  card.querySelector(".dicom").hidden = false;
  card.querySelector(".labels-note").hidden = false;
  if (dicom.window) setUpWindowing(card, dicom); // colour is never windowed
}

function renderClassifier(card, record) {
  const classifier = (record.results || {}).classifier;
  if (!classifier) return;
  const section = card.querySelector(".classifier");
  const verdict = section.querySelector(".classifier-verdict");
  if (classifier.error) {
    verdict.textContent = `${classifier.model || "The classifier"} did not run: ${classifier.error}`;
    verdict.classList.add("error-text");
  } else {
    verdict.textContent = `${classifier.model} v${classifier.version}: ${classifier.predicted.name} (flag ${record.flag})`;
    const list = section.querySelector(".classifier-scores");
    list.replaceChildren();
    for (const score of classifier.scores) {
      const item = document.createElement("li");
      item.textContent = `${score.name}: ${(score.score * 100).toFixed(1)}%`;
      list.append(item);
    }
  }
  if (record.croppedImageUrl) {
    const crop = section.querySelector(".classifier-crop");
    crop.src = record.croppedImageUrl;
    crop.alt = `The region the classifier saw in ${card.querySelector(".job-name").textContent}`;
    crop.hidden = false;
  }
  section.hidden = false;
}

// The CT presets come from presets.js, generated from their one declaration (image_analyzer/windows.py).
function addPresetOptions() {
  const select = document.getElementById("job-template").content.querySelector(".window-select");
  const custom = select.querySelector('option[value="custom"]');
  for (const preset of PRESETS) {
    const option = document.createElement("option");
    option.value = preset.name;
    option.textContent = `${preset.label} (${String(preset.center).replace("-", "−")} / ${preset.width})`;
    select.insertBefore(option, custom);
  }
}
addPresetOptions();

// Window/level: the server renders the DICOM again in the chosen window (GET /render) and keeps each view.
// Only the windows the job offers (the CT presets only where its values are Hounsfield units: results.dicom.views);
// "file" is named for what it shows (the file's window, its VOI LUT, or an automatic one).
function setUpWindowing(card, dicom) {
  const form = card.querySelector(".window-form");
  const select = form.querySelector(".window-select");
  const custom = form.querySelector(".window-custom");
  const status = form.querySelector(".window-status");
  const image = card.querySelector(".picture-frame img");
  const shownWindow = card.querySelector('.dicom-meta dd[data-field="window"]');
  const offered = new Set([...(dicom.views || ["file"]), "custom"]);
  for (const option of [...select.options]) if (!offered.has(option.value)) option.remove();
  const own = select.querySelector('option[value="file"]');
  if (own) own.textContent = describeWindow(dicom.window);
  async function show(query) {
    status.textContent = "rendering…";
    try {
      const view = await api(`/render?jobId=${encodeURIComponent(card.dataset.jobId)}&${query}`);
      image.src = view.imageUrl;
      card.dataset.view = view.view;
      shownWindow.textContent = describeWindow(view.window);
      status.textContent = "";
    } catch (error) {
      status.textContent = error.message;
    }
  }
  select.addEventListener("change", () => {
    custom.hidden = select.value !== "custom";
    if (select.value !== "custom") show(`window=${select.value}`);
  });
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const center = form.querySelector(".window-center").value;
    const width = form.querySelector(".window-width").value;
    show(`center=${encodeURIComponent(center)}&width=${encodeURIComponent(width)}`);
  });
  form.hidden = false;
}

function renderResult(card, record) {
  const results = record.results || {};
  const body = card.querySelector(".job-body");
  const image = card.querySelector("img");
  const frame = card.querySelector(".picture-frame");
  image.alt = `Analysed image: ${card.querySelector(".job-name").textContent}`;
  image.addEventListener("load", () => frame.style.setProperty("--ratio", image.naturalWidth / image.naturalHeight));
  image.src = record.imageUrl;
  const info = results.image || {};
  card.querySelector(".caption").textContent = `${info.format || ""} ${info.width || "?"} × ${info.height || "?"} px`;
  renderLabels(card, results.Labels || [], frame);
  renderDicom(card, results.dicom, results.redaction);
  renderClassifier(card, record);
  body.hidden = false;
}

async function waitForJob(card, jobId) {
  let delay = 300;
  for (;;) {
    const record = await api(`/get-results?jobId=${encodeURIComponent(jobId)}`);
    setStatus(card, record.status);
    if (record.status === "complete") return renderResult(card, record);
    if (record.status === "error") return showError(card, `${record.error} (${record.errorCode})`);
    await new Promise((resolve) => setTimeout(resolve, delay));
    delay = Math.min(delay * 1.4, 2000);
  }
}

async function analyse(file) {
  const card = document.getElementById("job-template").content.firstElementChild.cloneNode(true);
  card.querySelector(".job-name").textContent = file.name;
  document.getElementById("jobs").append(card); // in the order the files were picked
  document.getElementById("empty").hidden = true;
  setStatus(card, "requested");
  try {
    const grant = await api("/request-upload", {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ fileName: file.name, fileType: fileType(file), ...(file.size ? { fileSize: file.size } : {}) }),
    });
    card.dataset.jobId = grant.jobId;
    setStatus(card, "uploading");
    await putWithProgress(grant.uploadUrl, grant.uploadHeaders, file, (share) => {
      card.querySelector(".job-progress").value = 5 + share * 60;
    });
    setStatus(card, "pending");
    await waitForJob(card, grant.jobId);
  } catch (error) {
    showError(card, error.message);
  }
}

function analyseAll(files) {
  for (const file of files) analyse(file);
}

const input = document.getElementById("file-input");
input.addEventListener("change", () => { analyseAll(input.files); input.value = ""; });
const dropzone = document.getElementById("dropzone");
for (const name of ["dragenter", "dragover"]) {
  dropzone.addEventListener(name, (event) => { event.preventDefault(); dropzone.classList.add("dragging"); });
}
for (const name of ["dragleave", "drop"]) {
  dropzone.addEventListener(name, (event) => { event.preventDefault(); dropzone.classList.remove("dragging"); });
}
dropzone.addEventListener("drop", (event) => analyseAll(event.dataTransfer.files));

// The Rédacteur editor: Editor.js with its standard tools and OpsFlux's data blocks
// (KPI, chart, data table) that pick their metric from the catalog and show their value
// live; the document's settings beside it; a preview that follows the editing; save,
// review and PDF through the document API. No build step: this file is served as is.
(function () {
  "use strict";

  const page = document.getElementById("editor-page");
  const csrf = document.querySelector('meta[name="csrf"]').content;
  const state = {
    id: page.dataset.document || null,
    version: page.dataset.version ? Number(page.dataset.version) : null,
    status: page.dataset.status || "draft",
    settings: {},
    catalog: [],
    // The data blocks on the page: their previews follow the document's parameters.
    dataBlocks: new Set(),
  };
  const status = document.getElementById("editor-status");
  const say = (text, tone) => {
    status.textContent = text;
    status.dataset.tone = tone || "info";
  };

  async function api(method, path, body) {
    const headers = { "X-CSRF-Token": csrf };
    if (body !== undefined) headers["Content-Type"] = "application/json";
    const response = await fetch(path, {
      method,
      headers,
      credentials: "same-origin",
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const type = response.headers.get("Content-Type") || "";
    const payload = type.includes("json") ? await response.json() : await response.text();
    if (!response.ok) {
      const problem = typeof payload === "object" ? payload : { detail: String(payload) };
      problem.status = response.status;
      throw problem;
    }
    return payload;
  }

  // Previews wait for one another.
  let previewQueue = Promise.resolve();
  function queued(work) {
    const run = previewQueue.then(work, work);
    previewQueue = run.catch(() => {});
    return run;
  }

  // Stored text is shown by Editor.js as HTML: only the inline markup the renderer
  // reads survives loading (b, i, u, a with an http, https or mailto link, code, mark,
  // br), without other attributes; anything else becomes its text.
  const INLINE = new Set(["B", "I", "U", "A", "CODE", "MARK", "BR"]);
  function cleanInline(html) {
    const parsed = new DOMParser().parseFromString(`<body>${html}</body>`, "text/html");
    const out = document.createElement("div");
    const copy = (from, to) => {
      for (const node of from.childNodes) {
        if (node.nodeType === Node.TEXT_NODE) {
          to.append(node.textContent);
        } else if (node.nodeType === Node.ELEMENT_NODE) {
          if (INLINE.has(node.tagName)) {
            const element = document.createElement(node.tagName.toLowerCase());
            const href = node.tagName === "A" ? node.getAttribute("href") || "" : "";
            if (/^(https?:|mailto:)/i.test(href.trim())) element.setAttribute("href", href.trim());
            copy(node, element);
            to.append(element);
          } else {
            copy(node, to);
          }
        }
      }
    };
    copy(parsed.body, out);
    return out.innerHTML;
  }
  function cleanData(value) {
    if (typeof value === "string") return value.includes("<") ? cleanInline(value) : value;
    if (Array.isArray(value)) return value.map(cleanData);
    if (value && typeof value === "object") {
      return Object.fromEntries(Object.entries(value).map(([key, member]) => [key, key === "url" ? member : cleanData(member)]));
    }
    return value;
  }
  // Code and Typst blocks show their text as text, and data blocks in form fields.
  const AS_TEXT = new Set(["code", "typst", "kpi", "chart", "data_table"]);
  function cleanBlocks(blocks) {
    return (blocks || []).map((block) => (AS_TEXT.has(block.type) ? block : Object.assign({}, block, { data: cleanData(block.data) })));
  }

  // ---- Data blocks -------------------------------------------------------------

  const KINDS = {
    kpi: { title: "Indicateur (KPI)", icon: "#", grain: false, by: false },
    chart: { title: "Graphique", icon: "📈", grain: true, by: true },
    data_table: { title: "Tableau de données", icon: "▦", grain: true, by: true },
  };
  const GRAINS = ["", "day", "week", "month", "quarter", "year", "total"];
  const CHARTS = ["line", "bar", "stacked_bar", "pie", "heatmap"];

  function option(value, label, selected) {
    const element = document.createElement("option");
    element.value = value;
    element.textContent = label;
    element.selected = selected;
    return element;
  }

  function keepStored(select, value) {
    if (typeof value !== "string" || !value || [...select.options].some((element) => element.value === value)) return;
    select.append(option(value, value, true));
  }

  function field(label, control) {
    const wrapper = document.createElement("label");
    wrapper.className = "ofx-field";
    wrapper.append(label + " ", control);
    return wrapper;
  }

  function dataTool(kind) {
    const spec = KINDS[kind];
    return class {
      static get toolbox() {
        return { title: spec.title, icon: `<span class="ofx-icon">${spec.icon}</span>` };
      }
      static get isReadOnlySupported() {
        return true;
      }
      constructor({ data, block }) {
        this.data = Object.assign({}, data || {});
        this.block = block;
        this.previewTimer = null;
      }
      render() {
        const root = document.createElement("div");
        root.className = "ofx-data";
        root.dataset.kind = kind;
        const head = document.createElement("div");
        head.className = "ofx-head";
        head.textContent = spec.title;
        root.append(head);

        this.metric = document.createElement("select");
        this.metric.name = "metric";
        this.metric.append(option("", "— choisir un indicateur —", !this.data.metric));
        for (const metric of state.catalog) {
          this.metric.append(option(metric.name, `${metric.title} (${metric.name})`, metric.name === this.data.metric));
        }
        // A stored value the catalog does not list (a `{param.x}` variable, say) stays.
        keepStored(this.metric, this.data.metric);
        this.measure = document.createElement("select");
        this.measure.name = "measure";
        const controls = [field("Indicateur", this.metric), field("Mesure", this.measure)];
        if (spec.by) {
          this.by = document.createElement("select");
          this.by.name = "by";
          this.by.multiple = true;
          controls.push(field("Par", this.by));
        }
        if (spec.grain) {
          this.grain = document.createElement("select");
          this.grain.name = "grain";
          for (const grain of GRAINS) this.grain.append(option(grain, grain || "(du modèle)", grain === (this.data.grain || "")));
          keepStored(this.grain, this.data.grain);
          controls.push(field("Pas", this.grain));
        }
        if (kind === "chart") {
          this.kind = document.createElement("select");
          this.kind.name = "kind";
          for (const chart of CHARTS) this.kind.append(option(chart, chart, chart === (this.data.kind || "line")));
          keepStored(this.kind, this.data.kind);
          controls.push(field("Type", this.kind));
        }
        this.label = document.createElement("input");
        this.label.name = kind === "kpi" ? "label" : "title";
        this.label.value = this.data[this.label.name] || "";
        controls.push(field(kind === "kpi" ? "Libellé" : "Titre", this.label));
        const row = document.createElement("div");
        row.className = "ofx-controls";
        row.append(...controls);
        root.append(row);
        this.preview = document.createElement("div");
        this.preview.className = "ofx-preview";
        this.error = document.createElement("div");
        this.error.className = "ofx-error";
        root.append(this.preview, this.error);

        this.fillMetric();
        state.dataBlocks.add(this);
        root.addEventListener("change", (event) => {
          if (event.target === this.metric) this.fillMetric(true);
          this.schedulePreview();
          this.block && this.block.dispatchChange();
        });
        root.addEventListener("input", () => this.block && this.block.dispatchChange());
        this.schedulePreview();
        return root;
      }
      fillMetric(changed) {
        const metric = state.catalog.find((candidate) => candidate.name === this.metric.value);
        this.measure.replaceChildren(option("", "(la première)", !this.data.measure || changed));
        if (this.by) this.by.replaceChildren();
        if (!metric) return;
        for (const measure of metric.measures) {
          this.measure.append(option(measure.name, measure.label, !changed && measure.name === this.data.measure));
        }
        if (!changed) keepStored(this.measure, this.data.measure);
        if (this.by) {
          const stored = typeof this.data.by === "string" ? this.data.by.split(",").map((name) => name.trim()) : this.data.by;
          const chosen = changed ? [] : [].concat(stored || []);
          for (const dimension of metric.dimensions) this.by.append(option(dimension, dimension, chosen.includes(dimension)));
        }
      }
      // The block's data: what the controls say, over the members they do not show
      // (a comparison, a unit, totals, a query…), which are kept as they were.
      values() {
        const data = Object.assign({}, this.data);
        const put = (member, value) => {
          if (value === undefined || value === "" || (Array.isArray(value) && !value.length)) delete data[member];
          else data[member] = value;
        };
        if (this.metric.value || !data.query) put("metric", this.metric.value);
        put("measure", this.measure.value);
        if (this.by) put("by", [...this.by.selectedOptions].map((element) => element.value));
        if (this.grain) put("grain", this.grain.value);
        if (this.kind) put("kind", this.kind.value);
        put(this.label.name, this.label.value.trim() ? this.label.value : "");
        return data;
      }
      schedulePreview() {
        clearTimeout(this.previewTimer);
        this.previewTimer = setTimeout(() => this.showPreview(), 300);
      }
      async showPreview() {
        const data = this.values();
        this.error.textContent = "";
        if (!data.metric && !data.query) {
          this.preview.textContent = "Choisissez un indicateur du catalogue.";
          return;
        }
        const block = { id: "preview", type: kind, data };
        const asked = (this.asked = (this.asked || 0) + 1);
        try {
          // One block preview at a time, so a page of data blocks never fills the
          // server's render slots; an answer overtaken by a newer question is dropped.
          const html = await queued(() =>
            api("POST", "/api/render", {
              document: { blocks: [block], settings: { parameters: state.settings.parameters || [] } },
              format: "html",
              parameters: currentParameters(),
            }),
          );
          if (asked !== this.asked) return;
          const frame = document.createElement("iframe");
          frame.className = "ofx-frame";
          // No scripts in the preview; the page may reach into it to show the block.
          frame.setAttribute("sandbox", "allow-same-origin");
          frame.addEventListener("load", () => {
            const shown = frame.contentDocument && frame.contentDocument.querySelector('[data-block="preview"]');
            // Scrolls the frame alone, not the page around it.
            if (shown) frame.contentWindow.scrollTo(0, shown.getBoundingClientRect().top - 8);
          });
          frame.srcdoc = html;
          this.preview.replaceChildren(frame);
          this.preview.dataset.rendered = "true";
        } catch (problem) {
          this.preview.replaceChildren();
          this.error.textContent = problem.detail || "aperçu impossible";
        }
      }
      save() {
        return this.values();
      }
      destroy() {
        state.dataBlocks.delete(this);
      }
    };
  }

  // ---- Settings ----------------------------------------------------------------

  const settingsForm = document.getElementById("settings");
  function readSettings() {
    const form = new FormData(settingsForm);
    const settings = Object.assign({}, state.settings);
    settings.title = form.get("title") || undefined;
    settings.page = Object.assign({}, settings.page || {}, {
      size: form.get("size"),
      orientation: form.get("orientation"),
    });
    settings.cover = form.get("cover") === "on";
    settings.toc = form.get("toc") === "on";
    for (const member of ["header", "footer", "logo"]) {
      const value = (form.get(member) || "").trim();
      if (value) settings[member] = value;
      else delete settings[member];
    }
    const locale = form.get("locale");
    if (locale) settings.locale = locale;
    else delete settings.locale;
    // The site and period parameters are switched on and off here; one already declared
    // keeps its label and default.
    const declared = settings.parameters || [];
    const kept = (name) => declared.find((parameter) => parameter.name === name);
    const parameters = declared.filter((parameter) => parameter.name !== "site" && parameter.name !== "period");
    if (form.get("period_parameter") === "on") {
      const period = Object.assign({ name: "period", label: "Période" }, kept("period") || {});
      period.kind = form.get("period_kind") || "week";
      parameters.unshift(period);
    }
    if (form.get("site_parameter") === "on") {
      parameters.unshift(kept("site") || { name: "site", kind: "site", label: "Site" });
    }
    settings.parameters = parameters;
    state.settings = settings;
    return settings;
  }
  function showSettings(settings) {
    state.settings = Object.assign({}, settings || {});
    const set = (name, value) => {
      const element = settingsForm.elements[name];
      if (!element) return;
      if (element.type === "checkbox") element.checked = Boolean(value);
      else element.value = value == null ? "" : value;
    };
    set("title", state.settings.title);
    set("size", (state.settings.page || {}).size || "A4");
    set("orientation", (state.settings.page || {}).orientation || "portrait");
    set("cover", state.settings.cover);
    set("toc", state.settings.toc);
    set("header", state.settings.header);
    set("footer", state.settings.footer);
    set("logo", state.settings.logo);
    set("locale", state.settings.locale || "");
    const named = (name) => (state.settings.parameters || []).find((parameter) => parameter.name === name);
    set("site_parameter", Boolean(named("site")));
    set("period_parameter", Boolean(named("period")));
    set("period_kind", (named("period") || {}).kind || "week");
  }
  // The values the preview and the PDF are rendered with, for the parameters the
  // document declares.
  function currentParameters() {
    const parameters = {};
    const declared = (name) => (state.settings.parameters || []).some((parameter) => parameter.name === name);
    const site = document.getElementById("preview-site").value;
    if (site && declared("site")) parameters.site = site;
    const period = document.getElementById("preview-period").value.trim();
    if (period && declared("period")) parameters.period = period;
    return parameters;
  }

  // ---- Variables offered by completion -------------------------------------------

  const VARIABLES = [
    "site.name", "site.code", "period.start", "period.end", "period.week", "period.month",
    "period.year", "date.today",
  ];
  const completions = document.getElementById("variables");
  for (const name of VARIABLES) completions.append(option(`{${name}}`, `{${name}}`, false));
  document.addEventListener("keyup", (event) => {
    if (event.key !== "{") return;
    const selection = window.getSelection();
    if (!selection.rangeCount || !event.target.closest || !event.target.closest(".codex-editor")) return;
    const rect = selection.getRangeAt(0).getBoundingClientRect();
    const menu = document.getElementById("variable-menu");
    menu.style.left = `${rect.left + window.scrollX}px`;
    menu.style.top = `${rect.bottom + window.scrollY}px`;
    menu.hidden = false;
    menu.dataset.range = "open";
    menu.range = selection.getRangeAt(0).cloneRange();
  });
  document.getElementById("variable-menu").addEventListener("click", (event) => {
    const menu = event.currentTarget;
    const choice = event.target.closest("button");
    if (!choice || !menu.range) return;
    const range = menu.range;
    // The brace typed stays; the rest of the variable follows it.
    range.insertNode(document.createTextNode(choice.dataset.variable.slice(1)));
    menu.hidden = true;
    editor.blocks.getBlockByIndex(editor.blocks.getCurrentBlockIndex())?.dispatchChange();
  });
  {
    const menu = document.getElementById("variable-menu");
    for (const name of VARIABLES) {
      const button = document.createElement("button");
      button.type = "button";
      button.dataset.variable = `{${name}}`;
      button.textContent = `{${name}}`;
      menu.append(button);
    }
    document.addEventListener("keydown", (event) => {
      if (event.key === "Escape") menu.hidden = true;
    });
  }

  // ---- The editor, the preview, the actions --------------------------------------

  let editor;
  let previewTimer = null;
  const previewFrame = document.getElementById("preview");

  async function currentDocument() {
    const saved = await editor.save();
    return { time: saved.time, version: saved.version, blocks: saved.blocks, settings: readSettings() };
  }

  function markBlock(problem) {
    document.querySelectorAll(".ce-block.ofx-faulty").forEach((element) => {
      element.classList.remove("ofx-faulty");
      element.removeAttribute("data-problem");
    });
    if (!problem || !problem.block) return;
    const element = document.querySelector(`.ce-block[data-id="${CSS.escape(problem.block)}"]`);
    if (element) {
      element.classList.add("ofx-faulty");
      element.dataset.problem = problem.detail;
      element.scrollIntoView({ block: "nearest" });
    }
  }

  let previewAsked = 0;
  async function refreshPreview() {
    const asked = ++previewAsked;
    try {
      const document_ = await currentDocument();
      const started = performance.now();
      const html = await queued(() =>
        api("POST", "/api/render", { document: document_, format: "html", parameters: currentParameters() }),
      );
      if (asked !== previewAsked) return;
      previewFrame.srcdoc = html;
      previewFrame.dataset.milliseconds = String(Math.round(performance.now() - started));
      markBlock(null);
      say(`Aperçu à jour (${previewFrame.dataset.milliseconds} ms)`, "info");
    } catch (problem) {
      if (asked !== previewAsked) return;
      markBlock(problem);
      say(problem.detail || "aperçu impossible", "error");
    }
  }
  function schedulePreview() {
    clearTimeout(previewTimer);
    previewTimer = setTimeout(refreshPreview, 600);
  }
  // Settings and the preview's site and period change what every data block shows.
  function parametersChanged() {
    schedulePreview();
    for (const block of state.dataBlocks) block.schedulePreview();
  }

  // What the page can tell before asking the server: a data block needs its metric.
  function unfinished(document_) {
    const block = document_.blocks.find(
      (candidate) => KINDS[candidate.type] && !candidate.data.metric && !candidate.data.query,
    );
    return block && { block: block.id, detail: "choisissez un indicateur pour ce bloc" };
  }

  async function save() {
    if (state.loadFailed) return say("Le document n'a pas pu être lu : rechargez la page avant d'enregistrer", "error");
    const document_ = await currentDocument();
    const missing = unfinished(document_);
    if (missing) {
      markBlock(missing);
      return say(missing.detail, "error");
    }
    const comment = document.getElementById("comment").value.trim() || undefined;
    try {
      let answer;
      if (state.id) {
        answer = await api("PUT", `/api/documents/${state.id}`, { document: document_, comment, base_version: state.version });
      } else {
        const body = { document: document_, comment };
        const site = document.getElementById("document-site").value;
        if (site) body.site = site;
        answer = await api("POST", "/api/documents", body);
        state.id = answer.id;
        history.replaceState(null, "", `/editor/${answer.id}`);
      }
      state.version = answer.version;
      state.status = answer.status;
      showStatus();
      markBlock(null);
      say(`Version ${state.version} enregistrée`, "success");
    } catch (problem) {
      markBlock(problem);
      say(problem.detail || "enregistrement impossible", "error");
    }
  }

  async function review(action) {
    if (!state.id) return say("Enregistrez d'abord le document", "error");
    const comment = document.getElementById("comment").value.trim() || undefined;
    try {
      const answer = await api("POST", `/api/documents/${state.id}/review`, { action, comment, version: state.version });
      state.status = answer.status;
      showStatus();
      say(`Statut : ${answer.status}`, "success");
    } catch (problem) {
      say(problem.detail || "action impossible", "error");
    }
  }

  async function pdf() {
    if (!state.id) return say("Enregistrez d'abord le document", "error");
    try {
      const query = new URLSearchParams({ format: "pdf", version: String(state.version) });
      const response = await fetch(`/api/documents/${state.id}/render?${query}`, {
        method: "POST",
        headers: { "X-CSRF-Token": csrf, "Content-Type": "application/json" },
        credentials: "same-origin",
        body: JSON.stringify({ parameters: currentParameters() }),
      });
      if (!response.ok) throw await response.json();
      const url = URL.createObjectURL(await response.blob());
      const link = document.getElementById("pdf-link");
      if (link.href.startsWith("blob:")) URL.revokeObjectURL(link.href);
      link.href = url;
      link.hidden = false;
      say("PDF prêt", "success");
    } catch (problem) {
      markBlock(problem);
      say(problem.detail || "PDF impossible", "error");
    }
  }

  function showStatus() {
    document.getElementById("document-status").textContent = state.status + (state.version ? ` · v${state.version}` : "");
  }

  async function start() {
    try {
      state.catalog = (await api("GET", "/api/metrics")).metrics || [];
    } catch (problem) {
      say(`Le catalogue des indicateurs n'a pas pu être lu : ${problem.detail || ""}`, "error");
    }
    let stored = { blocks: [], settings: { title: "", page: { size: "A4", orientation: "portrait" } } };
    if (state.id) {
      try {
        const answer = await api("GET", `/api/documents/${state.id}`);
        stored = answer.document;
        state.version = answer.version;
        state.status = answer.status || state.status;
      } catch (problem) {
        state.loadFailed = true;
        say(problem.detail || "document illisible", "error");
      }
    }
    showSettings(stored.settings);
    showStatus();
    // A stored document's site is its own; the choice is for new documents.
    if (state.id) document.getElementById("document-site").closest("label").hidden = true;
    const tools = {
      header: { class: window.Header, inlineToolbar: true, config: { levels: [1, 2, 3, 4, 5, 6], defaultLevel: 2 } },
      list: { class: window.EditorjsList, inlineToolbar: true },
      checklist: { class: window.Checklist, inlineToolbar: true },
      quote: { class: window.Quote, inlineToolbar: true },
      code: { class: window.CodeTool },
      table: { class: window.Table, inlineToolbar: true },
      delimiter: { class: window.Delimiter },
      image: {
        class: window.ImageTool,
        config: {
          uploader: {
            // Images travel inside the document as data URLs (at most 2 MiB, checked on save).
            uploadByFile(file) {
              return new Promise((resolve) => {
                const reader = new FileReader();
                reader.onload = () => resolve({ success: 1, file: { url: reader.result } });
                reader.onerror = () => resolve({ success: 0 });
                reader.readAsDataURL(file);
              });
            },
          },
        },
      },
    };
    for (const kind of Object.keys(KINDS)) tools[kind] = { class: dataTool(kind) };
    for (const [name, tool] of Object.entries(tools)) if (!tool.class) delete tools[name];
    editor = new window.EditorJS({
      holder: "editor",
      tools,
      data: { blocks: cleanBlocks(stored.blocks) },
      placeholder: "Écrivez, ou tapez / pour ajouter un bloc",
      onChange: schedulePreview,
      onReady: () => {
        page.dataset.ready = "true";
        refreshPreview();
      },
    });
    window.opsfluxEditor = editor;
  }

  settingsForm.addEventListener("change", parametersChanged);
  document.getElementById("preview-site").addEventListener("change", parametersChanged);
  document.getElementById("preview-period").addEventListener("change", parametersChanged);
  document.getElementById("save").addEventListener("click", save);
  document.getElementById("pdf").addEventListener("click", pdf);
  for (const action of ["submit", "approve", "publish", "send_back"]) {
    document.getElementById(`review-${action}`).addEventListener("click", () => review(action));
  }
  start();
})();

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
    // The block JSON Schema, as the server generates it from the renderer's definitions.
    schema: {},
  };
  const status = document.getElementById("editor-status");
  // What the page says last. A preview that comes back fine does not hide the refusal
  // of an action (a save, a PDF) the author has not read yet.
  const say = (text, tone, fromPreview) => {
    if (fromPreview && status.dataset.tone === "error" && status.dataset.source === "action") return;
    status.textContent = text;
    status.dataset.tone = tone || "info";
    status.dataset.source = fromPreview ? "preview" : "action";
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
  const AS_TEXT = new Set(["code", "typst"]);
  function cleanBlocks(blocks) {
    return (blocks || []).map((block) => (AS_TEXT.has(block.type) || KINDS[block.type] ? block : Object.assign({}, block, { data: cleanData(block.data) })));
  }

  // ---- The block schema ----------------------------------------------------------
  //
  // The data blocks' forms are drawn from the JSON Schema the server generates from
  // the renderer's own block definitions (`GET /api/documents/schema`), and every block
  // is checked against it before a save: the editor, the API and the renderer read one
  // definition.

  function resolve(node) {
    let seen = 0;
    while (node && node.$ref && seen++ < 20) {
      node = (state.schema.$defs || {})[node.$ref.replace("#/$defs/", "")];
    }
    return node || {};
  }
  const refName = (node) => (node && node.$ref ? node.$ref.replace("#/$defs/", "") : null);

  // The schema of a block kind's `data`, or null for a kind without one.
  function definitionOf(kind) {
    const block = (state.schema.$defs || {}).Block || {};
    for (const condition of block.allOf || []) {
      if (condition.if?.properties?.type?.const === kind) {
        const data = condition.then?.properties?.data;
        return data && Object.keys(data).length ? data : null;
      }
    }
    return null;
  }
  function describedKind(kind) {
    const block = (state.schema.$defs || {}).Block || {};
    const found = (block.allOf || []).find((condition) => condition.if?.properties?.type?.const === kind);
    return found?.then?.description || "";
  }

  // The members of an object schema, through `allOf` (flattened sources) and `$ref`.
  function membersOf(node) {
    node = resolve(node);
    const members = { properties: {}, required: [] };
    for (const part of node.allOf || []) {
      const inner = membersOf(part);
      Object.assign(members.properties, inner.properties);
      members.required.push(...inner.required);
    }
    Object.assign(members.properties, node.properties || {});
    members.required.push(...(node.required || []));
    return members;
  }

  const TYPE_NAMES = { string: "du texte", number: "un nombre", integer: "un entier", boolean: "vrai ou faux", array: "une liste", object: "un objet", null: "rien" };
  function typeOf(value) {
    if (value === null) return "null";
    if (Array.isArray(value)) return "array";
    if (typeof value === "number") return Number.isInteger(value) ? "integer" : "number";
    return typeof value;
  }
  function pointerPart(key) {
    return `/${String(key).replace(/~/g, "~0").replace(/\//g, "~1")}`;
  }
  // The first way `value` fails `node`, as [JSON pointer, message], or null. Covers what
  // the generated schema uses: $ref, allOf, oneOf, type, enum, const, required,
  // properties, additionalProperties, items, minimum, maximum, minLength.
  function validate(value, node, pointer) {
    const name = refName(node);
    node = resolve(node);
    for (const part of node.allOf || []) {
      const failure = validate(value, part, pointer);
      if (failure) return failure;
    }
    if (node.oneOf) {
      const failures = node.oneOf.map((branch) => validate(value, branch, pointer));
      const passing = failures.filter((failure) => !failure).length;
      if (passing !== 1) {
        // The branch that got furthest says the most (a null branch says least).
        if (passing > 1) return [pointer, "correspond à plusieurs définitions"];
        return failures.filter(Boolean).sort((a, b) => b[0].length - a[0].length)[0];
      }
    }
    if (node.type !== undefined) {
      const types = [].concat(node.type);
      const actual = typeOf(value);
      if (!types.includes(actual) && !(actual === "integer" && types.includes("number"))) {
        const wanted = types.map((type) => TYPE_NAMES[type] || type).join(" ou ");
        return [pointer, name === "Text" ? "attendu : du texte ou un nombre" : `attendu : ${wanted}`];
      }
    }
    if (node.enum && !node.enum.includes(value)) {
      return [pointer, `valeur inconnue « ${value} » (attendu : ${node.enum.join(", ")})`];
    }
    if (node.const !== undefined && node.const !== value) return [pointer, `attendu : ${node.const}`];
    if (typeof value === "string" && node.minLength && value.length < node.minLength) return [pointer, "ne peut pas être vide"];
    if (typeof value === "number") {
      if (node.minimum !== undefined && value < node.minimum) return [pointer, `au moins ${node.minimum}`];
      if (node.maximum !== undefined && value > node.maximum) return [pointer, `au plus ${node.maximum}`];
    }
    if (Array.isArray(value) && node.items) {
      for (let index = 0; index < value.length; index++) {
        const failure = validate(value[index], node.items, pointer + pointerPart(index));
        if (failure) return failure;
      }
    }
    if (value && typeof value === "object" && !Array.isArray(value)) {
      for (const member of node.required || []) {
        if (value[member] === undefined) return [pointer + pointerPart(member), "est obligatoire"];
      }
      for (const [key, member] of Object.entries(value)) {
        const listed = node.properties && Object.hasOwn(node.properties, key);
        const inner = listed ? node.properties[key] : node.additionalProperties;
        if (inner === false) return [pointer + pointerPart(key), "membre inconnu"];
        if (inner && typeof inner === "object") {
          const failure = validate(member, inner, pointer + pointerPart(key));
          if (failure) return failure;
        }
      }
    }
    return null;
  }

  // ---- Data blocks -------------------------------------------------------------

  // The OpsFlux tools: every block kind that reads data, and badges. Titles for the
  // toolbox; the form itself comes from the schema.
  const KINDS = {
    kpi: { title: "Indicateur (KPI)", icon: "#" },
    chart: { title: "Graphique", icon: "📈" },
    data_table: { title: "Tableau de données", icon: "▦" },
    map: { title: "Carte des sites", icon: "🗺" },
    planning: { title: "Planning", icon: "📅" },
    tasks: { title: "Tâches", icon: "☑" },
    timeline: { title: "Frise des projets", icon: "⟷" },
    progress: { title: "Avancement", icon: "▰" },
    company: { title: "Fiche entreprise", icon: "🏢" },
    badges: { title: "Badges", icon: "🏷" },
    forecast: { title: "Prévision PowerTrace", icon: "⚡" },
    scenario: { title: "Scénario PowerTrace", icon: "⚙" },
    repeat: { title: "Section répétée", icon: "↻" },
  };
  const GRAINS = ["", "day", "week", "month", "quarter", "year", "total"];
  const CHARTS = ["line", "bar", "stacked_bar", "pie", "heatmap"];
  const LABELS = {
    metric: "Indicateur", measure: "Mesure", by: "Par", grain: "Pas", kind: "Type", label: "Libellé",
    title: "Titre", unit: "Unité", compare: "Comparaison", period: "Période", site: "Sites", query: "Requête SQL",
    columns: "Colonnes", labels: "Intitulés des colonnes", formats: "Formats des colonnes", totals: "Ligne de total",
    project: "Projet", status: "Statuts", limit: "Nombre maximal", company: "Entreprise", value: "Valeur",
    max: "Maximum", items: "Badges", view: "Vue", show: "Afficher", horizon: "Horizon", switchboard: "Tableau électrique",
    scenario: "Scénario", over: "Répéter pour", blocks: "Blocs répétés",
  };
  // Shown in the block's first row; the others under "Plus de réglages".
  const MAIN = new Set(["metric", "measure", "by", "grain", "kind", "label", "title", "company", "scenario", "value", "items", "site", "view"]);

  function option(value, label, selected) {
    const element = document.createElement("option");
    element.value = value;
    element.textContent = label;
    element.selected = selected;
    return element;
  }

  // A stored value the list does not offer (a `{variable}`, a number) stays chosen.
  function keepStored(select, value) {
    if (value === undefined || value === null || value === "" || typeof value === "object") return;
    const text = String(value);
    const known = [...select.options].find((element) => element.value === text);
    if (known) known.selected = true;
    else select.append(option(text, text, true));
  }

  function field(label, control, help) {
    const wrapper = document.createElement("label");
    wrapper.className = "ofx-field";
    if (help) wrapper.title = help;
    wrapper.append(label + " ", control);
    return wrapper;
  }

  // What a member's form control is, from its schema: `null` branches are dropped.
  function controlOf(name, node) {
    let inner = node;
    if (inner.oneOf && inner.oneOf.length === 2 && inner.oneOf.some((branch) => branch.type === "null")) {
      inner = inner.oneOf.find((branch) => branch.type !== "null");
    }
    const help = inner.description || node.description || "";
    const ref = refName(inner);
    const resolved = resolve(inner);
    const types = [].concat(resolved.type || []).filter((type) => type !== "null");
    if (name === "metric" || name === "measure" || name === "grain" || (name === "kind" && ref === "Text")) return { type: name, help };
    if (name === "by" && ref === "Names") return { type: "by", help };
    if (ref === "Names") return { type: "names", help };
    if (resolved.enum) return { type: "enum", values: resolved.enum, help };
    if (ref === "Text") {
      // "`chart` (by default), `table` or `summary`": a closed list, offered as such.
      const words = [...help.matchAll(/`([a-z_0-9]+)`/g)].map((match) => match[1]);
      if (words.length >= 2 && / or /.test(help) && !/ to /.test(help)) return { type: "enum", values: words, help, text: true };
      return { type: "text", help };
    }
    if (types.includes("boolean")) return { type: "boolean", help };
    if (types.includes("integer") || types.includes("number")) return { type: "number", help };
    if (types.length === 1 && types[0] === "string") return { type: name === "query" ? "code" : "text", help };
    return { type: "json", help };
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
        this.controls = {};
      }
      render() {
        const root = document.createElement("div");
        root.className = "ofx-data";
        root.dataset.kind = kind;
        const head = document.createElement("div");
        head.className = "ofx-head";
        head.textContent = spec.title;
        head.title = describedKind(kind);
        root.append(head);
        const main = document.createElement("div");
        main.className = "ofx-controls";
        const more = document.createElement("details");
        more.className = "ofx-more";
        const summary = document.createElement("summary");
        summary.textContent = "Plus de réglages";
        const rest = document.createElement("div");
        rest.className = "ofx-controls";
        more.append(summary, rest);
        if (!definitionOf(kind)) {
          const notice = document.createElement("div");
          notice.className = "ofx-error";
          notice.textContent = "Le schéma des blocs n'a pas pu être lu : ce bloc garde ses données telles quelles.";
          root.append(notice);
        }
        const { properties, required } = membersOf(definitionOf(kind) || {});
        for (const [name, node] of Object.entries(properties)) {
          const control = controlOf(name, node);
          const element = this.control(name, control);
          this.controls[name] = { element, control };
          const label = (LABELS[name] || name) + (required.includes(name) ? " *" : "");
          (MAIN.has(name) ? main : rest).append(field(label, element, control.help));
        }
        root.append(main);
        if (rest.children.length) root.append(more);
        this.preview = document.createElement("div");
        this.preview.className = "ofx-preview";
        this.error = document.createElement("div");
        this.error.className = "ofx-error";
        root.append(this.preview, this.error);

        this.fillMetric();
        state.dataBlocks.add(this);
        root.addEventListener("change", (event) => {
          if (this.controls.metric && event.target === this.controls.metric.element) this.fillMetric(true);
          this.schedulePreview();
          this.block && this.block.dispatchChange();
        });
        root.addEventListener("input", () => this.block && this.block.dispatchChange());
        this.schedulePreview();
        return root;
      }
      // One member's control, showing its stored value.
      control(name, control) {
        const stored = this.data[name];
        let element;
        switch (control.type) {
          case "metric":
            element = document.createElement("select");
            element.append(option("", "— choisir un indicateur —", !stored));
            for (const metric of state.catalog) element.append(option(metric.name, `${metric.title} (${metric.name})`, metric.name === stored));
            // A stored value the catalog does not list (a `{param.x}` variable, say) stays.
            keepStored(element, stored);
            break;
          case "measure":
            element = document.createElement("select");
            break;
          case "by":
            element = document.createElement("select");
            element.multiple = true;
            break;
          case "grain":
            element = document.createElement("select");
            for (const grain of GRAINS) element.append(option(grain, grain || "(du modèle)", grain === (stored || "")));
            keepStored(element, stored);
            break;
          case "kind":
            element = document.createElement("select");
            element.append(option("", "line (par défaut)", stored === undefined || stored === null || stored === ""));
            for (const chart of CHARTS) element.append(option(chart, chart, chart === stored));
            keepStored(element, stored);
            break;
          case "enum":
            element = document.createElement("select");
            element.append(option("", "(par défaut)", stored === undefined || stored === null || stored === ""));
            for (const value of control.values) element.append(option(value, value, value === stored));
            keepStored(element, stored);
            break;
          case "boolean":
            element = document.createElement("input");
            element.type = "checkbox";
            element.checked = stored === true;
            break;
          case "code":
          case "json":
            element = document.createElement("textarea");
            element.rows = control.type === "code" ? 3 : 2;
            element.spellcheck = false;
            element.value = stored === undefined || stored === null ? "" : control.type === "code" ? String(stored) : JSON.stringify(stored);
            if (control.type === "json") element.placeholder = "JSON";
            break;
          case "names":
            element = document.createElement("input");
            element.value = Array.isArray(stored) ? stored.join(", ") : stored == null ? "" : String(stored);
            element.placeholder = "a, b, c";
            break;
          default:
            element = document.createElement("input");
            if (control.type === "number") element.type = "number";
            element.value = stored === undefined || stored === null ? "" : String(stored);
        }
        element.name = name;
        return element;
      }
      fillMetric(changed) {
        const metricControl = this.controls.metric;
        const metric = metricControl && state.catalog.find((candidate) => candidate.name === metricControl.element.value);
        const measure = this.controls.measure && this.controls.measure.element;
        const by = this.controls.by && this.controls.by.element;
        if (measure) measure.replaceChildren(option("", "(la première)", !this.data.measure || changed));
        if (by) by.replaceChildren();
        const storedBy = typeof this.data.by === "string" ? this.data.by.split(",").map((name) => name.trim()) : [].concat(this.data.by || []);
        if (by && !changed) {
          // Dimensions the catalog does not list here (a variable, an unread catalog) stay.
          const offered = new Set(metric ? metric.dimensions : []);
          for (const dimension of storedBy) if (dimension && !offered.has(dimension)) by.append(option(dimension, dimension, true));
        }
        if (metric) {
          if (measure) {
            for (const entry of metric.measures) measure.append(option(entry.name, entry.label, !changed && entry.name === this.data.measure));
          }
          if (by) {
            const chosen = changed ? [] : storedBy;
            for (const dimension of metric.dimensions) by.append(option(dimension, dimension, chosen.includes(dimension)));
          }
        }
        if (measure && !changed) keepStored(measure, this.data.measure);
      }
      // The block's data: what the controls say, over the members the schema does not
      // list, which are kept as they were. A member whose text is unchanged keeps its
      // stored form (a number stays a number, a list a list). JSON that does not read
      // is reported by `problem()`.
      values() {
        const data = Object.assign({}, this.data);
        this.unreadable = null;
        const put = (member, value) => {
          if (value === undefined || value === "" || (Array.isArray(value) && !value.length)) delete data[member];
          else data[member] = value;
        };
        for (const [name, { element, control }] of Object.entries(this.controls)) {
          const stored = this.data[name];
          switch (control.type) {
            case "by": {
              const chosen = [...element.selectedOptions].map((choice) => choice.value);
              const before = typeof stored === "string" ? stored.split(",").map((part) => part.trim()) : [].concat(stored ?? []);
              if (stored !== undefined && chosen.join(",") === before.join(",")) data[name] = stored;
              else put(name, chosen);
              break;
            }
            case "boolean":
              if (element.checked) data[name] = true;
              else if (stored === undefined || stored === null) data[name] = stored;
              else data[name] = false;
              if (data[name] === undefined) delete data[name];
              break;
            case "json": {
              const text = element.value.trim();
              if (!text) {
                delete data[name];
                break;
              }
              try {
                data[name] = JSON.parse(text);
              } catch (error) {
                this.unreadable = this.unreadable || [pointerPart(name), `JSON illisible : ${error.message}`];
              }
              break;
            }
            case "names": {
              const text = element.value.trim();
              const unchanged = text === (Array.isArray(stored) ? stored.join(", ") : String(stored ?? ""));
              // An empty list is not an absent one (no sites against the document's sites).
              if (unchanged && stored !== undefined) data[name] = stored;
              else if (unchanged) delete data[name];
              else put(name, Array.isArray(stored) ? text.split(",").map((part) => part.trim()).filter(Boolean) : text);
              break;
            }
            case "number":
              put(name, element.value === "" ? undefined : Number(element.value));
              break;
            case "metric":
              if (stored !== undefined && element.value === String(stored)) data[name] = stored;
              // A query-driven block keeps its query and no metric.
              else if (element.value || !data.query) put(name, element.value);
              else delete data[name];
              break;
            default: {
              const text = element.value;
              put(name, stored !== undefined && stored !== null && text === String(stored) ? stored : text.trim() ? text : "");
            }
          }
        }
        return data;
      }
      // The first way the block's data fails its definition, as [pointer, message].
      problem(data) {
        if (this.unreadable) return this.unreadable;
        const definition = definitionOf(kind);
        return definition ? validate(data, definition, "") : null;
      }
      schedulePreview() {
        clearTimeout(this.previewTimer);
        this.previewTimer = setTimeout(() => this.showPreview(), 300);
      }
      async showPreview() {
        const data = this.values();
        this.error.textContent = "";
        const problem = this.problem(data);
        if (problem) {
          this.preview.replaceChildren();
          this.error.textContent = `${problem[0] || "/"} : ${problem[1]}`;
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
          if (asked !== this.asked) return;
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
      // Named moments for the browser's performance timeline (and the page-load benchmark).
      performance.mark("opsflux-preview");
      markBlock(null);
      say(`Aperçu à jour (${previewFrame.dataset.milliseconds} ms)`, "info", true);
    } catch (problem) {
      if (asked !== previewAsked) return;
      markBlock(problem);
      say(problem.detail || "aperçu impossible", "error", true);
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

  // What the page can tell before asking the server: every block against its kind's
  // definition in the schema, named by block and JSON pointer as the server names it.
  function unfinished(document_) {
    for (let index = 0; index < document_.blocks.length; index++) {
      const block = document_.blocks[index];
      const definition = definitionOf(block.type);
      if (!definition) continue;
      const tool = [...state.dataBlocks].find((candidate) => candidate.block && candidate.block.id === block.id);
      const data = block.data || {};
      const sourced = data.metric !== undefined || data.query !== undefined;
      const needsSource = ["chart", "data_table"].includes(block.type) || (block.type === "repeat" && data.over !== "sites");
      const problem =
        (tool && tool.unreadable) ||
        validate(data, definition, "") ||
        (needsSource && !sourced ? ["/metric", "choisissez un indicateur (ou une requête)"] : null);
      if (problem) {
        return { block: block.id, detail: `bloc ${block.id} à /blocks/${index}/data${problem[0]} : ${problem[1]}` };
      }
    }
    return null;
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
    try {
      state.schema = await api("GET", "/api/documents/schema");
    } catch (problem) {
      state.schema = {};
      say(`Le schéma des blocs n'a pas pu être lu : ${problem.detail || ""}`, "error");
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
        performance.mark("opsflux-ready");
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

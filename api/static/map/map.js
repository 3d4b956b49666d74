// Veta's web map: vector tiles of the collections, filters, popups and site screening.
"use strict";

const ROOT = new URL(".", location.href).href;
const LEON = [[-7.1, 41.95], [-4.7, 43.25]];
const IGN = "© Instituto Geográfico Nacional de España, CC BY 4.0";

// The colours, one table each; the legend is drawn from the same tables.
const LEGAL_EFFECT_COLOURS = {
  exclusion: "#d7301f", conditional: "#fd8d3c", safeguarding: "#31a354", informative: "#6baed6",
};
const PERMIT_STATUS_COLOURS = {
  applied: "#c2a5cf", admitted: "#9970ab", granted: "#2c3e9e", extended: "#4a6fd1",
  lapsed: "#9e9e9e", renounced: "#bdbdbd", denied: "#757575",
};
const COMMODITY_COLOURS = {
  tungsten: "#6a3d9a", lithium: "#e7298a", tin: "#1b9e77", gold: "#e6ab02", coal: "#252525",
  copper: "#a6611a", cobalt: "#1f78b4", nickel: "#66a61e", graphite: "#7570b3",
  antimony: "#e31a1c", iron: "#8c510a", slate: "#5e7a8a",
};
const OTHER_COMMODITY = "#bbbbbb";
// Mineral deposits of public importance: the level of their latest assessment.
const MDOPI_COLOURS = {
  eu: "#4a148c", national: "#1565c0", regional: "#2e7d32", local: "#f9a825", none: "#9e9e9e",
};
const IMPACT_TEXT = {
  conflict: "Conflict: sterilises a deposit of regional or higher importance",
  caution: "Caution: touches safeguarding areas or lower-class deposits",
  clear: "Clear: no deposit and no safeguarding area",
};
const PROTECTION_STROKES = { excluded: "#b00020", conditional: "#f57c00", free: "#ffffff" };
const VERDICT_TEXT = {
  excluded: "Excluded: mining is prohibited here",
  conditional: "Conditional: mining needs an assessment",
  free: "Free of restricting zones (the ground may still be taken: see the ground status)",
};
const GROUND_TEXT = {
  open: "Ground open: no mining right applied for or held here",
  applied_for: "Ground applied for: another right's application covers part of the site",
  held: "Ground held: a granted mining right in force covers part of the site",
};

function matchColour(property, table, fallback) {
  return ["match", ["get", property], ...Object.entries(table).flat(), fallback];
}

function tileSource(collection) {
  return { type: "vector", url: `${ROOT}collections/${collection}/tiles/WebMercatorQuad/tilejson.json` };
}

const IS_POINT = ["==", ["geometry-type"], "Point"];
const IS_POLYGON = ["==", ["geometry-type"], "Polygon"];

const style = {
  version: 8,
  // Label glyphs of Noto Sans, served by Veta (api/static/vendor/glyphs): text draws offline.
  glyphs: `${ROOT}static/vendor/glyphs/{fontstack}/{range}.pbf`,
  sources: {
    ...orientationSources(ROOT),
    admin_areas: tileSource("admin_areas"),
    protection_zones: tileSource("protection_zones"),
    permits: tileSource("permits"),
    deposits: tileSource("deposits"),
    area: { type: "geojson", data: { type: "FeatureCollection", features: [] } },
    site: { type: "geojson", data: { type: "FeatureCollection", features: [] } },
  },
  layers: [
    { id: "background", type: "background", paint: { "background-color": "#f2efe6" } },
    ...basemapLayers(),
    {
      id: "zones-fill", type: "fill", source: "protection_zones", "source-layer": "protection_zones",
      // Zones overlap (a national park inside a biosphere reserve): the strictest effect on top.
      layout: { "fill-sort-key": ["match", ["get", "legal_effect"], "exclusion", 4, "conditional", 3, "safeguarding", 2, 1] },
      paint: {
        "fill-color": matchColour("legal_effect", LEGAL_EFFECT_COLOURS, "#999"),
        "fill-opacity": ["match", ["get", "legal_effect"], "exclusion", 0.5, 0.3],
      },
    },
    {
      id: "zones-line", type: "line", source: "protection_zones", "source-layer": "protection_zones",
      layout: { "line-sort-key": ["match", ["get", "legal_effect"], "exclusion", 4, "conditional", 3, "safeguarding", 2, 1] },
      paint: { "line-color": matchColour("legal_effect", LEGAL_EFFECT_COLOURS, "#999"), "line-width": 1.2 },
    },
    {
      id: "permits-fill", type: "fill", source: "permits", "source-layer": "permits",
      paint: { "fill-color": matchColour("status", PERMIT_STATUS_COLOURS, "#999"), "fill-opacity": 0.25 },
    },
    {
      id: "permits-line", type: "line", source: "permits", "source-layer": "permits",
      paint: { "line-color": matchColour("status", PERMIT_STATUS_COLOURS, "#999"), "line-width": 1, "line-dasharray": [3, 1] },
    },
    {
      id: "admin-lines", type: "line", source: "admin_areas", "source-layer": "admin_areas",
      paint: {
        "line-color": "#6d6d6d",
        "line-width": ["match", ["get", "level"], "municipality", 0.5, "province", 1.8, 2.4],
      },
    },
    {
      id: "area-line", type: "line", source: "area",
      paint: { "line-color": "#000", "line-width": 2.5, "line-dasharray": [2, 1] },
    },
    GRID_LINES,
    {
      id: "deposits-polygons", type: "fill", source: "deposits", "source-layer": "deposits", filter: IS_POLYGON,
      paint: {
        "fill-color": matchColour("main_commodity", COMMODITY_COLOURS, OTHER_COMMODITY),
        "fill-opacity": 0.8, "fill-outline-color": "#000",
      },
    },
    {
      id: "deposits-points", type: "circle", source: "deposits", "source-layer": "deposits", filter: IS_POINT,
      paint: {
        "circle-color": matchColour("main_commodity", COMMODITY_COLOURS, OTHER_COMMODITY),
        "circle-radius": ["interpolate", ["linear"], ["zoom"], 6, 3.5, 10, 6, 14, 8],
        "circle-stroke-color": matchColour("protection_status", PROTECTION_STROKES, "#fff"),
        "circle-stroke-width": 1.5,
      },
    },
    {
      id: "deposits-mdopi", type: "circle", source: "deposits", "source-layer": "deposits",
      filter: ["has", "mdopi"], layout: { visibility: "none" },
      paint: {
        "circle-color": matchColour("mdopi", MDOPI_COLOURS, "#fff"),
        "circle-radius": ["interpolate", ["linear"], ["zoom"], 6, 4, 10, 7, 14, 9],
        "circle-stroke-color": "#000", "circle-stroke-width": 1,
      },
    },
    {
      // Below zoom 10 the deposit tiles carry clusters (a point per occupied cell of the tile
      // grid, counted by the server): circles growing with the count; a click zooms in.
      id: "deposit-clusters", type: "circle", source: "deposits", "source-layer": "deposits_clusters",
      paint: {
        "circle-color": "#5e4fa2", "circle-opacity": 0.75,
        "circle-radius": ["interpolate", ["linear"], ["sqrt", ["get", "count"]], 1, 5, 10, 14, 100, 24],
        "circle-stroke-color": "#fff", "circle-stroke-width": 1.5,
      },
    },
    {
      id: "site-fill", type: "fill", source: "site", filter: IS_POLYGON,
      paint: { "fill-color": "#000", "fill-opacity": 0.12 },
    },
    {
      id: "site-line", type: "line", source: "site",
      paint: { "line-color": "#000", "line-width": 2 },
    },
    {
      id: "site-vertices", type: "circle", source: "site", filter: IS_POINT,
      paint: { "circle-radius": 4, "circle-color": "#fff", "circle-stroke-color": "#000", "circle-stroke-width": 1.5 },
    },
    ...labelLayers(),
  ],
};

// The clusters' counts are text, drawn with the style's glyphs when it has them.
const CLUSTER_COUNTS = {
  id: "deposit-cluster-counts", type: "symbol", source: "deposits", "source-layer": "deposits_clusters",
  filter: [">", ["get", "count"], 1],
  layout: { "text-field": ["to-string", ["get", "count"]], "text-font": ["Noto Sans Bold"], "text-size": 11, "text-allow-overlap": true },
  paint: { "text-color": "#fff" },
};
if (style.glyphs) style.layers.splice(style.layers.findIndex((l) => l.id === "deposit-clusters") + 1, 0, CLUSTER_COUNTS);
// The counts come and go with their circles (the Deposits switch).
const clustersBox = document.querySelector('input[data-layers*="deposit-clusters"]');
clustersBox.addEventListener("change", () => {
  if (map.getLayer(CLUSTER_COUNTS.id)) map.setLayoutProperty(CLUSTER_COUNTS.id, "visibility", clustersBox.checked ? "visible" : "none");
});

// Read before anything rewrites the address: the state a shared link carries.
const SHARED = new URLSearchParams(location.search);
// An organisation's API key, kept for this tab only (sessionStorage), sent with every request
// to Veta itself (tiles, searches, screening) and never to another site.
const KEY_STORE = "veta.apiKey";
const API_KEY = sessionStorage.getItem(KEY_STORE);

function ownSite(url) {
  return new URL(url, location.href).origin === location.origin;
}

function credentialed(url, headers = {}) {
  return API_KEY && ownSite(url) ? { ...headers, Authorization: `Bearer ${API_KEY}` } : headers;
}

const map = new maplibregl.Map({
  // The view (zoom/lat/lon) lives in the address's hash, so a copied link restores it.
  container: "map", style, bounds: LEON, attributionControl: false, hash: "view",
  fitBoundsOptions: { padding: 20 }, doubleClickZoom: true,
  transformRequest: (url) => (API_KEY && ownSite(url) ? { url, headers: credentialed(url) } : { url }),
});
// Settled once the map's first style has loaded. Scripts that add layers wait on this, not on
// map.isStyleLoaded(), which is false again whenever a source is loading: a script arriving
// then would wait for a "load" event that has already fired, and add nothing.
const MAP_LOADED = new Promise((resolve) => map.once("load", resolve));
const showGridCellIds = followGridCells(map);
map.addControl(new maplibregl.NavigationControl({ showCompass: false }));
map.addControl(new maplibregl.ScaleControl({ unit: "metric" }));
map.addControl(new maplibregl.AttributionControl({ compact: false, customAttribution: IGN }));
window.vetaMap = map; // for the browser tests and the console

const $ = (selector) => document.querySelector(selector);

function escapeHtml(value) {
  return String(value ?? "").replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]);
}

async function getJson(url, options = {}) {
  const response = await fetch(url, { ...options, headers: credentialed(url, options.headers) });
  const body = await response.json().catch(() => null);
  if (!response.ok) {
    throw new Error((body && (body.detail || body.title)) || `${response.status} ${response.statusText}`);
  }
  return body;
}

// ---- Layers and legend --------------------------------------------------------------------

for (const box of document.querySelectorAll("input[data-layers]")) {
  box.addEventListener("change", () => {
    for (const id of box.dataset.layers.split(",")) {
      map.setLayoutProperty(id, "visibility", box.checked ? "visible" : "none");
    }
    if (box.id === "grid-layer") showGridCellIds();
    saveState();
  });
}

// One basemap at a time: Veta's offline default, or one of the online services.
function showBasemap(name) {
  for (const other of Object.keys(BASEMAPS).filter((n) => BASEMAPS[n])) {
    map.setLayoutProperty(basemapLayer(other), "visibility", other === name ? "visible" : "none");
  }
}

function chosenBasemap() {
  return document.querySelector("input[name=basemap]:checked")?.value || "offline";
}

for (const radio of document.querySelectorAll("input[name=basemap]")) {
  radio.addEventListener("change", () => {
    showBasemap(chosenBasemap());
    saveState();
  });
}

function legendGroup(title, table, dot) {
  const items = Object.entries(table).map(([name, colour]) =>
    `<div class="legend-item"><span class="swatch${dot ? " dot" : ""}" data-fill="${escapeHtml(colour)}"></span>${escapeHtml(name)}</div>`);
  return `<div class="legend-group"><h3>${escapeHtml(title)}</h3>${items.join("")}</div>`;
}

$("#legend").innerHTML = [
  legendGroup("Protection zones by legal effect", LEGAL_EFFECT_COLOURS, false),
  legendGroup("Mining rights by status", PERMIT_STATUS_COLOURS, false),
  legendGroup("Deposits by main commodity", { ...COMMODITY_COLOURS, other: OTHER_COMMODITY }, true),
  legendGroup("Deposits by MDoPI class (safeguarding areas: zones of effect safeguarding)", MDOPI_COLOURS, true),
  `<div class="legend-group"><h3>Deposit outline: protection status</h3>${Object.entries(PROTECTION_STROKES).map(([name, colour]) =>
    `<div class="legend-item"><span class="swatch dot outline" data-outline="${escapeHtml(colour)}"></span>${escapeHtml(name)}</div>`).join("")}</div>`,
].join("");
// Colours set through the DOM: the page's content security policy refuses style attributes in markup.
for (const swatch of document.querySelectorAll("#legend [data-fill]")) swatch.style.background = swatch.dataset.fill;
for (const swatch of document.querySelectorAll("#legend [data-outline]")) swatch.style.borderColor = swatch.dataset.outline;

// ---- Filters ----------------------------------------------------------------------------------

const filters = { commodities: [], statuses: ["free", "conditional", "excluded"], areaIds: null, area: "" };
// Commodity code -> the codes a choice of it matches: itself and its narrower ones (PGM: platinum…).
const matchedCodes = {};

function depositFilter() {
  const conditions = [["in", ["get", "protection_status"], ["literal", filters.statuses]]];
  if (filters.commodities.length) {
    // `commodities` is "tungsten, tin": match whole codes, so "tin" does not match "platinum…".
    const listed = ["concat", ", ", ["get", "commodities"], ","];
    const codes = filters.commodities.flatMap((code) => matchedCodes[code] || [code]);
    conditions.push(["any", ...codes.map((code) => ["in", `, ${code},`, listed])]);
  }
  if (filters.areaIds) {
    // `match` looks ids up in a hash table; `in` would scan the whole list for every feature.
    conditions.push(filters.areaIds.length ? ["match", ["get", "id"], filters.areaIds, true, false] : false);
  }
  return ["all", ...conditions];
}

// The clusters are counted by the server: the deposit tiles are asked for with the filters
// (the same CQL2 as the count below; the protection status only when it excludes some, as the
// zone rule is the costly part of a tile). From zoom 10 the deposits are filtered here as well.
let depositTilesQuery = "";
function filterDepositTiles() {
  const params = new URLSearchParams();
  const quoted = (values) => values.map((v) => `'${v}'`).join(", ");
  const conditions = [];
  if (filters.statuses.length && filters.statuses.length < 3) conditions.push(`protection_status IN (${quoted(filters.statuses)})`);
  if (filters.commodities.length) conditions.push(`commodity IN (${quoted(filters.commodities)})`);
  if (conditions.length) params.set("filter", conditions.join(" AND "));
  if (filters.area) params.set("area", filters.area);
  map.setFilter("deposit-clusters", filters.statuses.length ? null : false);
  if (map.getLayer(CLUSTER_COUNTS.id)) map.setFilter(CLUSTER_COUNTS.id, filters.statuses.length ? CLUSTER_COUNTS.filter : false);
  if (params.toString() === depositTilesQuery) return;
  depositTilesQuery = params.toString();
  map.getSource("deposits").setUrl(`${tileSource("deposits").url}${depositTilesQuery ? `?${depositTilesQuery}` : ""}`);
}

function applyFilters() {
  const common = depositFilter();
  map.setFilter("deposits-points", ["all", IS_POINT, common]);
  map.setFilter("deposits-polygons", ["all", IS_POLYGON, common]);
  filterDepositTiles();
  countMatches();
  saveState();
  document.dispatchEvent(new CustomEvent("veta:filters"));
}

// ---- A shareable address: layers and filters in the query, the view in the hash --------------

let stateRestored = false;
const layerKey = (box) => box.dataset.layers.split(",")[0];

function saveState() {
  if (!stateRestored) return; // until the shared state is applied, the address still carries it
  const params = new URLSearchParams();
  if (filters.commodities.length) params.set("commodity", filters.commodities.join(","));
  if (filters.statuses.length < 3) params.set("protection", filters.statuses.join(",") || "none");
  if (filters.area) params.set("area", filters.area);
  params.set("layers", [...document.querySelectorAll("input[data-layers]:checked")].map(layerKey).join(","));
  if (chosenBasemap() !== "offline") params.set("basemap", chosenBasemap());
  history.replaceState(null, "", `${location.pathname}?${params}${location.hash}`);
}

async function restoreState() {
  const commodities = (SHARED.get("commodity") || "").split(",");
  for (const option of $("#commodity").options) option.selected = Boolean(option.value) && commodities.includes(option.value);
  filters.commodities = [...$("#commodity").selectedOptions].map((o) => o.value);
  if (SHARED.has("protection")) {
    const statuses = SHARED.get("protection").split(",");
    for (const box of document.querySelectorAll("#protection input")) box.checked = statuses.includes(box.value);
    filters.statuses = [...document.querySelectorAll("#protection input:checked")].map((b) => b.value);
  }
  if (SHARED.has("layers")) {
    const shown = SHARED.get("layers").split(",");
    for (const box of document.querySelectorAll("input[data-layers]")) {
      box.checked = shown.includes(layerKey(box));
      box.dispatchEvent(new Event("change"));
    }
  }
  const basemap = SHARED.get("basemap");
  if (basemap && Object.hasOwn(BASEMAPS, basemap)) {
    document.querySelector(`input[name=basemap][value="${basemap}"]`).checked = true;
    showBasemap(basemap);
  }
  const code = SHARED.get("area");
  stateRestored = true;
  if (code && areaFeatures.has(code)) {
    $("#area").value = code;
    await chooseArea(code, false); // the shared view, not the area's, is the one to show
  } else {
    applyFilters();
  }
}

// The deposits that pass the filters, as a question to deposit_screening (its items and its
// downloads take the same CQL2 filter and area): the count, the results table and its exports.
function screeningParams() {
  const quoted = (values) => values.map((v) => `'${v}'`).join(", ");
  const conditions = [`protection_status IN (${quoted(filters.statuses)})`];
  if (filters.commodities.length) conditions.push(`commodity IN (${quoted(filters.commodities)})`);
  const params = new URLSearchParams({ filter: conditions.join(" AND ") });
  if (filters.area) params.set("area", filters.area);
  return params;
}

// How many deposits pass every filter, counted by the server (deposit_screening, the same rules
// as /deposits); a later count supersedes one still on its way.
let countRequest = 0;
async function countMatches() {
  const request = ++countRequest;
  const out = $("#match-count");
  if (!filters.statuses.length) {
    out.textContent = "0 deposits pass the filters.";
    return;
  }
  const params = screeningParams();
  params.set("limit", "1");
  params.set("properties", "name");
  try {
    const page = await getJson(`${ROOT}collections/deposit_screening/items?${params}`);
    if (request === countRequest) {
      out.textContent = `${page.numberMatched.toLocaleString("en")} deposits pass the filters.`;
      out.dataset.count = page.numberMatched;
    }
  } catch (error) {
    if (request === countRequest) out.textContent = `Could not count the deposits: ${error.message}`;
  }
}

$("#commodity").addEventListener("change", (event) => {
  filters.commodities = [...event.target.selectedOptions].map((o) => o.value).filter(Boolean);
  applyFilters();
});

for (const box of document.querySelectorAll("#protection input")) {
  box.addEventListener("change", () => {
    filters.statuses = [...document.querySelectorAll("#protection input:checked")].map((b) => b.value);
    applyFilters();
  });
}

const areaFeatures = new Map();

function bboxOf(geometry) {
  let [west, south, east, north] = [Infinity, Infinity, -Infinity, -Infinity];
  const visit = (coords) => {
    if (typeof coords[0] === "number") {
      west = Math.min(west, coords[0]); east = Math.max(east, coords[0]);
      south = Math.min(south, coords[1]); north = Math.max(north, coords[1]);
    } else {
      coords.forEach(visit);
    }
  };
  visit(geometry.coordinates);
  return [[west, south], [east, north]];
}

// The deposits of an area are the ones /deposits?area= finds (the same spatial rule as the API),
// read page by page through the `next` links.
async function depositIdsIn(code) {
  const ids = [];
  let url = `${ROOT}deposits?area=${encodeURIComponent(code)}&limit=10000`;
  while (url) {
    const page = await getJson(url);
    for (const feature of page.features) ids.push(feature.id);
    url = (page.links || []).find((link) => link.rel === "next")?.href;
  }
  return ids;
}

$("#area").addEventListener("change", (event) => chooseArea(event.target.value, true));

async function chooseArea(code, fit) {
  const status = $("#filter-status");
  filters.area = code;
  if (!code) {
    filters.areaIds = null;
    map.getSource("area").setData({ type: "FeatureCollection", features: [] });
    status.textContent = "";
    applyFilters();
    return;
  }
  const area = areaFeatures.get(code);
  map.getSource("area").setData(area);
  if (fit) map.fitBounds(bboxOf(area.geometry), { padding: 30 });
  status.textContent = "Finding the deposits of the area…";
  try {
    filters.areaIds = await depositIdsIn(code);
    status.textContent = `${filters.areaIds.length} deposits in ${area.properties.name}.`;
  } catch (error) {
    filters.areaIds = null;
    status.textContent = `Area filter failed: ${error.message}`;
  }
  applyFilters();
}

async function loadChoices() {
  const commodities = await getJson(`${ROOT}vocabularies/commodities`);
  for (const c of commodities) matchedCodes[c.code] = [c.code, ...c.narrower];
  $("#commodity").append(...commodities
    .sort((a, b) => a.name.localeCompare(b.name))
    .map((c) => new Option(c.symbol ? `${c.name} (${c.symbol})` : c.name, c.code)));
  const areas = await getJson(`${ROOT}areas`);
  const levels = ["autonomous_community", "province", "municipality"];
  for (const level of levels) {
    const group = document.createElement("optgroup");
    group.label = level.replace("_", " ");
    const ofLevel = areas.features
      .filter((f) => f.properties.level === level)
      .sort((a, b) => a.properties.name.localeCompare(b.properties.name));
    for (const feature of ofLevel) {
      areaFeatures.set(feature.properties.code, feature);
      group.append(new Option(feature.properties.name, feature.properties.code));
    }
    if (ofLevel.length) $("#area").append(group);
  }
}

// ---- Popups -----------------------------------------------------------------------------------

// Clickable layers, topmost first, and the collection each belongs to.
const CLICKABLE = [
  ["deposit-clusters", "deposits"], ["deposits-points", "deposits"], ["deposits-polygons", "deposits"],
  ["permits-fill", "permits"], ["zones-fill", "protection_zones"],
];

function itemPage(collection, id) {
  return `${ROOT}collections/${collection}/items/${encodeURIComponent(id)}?f=html`;
}

function popupHtml(collection, properties) {
  const rows = Object.entries(properties)
    .filter(([key]) => key !== "name")
    .map(([key, value]) => `<tr><th>${escapeHtml(key.replaceAll("_", " "))}</th><td>${escapeHtml(value)}</td></tr>`);
  const screen = collection === "deposits"
    ? `<button type="button" data-screen-deposit="${escapeHtml(properties.id)}" data-name="${escapeHtml(properties.name)}">Screen this deposit</button>` : "";
  return `<div class="popup"><h3>${escapeHtml(properties.name)}</h3><table>${rows.join("")}</table>
    <div class="actions"><a href="${itemPage(collection, properties.id)}" target="_blank">Open item page</a>${screen}</div></div>`;
}

const popup = new maplibregl.Popup({ maxWidth: "340px" });

map.on("click", (event) => {
  if (drawing) return;
  const layers = CLICKABLE.map(([layer]) => layer).filter((id) => map.getLayoutProperty(id, "visibility") !== "none");
  const [feature] = map.queryRenderedFeatures(event.point, { layers });
  if (!feature) return;
  if (feature.layer.id === "deposit-clusters" && feature.properties.count > 1) {
    // A cluster opens into smaller ones, and from zoom 10 into the deposits themselves.
    map.easeTo({ center: feature.geometry.coordinates, zoom: Math.min(map.getZoom() + 2, 10) });
    return;
  }
  const collection = CLICKABLE.find(([layer]) => layer === feature.layer.id)[1];
  popup.setLngLat(event.lngLat).setHTML(popupHtml(collection, feature.properties)).addTo(map);
});

for (const [layer] of CLICKABLE) {
  map.on("mouseenter", layer, () => { if (!drawing) map.getCanvas().style.cursor = "pointer"; });
  map.on("mouseleave", layer, () => { if (!drawing) map.getCanvas().style.cursor = ""; });
}

document.addEventListener("click", (event) => {
  const button = event.target.closest("[data-screen-deposit]");
  if (button) {
    popup.remove();
    screen({ deposit: Number(button.dataset.screenDeposit) }, `the deposit ${button.dataset.name}`);
  }
});

// ---- Drawing a site and screening it ------------------------------------------------------------

let drawing = false;
let vertices = [];

function showSite(ring, closed) {
  const features = vertices.map((v) => ({ type: "Feature", properties: {}, geometry: { type: "Point", coordinates: v } }));
  if (ring.length >= 2) {
    features.push(closed
      ? { type: "Feature", properties: {}, geometry: { type: "Polygon", coordinates: [ring] } }
      : { type: "Feature", properties: {}, geometry: { type: "LineString", coordinates: ring } });
  }
  map.getSource("site").setData({ type: "FeatureCollection", features });
}

function setDrawing(on) {
  drawing = on;
  vertices = [];
  $("#draw").classList.toggle("active", on);
  $("#draw").textContent = on ? "Cancel drawing" : "Draw a polygon";
  $("#map").classList.toggle("drawing", on);
  map.getCanvas().style.cursor = on ? "crosshair" : "";
  // A double click finishes the polygon instead of zooming in.
  if (on) { map.doubleClickZoom.disable(); popup.remove(); } else { map.doubleClickZoom.enable(); }
}

$("#draw").addEventListener("click", () => {
  setDrawing(!drawing);
  if (drawing) showSite([], false);
});

document.addEventListener("keydown", (event) => {
  if (event.key === "Escape" && drawing) { setDrawing(false); showSite([], false); }
});

map.on("click", (event) => {
  if (!drawing) return;
  const last = vertices[vertices.length - 1];
  // The clicks of a double click land on the same spot: one vertex, not two.
  if (last) {
    const p = map.project(last);
    if (Math.hypot(p.x - event.point.x, p.y - event.point.y) < 4) return;
  }
  vertices.push([event.lngLat.lng, event.lngLat.lat]);
  showSite(vertices, false);
});

// While drawing, the outline follows the pointer to show where the next corner would go.
map.on("mousemove", (event) => {
  if (drawing && vertices.length) showSite([...vertices, [event.lngLat.lng, event.lngLat.lat]], false);
});

map.on("dblclick", (event) => {
  if (!drawing) return;
  event.preventDefault();
  if (vertices.length < 3) {
    $("#screening").innerHTML = `<p class="error">A site needs at least three corners.</p>`;
    return;
  }
  const ring = [...vertices, vertices[0]];
  showSite(ring, true);
  setDrawing(false);
  showSite(ring, true);
  if ($("#plan-mode").checked) {
    assessPlan({ type: "Polygon", coordinates: [ring] });
  } else {
    screen({ type: "Polygon", coordinates: [ring] }, "the drawn polygon");
  }
});

function number(value, digits) {
  return typeof value === "number" ? value.toLocaleString("en", { maximumFractionDigits: digits }) : "";
}

function screeningHtml(result, what) {
  const verdict = result.verdict;
  const reasons = (result.reasons || []).map((r) => `<li>${r.name ? `<b>${escapeHtml(r.name)}</b>: ` : ""}${escapeHtml(r.rule)}</li>`);
  const zones = (result.zones || []).map((z) => `<tr><td>${escapeHtml(z.name)}</td><td>${escapeHtml(z.legal_effect)}</td>
    <td>${number(z.overlap_ha, 1)}</td><td>${typeof z.share === "number" ? number(z.share * 100, 1) + " %" : ""}</td></tr>`);
  const permits = (result.permits || []).map((p) => `<tr><td>${escapeHtml(p.name || p.registry_number)}</td><td>${escapeHtml(p.status)}</td>
    <td>${number(p.overlap_ha, 1)}</td></tr>`);
  const area = result.site && result.site.area_ha > 0 ? ` · site ${number(result.site.area_ha, 1)} ha` : "";
  return `<p>Screening of ${escapeHtml(what)}${area}</p>
    <p><span class="verdict verdict-${escapeHtml(verdict)}" id="verdict">${escapeHtml(verdict)}</span>
    ${escapeHtml(VERDICT_TEXT[verdict] || "")}</p>
    <p><span class="ground ground-${escapeHtml(result.ground_status)}" id="ground-status">${escapeHtml((result.ground_status || "").replace("_", " "))}</span>
    ${escapeHtml(GROUND_TEXT[result.ground_status] || "")}</p>
    ${reasons.length ? `<ul>${reasons.join("")}</ul>` : ""}
    <h3>Overlapping zones</h3>
    ${zones.length ? `<table><tr><th>Zone</th><th>Effect</th><th>ha</th><th>Share</th></tr>${zones.join("")}</table>` : "<p class=\"note\">None.</p>"}
    ${permits.length ? `<h3>Overlapping mining rights</h3><table><tr><th>Right</th><th>Status</th><th>ha</th></tr>${permits.join("")}</table>` : ""}`;
}

// The kept report (its permanent link, given with every screening answer) opened in a new tab,
// or downloaded as GeoJSON or PDF: nothing is screened twice.
function reportLinks(result, what) {
  const report = (result.links || []).find((l) => l.rel === "report");
  if (!report) return "";
  const url = (f) => report.href.replace(/f=html$/, `f=${f}`);
  const name = `screening-${what.replace(/[^A-Za-z0-9]+/g, "-").replace(/^-|-$/g, "") || "site"}`;
  return `<p class="take-away">
      <a class="button" id="open-report" href="${escapeHtml(url("html"))}" target="_blank" rel="noopener">Open report</a>
      <a class="button" id="download-pdf" href="${escapeHtml(url("pdf"))}" download>Download PDF</a>
      <a class="button" id="download-geojson" href="${escapeHtml(url("geojson"))}" download="${name}.geojson">Download GeoJSON</a></p>`;
}

// With an organisation's key the kept report is that organisation's, and a plain link (a new
// tab, a download) carries no key: the report is fetched with it and handed over as a file.
// "Open report" then shows the PDF, which a browser displays as the printed report.
$("#screening").addEventListener("click", async (event) => {
  const link = event.target.closest("#open-report, #download-pdf, #download-geojson");
  if (!link || !API_KEY) return;
  event.preventDefault();
  const href = link.id === "open-report" ? link.href.replace(/f=html$/, "f=pdf") : link.href;
  const tab = link.id === "open-report" ? window.open("", "_blank") : null;
  const response = await fetch(href, { headers: credentialed(href) });
  if (!response.ok) {
    if (tab) tab.close();
    return;
  }
  const url = URL.createObjectURL(await response.blob());
  if (tab) {
    tab.location = url;
  } else {
    // The server's name for the file (Content-Disposition), else the link's own.
    const named = /filename="?([^";]+)"?/.exec(response.headers.get("Content-Disposition") || "");
    const save = document.createElement("a");
    save.href = url;
    save.download = link.getAttribute("download") || (named && named[1]) || "report";
    save.click();
  }
  setTimeout(() => URL.revokeObjectURL(url), 60_000);
});

async function screen(body, what) {
  const out = $("#screening");
  out.innerHTML = `<p class="note">Screening ${escapeHtml(what)}…</p>`;
  try {
    const result = await getJson(`${ROOT}screening`, {
      method: "POST", headers: { "Content-Type": "application/json", Accept: "application/json" },
      body: JSON.stringify(body),
    });
    out.innerHTML = screeningHtml(result, what) + reportLinks(result, what);
    out.scrollIntoView({ block: "nearest" });
  } catch (error) {
    out.innerHTML = `<p class="error">Screening failed: ${escapeHtml(error.message)}</p>`;
  }
}

// ---- Planning mode: what a drawn plan would sterilise -------------------------------------------

function impactHtml(result) {
  const verdict = result.verdict;
  const reasons = (result.reasons || []).map((r) => `<li>${escapeHtml(r)}</li>`);
  const classes = Object.entries(result.sterilised.by_class).filter(([, n]) => n > 0)
    .map(([c, n]) => `<tr><td>${escapeHtml(c)}</td><td>${n}</td></tr>`);
  const safeguarding = result.safeguarding_areas.map((z) => `<tr><td>${escapeHtml(z.name)}</td>
    <td>${number(z.overlap_ha, 1)}</td><td>${number(z.share * 100, 1)} %</td></tr>`);
  return `<p>Plan of ${number(result.plan.area_ha, 1)} ha (${escapeHtml(result.plan.land_use)}, ${escapeHtml(result.plan.legal_effect)})</p>
    <p><span class="verdict verdict-${escapeHtml(verdict)}" id="impact-verdict">${escapeHtml(verdict)}</span>
    ${escapeHtml(IMPACT_TEXT[verdict] || "")}</p>
    ${reasons.length ? `<ul>${reasons.join("")}</ul>` : ""}
    <h3>Sterilised deposits by class</h3>
    ${classes.length ? `<table><tr><th>Class</th><th>Deposits</th></tr>${classes.join("")}</table>` : "<p class=\"note\">None.</p>"}
    ${safeguarding.length ? `<h3>Safeguarding areas overlapped</h3><table><tr><th>Area</th><th>ha</th><th>Share</th></tr>${safeguarding.join("")}</table>` : ""}
    <p class="note">Free cuadrículas removed: ${result.free_cells_removed.count}.</p>`;
}

async function assessPlan(geometry) {
  const out = $("#impact");
  const depth = Number($("#plan-depth").value);
  const properties = { land_use: $("#plan-land-use").value, legal_effect: $("#plan-effect").value };
  if (depth > 0) Object.assign(properties, { depth_top_m: 0, depth_bottom_m: depth });
  out.innerHTML = `<p class="note">Assessing the plan…</p>`;
  try {
    const result = await getJson(`${ROOT}planning/impact`, {
      method: "POST", headers: { "Content-Type": "application/json", Accept: "application/json" },
      body: JSON.stringify({ type: "Feature", geometry, properties }),
    });
    out.innerHTML = impactHtml(result);
    out.scrollIntoView({ block: "nearest" });
  } catch (error) {
    out.innerHTML = `<p class="error">Plan impact failed: ${escapeHtml(error.message)}</p>`;
  }
}

map.on("load", () => {
  applyFilters();
  loadChoices().then(restoreState).catch((error) => {
    $("#filter-status").textContent = `Could not load the filter lists: ${error.message}`;
  });
});

// ---- Your organisation: an API key for this tab --------------------------------------------

async function showWhoIsSignedIn() {
  if (!API_KEY) return;
  $("#forget-key").hidden = false;
  try {
    const me = await getJson(`${ROOT}me`);
    $("#key-status").textContent =
      `Signed in as ${me.actor} (${me.organisation}, ${me.role}): its confidential records are shown.`;
  } catch (error) {
    $("#key-status").textContent = `This key is not valid: ${error.message}`;
  }
}

$("#use-key").addEventListener("click", async () => {
  const key = $("#api-key").value.trim();
  if (!key) return;
  const response = await fetch(`${ROOT}me`, { headers: { Authorization: `Bearer ${key}` } });
  if (!response.ok) {
    const body = await response.json().catch(() => ({}));
    $("#key-status").textContent = `This key is not valid: ${body.detail || response.status}`;
    return;
  }
  sessionStorage.setItem(KEY_STORE, key);
  location.reload(); // every tile and count again, as the key's organisation sees them
});

$("#forget-key").addEventListener("click", () => {
  sessionStorage.removeItem(KEY_STORE);
  location.reload();
});

showWhoIsSignedIn();

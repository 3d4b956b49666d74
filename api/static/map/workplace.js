// The map as a workplace: a search box (places, deposits, rights), the coordinates under the
// cursor (lon/lat and ETRS89 / UTM) and the table of the deposits that pass the filters, with
// that same set for download. Uses map.js's map, filters and helpers.
"use strict";

// ---- Search ---------------------------------------------------------------------------------

const AREA_LEVELS = { autonomous_community: "autonomous community", province: "province", municipality: "municipality" };
const KIND_COLLECTIONS = { area: "admin_areas", permit: "permits", deposit: "deposits" };
let searchRequest = 0;
let searchTimer = null;
let searchFeatures = [];

function whenStyled(then) {
  MAP_LOADED.then(then);
}

// What a chosen result is drawn with: its outline, or a ring around a point.
whenStyled(() => {
  map.addSource("highlight", { type: "geojson", data: { type: "FeatureCollection", features: [] } });
  map.addLayer({
    id: "highlight-line", type: "line", source: "highlight", filter: ["!=", ["geometry-type"], "Point"],
    paint: { "line-color": "#00a0c6", "line-width": 3.5 },
  });
  map.addLayer({
    id: "highlight-point", type: "circle", source: "highlight", filter: IS_POINT,
    paint: { "circle-radius": 12, "circle-opacity": 0, "circle-stroke-color": "#00a0c6", "circle-stroke-width": 3 },
  });
});

function kindLabel(properties) {
  if (properties.kind === "area") return AREA_LEVELS[properties.level] || properties.level;
  return properties.kind === "permit" ? "mining right" : "deposit";
}

function itemId(properties) {
  return properties.kind === "deposit" ? properties.id : properties.code;
}

function showSearchResults(features) {
  searchFeatures = features;
  const list = $("#search-results");
  if (!features.length) {
    list.innerHTML = `<li class="note">Nothing found.</li>`;
    return;
  }
  list.innerHTML = features.map((f, i) => `<li><button type="button" data-result="${i}">
      <span class="result-title">${escapeHtml(f.properties.title)}</span>
      <span class="result-kind">${escapeHtml(kindLabel(f.properties))}</span></button></li>`).join("");
}

async function runSearch(chooseFirst) {
  const q = $("#search").value.trim();
  const request = ++searchRequest;
  if (q.length < 2) {
    $("#search-results").replaceChildren();
    searchFeatures = [];
    return;
  }
  try {
    const found = await getJson(`${ROOT}search?${new URLSearchParams({ q, limit: "10" })}`);
    if (request !== searchRequest) return;
    showSearchResults(found.features);
    if (chooseFirst && found.features.length) chooseResult(found.features[0]);
  } catch (error) {
    if (request === searchRequest) $("#search-results").innerHTML = `<li class="error">${escapeHtml(`Search failed: ${error.message}`)}</li>`;
  }
}

// Flies to the result's extent, outlines it and names it in a popup with a link to its page.
function chooseResult(feature) {
  const [west, south, east, north] = feature.bbox;
  const point = west === east && south === north;
  map.fitBounds([[west, south], [east, north]], { padding: 60, maxZoom: point ? 13 : 15, duration: 800 });
  map.getSource("highlight")?.setData(feature);
  const p = feature.properties;
  const at = point ? [west, south] : [(west + east) / 2, north];
  const page = itemPage(KIND_COLLECTIONS[p.kind], itemId(p));
  popup.setLngLat(at).setHTML(`<div class="popup" id="search-popup"><h3>${escapeHtml(p.title)}</h3>
      <p class="note">${escapeHtml(kindLabel(p))}</p>
      <div class="actions"><a href="${page}" target="_blank">Open item page</a></div></div>`).addTo(map);
}

$("#search").addEventListener("input", () => {
  clearTimeout(searchTimer);
  searchTimer = setTimeout(() => runSearch(false), 200);
});

$("#search").addEventListener("keydown", (event) => {
  if (event.key === "Enter") {
    event.preventDefault();
    clearTimeout(searchTimer);
    // The list on screen is the one chosen from; a newer text is searched first.
    if (searchFeatures.length && !searchTimer) chooseResult(searchFeatures[0]);
    else runSearch(true);
    searchTimer = null;
  } else if (event.key === "ArrowDown") {
    $("#search-results button")?.focus();
    event.preventDefault();
  }
});

$("#search-results").addEventListener("click", (event) => {
  const button = event.target.closest("[data-result]");
  if (button) chooseResult(searchFeatures[Number(button.dataset.result)]);
});

// ---- Coordinates under the cursor ----------------------------------------------------------------

// ETRS89 / UTM on the GRS80 ellipsoid by Krüger's series to the sixth order in n (Karney 2011,
// "Transverse Mercator with an accuracy of a few nanometres"): exact to well under a millimetre
// within a zone, computed here so the readout needs no request per mouse move.
const GRS80 = { a: 6378137, f: 1 / 298.257222101 };
const UTM_K0 = 0.9996;
const UTM = (() => {
  const n = GRS80.f / (2 - GRS80.f);
  const [n2, n3, n4, n5, n6] = [n ** 2, n ** 3, n ** 4, n ** 5, n ** 6];
  return {
    e: Math.sqrt(GRS80.f * (2 - GRS80.f)),
    A: (GRS80.a / (1 + n)) * (1 + n2 / 4 + n4 / 64 + n6 / 256),
    alpha: [
      n / 2 - (2 * n2) / 3 + (5 * n3) / 16 + (41 * n4) / 180 - (127 * n5) / 288 + (7891 * n6) / 37800,
      (13 * n2) / 48 - (3 * n3) / 5 + (557 * n4) / 1440 + (281 * n5) / 630 - (1983433 * n6) / 1935360,
      (61 * n3) / 240 - (103 * n4) / 140 + (15061 * n5) / 26880 + (167603 * n6) / 181440,
      (49561 * n4) / 161280 - (179 * n5) / 168 + (6601661 * n6) / 7257600,
      (34729 * n5) / 80640 - (3418889 * n6) / 1995840,
      (212378941 * n6) / 319334400,
    ],
  };
})();

// Spain's mainland zones: 29 west of 6°W, 30 from 6°W to 0°, 31 east of 0°.
function utmZone(lon) {
  return lon < -6 ? 29 : lon < 0 ? 30 : 31;
}

function toUtm(lon, lat, zone) {
  const rad = Math.PI / 180;
  const phi = lat * rad;
  const lambda = (lon - (zone * 6 - 183)) * rad;
  const { e, A, alpha } = UTM;
  // Conformal latitude, then the spherical transverse Mercator, then Krüger's correction.
  const t = Math.sinh(Math.atanh(Math.sin(phi)) - e * Math.atanh(e * Math.sin(phi)));
  const xi = Math.atan2(t, Math.cos(lambda));
  const eta = Math.atanh(Math.sin(lambda) / Math.sqrt(1 + t * t));
  let x = eta;
  let y = xi;
  alpha.forEach((a, i) => {
    const j = 2 * (i + 1);
    x += a * Math.cos(j * xi) * Math.sinh(j * eta);
    y += a * Math.sin(j * xi) * Math.cosh(j * eta);
  });
  return { easting: 500000 + UTM_K0 * A * x, northing: UTM_K0 * A * y };
}

map.on("mousemove", (event) => {
  const { lng, lat } = event.lngLat;
  const zone = utmZone(lng);
  const { easting, northing } = toUtm(lng, lat, zone);
  $("#coords-lonlat").textContent = `${lng.toFixed(5)}, ${lat.toFixed(5)}`;
  $("#coords-utm").textContent = `${zone}N · ${Math.round(easting)} E · ${Math.round(northing)} N`;
  $("#coords").hidden = false;
});
map.getCanvas().addEventListener("mouseleave", () => { $("#coords").hidden = true; });

// ---- The deposits that pass the filters, as a table, and the same set for download -----------------

const RESULTS_LIMIT = 500;
const STATUS_ORDER = { free: 0, conditional: 1, excluded: 2 };
let resultRows = [];
let resultsRequest = 0;
let sortKey = "name";
let ascending = true;

function compareRows(a, b) {
  const [x, y] = [a[sortKey] ?? "", b[sortKey] ?? ""];
  const order = sortKey === "protection_status"
    ? (STATUS_ORDER[x] ?? 9) - (STATUS_ORDER[y] ?? 9)
    : String(x).localeCompare(String(y), undefined, { numeric: true, sensitivity: "base" });
  return (ascending ? order : -order) || a.id - b.id;
}

function renderResults() {
  const rows = [...resultRows].sort(compareRows).map((r) => `<tr data-id="${r.id}">
      <td><button type="button" class="as-link" data-deposit-row="${r.id}">${escapeHtml(r.name)}</button></td>
      <td>${(r.commodities || "").split(", ").filter(Boolean).map((c) => `<span>${escapeHtml(c)}</span>`).join(", ")}</td>
      <td><span class="status status-${escapeHtml(r.protection_status)}">${escapeHtml(r.protection_status)}</span></td></tr>`);
  $("#results-table tbody").innerHTML = rows.join("");
  for (const th of document.querySelectorAll("#results-table th[data-sort]")) {
    if (th.dataset.sort === sortKey) th.setAttribute("aria-sort", ascending ? "ascending" : "descending");
    else th.removeAttribute("aria-sort");
  }
}

function showExports(params) {
  const box = $("#results-exports");
  box.hidden = !params;
  if (!params) return;
  // /downloads writes the whole set, however large; the filter and area are the table's.
  for (const [id, format] of [["#export-geojson", "geojson"], ["#export-csv", "csv"], ["#export-gpkg", "gpkg"]]) {
    const query = new URLSearchParams(params);
    query.set("format", format);
    $(id).href = `${ROOT}downloads/deposit_screening?${query}`;
  }
}

async function refreshResults() {
  const request = ++resultsRequest;
  const status = $("#results-status");
  const table = $("#results-table");
  if (!filters.statuses.length) {
    resultRows = [];
    renderResults();
    showExports(null);
    status.textContent = "0 deposits listed.";
    table.dataset.count = 0;
    return;
  }
  const params = screeningParams();
  const page = new URLSearchParams(params);
  page.set("limit", String(RESULTS_LIMIT));
  page.set("properties", "name,commodities,protection_status");
  status.textContent = "Listing the deposits…";
  try {
    const found = await getJson(`${ROOT}collections/deposit_screening/items?${page}`);
    if (request !== resultsRequest) return;
    resultRows = found.features.map((f) => ({ id: f.id, geometry: f.geometry, ...f.properties }));
    renderResults();
    showExports(params);
    const count = found.numberMatched.toLocaleString("en");
    status.textContent = found.numberMatched > resultRows.length
      ? `The first ${resultRows.length} of ${count} deposits listed (sorting orders these).`
      : `${count} deposits listed.`;
    table.dataset.count = found.numberMatched;
    table.dataset.shown = resultRows.length;
  } catch (error) {
    if (request === resultsRequest) status.textContent = `Could not list the deposits: ${error.message}`;
  }
}

for (const th of document.querySelectorAll("#results-table th[data-sort]")) {
  th.querySelector("button").addEventListener("click", () => {
    ascending = th.dataset.sort === sortKey ? !ascending : true;
    sortKey = th.dataset.sort;
    renderResults();
  });
}

$("#results-table tbody").addEventListener("click", (event) => {
  const button = event.target.closest("[data-deposit-row]");
  const row = button && resultRows.find((r) => String(r.id) === button.dataset.depositRow);
  if (!row) return;
  const [[west, south], [east, north]] = bboxOf(row.geometry);
  chooseResult({
    type: "Feature", geometry: row.geometry, bbox: [west, south, east, north],
    properties: { kind: "deposit", id: row.id, title: row.name },
  });
});

// A later change of filter supersedes a listing still on its way (see resultsRequest).
document.addEventListener("veta:filters", refreshResults);
refreshResults();

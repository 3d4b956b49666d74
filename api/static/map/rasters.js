// Raster layers on the web map: one per registered raster, each with a switch, an opacity
// slider and a legend; clicking the map shows the value of every raster switched on.
"use strict";

// viridis at five stops, the default colour map of the raster tiles (geo/rasters/tiles.py).
const VIRIDIS = ["#440154", "#3b528b", "#21918c", "#5ec962", "#fde725"];

function rasterLegend(raster) {
  const stats = raster.statistics[0] || {};
  const units = raster.units ? ` ${escapeHtml(raster.units)}` : "";
  if (raster.categorical) return `<div class="note">classes (colour map tab20)</div>`;
  return `<div class="ramp"></div>
    <div class="ramp-labels"><span>${number(stats.min, 3)}${units}</span><span>${number(stats.max, 3)}${units}</span></div>`;
}

function rasterControl(raster, layerId) {
  const item = document.createElement("div");
  item.className = "raster";
  item.innerHTML = `<label><input type="checkbox" data-raster="${escapeHtml(raster.name)}">
      ${escapeHtml(raster.title || raster.name)}</label>
    <label class="opacity">opacity <input type="range" min="0" max="1" step="0.05" value="0.7"></label>
    ${rasterLegend(raster)}`;
  // Through the DOM: the page's content security policy refuses style attributes in markup.
  const ramp = item.querySelector(".ramp");
  if (ramp) ramp.style.background = `linear-gradient(to right, ${VIRIDIS.join(", ")})`;
  item.querySelector("[data-raster]").addEventListener("change", (event) => {
    map.setLayoutProperty(layerId, "visibility", event.target.checked ? "visible" : "none");
  });
  item.querySelector("input[type=range]").addEventListener("input", (event) => {
    map.setPaintProperty(layerId, "raster-opacity", Number(event.target.value));
  });
  return item;
}

async function addRasterLayers() {
  const box = $("#rasters");
  const { rasters } = await getJson(`${ROOT}rasters`);
  if (!rasters.length) {
    box.textContent = "No raster registered (veta raster add).";
    return;
  }
  await MAP_LOADED;
  box.textContent = "";
  for (const raster of rasters) {
    const layerId = `raster-${raster.name}`;
    map.addSource(layerId, {
      type: "raster", tileSize: 256, bounds: raster.extent,
      tiles: [`${ROOT}rasters/${encodeURIComponent(raster.name)}/tiles/WebMercatorQuad/{z}/{x}/{y}.png`],
    });
    // Under the vector layers, so zones and deposits stay readable on top of a surface.
    map.addLayer({ id: layerId, type: "raster", source: layerId, layout: { visibility: "none" },
                   paint: { "raster-opacity": 0.7 } }, "zones-fill");
    box.appendChild(rasterControl(raster, layerId));
  }
  const values = document.createElement("div");
  values.id = "raster-values";
  values.setAttribute("aria-live", "polite");
  box.appendChild(values);
  map.on("click", (event) => showRasterValues(rasters, event.lngLat));
}

async function showRasterValues(rasters, lngLat) {
  const shown = rasters.filter((r) => map.getLayoutProperty(`raster-${r.name}`, "visibility") === "visible");
  if (!shown.length || drawing) return;
  const rows = await Promise.all(shown.map(async (raster) => {
    const answer = await getJson(`${ROOT}rasters/${encodeURIComponent(raster.name)}/point?lon=${lngLat.lng}&lat=${lngLat.lat}`);
    const values = answer.properties.values.map((v) => (v === null ? "no data" : number(v, 4))).join(", ");
    return `<tr><td>${escapeHtml(raster.title || raster.name)}</td><td>${values}${raster.units ? ` ${escapeHtml(raster.units)}` : ""}</td></tr>`;
  }));
  $("#raster-values").innerHTML = `<p class="note">At ${lngLat.lng.toFixed(5)}, ${lngLat.lat.toFixed(5)}:</p><table>${rows.join("")}</table>`;
}

addRasterLayers();

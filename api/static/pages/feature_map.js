// The map on the OGC API's HTML pages: the collection's own vector tiles, fitted to the page's
// features, the page's feature (on an item page) drawn on top.
"use strict";

(function () {
  const box = document.getElementById("feature-map");
  if (!box) return;
  const layer = box.dataset.layer;
  const bounds = JSON.parse(box.dataset.bounds || "null");
  const highlight = box.dataset.highlight ? Number(box.dataset.highlight) : null;
  const noMap = (why) => { box.classList.add("no-map"); box.textContent = `No map: ${why}.`; };
  if (!window.maplibregl) { noMap("the map library did not load"); return; }
  const canvas = document.createElement("canvas");
  if (!(canvas.getContext("webgl2") || canvas.getContext("webgl"))) {
    noMap("this browser cannot draw WebGL maps (turned off or not supported)");
    return;
  }
  const source = { type: "vector", tiles: [box.dataset.tiles], minzoom: 0, maxzoom: 16 };
  const picked = highlight === null ? ["literal", false] : ["==", ["id"], highlight];
  const layers = [
    { id: "background", type: "background", paint: { "background-color": "#f2efe6" } },
    { id: "fill", type: "fill", source: "features", "source-layer": layer,
      filter: ["==", ["geometry-type"], "Polygon"],
      paint: { "fill-color": ["case", picked, "#d7301f", "#3b6ea5"], "fill-opacity": 0.3 } },
    { id: "line", type: "line", source: "features", "source-layer": layer,
      filter: ["!=", ["geometry-type"], "Point"],
      paint: { "line-color": ["case", picked, "#d7301f", "#3b6ea5"], "line-width": ["case", picked, 2.5, 1] } },
    { id: "points", type: "circle", source: "features", "source-layer": layer,
      filter: ["==", ["geometry-type"], "Point"],
      paint: { "circle-color": ["case", picked, "#d7301f", "#3b6ea5"], "circle-radius": ["case", picked, 7, 4],
               "circle-stroke-color": "#fff", "circle-stroke-width": 1 } },
    // Collections whose low zooms come as clusters (deposits below zoom 10): one circle a cluster.
    { id: "clusters", type: "circle", source: "features", "source-layer": `${layer}_clusters`,
      paint: { "circle-color": "#3b6ea5", "circle-opacity": 0.6,
               "circle-radius": ["interpolate", ["linear"], ["sqrt", ["get", "count"]], 1, 4, 10, 12, 100, 20],
               "circle-stroke-color": "#fff", "circle-stroke-width": 1 } },
  ];
  let map;
  try {
    map = new maplibregl.Map({
      container: box, attributionControl: { compact: true, customAttribution: box.dataset.attribution || "" },
      style: { version: 8, sources: { features: source }, layers },
      bounds: bounds || [[-7.1, 41.95], [-4.7, 43.25]], fitBoundsOptions: { padding: 30, maxZoom: 14 },
    });
  } catch (error) {
    noMap("this browser cannot draw WebGL maps");
    return;
  }
  map.on("webglcontextlost", () => noMap("the browser lost its WebGL context"));
  map.addControl(new maplibregl.NavigationControl({ showCompass: false }));
  window.vetaPageMap = map; // for the browser tests
})();

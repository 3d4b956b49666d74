// What orients a user on the web map: the basemaps to choose from (Veta's offline one, or the
// IGN's and OpenStreetMap's online tiles), the names of places from Veta's own boundaries, and
// the cuadrícula minera with its cell ids. Style declarations only; map.js puts them in the
// map's style and wires the switches.
"use strict";

// The offline default draws nothing of its own: Veta's boundaries and place names orient.
// The others are online services, each with its credit; the page's content security policy
// (api/routes/map.py) lets the map fetch from exactly these hosts.
const IGN_WMTS = (service, layer, format) => `https://www.ign.es/wmts/${service}?SERVICE=WMTS&REQUEST=GetTile`
  + `&VERSION=1.0.0&LAYER=${layer}&STYLE=default&FORMAT=${format}&TILEMATRIXSET=GoogleMapsCompatible`
  + "&TILEMATRIX={z}&TILEROW={y}&TILECOL={x}";
const BASEMAPS = {
  offline: null,
  "ign-base": {
    tiles: [IGN_WMTS("ign-base", "IGNBaseTodo", "image/png")], maxzoom: 17,
    attribution: "IGN Base © Instituto Geográfico Nacional de España, CC BY 4.0",
  },
  pnoa: {
    tiles: [IGN_WMTS("pnoa-ma", "OI.OrthoimageCoverage", "image/jpeg")], maxzoom: 19,
    attribution: "PNOA © Instituto Geográfico Nacional de España, CC BY 4.0",
  },
  osm: {
    tiles: ["https://tile.openstreetmap.org/{z}/{x}/{y}.png"], maxzoom: 19,
    attribution: "© OpenStreetMap contributors",
  },
};
const basemapLayer = (name) => `basemap-${name}`;

// The cuadrícula's cells are 20″ wide: about 8 pixels at zoom 11, where the layer starts.
const GRID_MINZOOM = 11;
const GRID_CELL = 20 / 3600;
const FONT = ["Noto Sans Regular"];
const FONT_BOLD = ["Noto Sans Bold"];
const HALO = { "text-color": "#333", "text-halo-color": "rgba(255, 255, 255, 0.85)", "text-halo-width": 1.5 };

function orientationSources(root) {
  const sources = {
    // The label points of the admin areas, computed by PostGIS (GET /map/labels).
    places: { type: "geojson", data: `${root}map/labels` },
    // The centres of the cells in view, where their ids are written (followGridCells).
    grid_centres: { type: "geojson", data: { type: "FeatureCollection", features: [] } },
    grid_cells: { type: "vector", url: `${root}collections/grid_cells/tiles/WebMercatorQuad/tilejson.json` },
  };
  for (const [name, basemap] of Object.entries(BASEMAPS)) {
    if (basemap) sources[basemapLayer(name)] = { type: "raster", tileSize: 256, ...basemap };
  }
  return sources;
}

// Drawn right above the background, under every layer of Veta's.
function basemapLayers() {
  return Object.keys(BASEMAPS).filter((name) => BASEMAPS[name]).map((name) => ({
    id: basemapLayer(name), type: "raster", source: basemapLayer(name), layout: { visibility: "none" },
  }));
}

// Lines over the zones and rights, under the deposits.
const GRID_LINES = {
  id: "grid-lines", type: "line", source: "grid_cells", "source-layer": "grid_cells",
  minzoom: GRID_MINZOOM, layout: { visibility: "none" },
  paint: { "line-color": "#5b4a8a", "line-width": ["interpolate", ["linear"], ["zoom"], 11, 0.3, 15, 1], "line-opacity": 0.6 },
};

// On top of everything; MapLibre leaves out a label that would overlap one already placed, so
// the larger area (and, in the grid, whichever cell comes first) keeps its name.
function labelLayers() {
  const level = (name) => ["==", ["get", "level"], name];
  return [
    {
      id: "grid-labels", type: "symbol", source: "grid_centres", minzoom: GRID_MINZOOM,
      layout: { visibility: "none", "text-field": ["get", "id"], "text-font": FONT, "text-size": 10, "text-padding": 4 },
      paint: { ...HALO, "text-color": "#3f2f73" },
    },
    {
      id: "labels-municipalities", type: "symbol", source: "places", filter: level("municipality"), minzoom: 9,
      layout: {
        "text-field": ["get", "name"], "text-font": FONT, "text-size": ["interpolate", ["linear"], ["zoom"], 9, 11, 13, 14],
        "symbol-sort-key": ["-", ["get", "area_ha"]], "text-max-width": 8,
      },
      paint: HALO,
    },
    {
      id: "labels-provinces", type: "symbol", source: "places", filter: level("province"), minzoom: 5, maxzoom: 10,
      layout: {
        "text-field": ["get", "name"], "text-font": FONT_BOLD, "text-size": 14, "text-transform": "uppercase",
        "text-letter-spacing": 0.12, "symbol-sort-key": ["-", ["get", "area_ha"]],
      },
      paint: { ...HALO, "text-color": "#555" },
    },
    {
      id: "labels-regions", type: "symbol", source: "places", filter: level("autonomous_community"), maxzoom: 6,
      layout: { "text-field": ["get", "name"], "text-font": FONT_BOLD, "text-size": 15 },
      paint: HALO,
    },
  ];
}

// A cell cut by a tile's edge comes in one piece per tile, and a label on each piece would
// write its id twice: the ids go instead at the centres of the whole cells in the loaded tiles,
// computed from each cell's column and row (i, j: its south-west corner in 20″ units).
function followGridCells(map) {
  let shown = "";
  const update = () => {
    if (map.getLayoutProperty("grid-lines", "visibility") === "none" || map.getZoom() < GRID_MINZOOM) return;
    const centres = new Map();
    for (const piece of map.querySourceFeatures("grid_cells", { sourceLayer: "grid_cells" })) {
      const { id, i, j } = piece.properties;
      if (centres.has(id)) continue;
      centres.set(id, {
        type: "Feature", properties: { id },
        geometry: { type: "Point", coordinates: [(i + 0.5) * GRID_CELL, (j + 0.5) * GRID_CELL] },
      });
    }
    // Only a new set of cells is drawn again: setting the same data would start another render.
    const key = [...centres.keys()].sort().join();
    if (key === shown) return;
    shown = key;
    map.getSource("grid_centres").setData({ type: "FeatureCollection", features: [...centres.values()] });
  };
  map.on("sourcedata", (event) => { if (event.sourceId === "grid_cells" && event.isSourceLoaded) update(); });
  map.on("moveend", update);
  return update;
}

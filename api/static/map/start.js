// Starts the web map: its scripts when the browser can draw WebGL, else a message saying why
// there is no map. A file of its own, as the page's content security policy runs no inline script.
"use strict";

// MapLibre draws with WebGL: without it say so, rather than leave a blank map.
(function () {
  const canvas = document.createElement("canvas");
  if (canvas.getContext("webgl2") || canvas.getContext("webgl")) {
    // Inserted scripts run as they arrive unless told otherwise; map.js needs orientation.js, the others map.js.
    for (const src of ["static/map/orientation.js", "static/map/map.js", "static/map/rasters.js", "static/map/workplace.js"]) {
      const script = document.createElement("script");
      script.src = src;
      script.async = false;
      document.body.appendChild(script);
    }
    return;
  }
  document.getElementById("map").innerHTML = '<div class="no-webgl" role="alert" id="no-webgl">' +
    "<h2>This browser cannot draw the map</h2><p>The map needs WebGL, which is turned off or not " +
    "supported here. Turn on hardware acceleration, or use another browser. The data stays " +
    'available without the map: <a href="collections?f=html">browse the collections</a>.</p></div>';
})();

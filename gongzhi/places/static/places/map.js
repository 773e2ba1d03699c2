// Draws the grid boundaries and building points embedded in the page as JSON (no inline script: CSP-ready).
(function () {
  var el = document.getElementById("map");
  if (!el || !window.L) return;
  var shapes = JSON.parse(document.getElementById("boundaries").textContent);
  var points = JSON.parse(document.getElementById("points").textContent);
  var map = L.map(el);
  // No tile server is assumed: deployments set one in data-tiles if they have it.
  if (el.dataset.tiles) L.tileLayer(el.dataset.tiles, { maxZoom: 19 }).addTo(map);
  var layer = L.geoJSON(shapes, {
    style: function (f) { return { color: "#b3261e", weight: 2, fillOpacity: 0.08 }; },
    onEachFeature: function (f, l) { l.bindTooltip(f.properties.name); l.on("click", function () { location.href = "/places/" + f.properties.id + "/"; }); }
  }).addTo(map);
  points.forEach(function (p) { L.circleMarker([p.lat, p.lng], { radius: 5 }).bindTooltip(p.name).addTo(map); });
  map.fitBounds(layer.getBounds(), { padding: [10, 10] });
})();

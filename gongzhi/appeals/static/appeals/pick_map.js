// Pick an appeal's location on a map of grid boundaries: fills the latitude/longitude fields and names the grid.
(function () {
  var el = document.getElementById("map");
  var data = document.getElementById("grid-boundaries");
  var lat = document.getElementById("id_latitude");
  var lng = document.getElementById("id_longitude");
  var status = document.getElementById("picked-grid");
  if (!el || !data || !lat || !lng || !window.L) return;
  var map = L.map(el);
  // No tile server is assumed: deployments set one in data-tiles if they have it.
  if (el.dataset.tiles) L.tileLayer(el.dataset.tiles, { maxZoom: 19 }).addTo(map);
  var layer = L.geoJSON(JSON.parse(data.textContent), {
    style: function () { return { color: "#b3261e", weight: 2, fillOpacity: 0.08 }; },
    onEachFeature: function (f, l) { l.bindTooltip(f.properties.name); }
  }).addTo(map);
  map.fitBounds(layer.getBounds(), { padding: [10, 10] });
  // Each grid's shape carries its id (the shapes exist once the map has a view).
  layer.eachLayer(function (l) { l.getElement().setAttribute("data-grid", l.feature.properties.id); });

  var marker = null;
  var asked = 0;
  function show(latlng) {
    if (marker) marker.setLatLng(latlng);
    else marker = L.circleMarker(latlng, { radius: 9, color: "#0b57d0", weight: 3, interactive: false }).addTo(map);
  }
  function pick(latlng) {
    show(latlng);
    lat.value = latlng.lat.toFixed(6);
    lng.value = latlng.lng.toFixed(6);
    var ask = ++asked;
    // The server says which grid the point is in, with the same rule the submission uses.
    fetch(el.dataset.locate + "?lat=" + lat.value + "&lng=" + lng.value, { credentials: "same-origin" })
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(function (grid) {
        if (ask !== asked) return;
        status.textContent = grid ? el.dataset.inGrid.replace("{grid}", grid.name) : el.dataset.noGrid;
      })
      .catch(function () { status.textContent = ""; });
  }
  map.on("click", function (e) { pick(e.latlng); });
  if (lat.value && lng.value) show(L.latLng(parseFloat(lat.value), parseFloat(lng.value)));

  var here = document.getElementById("use-location");
  if (here && navigator.geolocation) {
    here.hidden = false;
    here.addEventListener("click", function () {
      navigator.geolocation.getCurrentPosition(function (p) {
        var latlng = L.latLng(p.coords.latitude, p.coords.longitude);
        map.setView(latlng, Math.max(map.getZoom(), 16));
        pick(latlng);
      });
    });
  }
})();

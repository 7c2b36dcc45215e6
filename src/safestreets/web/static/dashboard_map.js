/* The analysts' map: draws the layer the server computed (a GeoJSON data block in the page)
 * with the vendored Leaflet, over the country's outline and department seats. No request
 * leaves the app; a tile layer is added only when the server is configured with one.
 * Colour is never the only cue: hot cells have a solid thick border, cold cells a dashed one,
 * density classes get darker as they rise, and every cell names its values on focus/hover;
 * the table under the map lists the same cells. */
(function () {
  "use strict";
  var holder = document.getElementById("dash-map");
  var block = document.getElementById("dash-map-data");
  if (!holder || !block || typeof L === "undefined") {
    return;
  }
  var data = JSON.parse(block.textContent);
  var text = data.text || {};
  var map = L.map(holder, { keyboard: true, zoomSnap: 0.5, attributionControl: true });
  map.attributionControl.setPrefix(false);
  if (data.tileUrl) {
    L.tileLayer(data.tileUrl, { attribution: data.tileAttribution || "", maxZoom: 18 }).addTo(map);
  }

  var b = data.bbox; // west, south, east, north
  map.fitBounds([[b[1], b[0]], [b[3], b[2]]], { padding: [10, 10] });

  L.geoJSON(data.outline, {
    interactive: false,
    style: { color: "#333333", weight: 1.5, fill: false }
  }).addTo(map);

  (data.seats || []).forEach(function (s) {
    L.circleMarker([s.lat, s.lon], {
      radius: 3, color: "#222222", weight: 1, fillColor: "#222222", fillOpacity: 1
    }).bindTooltip(s.name, { direction: "right" }).addTo(map);
  });

  var KDE = ["#fee5d9", "#fcae91", "#fb6a4a", "#de2d26", "#a50f15"];

  function fmt(v, digits) {
    if (v === null || v === undefined) { return "–"; }
    return Number(v).toLocaleString(document.documentElement.lang, {
      maximumFractionDigits: digits, minimumFractionDigits: 0
    });
  }

  function style(feature) {
    var p = feature.properties;
    if (data.kind === "gistar") {
      var hot = p["class"] === "hot";
      var strength = p.confidence >= 99 ? 0.75 : p.confidence >= 95 ? 0.55 : 0.35;
      return {
        color: hot ? "#8b0000" : "#08306b",
        weight: hot ? 2 : 1.5,
        dashArray: hot ? null : "4 3",
        fillColor: hot ? "#d7301f" : "#2171b5",
        fillOpacity: strength
      };
    }
    if (data.kind === "kde") {
      var c = Math.max(1, Math.min(5, p.kde_class || 1));
      return { color: "#67000d", weight: 0.5, fillColor: KDE[c - 1], fillOpacity: 0.45 + 0.1 * c };
    }
    return { color: "#3f007d", weight: 0.5, fillColor: "#6a51a3", fillOpacity: 0.6 };
  }

  function label(feature) {
    var p = feature.properties;
    var parts = [p.cell, (text.count || "") + ": " + fmt(p.count, 0)];
    if (data.kind === "gistar") {
      parts.push((p["class"] === "hot" ? "▲ " + text.hot : "▼ " + text.cold) + " (" + p.confidence + " %)");
      parts.push(text.z + ": " + fmt(p.gi_z, 2));
    } else if (data.kind === "kde") {
      parts.push(text.density + ": " + fmt(p.density, 2));
      parts.push(text.cls.replace("{cls}", p.kde_class));
    }
    return parts.join(" · ");
  }

  var layer = L.geoJSON(data.layer, {
    style: style,
    onEachFeature: function (feature, lyr) {
      lyr.bindTooltip(label(feature), { sticky: true });
    }
  }).addTo(map);
  if (data.layer && data.layer.features && data.layer.features.length && data.layer.bbox) {
    var lb = data.layer.bbox;
    map.fitBounds([[lb[1], lb[0]], [lb[3], lb[2]]], { padding: [10, 10], maxZoom: 11 });
  }
  holder.setAttribute("data-features", String(layer.getLayers().length));
})();

/* The public map (/mapa): draws the published cells with the vendored Leaflet.
 *
 * No build step, no network beyond this app: outlines and cells come from /api/v1/public/,
 * and a tile layer is added only when the server was configured with one. Cells are filled
 * with the SVG patterns defined in the page (#pm-pat-<band>), the same as the legend, so
 * colour is never the only cue; each cell can be reached with Tab and opened with Enter.
 * Far out, cells are drawn as circles (a 500 m square is under a pixel at country zoom).
 */
(function () {
  "use strict";
  var cfgNode = document.getElementById("pm-config");
  var node = document.getElementById("pm-map");
  if (!cfgNode || !node || !window.L) { return; }
  var cfg = JSON.parse(cfgNode.textContent);
  var fmt = new Intl.NumberFormat(cfg.lang === "en" ? "en" : "es");
  var SQUARES_FROM_ZOOM = 12;
  var RADIUS = { b1: 5, b2: 7, b3: 9, b4: 11, hidden: 5 };

  var map = L.map(node, { zoomSnap: 0.5, keyboard: true, minZoom: 5, maxZoom: 15 });
  map.attributionControl.setPrefix(false);
  map.fitBounds(cfg.bbox);
  if (cfg.tileUrl) {
    L.tileLayer(cfg.tileUrl, { attribution: cfg.tileAttribution || "", maxZoom: 15 }).addTo(map);
  } else {
    map.attributionControl.addAttribution("Natural Earth · GeoNames");
  }

  function describe(p) {
    var where = [p.municipality, p.department].filter(Boolean).join(", ");
    var what = p.hidden
      ? cfg.text.hidden
      : cfg.text.incidents.replace("{n}", fmt.format(p.count)) + " (" +
        cfg.text.cls.replace("{label}", p.band_label) + ")";
    return (where ? where + ": " : "") + what + " · " + cfg.text.cell + " " + p.cell;
  }

  function focusable(layer, label) {
    // Leaflet's SVG paths are not focusable: give each cell a tab stop and a name.
    var el = layer.getElement && layer.getElement();
    if (!el) { return; }
    el.setAttribute("tabindex", "0");
    el.setAttribute("role", "button");
    el.setAttribute("aria-label", label);
    el.classList.add("pm-cell");
    el.addEventListener("keydown", function (ev) {
      if (ev.key === "Enter" || ev.key === " ") {
        ev.preventDefault();
        layer.openPopup();
      }
    });
  }

  function style(feature) {
    return {
      fillColor: "url(#pm-pat-" + feature.properties.band + ")",
      fillOpacity: 1,
      color: "#1d2430",
      weight: 1
    };
  }

  fetch(cfg.outlines, { headers: { Accept: "application/geo+json" } })
    .then(function (r) { return r.json(); })
    .then(function (data) {
      L.geoJSON(data, {
        interactive: false,
        filter: function (f) { return f.properties.kind === "country"; },
        style: { color: "#4d4d4d", weight: 2, fill: true, fillColor: "#ffffff", fillOpacity: 0.6 }
      }).addTo(map).bringToBack();
      L.geoJSON(data, {
        filter: function (f) {
          return f.properties.kind === "admin1" && f.properties.country === cfg.country;
        },
        pointToLayer: function (f, latlng) {
          return L.circleMarker(latlng, {
            radius: 3, color: "#ffffff", weight: 1, fillColor: "#1d2430", fillOpacity: 1
          }).bindTooltip(f.properties.name);
        }
      }).addTo(map);
    })
    .catch(function () { /* the tables below carry the same information */ });

  fetch(cfg.hotspots, { headers: { Accept: "application/geo+json" } })
    .then(function (r) { return r.json(); })
    .then(function (fc) {
      var squares = L.geoJSON(fc, {
        style: style,
        onEachFeature: function (f, layer) { layer.bindPopup(describe(f.properties)); }
      });
      var circles = L.layerGroup(fc.features.map(function (f) {
        var centre = L.geoJSON(f).getBounds().getCenter();
        var marker = L.circleMarker(centre, L.extend(style(f), {
          radius: RADIUS[f.properties.band] || 5
        }));
        marker.bindPopup(describe(f.properties));
        return marker;
      }));
      function show() {
        var near = map.getZoom() >= SQUARES_FROM_ZOOM;
        var on = near ? squares : circles;
        var off = near ? circles : squares;
        if (map.hasLayer(off)) { map.removeLayer(off); }
        if (!map.hasLayer(on)) {
          on.addTo(map);
          on.eachLayer(function (layer) {
            var f = layer.feature || null;
            var props = f ? f.properties : null;
            if (!props) {
              // circle markers carry the popup text of their cell
              var popup = layer.getPopup();
              focusable(layer, popup ? popup.getContent() : "");
            } else {
              focusable(layer, describe(props));
            }
          });
        }
      }
      map.on("zoomend", show);
      show();
    })
    .catch(function () { /* the table of cells shows the same data */ });
}());

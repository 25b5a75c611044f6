// Draws the dashboard's charts with Apache ECharts from the JSON the page embeds.
// Each chart spec: {categories, series: [{name, data, color}], stacked, integer, unit}.
// Without ECharts (not installed, or the script failed to load) each chart says so in plain
// words; the tables under the charts carry the same numbers.
(function () {
  "use strict";

  var source = document.getElementById("dashboard-data");
  if (!source) {
    return;
  }
  var data = JSON.parse(source.textContent);
  var containers = Array.prototype.slice.call(document.querySelectorAll("[data-chart]"));

  function say(element, text) {
    element.textContent = text;
    element.classList.add("chart-message");
    element.style.minHeight = "0";
  }

  function height(spec) {
    return Math.max(180, 70 + 34 * spec.categories.length);
  }

  function hideZero(params) {
    return params.value ? String(params.value) : "";
  }

  function series(spec) {
    return spec.series.map(function (one) {
      return {
        name: one.name,
        type: "bar",
        stack: spec.stacked ? "total" : undefined,
        data: one.data,
        itemStyle: one.color ? {color: one.color} : undefined,
        label: {show: true, position: spec.stacked ? "inside" : "right", formatter: hideZero},
        emphasis: {focus: "series"},
        barMaxWidth: 28
      };
    });
  }

  // On a phone the category names get at most 40% of the chart's width, the legend scrolls.
  function option(spec, width) {
    var narrow = width < 600;
    return {
      animationDuration: 300,
      tooltip: {trigger: "axis", axisPointer: {type: "shadow"}},
      legend: {top: 0, type: narrow ? "scroll" : "plain"},
      grid: {left: 8, right: narrow ? 24 : 40, top: 36, bottom: spec.unit ? 28 : 8, containLabel: true},
      xAxis: {type: "value", name: spec.unit || "", nameLocation: "middle", nameGap: 26,
              minInterval: spec.integer ? 1 : 0},
      yAxis: {type: "category", data: spec.categories, inverse: true,
              axisLabel: {width: Math.min(240, Math.round(width * 0.4)), overflow: "truncate"}},
      series: series(spec)
    };
  }

  if (typeof window.echarts === "undefined") {
    containers.forEach(function (element) { say(element, data.labels.missing); });
    return;
  }

  var charts = [];
  containers.forEach(function (element) {
    var spec = data.charts[element.getAttribute("data-chart")];
    if (!spec || !spec.categories.length) {
      say(element, data.labels.noData);
      return;
    }
    element.style.height = height(spec) + "px";
    var chart = window.echarts.init(element, null, {renderer: "canvas"});
    chart.setOption(option(spec, element.clientWidth));
    element.setAttribute("data-drawn", "true");
    charts.push(chart);
  });

  window.addEventListener("resize", function () {
    charts.forEach(function (chart) {
      chart.setOption(option(data.charts[chart.getDom().getAttribute("data-chart")], chart.getDom().clientWidth));
      chart.resize();
    });
  });
}());

// Draws the appeal metrics charts from the JSON block the page carries; no inline script.
(function () {
  var node = document.getElementById("metrics-data");
  if (!node || typeof echarts === "undefined") return;
  var data = JSON.parse(node.textContent);
  function pie(id, values) {
    var el = document.getElementById(id);
    if (!el) return;
    var items = Object.keys(values).map(function (k) { return { name: k, value: values[k] }; });
    echarts.init(el).setOption({ tooltip: { trigger: "item" }, series: [{ type: "pie", radius: "65%", data: items }] });
  }
  pie("chart-kind", data.by_kind);
  pie("chart-category", data.by_category);
  var rates = document.getElementById("chart-rates");
  if (rates) {
    var names = Object.keys(data.rates);
    echarts.init(rates).setOption({
      tooltip: {}, grid: { left: 110 },
      xAxis: { type: "value", min: 0, max: 100 },
      yAxis: { type: "category", data: names },
      series: [{ type: "bar", data: names.map(function (k) { return data.rates[k] === null ? 0 : Math.round(data.rates[k] * 1000) / 10; }) }]
    });
  }
  window.gongzhiChartsReady = true;
})();

// The pass-rate trend of an API's testing page. The data comes from a json_script tag (the CSP
// forbids inline scripts); days without a run have a null rate and leave a gap in the line.
(function () {
  "use strict";
  function draw() {
    var source = document.getElementById("pass-rate-data");
    var canvas = document.getElementById("pass-rate-chart");
    if (!source || !canvas || typeof Chart === "undefined") {
      return;
    }
    var data = JSON.parse(source.textContent);
    new Chart(canvas, {
      type: "line",
      data: {
        labels: data.labels,
        datasets: [
          {
            label: "Pass rate (%)",
            data: data.rate,
            spanGaps: false,
            borderColor: "#146c43",
            backgroundColor: "#146c43",
            tension: 0.2,
          },
        ],
      },
      options: {
        aspectRatio: 4,
        animation: false,
        scales: { y: { min: 0, max: 100, title: { display: true, text: "% of runs passed" } } },
        plugins: {
          tooltip: {
            callbacks: {
              afterLabel: function (item) {
                var i = item.dataIndex;
                return data.passed[i] + " of " + data.runs[i] + " runs passed";
              },
            },
          },
        },
      },
    });
  }
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", draw);
  } else {
    draw();
  }
})();

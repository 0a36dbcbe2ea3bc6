/* global document, window, Chart, CustomEvent */
// Small progressive enhancements for the admin pages; every page also works without them.
(function () {
  'use strict';

  // Store switcher: navigate as soon as another store is chosen.
  document.addEventListener('change', function (e) {
    var el = e.target;
    if (el && el.matches && el.matches('select[data-autosubmit]') && el.form) el.form.submit();
  });

  // Confirmation for one-button forms (cancel queue, delete).
  document.addEventListener('submit', function (e) {
    var form = e.target;
    var text = form && form.getAttribute && form.getAttribute('data-confirm');
    if (text && !window.confirm(text)) e.preventDefault();
  });

  // Variables palette: insert the placeholder at the cursor, then refresh the preview.
  document.addEventListener('click', function (e) {
    var chip = e.target && e.target.closest ? e.target.closest('[data-insert]') : null;
    if (chip) {
      var target = document.getElementById(chip.getAttribute('data-target'));
      if (!target) return;
      var text = chip.getAttribute('data-insert');
      var start = typeof target.selectionStart === 'number' ? target.selectionStart : target.value.length;
      var end = typeof target.selectionEnd === 'number' ? target.selectionEnd : target.value.length;
      target.value = target.value.slice(0, start) + text + target.value.slice(end);
      target.focus();
      target.selectionStart = target.selectionEnd = start + text.length;
      target.dispatchEvent(new CustomEvent('preview-refresh', { bubbles: true }));
      return;
    }
    // Message log: show or hide a row's detail.
    var toggle = e.target && e.target.closest ? e.target.closest('[data-toggle-row]') : null;
    if (toggle) {
      var row = document.getElementById(toggle.getAttribute('data-toggle-row'));
      if (row) row.hidden = false;
    }
  });

  function drawCharts() {
    if (typeof Chart === 'undefined') return;
    var canvases = document.querySelectorAll('canvas[data-chart]');
    for (var i = 0; i < canvases.length; i++) {
      var canvas = canvases[i];
      if (canvas.getAttribute('data-drawn')) continue;
      canvas.setAttribute('data-drawn', '1');
      var spec = JSON.parse(canvas.getAttribute('data-chart'));
      new Chart(canvas, {
        type: 'bar',
        data: {
          labels: spec.labels,
          datasets: spec.datasets.map(function (d) {
            return { label: d.label, data: d.data, backgroundColor: d.color, borderRadius: 3, maxBarThickness: 22 };
          }),
        },
        options: {
          responsive: true,
          maintainAspectRatio: false,
          animation: false,
          scales: { x: { stacked: true, grid: { display: false } }, y: { stacked: true, beginAtZero: true, ticks: { precision: 0 } } },
          plugins: { legend: { position: 'bottom', labels: { boxWidth: 12 } } },
        },
      });
    }
  }

  document.documentElement.classList.add('js');
  if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', drawCharts);
  else drawCharts();
})();

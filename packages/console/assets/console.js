// The console's one script: draws each spend chart from its data-points attribute with uPlot
// (served beside this file). A time axis, a tooltip that names the time and the amount, and a
// dashed line with point markers, so the chart reads without colour. Without script the same
// numbers are in the table under the chart.
(() => {
  const fmtTime = (sec, unit) => {
    const iso = new Date(sec * 1000).toISOString();
    return unit === 'day' ? iso.slice(0, 10) : `${iso.slice(0, 16).replace('T', ' ')} UTC`;
  };

  function tooltipPlugin(unit) {
    let tip;
    return {
      hooks: {
        init: (u) => {
          tip = document.createElement('div');
          tip.className = 'chart-tip';
          tip.setAttribute('role', 'status');
          tip.hidden = true;
          u.over.appendChild(tip);
        },
        setCursor: (u) => {
          const i = u.cursor.idx;
          if (i === null || i === undefined || u.data[1][i] === null) {
            tip.hidden = true;
            return;
          }
          tip.hidden = false;
          tip.textContent = `${fmtTime(u.data[0][i], unit)}: ${u.data[1][i]}¢`;
          tip.style.left = `${Math.min(u.valToPos(u.data[0][i], 'x'), u.over.clientWidth - 160)}px`;
          tip.style.top = `${u.valToPos(u.data[1][i], 'y')}px`;
        },
      },
    };
  }

  function draw(el) {
    const points = JSON.parse(el.dataset.points || '[]');
    const unit = el.dataset.unit === 'day' ? 'day' : 'hour';
    const xs = points.map((p) => p[0]);
    const ys = points.map((p) => p[1]);
    const width = Math.max(Math.min(el.clientWidth || 720, 960), 320);
    const opts = {
      width,
      height: 260,
      plugins: [tooltipPlugin(unit)],
      // Axis labels in UTC, as the tooltip and the tables say.
      tzDate: (ts) => window.uPlot.tzDate(new Date(ts * 1000), 'Etc/UTC'),
      scales: { x: { time: true } },
      axes: [{ label: 'time (UTC)' }, { label: 'cents' }],
      series: [
        { label: 'time', value: (_u, v) => (v === null ? '—' : fmtTime(v, unit)) },
        {
          label: el.dataset.label || 'spend (¢)',
          stroke: '#1a1a1a',
          width: 2,
          dash: [6, 4],
          points: { show: true, size: 8, stroke: '#1a1a1a', fill: '#ffffff' },
          value: (_u, v) => (v === null ? '—' : `${v}¢`),
        },
      ],
    };
    // uPlot is exposed by its IIFE build as a global.
    const chart = new window.uPlot(opts, [xs, ys], el);
    el.dataset.rendered = String(xs.length);
    return chart;
  }

  document.addEventListener('DOMContentLoaded', () => {
    for (const el of document.querySelectorAll('.spend-chart')) draw(el);
  });
})();

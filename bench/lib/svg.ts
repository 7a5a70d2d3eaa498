/**
 * Minimal SVG line charts, written by hand: a few lines of markup need no charting library (the
 * ones that render SVG mostly want a DOM or a browser), and the output stays small, deterministic
 * and readable in a diff and on GitHub.
 */

export interface Series {
  readonly name: string;
  readonly points: readonly (readonly [number, number])[];
  /** Drawn dashed (e.g. p99 next to a solid p50). */
  readonly dashed?: boolean;
  /** Which colour of the palette (the same for one contender's lines); by position otherwise. */
  readonly colour?: number;
}

export interface LineChart {
  readonly title: string;
  readonly xLabel: string;
  readonly yLabel: string;
  readonly series: readonly Series[];
  /** Logarithmic x axis (base 2), e.g. for concurrency 1, 16, 64. */
  readonly logX?: boolean;
  /** A horizontal line, e.g. a target. */
  readonly guide?: { readonly y: number; readonly label: string };
}

const width = 720;
const height = 420;
const margin = { left: 70, right: 190, top: 40, bottom: 50 };
const colours = ['#1f77b4', '#d62728', '#2ca02c', '#ff7f0e', '#9467bd', '#8c564b', '#e377c2'];

function escapeXml(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

/** About five round tick values from 0 (or `min`) to at least `max`. */
function ticks(min: number, max: number): number[] {
  const span = max - min || 1;
  const step0 = 10 ** Math.floor(Math.log10(span / 5));
  const step = [1, 2, 5, 10].map((factor) => factor * step0).find((s) => span / s <= 6) ?? step0;
  const result: number[] = [];
  for (let value = Math.floor(min / step) * step; value <= max + step * 0.999; value += step) {
    result.push(Number(value.toPrecision(12)));
  }
  return result;
}

function label(value: number): string {
  return Math.abs(value) >= 1000 ? `${value / 1000}k` : String(value);
}

export function lineChart(chart: LineChart): string {
  const points = chart.series.flatMap((series) => series.points);
  const xs = points.map(([x]) => x);
  const ys = points.map(([, y]) => y).concat(chart.guide ? [chart.guide.y] : []);
  const plotWidth = width - margin.left - margin.right;
  const plotHeight = height - margin.top - margin.bottom;
  const toX = chart.logX ? (x: number) => Math.log2(Math.max(x, 1)) : (x: number) => x;
  const xMin = chart.logX ? 0 : Math.min(0, ...xs);
  const xMax = Math.max(...xs.map(toX), xMin + 1);
  const yTicks = ticks(0, Math.max(...ys, 1e-9));
  const yMax = yTicks.at(-1) ?? 1;
  const px = (x: number) => margin.left + ((toX(x) - xMin) / (xMax - xMin)) * plotWidth;
  const py = (y: number) => margin.top + plotHeight - (y / yMax) * plotHeight;
  const xTicks = chart.logX ? [...new Set(xs)].sort((a, b) => a - b) : ticks(xMin, Math.max(...xs));
  const out: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif" font-size="12" role="img">`,
    `<title>${escapeXml(chart.title)}</title>`,
    `<rect width="${width}" height="${height}" fill="white"/>`,
    `<text x="${width / 2}" y="22" text-anchor="middle" font-size="15">${escapeXml(chart.title)}</text>`,
  ];
  for (const y of yTicks) {
    out.push(
      `<line x1="${margin.left}" x2="${margin.left + plotWidth}" y1="${py(y).toFixed(1)}" y2="${py(y).toFixed(1)}" stroke="#e5e5e5"/>`,
      `<text x="${margin.left - 6}" y="${(py(y) + 4).toFixed(1)}" text-anchor="end">${label(y)}</text>`,
    );
  }
  for (const x of xTicks) {
    out.push(
      `<line x1="${px(x).toFixed(1)}" x2="${px(x).toFixed(1)}" y1="${margin.top + plotHeight}" y2="${margin.top + plotHeight + 5}" stroke="black"/>`,
      `<text x="${px(x).toFixed(1)}" y="${margin.top + plotHeight + 18}" text-anchor="middle">${label(x)}</text>`,
    );
  }
  out.push(
    `<line x1="${margin.left}" x2="${margin.left}" y1="${margin.top}" y2="${margin.top + plotHeight}" stroke="black"/>`,
    `<line x1="${margin.left}" x2="${margin.left + plotWidth}" y1="${margin.top + plotHeight}" y2="${margin.top + plotHeight}" stroke="black"/>`,
    `<text x="${margin.left + plotWidth / 2}" y="${height - 10}" text-anchor="middle">${escapeXml(chart.xLabel)}</text>`,
    `<text transform="translate(16 ${margin.top + plotHeight / 2}) rotate(-90)" text-anchor="middle">${escapeXml(chart.yLabel)}</text>`,
  );
  if (chart.guide) {
    const y = py(chart.guide.y).toFixed(1);
    out.push(
      `<line x1="${margin.left}" x2="${margin.left + plotWidth}" y1="${y}" y2="${y}" stroke="#888" stroke-dasharray="2 3"/>`,
      `<text x="${margin.left + plotWidth - 4}" y="${Number(y) - 4}" text-anchor="end" fill="#555">${escapeXml(chart.guide.label)}</text>`,
    );
  }
  chart.series.forEach((series, index) => {
    const colour = colours[(series.colour ?? index) % colours.length];
    const path = series.points
      .map(([x, y], at) => `${at === 0 ? 'M' : 'L'}${px(x).toFixed(1)} ${py(y).toFixed(1)}`)
      .join(' ');
    const dash = series.dashed ? ' stroke-dasharray="6 4"' : '';
    out.push(`<path d="${path}" fill="none" stroke="${colour}" stroke-width="2"${dash}/>`);
    for (const [x, y] of series.points) {
      out.push(
        `<circle cx="${px(x).toFixed(1)}" cy="${py(y).toFixed(1)}" r="3" fill="${colour}"/>`,
      );
    }
    const legendY = margin.top + 10 + index * 20;
    const legendX = margin.left + plotWidth + 15;
    out.push(
      `<line x1="${legendX}" x2="${legendX + 24}" y1="${legendY}" y2="${legendY}" stroke="${colour}" stroke-width="2"${dash}/>`,
      `<text x="${legendX + 30}" y="${legendY + 4}">${escapeXml(series.name)}</text>`,
    );
  });
  out.push('</svg>');
  return `${out.join('\n')}\n`;
}

import { stripVTControlCharacters } from 'node:util';
import Chartscii from 'chartscii';
import type { Cli } from '../cli.js';
import { money } from './format.js';

/** Widest the bars get, whatever the terminal. */
const MAX_WIDTH = 60;

/**
 * A horizontal bar chart of spend per bucket (chartscii), one line per bucket with its amount.
 * chartscii writes escape codes even uncoloured: stripped when colour is off.
 */
export function spendChart(cli: Cli, buckets: Array<{ label: string; cents: number }>): string {
  if (buckets.length === 0) return '';
  const colour = cli.colours.isColorSupported;
  const chart = new Chartscii(
    buckets.map((b) => ({ label: b.label, value: b.cents })),
    {
      width: MAX_WIDTH,
      barSize: 1,
      height: buckets.length,
      padding: 0,
      valueLabels: true,
      valueLabelFormat: (values: string[]) => money(Number(values[0])),
      ...(colour ? { color: 'green' } : {}),
    },
  );
  const out = chart.create().replace(/^\n/, '');
  return colour ? out : stripVTControlCharacters(out);
}

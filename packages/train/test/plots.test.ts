import { describe, expect, it } from 'vitest';
import { lineChartSvg } from '../src/plots.js';

describe('lineChartSvg', () => {
  it('centres a single epoch instead of pinning it to the left edge', () => {
    const svg = lineChartSvg({
      title: 'Validation accuracy',
      xLabel: 'epoch',
      yLabel: 'accuracy',
      integerX: true,
      series: [{ label: 'validation', points: [[1, 0.98]] }],
    });
    // 800 wide, 70 left and 20 right margins: the plot's middle is at x = 70 + 710 / 2.
    expect(svg).toMatch(/<circle cx='425\.0'/);
    expect(svg).not.toMatch(/>2<\/text>/); // no tick for an epoch that did not happen
  });
});

import { t } from 'tap';
import { median, medianInterval } from '../../bench/lib/median.js';

t.test('the median of an odd count is its middle value, of an even count the mean of the middle two', async (t) => {
  t.equal(median([3, 1, 2]), 2);
  t.equal(median([4, 1, 3, 2]), 2.5);
  t.ok(Number.isNaN(median([])));
});

t.test("the median's interval takes the ranks the sign test allows: the extremes for 6 to 8 values, then further in", async (t) => {
  const values = (n: number): number[] => Array.from({ length: n }, (_, i) => n - i);
  t.equal(medianInterval(values(5)), null, 'five values cannot give 95%: even the extremes hold the median only 93.75% of the time');
  t.same(medianInterval(values(6)), { low: 1, high: 6, confidence: 1 - 2 / 64 });
  t.same(medianInterval(values(8)), { low: 1, high: 8, confidence: 1 - 2 / 256 });
  const ten = medianInterval(values(10));
  t.same([ten?.low, ten?.high], [2, 9], 'ten values: the second smallest to the second largest');
  t.ok(Math.abs((ten?.confidence ?? 0) - (1 - 22 / 1024)) < 1e-12, 'at 97.9%');
  const twelve = medianInterval(values(12));
  t.same([twelve?.low, twelve?.high], [3, 10], 'twelve: the third from each end');
  t.ok(Math.abs((twelve?.confidence ?? 0) - (1 - (2 * 79) / 4096)) < 1e-12, 'at 96.1%');
  const sixteen = medianInterval(values(16));
  t.same([sixteen?.low, sixteen?.high], [4, 13], 'sixteen: the fourth from each end');
  t.same(medianInterval([1.2, 0.9, 1.1, 1.0, 0.95, 1.05], 0.95), { low: 0.9, high: 1.2, confidence: 1 - 2 / 64 }, 'whatever order the values come in');
});

t.test('a lower confidence asks for fewer values and gives a narrower interval', async (t) => {
  t.same(medianInterval([5, 4, 3, 2, 1], 0.9), { low: 1, high: 5, confidence: 1 - 2 / 32 });
  const ten = medianInterval([10, 9, 8, 7, 6, 5, 4, 3, 2, 1], 0.8);
  t.same([ten?.low, ten?.high], [3, 8]);
});

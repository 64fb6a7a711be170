/**
 * `bun run --cwd consumer-alert rules:check FILE [READING_JSON]`: validates a rules file and, given
 * a sample reading (`{"deviceId":"pump-1","metric":"temp","value":81}`), shows which rules match it
 * and whether it breaches each.
 */
import { ConfigError } from 'core';
import { loadRules } from './rules.ts';

const [file, sample] = process.argv.slice(2);
if (!file) {
  console.error('usage: rules:check FILE [\'{"deviceId":"d","metric":"m","value":1}\']');
  process.exit(2);
}
try {
  const rules = await loadRules(file);
  console.log(`${file}: ${rules.length} valid rule(s)`);
  for (const rule of rules) {
    const clear = rule.clearAt === rule.threshold ? '' : `, clears ${rule.direction === 'above' ? 'below' : 'above'} ${rule.clearAt}`;
    console.log(`  ${rule.id}: ${rule.metricPattern} on ${rule.devicePattern}, ${rule.direction} ${rule.threshold}${clear}, after ${rule.forReadings} reading(s), ${rule.severity}`);
  }
  if (sample) {
    const reading = JSON.parse(sample) as { deviceId: string; metric: string; value: number };
    const matching = rules.filter((rule) => rule.matches(reading));
    if (matching.length === 0) console.log(`no rule matches ${reading.deviceId} ${reading.metric}`);
    for (const rule of matching) console.log(`  ${rule.id} matches: value ${reading.value} ${rule.breaches(reading.value) ? 'BREACHES' : 'does not breach'} ${rule.threshold}`);
  }
} catch (error) {
  if (!(error instanceof ConfigError)) throw error;
  console.error(error.message);
  process.exit(1);
}

/**
 * `bun run --cwd consumer-alert rules:check FILE [READING_JSON]`: validates a rules file and, given
 * a sample reading (`{"deviceId":"pump-1","metric":"temp","value":81}`), shows which rules match it
 * and whether it breaches each.
 */
import { ConfigError, cliError, compileRule, describeRule, loadRules, parseCli, ruleVerdict } from 'core';

const NAME = 'rules:check';
const { positionals } = parseCli({
  name: NAME,
  usage: `Usage: bun run --cwd consumer-alert rules:check FILE [READING_JSON]
  Checks a rules file (as ALERT_RULES would load it) and, given a sample reading such as
  '{"deviceId":"pump-1","metric":"temp","value":81}', shows which rules match it and whether it
  breaches each. Exits 1 when the file is invalid.`,
  options: {},
  positionals: [1, 2],
});
const [file, sampleText] = positionals as [string, string | undefined];
const sample = sampleText === undefined ? undefined : parseSample(sampleText);

/** The sample reading, or exit 2 naming what is wrong with it. */
function parseSample(text: string): { deviceId: string; metric: string; value: number } {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    cliError(NAME, `READING_JSON is not JSON (${(error as Error).message}), got ${JSON.stringify(text.slice(0, 80))}`);
  }
  const reading = value as { deviceId?: unknown; metric?: unknown; value?: unknown } | null;
  if (
    typeof reading?.deviceId !== 'string' ||
    typeof reading.metric !== 'string' ||
    typeof reading.value !== 'number'
  ) {
    cliError(NAME, 'READING_JSON must be an object with deviceId and metric (strings) and value (a number)');
  }
  return reading as { deviceId: string; metric: string; value: number };
}

try {
  const rules = (await loadRules(file)).map(compileRule);
  console.log(`${file}: ${rules.length} valid rule(s)`);
  for (const rule of rules) console.log(`  ${rule.id}: ${describeRule(rule)}`);
  if (sample) {
    const reading = sample;
    const matching = rules.filter((rule) => rule.matches(reading));
    if (matching.length === 0) console.log(`no rule matches ${reading.deviceId} ${reading.metric}`);
    for (const rule of matching) console.log(`  ${rule.id} matches: ${ruleVerdict(rule, reading.value)}`);
  }
} catch (error) {
  if (!(error instanceof ConfigError)) throw error;
  console.error(error.message);
  process.exit(1);
}

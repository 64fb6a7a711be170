import { ConfigError, RULES_SET_BY_API, type RuleSet, checkRules, readRuleSet, replaceRuleSet } from 'core';
import { Elysia, t } from 'elysia';
import type Redis from 'ioredis';
import { ApiError } from '../../errors.ts';
import { redisAnswers503 } from '../../redis-unavailable.ts';
import { errorResponses, jsonResponse } from '../docs/responses.ts';

const RULE_SET_VIEW = {
  type: 'object',
  properties: {
    version: { type: 'integer' },
    rules: { type: 'array', items: { type: 'object', description: 'A rule, as in the ALERT_RULES file' } },
    updatedAt: { type: 'string', format: 'date-time' },
    source: { type: 'string', description: 'file <path>, ALERT_THRESHOLD, or PUT /rules' },
  },
};

const view = (set: RuleSet) => ({
  version: set.version,
  rules: set.rules,
  updatedAt: new Date(set.updatedAt).toISOString(),
  source: set.source,
});

/** `"3"`, `W/"3"` or `3`: the version an If-Match names. */
function ifMatchVersion(header: string | null): number | undefined {
  if (header === null || header.trim() === '*') return undefined;
  const match = /^\s*(?:W\/)?"?(\d{1,15})"?\s*$/.exec(header);
  if (!match)
    throw new ApiError(422, 'validation', 'If-Match must be the ETag GET /rules gave ("<version>")', [
      { path: 'If-Match', message: 'is not a rule set version' },
    ]);
  return Number(match[1]);
}

/**
 * The alerting rules over the API: GET the set in force, PUT a new one (checked exactly as the
 * ALERT_RULES file is; If-Match: "<version>" makes it a compare-and-set). consumer-alert applies
 * a new set within about a second, without a restart; a rule removed or renamed resolves the
 * devices firing on it.
 */
export function ruleRoutes(options: { redis: Redis; alertsStream: string } | undefined) {
  const unavailable = redisAnswers503('rules_unavailable', 'the rules');
  const redisCall = <T>(call: (redis: Redis, alertsStream: string) => Promise<T>): Promise<T> => {
    if (!options) throw unavailable.none();
    return unavailable.call(() => call(options.redis, options.alertsStream));
  };

  return new Elysia({ name: 'rules', prefix: '/rules', detail: { tags: ['alerting'] } })
    .get(
      '/',
      async ({ set }) => {
        const found = await redisCall((redis, stream) => readRuleSet(redis, stream));
        if (!found)
          throw new ApiError(
            404,
            'not_found',
            'no rule set yet: consumer-alert seeds it (from ALERT_RULES or ALERT_THRESHOLD) when it first starts, or PUT one',
          );
        set.headers.etag = `"${found.version}"`;
        return view(found);
      },
      {
        detail: {
          summary: 'The alerting rules in force, with their version (also the ETag)',
          responses: { 200: jsonResponse('The rule set', RULE_SET_VIEW), ...errorResponses(401, 404, 503) },
        },
      },
    )
    .put(
      '/',
      async ({ body, request, set }) => {
        const replaces = ifMatchVersion(request.headers.get('if-match'));
        let rules: ReturnType<typeof checkRules>;
        try {
          rules = checkRules(Array.isArray(body) ? body : (body as { rules?: unknown } | null)?.rules, 'rules');
        } catch (error) {
          if (!(error instanceof ConfigError)) throw error;
          throw new ApiError(
            422,
            'validation',
            `the rules are invalid: ${error.problems.map((p) => `${p.key}: ${p.message}`).join('; ')}`,
            error.problems.map((p) => ({ path: p.key, message: p.message })),
          );
        }
        const outcome = await redisCall((redis, stream) =>
          replaceRuleSet(redis, stream, rules, RULES_SET_BY_API, replaces),
        );
        if (!outcome.replaced)
          throw new ApiError(
            412,
            'version_mismatch',
            `the rules in force are version ${outcome.version}, not ${replaces}: GET them again and apply your change to that`,
          );
        set.headers.etag = `"${outcome.set.version}"`;
        return view(outcome.set);
      },
      {
        body: t.Unknown({ description: 'A JSON array of rules, or { "rules": [...] }: the ALERT_RULES file format' }),
        detail: {
          summary: 'Replace the alerting rules (If-Match: "<version>" to replace only that version)',
          description:
            'consumer-alert applies them within about a second. Devices firing on a rule removed or renamed are resolved, with a note.',
          responses: {
            200: jsonResponse('The rule set now in force', RULE_SET_VIEW),
            ...errorResponses(400, 401, 412, 413, 422, 503),
          },
        },
      },
    );
}

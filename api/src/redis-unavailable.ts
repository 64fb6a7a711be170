import { ApiError } from './errors.ts';

/**
 * What a route kept in Redis (import jobs, rules, silences) answers when Redis is not there: 503
 * with Retry-After, never a 500. `what` names it in the message.
 */
export function redisAnswers503(code: string, what: string) {
  return {
    /** This API has no Redis at all (REDIS_URL unset where the route needs it). */
    none: () =>
      new ApiError(503, code, `this API has no Redis to keep ${what} in (REDIS_URL)`, undefined, {
        'retry-after': '5',
      }),
    /** Runs `call`; a Redis failure becomes the 503, an ApiError the call throws passes through. */
    async call<T>(call: () => Promise<T>): Promise<T> {
      try {
        return await call();
      } catch (error) {
        if (error instanceof ApiError) throw error;
        throw new ApiError(
          503,
          code,
          `Redis, which keeps ${what}, did not answer: ${(error as Error).message}`,
          undefined,
          { 'retry-after': '1' },
        );
      }
    },
  };
}

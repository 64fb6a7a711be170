import { ApiError } from '../../errors.ts';

export interface StreamLimitsOptions {
  /** Live-stream clients at once over every feed. */
  maxClients: number;
  /** Live-stream clients at once from one remote address. */
  maxClientsPerAddress: number;
  /** Seconds a refused client is told to wait (Retry-After). Default 5. */
  retryAfterSeconds?: number;
}

/**
 * Caps on concurrent live-stream clients, in total and per remote address: no client, however
 * many connections it opens, can hold more than a bounded share of the API's memory.
 */
export function createStreamLimits(options: StreamLimitsOptions) {
  const { maxClients, maxClientsPerAddress, retryAfterSeconds = 5 } = options;
  const perAddress = new Map<string, number>();
  let total = 0;
  let refused = 0;

  const refuse = (message: string): never => {
    refused += 1;
    throw new ApiError(429, 'too_many_streams', message, undefined, { 'retry-after': String(retryAfterSeconds) });
  };

  return {
    /**
     * Takes a place for a client from `address`; call the returned release exactly once when it goes.
     * @throws ApiError 429 with Retry-After when a cap is reached.
     */
    admit(address: string): () => void {
      if (total >= maxClients)
        refuse(`the API serves at most ${maxClients} live streams at once (MAX_STREAM_CLIENTS); try again shortly`);
      const mine = perAddress.get(address) ?? 0;
      if (mine >= maxClientsPerAddress)
        refuse(
          `at most ${maxClientsPerAddress} live streams per address (MAX_STREAM_CLIENTS_PER_IP); close one or try again shortly`,
        );
      total += 1;
      perAddress.set(address, mine + 1);
      let released = false;
      return () => {
        if (released) return;
        released = true;
        total -= 1;
        const left = (perAddress.get(address) ?? 1) - 1;
        if (left === 0) perAddress.delete(address);
        else perAddress.set(address, left);
      };
    },
    get clients() {
      return total;
    },
    /** Clients refused since start, for /metrics. */
    get refused() {
      return refused;
    },
  };
}

export type StreamLimits = ReturnType<typeof createStreamLimits>;

// Size limits for one message head. They bound memory per connection: a head that is not complete yet but already
// longer than the limit is refused at once, so a slowloris of header bytes cannot grow the read buffer forever.

export interface Http1Limits {
  /** The whole head: request/status line, every field line and the final CRLF CRLF (and any leading CRLFs). */
  maxHeadBytes: number;
  /** The request line including its CRLF; longer → 414. */
  maxRequestLineBytes: number;
  /** Field lines in one head; more → 431. */
  maxHeaders: number;
}

/** Envoy's defaults: 60 KiB of headers, 100 of them; the request line may take 16 KiB of that. */
export const DEFAULT_HTTP1_LIMITS: Readonly<Http1Limits> = Object.freeze({
  maxHeadBytes: 60 * 1024,
  maxRequestLineBytes: 16 * 1024,
  maxHeaders: 100,
});

/** Same object, the shorter name the connection code uses. */
export const DEFAULT_LIMITS = DEFAULT_HTTP1_LIMITS;

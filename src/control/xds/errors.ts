// Errors of the xDS server, with stable codes. A client's bad message closes at most that client's stream.

import { TrellisError } from "../../api/errors.ts";

/** A discovery request the server cannot act on (no node on the first request, no type URL). */
export class XdsProtocolError extends TrellisError {
  constructor(message: string) {
    super("TRELLIS_XDS_PROTOCOL", message);
  }
}

/** The server could not bind its address. */
export class XdsBindError extends TrellisError {
  constructor(address: string, options?: { cause?: unknown }) {
    super("TRELLIS_XDS_BIND", `cannot listen on ${address}`, options);
  }
}

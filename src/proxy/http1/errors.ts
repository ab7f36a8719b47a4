// A malformed or oversized HTTP/1.x message. The codes are llhttp's (HPE_*), which Envoy and Node also report, so
// logs and tests read the same everywhere; `status` is what the proxy answers the downstream with.

import { TrellisError } from "../../api/errors.ts";

export type Http1ErrorCode =
  | "HPE_INVALID_METHOD"
  | "HPE_INVALID_URL"
  | "HPE_INVALID_VERSION"
  | "HPE_INVALID_CONSTANT"
  | "HPE_INVALID_STATUS"
  | "HPE_INVALID_HEADER_TOKEN"
  | "HPE_INVALID_HEADER_VALUE"
  | "HPE_INVALID_HOST"
  | "HPE_MISSING_HOST"
  | "HPE_DUPLICATE_HOST"
  | "HPE_INVALID_CONTENT_LENGTH"
  | "HPE_UNEXPECTED_CONTENT_LENGTH"
  | "HPE_INVALID_TRANSFER_ENCODING"
  | "HPE_UNKNOWN_TRANSFER_ENCODING"
  | "HPE_INVALID_CONNECTION"
  | "HPE_CR_EXPECTED"
  | "HPE_LF_EXPECTED"
  | "HPE_OBS_FOLD"
  | "HPE_URI_TOO_LONG"
  | "HPE_HEADER_OVERFLOW"
  | "HPE_TOO_MANY_HEADERS"
  | "HPE_INVALID_CHUNK_SIZE"
  | "HPE_INVALID_CHUNK_EXTENSION"
  | "HPE_CHUNK_EXTENSIONS_OVERFLOW"
  | "HPE_INVALID_CHUNK_DATA"
  | "HPE_TRAILER_OVERFLOW";

/**
 * `code` is one of Http1ErrorCode when the codec throws; the connection code may raise its own (a timeout, an
 * internal fault) through the same class so one handler answers them all.
 */
export class Http1ParseError extends TrellisError {
  /** The status to answer with: 400, 414, 431, 501, 505 for requests; 502 for a bad upstream response. */
  readonly status: number;
  /** Byte offset (into the buffer that was parsed) where the problem was found; -1 when not tied to one byte. */
  readonly offset: number;

  constructor(code: Http1ErrorCode | (string & {}), status: number, message: string, offset = -1) {
    super(code, message);
    this.status = status;
    this.offset = offset;
  }
}

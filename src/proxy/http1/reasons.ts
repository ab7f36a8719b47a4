// Standard reason phrases (IANA HTTP Status Code Registry), and the status lines built from them once at load.

const PHRASES: Record<number, string> = {
  100: "Continue",
  101: "Switching Protocols",
  102: "Processing",
  103: "Early Hints",
  200: "OK",
  201: "Created",
  202: "Accepted",
  203: "Non-Authoritative Information",
  204: "No Content",
  205: "Reset Content",
  206: "Partial Content",
  207: "Multi-Status",
  208: "Already Reported",
  226: "IM Used",
  300: "Multiple Choices",
  301: "Moved Permanently",
  302: "Found",
  303: "See Other",
  304: "Not Modified",
  305: "Use Proxy",
  307: "Temporary Redirect",
  308: "Permanent Redirect",
  400: "Bad Request",
  401: "Unauthorized",
  402: "Payment Required",
  403: "Forbidden",
  404: "Not Found",
  405: "Method Not Allowed",
  406: "Not Acceptable",
  407: "Proxy Authentication Required",
  408: "Request Timeout",
  409: "Conflict",
  410: "Gone",
  411: "Length Required",
  412: "Precondition Failed",
  413: "Content Too Large",
  414: "URI Too Long",
  415: "Unsupported Media Type",
  416: "Range Not Satisfiable",
  417: "Expectation Failed",
  421: "Misdirected Request",
  422: "Unprocessable Content",
  423: "Locked",
  424: "Failed Dependency",
  425: "Too Early",
  426: "Upgrade Required",
  428: "Precondition Required",
  429: "Too Many Requests",
  431: "Request Header Fields Too Large",
  451: "Unavailable For Legal Reasons",
  500: "Internal Server Error",
  501: "Not Implemented",
  502: "Bad Gateway",
  503: "Service Unavailable",
  504: "Gateway Timeout",
  505: "HTTP Version Not Supported",
  506: "Variant Also Negotiates",
  507: "Insufficient Storage",
  508: "Loop Detected",
  511: "Network Authentication Required",
};

/** Indexed by status code; undefined for codes without a registered phrase. */
const BY_CODE: (string | undefined)[] = new Array<string | undefined>(600).fill(undefined);
/** "HTTP/1.1 200 OK\r\n" for every registered code, so the common response head starts with no concatenation. */
const STATUS_LINES: (string | undefined)[] = new Array<string | undefined>(600).fill(undefined);
for (const code of Object.keys(PHRASES)) {
  const n = Number(code);
  BY_CODE[n] = PHRASES[n];
  STATUS_LINES[n] = `HTTP/1.1 ${n} ${PHRASES[n]}\r\n`;
}

/** The registered reason phrase of `status`, or "Unknown". */
export function reasonPhrase(status: number): string {
  return (status >= 0 && status < 600 ? BY_CODE[status] : undefined) ?? "Unknown";
}

/** "HTTP/1.1 <status> <phrase>\r\n" with the registered phrase (precomputed for registered codes). */
export function statusLine(status: number): string {
  return (
    (status >= 0 && status < 600 ? STATUS_LINES[status] : undefined) ?? `HTTP/1.1 ${status} ${reasonPhrase(status)}\r\n`
  );
}

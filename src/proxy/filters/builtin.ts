// The HTTP filters this proxy ships, registered by their typed_config type URL when the connection manager loads.
// A filter lives in filters/<name>/ and adds one import here.

import "./fault/index.ts";
import "./local-ratelimit/http-filter.ts";
import "./cors/index.ts";
import "./dynamic-forward-proxy/index.ts";
import "./compressor/index.ts";

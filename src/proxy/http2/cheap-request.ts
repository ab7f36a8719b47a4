// session.request() with a cheaper AsyncResource binding. In Node 20, every ClientHttp2Session.request() binds its
// connect callback with AsyncResource.prototype.bind, which also defines a deprecated `asyncResource` accessor on
// the bound function by building two deprecate() wrappers and validating its argument — about a tenth of an
// HTTP/2 upstream request's CPU in this proxy (bench/ANALYSIS.md). For the duration of the call only, bind is
// replaced by one that does the same binding (the callback still runs in the resource's async scope) without that
// accessor, which nothing in Node's http2 reads; it is restored before request() returns, and where
// AsyncResource.prototype.bind is not what Node 20 has, the call goes through unchanged.

import { AsyncResource } from "node:async_hooks";
import type {
  ClientHttp2Session,
  ClientHttp2Stream,
  OutgoingHttpHeaders,
  ClientSessionRequestOptions,
} from "node:http2";

type Bind = (this: AsyncResource, fn: (...args: unknown[]) => unknown, thisArg?: unknown) => unknown;

const proto = AsyncResource.prototype as unknown as { bind: Bind };
const nodeBind = proto.bind;

const cheapBind: Bind = function (this: AsyncResource, fn, thisArg) {
  if (thisArg !== undefined) return this.runInAsyncScope.bind(this, fn, thisArg);
  const run = this.runInAsyncScope.bind(this);
  return function (this: unknown, ...args: unknown[]) {
    return run(fn, this, ...args);
  };
};

export function requestStream(
  session: ClientHttp2Session,
  headers: OutgoingHttpHeaders,
  options: ClientSessionRequestOptions,
): ClientHttp2Stream {
  if (proto.bind !== nodeBind) return session.request(headers, options);
  proto.bind = cheapBind;
  try {
    return session.request(headers, options);
  } finally {
    proto.bind = nodeBind;
  }
}

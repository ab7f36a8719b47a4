// The Location of a redirect route, as Envoy's Http::Utility::newUri builds it: each part comes from the redirect
// when set, else from the request itself.
// - scheme: scheme_redirect, else "https" when https_redirect, else the request's.
// - port: ":" + port_redirect when set, else none of its own.
// - host: host_redirect, else the request's authority, whose port is dropped when a port_redirect is given, or when
//   the scheme changes and the port was the old scheme's default (http://a:80 → https://a, not https://a:80).
// - path: path_redirect (the request's query appended unless path_redirect has its own), else the request's path
//   after prefix_rewrite; a leading "/" is ensured; strip_query drops the query unless path_redirect carried one.

import type { RedirectAction } from "../../api/xds/types.ts";
import type { PathRewrite } from "./path-rewrite.ts";
import type { RouteRequest } from "./request.ts";
import { portStart } from "./request.ts";

export class RedirectTarget {
  private readonly scheme: string | undefined;
  private readonly https: boolean;
  private readonly host: string | undefined;
  private readonly port: string;
  private readonly path: string | undefined;
  private readonly pathHasQuery: boolean;
  private readonly stripQuery: boolean;
  private readonly rewrite: PathRewrite | undefined;

  constructor(a: RedirectAction, rewrite: PathRewrite | undefined) {
    this.scheme = a.schemeRedirect || undefined;
    this.https = a.httpsRedirect;
    this.host = a.hostRedirect || undefined;
    this.port = a.portRedirect ? `:${a.portRedirect}` : "";
    this.path = a.pathRedirect || undefined;
    this.pathHasQuery = this.path !== undefined && this.path.includes("?");
    this.stripQuery = a.stripQuery;
    this.rewrite = this.path === undefined ? rewrite : undefined;
  }

  location(req: RouteRequest): string {
    const scheme = this.scheme ?? (this.https ? "https" : req.scheme);
    const host = this.host ?? requestHost(req.authority, req.scheme, scheme, this.port);
    let path: string;
    if (this.path !== undefined) {
      if (this.pathHasQuery) path = this.path;
      else {
        const q = req.path.indexOf("?");
        path = q < 0 ? this.path : this.path + req.path.slice(q);
      }
    } else path = this.rewrite ? this.rewrite.apply(req.path) : req.path;
    if (!path.startsWith("/")) path = "/" + path;
    if (this.stripQuery && !this.pathHasQuery) {
      const q = path.indexOf("?");
      if (q >= 0) path = path.slice(0, q);
    }
    return `${scheme}://${host}${this.port}${path}`;
  }
}

/** Envoy's processRequestHost: the request's host, without a port that would be wrong at the new location. */
function requestHost(authority: string, oldScheme: string, newScheme: string, newPort: string): string {
  const colon = portStart(authority);
  if (colon < 0) return authority;
  const port = authority.slice(colon);
  let remove = newPort !== "";
  if (newScheme !== oldScheme) {
    const old = oldScheme.toLowerCase();
    remove ||= (old === "https" && port === ":443") || (old === "http" && port === ":80");
  }
  return remove ? authority.slice(0, colon) : authority;
}
